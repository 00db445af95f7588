#include "train_sampled.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#include "train_data.h"
#include "train_layers.h"

static float softplus(float z)
{
    return z > 0.0f ? z + log1pf(expf(-z)) : log1pf(expf(z));
}

static float sigmoid(float z)
{
    return 1.0f / (1.0f + expf(-z));
}

/* log(K q_i): the logarithm of how often K weighted draws pick item i. */
static float log_expected_count(const struct train_model *m, int item)
{
    const double *cdf = m->negative_cdf;
    int j = item - m->config.item_begin + 1, n = m->config.item_end - m->config.item_begin;
    double q = (cdf[j] - cdf[j - 1]) / cdf[n];

    return (float)log((double)m->item_negatives * q);
}

/* Draws the batch's K negatives from m->rng and copies their embedding rows
 * into m->negative_rows. */
static void draw_negatives(struct train_model *m)
{
    const struct model_config *c = &m->config;
    size_t d = (size_t)c->d_model;
    uint64_t span = (uint64_t)(c->item_end - c->item_begin);

    for (int k = 0; k < m->item_negatives; k++) {
        int item;
        if (m->negative_cdf) {
            item = c->item_begin - 1 + train_draw_cdf(m->negative_cdf, (int)span, &m->rng);
            m->negative_logq[k] = log_expected_count(m, item);
        } else {
            item = c->item_begin + (int)(train_random_next(&m->rng) % span);
        }
        m->negative_items[k] = item;
        memcpy(m->negative_rows + (size_t)k * d, m->params.embedding + (size_t)item * d, d * sizeof(float));
    }
}

/* Copies the encoder output rows with an item target into m->rows, their
 * positions into m->row_index and their targets into m->row_target. */
static int gather_targets(struct train_model *m, const struct train_batch *b)
{
    size_t d = (size_t)m->config.d_model;
    int n = b->B * b->T, count = 0;

    for (int i = 0; i < n; i++) {
        if (b->item_targets[i] < 0)
            continue;
        memcpy(m->rows + (size_t)count * d, m->enc_out + (size_t)i * d, d * sizeof(float));
        m->row_index[count] = i;
        m->row_target[count] = b->item_targets[i];
        count++;
    }
    return count;
}

/* Loss weight of gathered row r: 1 + item_recent_weight for the
 * item_recent_span newest targets of its sequence, 1 for the others. Rows
 * end at lengths[b] - 1 with either padding (left padding sets lengths to
 * T), so the distance from the newest target is lengths[b] - 1 - t. */
static double row_weight(const struct train_model *m, const struct train_batch *b, int r)
{
    int i = m->row_index[r], t = i % b->T, distance = b->lengths[i / b->T] - 1 - t;

    return distance < m->item_recent_span ? 1.0 + m->item_recent_weight : 1.0;
}

/* One position of the sampled softmax: z[K] are the negatives' logits, *zt
 * the target's. Returns the loss; with want_grad replaces z and *zt by the
 * gradient of scale * loss (0 for a negative equal to the target). */
static double softmax_row(float *z, float *zt, const int *negatives, int target, int K, float scale, int want_grad)
{
    float max = *zt;
    for (int k = 0; k < K; k++)
        if (negatives[k] != target && z[k] > max)
            max = z[k];

    float et = expf(*zt - max);
    double sum = et;
    for (int k = 0; k < K; k++) {
        z[k] = negatives[k] == target ? 0.0f : expf(z[k] - max);
        sum += z[k];
    }
    double loss = log(sum) + max - *zt;

    if (want_grad) {
        float inv = (float)(scale / sum);
        for (int k = 0; k < K; k++)
            z[k] *= inv;
        *zt = et * inv - scale;
    }
    return loss;
}

/* One position of the BCE loss, with the same contract as softmax_row. The
 * negatives' terms are averaged so that the loss weighs the target as much as
 * all negatives together, as SASRec's one negative per position does. */
static double bce_row(float *z, float *zt, const int *negatives, int target, int K, float scale, int want_grad)
{
    int valid = 0;
    double negative_sum = 0.0;

    for (int k = 0; k < K; k++) {
        if (negatives[k] == target)
            continue;
        valid++;
        negative_sum += softplus(z[k]);
    }
    double loss = softplus(-*zt) + (valid > 0 ? negative_sum / valid : 0.0);

    if (want_grad) {
        float weight = valid > 0 ? scale / (float)valid : 0.0f;
        for (int k = 0; k < K; k++)
            z[k] = negatives[k] == target ? 0.0f : sigmoid(z[k]) * weight;
        *zt = (sigmoid(*zt) - 1.0f) * scale;
    }
    return loss;
}

