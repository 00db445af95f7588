#include "train_objective.h"

#include <string.h>

#include "train_loss.h"
#include "train_sampled.h"

/* Copies rows of src[n, d] whose target is >= 0 into m->rows and their
 * targets minus offset into m->row_target. Returns the row count. */
static int gather_rows(struct train_model *m, const float *src, const int *targets, int n, int offset)
{
    int d = m->config.d_model, count = 0;

    for (int i = 0; i < n; i++) {
        if (targets[i] < 0)
            continue;
        memcpy(m->rows + (size_t)count * d, src + (size_t)i * d, (size_t)d * sizeof(float));
        m->row_index[count] = i;
        m->row_target[count] = targets[i] - offset;
        count++;
    }
    return count;
}

/* Adds the gathered rows' gradients m->d_rows back into dst[n, d]. */
static void scatter_rows(struct train_model *m, float *dst, int count)
{
    int d = m->config.d_model;

    for (int r = 0; r < count; r++) {
        float *row = dst + (size_t)m->row_index[r] * d;
        const float *dr = m->d_rows + (size_t)r * d;
        for (int i = 0; i < d; i++)
            row[i] += dr[i];
    }
}

/* Mean softmax cross-entropy over the rows of src with targets >= 0.
 * Gradients go to dst (the rows' gradient), dw and dbias when want_grad. */
static float softmax_part(struct train_model *m, const float *src, float *dst, const int *targets, int n, int offset,
                          const float *w, const float *bias, float *dw, float *dbias, int K, int threads,
                          int want_grad, int *count_out)
{
    int d = m->config.d_model;
    int count = gather_rows(m, src, targets, n, offset);

    *count_out = count;
    if (count == 0)
        return 0.0f;

    float scale = 1.0f / (float)count;
    memset(m->d_rows, 0, (size_t)count * d * sizeof(float));
    double sum = train_softmax_ce(m->rows, w, bias, m->row_target, count, K, d, scale, want_grad ? m->d_rows : NULL,
                                  want_grad ? dw : NULL, want_grad ? dbias : NULL, m->logits, threads);
    if (want_grad)
        scatter_rows(m, dst, count);
    return (float)(sum / count);
}

static float propensity_part(struct train_model *m, const float *labels, int B, int want_grad)
{
    int d = m->config.d_model, count = 0;
    struct model_params *g = &m->grads;

    for (int b = 0; b < B; b++) {
        if (labels[b] < 0.0f)
            continue;
        memcpy(m->rows + (size_t)count * d, m->pooled + (size_t)b * d, (size_t)d * sizeof(float));
        m->row_index[count] = b;
        m->row_target[count] = b; /* index of the label */
        count++;
    }
    if (count == 0)
        return 0.0f;

    float y[count];
    for (int r = 0; r < count; r++)
        y[r] = labels[m->row_target[r]];
    memset(m->d_rows, 0, (size_t)count * d * sizeof(float));
    double sum = train_bce(m->rows, m->params.propensity_weight, m->params.propensity_bias, y, count, d,
                           1.0f / (float)count, want_grad ? m->d_rows : NULL,
                           want_grad ? g->propensity_weight : NULL, want_grad ? g->propensity_bias : NULL);
    if (want_grad)
        scatter_rows(m, m->d_pooled, count);
    return (float)(sum / count);
}

/* The pooled state, as the inference encoder computes it: the last valid
 * position for a causal encoder, the mean over valid positions for a
 * bidirectional one. */
static void pool_forward(struct train_model *m, const struct train_batch *b)
{
    int d = m->config.d_model, causal = m->config.encoder_mode == MODEL_ENCODER_CAUSAL;

    for (int i = 0; i < b->B; i++) {
        float *pooled = m->pooled + (size_t)i * d;
        const float *hidden = m->enc_out + (size_t)i * b->T * d;
        int length = b->lengths[i];

        if (causal) {
            memcpy(pooled, hidden + (size_t)(length - 1) * d, (size_t)d * sizeof(float));
            continue;
        }
        memset(pooled, 0, (size_t)d * sizeof(float));
        for (int t = 0; t < length; t++)
            for (int j = 0; j < d; j++)
                pooled[j] += hidden[(size_t)t * d + j];
        for (int j = 0; j < d; j++)
            pooled[j] /= (float)length;
    }
}

