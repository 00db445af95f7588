#include "train_item_features.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

static int popularity_bin(int count)
{
    int bin = 0;

    for (int c = count > 1 ? count : 1; c > 1 && bin < TRAIN_ITEM_POPULARITY_BINS - 1; c >>= 1)
        bin++;
    return bin;
}

/* Bin 0 is for the items never seen in training; bins 1 and up split the
 * share of late occurrences into equal ranges. */
static int recency_bin(int tail, int count)
{
    if (count == 0)
        return 0;
    int bin = 1 + (int)((double)tail / count * (TRAIN_ITEM_RECENCY_BINS - 1));
    return bin < TRAIN_ITEM_RECENCY_BINS ? bin : TRAIN_ITEM_RECENCY_BINS - 1;
}

static void count_occurrences(const struct train_sequences *s, int tail_span, int *count, int *tail)
{
    for (int u = 0; u < s->n_users; u++) {
        const int *items = s->items + s->offsets[u];
        int train_len = train_split_train_length(s, u);
        for (int j = 0; j < train_len; j++) {
            count[items[j]]++;
            tail[items[j]] += j >= train_len - tail_span;
        }
    }
}

int train_item_features_init(struct train_item_features *f, const struct train_sequences *s, int d, int tail_span,
                             char *error)
{
    memset(f, 0, sizeof *f);
    f->n_items = s->n_items;
    f->d = d;
    f->n_bins[0] = TRAIN_ITEM_POPULARITY_BINS;
    f->n_bins[1] = TRAIN_ITEM_RECENCY_BINS;

    int *count = calloc((size_t)s->n_items + 1, sizeof(int));
    int *tail = calloc((size_t)s->n_items + 1, sizeof(int));
    int ok = count && tail;
    for (int k = 0; ok && k < TRAIN_ITEM_FEATURES; k++) {
        f->bin[k] = calloc((size_t)s->n_items + 1, sizeof(int));
        f->vectors[k] = calloc((size_t)f->n_bins[k] * d, sizeof(float));
        f->m[k] = calloc((size_t)f->n_bins[k] * d, sizeof(float));
        f->v[k] = calloc((size_t)f->n_bins[k] * d, sizeof(float));
        ok = f->bin[k] && f->vectors[k] && f->m[k] && f->v[k];
    }
    int largest = f->n_bins[0] > f->n_bins[1] ? f->n_bins[0] : f->n_bins[1];
    f->grad = ok ? calloc((size_t)largest * d, sizeof(float)) : NULL;
    if (!f->grad) {
        snprintf(error, MODEL_ERROR_SIZE, "out of memory binning %d items", s->n_items);
        free(count);
        free(tail);
        train_item_features_free(f);
        return -1;
    }

    count_occurrences(s, tail_span, count, tail);
    for (int i = 1; i <= s->n_items; i++) {
        f->bin[0][i] = popularity_bin(count[i]);
        f->bin[1][i] = recency_bin(tail[i], count[i]);
    }
    free(count);
    free(tail);
    return 0;
}

void train_item_features_free(struct train_item_features *f)
{
    for (int k = 0; k < TRAIN_ITEM_FEATURES; k++) {
        free(f->bin[k]);
        free(f->vectors[k]);
        free(f->m[k]);
        free(f->v[k]);
    }
    free(f->grad);
    memset(f, 0, sizeof *f);
}

/* Runs Adam on the vectors of feature k and leaves the change of each vector
 * in grad. */
static void adam_update(struct train_item_features *f, int k, float lr, float beta1, float beta2, float eps)
{
    size_t n = (size_t)f->n_bins[k] * f->d;
    double c1 = 1.0 - pow(beta1, (double)f->step), c2 = 1.0 - pow(beta2, (double)f->step);

    for (size_t j = 0; j < n; j++) {
        float g = f->grad[j];
        f->m[k][j] = beta1 * f->m[k][j] + (1.0f - beta1) * g;
        f->v[k][j] = beta2 * f->v[k][j] + (1.0f - beta2) * g * g;
        float delta = -lr * (float)(f->m[k][j] / c1) / (sqrtf((float)(f->v[k][j] / c2)) + eps);
        f->vectors[k][j] += delta;
        f->grad[j] = delta;
    }
}

void train_item_features_step(struct train_item_features *f, float *embedding, const float *grad_embedding, float lr,
                              float beta1, float beta2, float eps)
{
    int d = f->d;

    f->step++;
    for (int k = 0; k < TRAIN_ITEM_FEATURES; k++) {
        memset(f->grad, 0, (size_t)f->n_bins[k] * d * sizeof(float));
        for (int i = 1; i <= f->n_items; i++) {
            float *g = f->grad + (size_t)f->bin[k][i] * d;
            const float *row = grad_embedding + (size_t)i * d;
            for (int j = 0; j < d; j++)
                g[j] += row[j];
        }

        adam_update(f, k, lr, beta1, beta2, eps);

        for (int i = 1; i <= f->n_items; i++) {
            const float *delta = f->grad + (size_t)f->bin[k][i] * d;
            float *row = embedding + (size_t)i * d;
            for (int j = 0; j < d; j++)
                row[j] += delta[j];
        }
    }
}

int train_item_features_write(const struct train_item_features *f, FILE *out)
{
    int bad = fwrite(&f->step, sizeof f->step, 1, out) != 1;

    for (int k = 0; k < TRAIN_ITEM_FEATURES && !bad; k++) {
        size_t n = (size_t)f->n_bins[k] * f->d;
        bad = fwrite(f->vectors[k], sizeof(float), n, out) != n || fwrite(f->m[k], sizeof(float), n, out) != n ||
              fwrite(f->v[k], sizeof(float), n, out) != n;
    }
    return bad ? -1 : 0;
}

int train_item_features_read(struct train_item_features *f, FILE *in)
{
    int bad = fread(&f->step, sizeof f->step, 1, in) != 1;

    for (int k = 0; k < TRAIN_ITEM_FEATURES && !bad; k++) {
        size_t n = (size_t)f->n_bins[k] * f->d;
        bad = fread(f->vectors[k], sizeof(float), n, in) != n || fread(f->m[k], sizeof(float), n, in) != n ||
              fread(f->v[k], sizeof(float), n, in) != n;
    }
    return bad ? -1 : 0;
}