/* Subtracts log(K q_i) from a row's logits, the negatives' and the
 * target's, so that the softmax over the weighted draws estimates the one
 * over all items. A constant shift leaves the gradients of z unchanged. */
static void correct_logq(const struct train_model *m, float *z, float *zt, int target)
{
    for (int k = 0; k < m->item_negatives; k++)
        z[k] -= m->negative_logq[k];
    *zt -= log_expected_count(m, target);
}

/* Backward of the logits: the gradients of the rows, the targets' and the
 * negatives' embedding rows, from the logit gradients left in place. */
static void sampled_backward(struct train_model *m, int count)
{
    size_t d = (size_t)m->config.d_model;
    int K = m->item_negatives;
    float *dembedding = m->grads.embedding;
    const float *embedding = m->params.embedding;

    /* d_rows = dZ W_neg + dz_t e_t; de_t += dz_t h; dW_neg = dZ^T h */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, count, (int)d, K, 1.0f, m->negative_logits, K,
                m->negative_rows, (int)d, 0.0f, m->d_rows, (int)d);
    for (int r = 0; r < count; r++) {
        float dzt = m->target_logits[r];
        const float *et = embedding + (size_t)m->row_target[r] * d;
        float *det = dembedding + (size_t)m->row_target[r] * d;
        const float *h = m->rows + (size_t)r * d;
        float *dh = m->d_rows + (size_t)r * d;
        for (size_t i = 0; i < d; i++) {
            dh[i] += dzt * et[i];
            det[i] += dzt * h[i];
        }
    }
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, (int)d, count, 1.0f, m->negative_logits, K, m->rows,
                (int)d, 0.0f, m->negative_grads, (int)d);
    for (int k = 0; k < K; k++) {
        float *dst = dembedding + (size_t)m->negative_items[k] * d;
        const float *src = m->negative_grads + (size_t)k * d;
        for (size_t i = 0; i < d; i++)
            dst[i] += src[i];
    }

    for (int r = 0; r < count; r++) {
        float *dst = m->d_enc_out + (size_t)m->row_index[r] * d;
        const float *src = m->d_rows + (size_t)r * d;
        for (size_t i = 0; i < d; i++)
            dst[i] += src[i];
    }
}

float train_sampled_item_loss(struct train_model *m, const struct train_batch *b, int want_grad)
{
    size_t d = (size_t)m->config.d_model;
    int K = m->item_negatives;
    int count = gather_targets(m, b);

    m->losses.item_count = count;
    if (count == 0)
        return 0.0f;
    draw_negatives(m);

    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, count, K, (int)d, 1.0f, m->rows, (int)d, m->negative_rows,
                (int)d, 0.0f, m->negative_logits, K);
    for (int r = 0; r < count; r++) {
        const float *h = m->rows + (size_t)r * d;
        const float *et = m->params.embedding + (size_t)m->row_target[r] * d;
        float dot = 0.0f;
        for (size_t i = 0; i < d; i++)
            dot += h[i] * et[i];
        m->target_logits[r] = dot;
    }

    /* The loss is the weighted mean over rows; every weight is 1 unless
     * item_recent_weight is set. */
    double sum = 0.0, total_weight = 0.0;
    for (int r = 0; r < count; r++)
        total_weight += row_weight(m, b, r);
    for (int r = 0; r < count; r++) {
        double weight = row_weight(m, b, r);
        float scale = (float)(weight / total_weight);
        float *z = m->negative_logits + (size_t)r * K;
        if (m->negative_cdf && m->item_loss == TRAIN_ITEM_LOSS_SAMPLED)
            correct_logq(m, z, &m->target_logits[r], m->row_target[r]);
        double loss;
        if (m->item_loss == TRAIN_ITEM_LOSS_BCE)
            loss = bce_row(z, &m->target_logits[r], m->negative_items, m->row_target[r], K, scale, want_grad);
        else
            loss = softmax_row(z, &m->target_logits[r], m->negative_items, m->row_target[r], K, scale, want_grad);
        sum += weight * loss;
    }

    if (want_grad)
        sampled_backward(m, count);
    return (float)(sum / total_weight);
}