static void pool_backward(struct train_model *m, const struct train_batch *b)
{
    int d = m->config.d_model, causal = m->config.encoder_mode == MODEL_ENCODER_CAUSAL;

    for (int i = 0; i < b->B; i++) {
        const float *dpooled = m->d_pooled + (size_t)i * d;
        float *dhidden = m->d_enc_out + (size_t)i * b->T * d;
        int length = b->lengths[i];
        int first = causal ? length - 1 : 0;
        float scale = causal ? 1.0f : 1.0f / (float)length;

        for (int t = first; t < length; t++)
            for (int j = 0; j < d; j++)
                dhidden[(size_t)t * d + j] += dpooled[j] * scale;
    }
}

/* The heads on the pooled state. */
static void head_parts(struct train_model *m, const struct train_batch *b, int want_grad)
{
    const struct model_config *c = &m->config;
    const struct model_params *p = &m->params;
    struct model_params *g = &m->grads;
    struct train_losses *L = &m->losses;
    int d = c->d_model, count;

    pool_forward(m, b);
    memset(m->d_pooled, 0, (size_t)b->B * d * sizeof(float));

    if (b->action_labels && c->n_actions > 0)
        L->action = softmax_part(m, m->pooled, m->d_pooled, b->action_labels, b->B, 0, p->action_weight,
                                 p->action_bias, g->action_weight, g->action_bias, c->n_actions, 1, want_grad, &count);
    if (b->category_labels && c->n_categories > 0)
        L->category = softmax_part(m, m->pooled, m->d_pooled, b->category_labels, b->B, 0, p->category_weight,
                                   p->category_bias, g->category_weight, g->category_bias, c->n_categories, 1,
                                   want_grad, &count);
    if (b->sentiment_labels && c->n_sentiments > 0)
        L->sentiment = softmax_part(m, m->pooled, m->d_pooled, b->sentiment_labels, b->B, 0, p->sentiment_weight,
                                    p->sentiment_bias, g->sentiment_weight, g->sentiment_bias, c->n_sentiments, 1,
                                    want_grad, &count);
    if (b->propensity_labels)
        L->propensity = propensity_part(m, b->propensity_labels, b->B, want_grad);

    if (want_grad)
        pool_backward(m, b);
}

float train_objective_forward(struct train_model *m, const struct train_batch *b, int want_grad)
{
    const struct model_config *c = &m->config;
    const struct model_params *p = &m->params;
    struct model_params *g = &m->grads;
    struct train_losses *L = &m->losses;
    int d = c->d_model;

    memset(L, 0, sizeof *L);
    memset(m->d_enc_out, 0, (size_t)b->B * b->T * d * sizeof(float));

    if (b->item_targets && c->item_end > c->item_begin && m->item_loss != TRAIN_ITEM_LOSS_FULL) {
        L->item = train_sampled_item_loss(m, b, want_grad);
    } else if (b->item_targets && c->item_end > c->item_begin) {
        size_t offset = (size_t)c->item_begin * d;
        L->item = softmax_part(m, m->enc_out, m->d_enc_out, b->item_targets, b->B * b->T, c->item_begin,
                               p->embedding + offset, NULL, g->embedding + offset, NULL, c->item_end - c->item_begin,
                               m->loss_threads, want_grad, &L->item_count);
    }

    if (c->n_decoder_layers > 0 && b->T_dec > 0 && b->dec_targets) {
        memset(m->d_dec_out, 0, (size_t)b->B * b->T_dec * d * sizeof(float));
        L->token = softmax_part(m, m->dec_out, m->d_dec_out, b->dec_targets, b->B * b->T_dec, 0,
                                p->generator_weight, p->generator_bias, g->generator_weight, g->generator_bias,
                                c->vocab_size, m->loss_threads, want_grad, &L->token_count);
    }

    head_parts(m, b, want_grad);
    L->total = L->item + L->token + L->action + L->category + L->sentiment + L->propensity;
    return L->total;
}
