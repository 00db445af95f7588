#include "train_eval.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encoder.h"
#include "train_layers.h"

const int train_eval_count_floor[TRAIN_EVAL_COUNT_BUCKETS] = {0, 1, 5, 10, 30};

/* Eligible users (with a held-out item), sampled down to max_users. */
static int *pick_users(const struct train_sequences *s, const struct train_eval_config *c, int *count)
{
    int n = 0;
    int *users = malloc((size_t)(s->n_users > 0 ? s->n_users : 1) * sizeof(int));

    if (!users)
        return NULL;
    for (int u = 0; u < s->n_users; u++)
        if (train_split_has_holdout(s, u))
            users[n++] = u;

    if (c->max_users > 0 && n > c->max_users) {
        uint64_t rng = c->seed;
        train_shuffle(users, n, &rng);
        n = c->max_users;
    }
    *count = n;
    return users;
}

static int count_bucket(int count)
{
    int b = TRAIN_EVAL_COUNT_BUCKETS - 1;

    while (b > 0 && count < train_eval_count_floor[b])
        b--;
    return b;
}

static double dot(const float *a, const float *b, int d)
{
    double sum = 0.0;
    for (int i = 0; i < d; i++)
        sum += (double)a[i] * b[i];
    return sum;
}

/* The source of a batch's last hidden states: the training encoder of
 * n_tables members, or an inference model (one table). Each table is an
 * embedding of width d whose row i is item i. An item's score is the sum
 * over tables of the table's state (stride floats apart) dotted with its
 * row, so items rank as by the mean of the members' logits. */
struct eval_source {
    int n_tables, d, max_B, max_T;
    size_t stride;
    const float *tables[TRAIN_EVAL_MAX_MEMBERS];
    struct train_model *const *members; /* NULL for an inference model */
    const struct model *model;
    struct model_arena *arena;
};

static double source_score(const struct eval_source *src, const float *h, int item)
{
    double score = 0.0;
    for (int k = 0; k < src->n_tables; k++)
        score += dot(h + (size_t)k * src->stride, src->tables[k] + (size_t)item * src->d, src->d);
    return score;
}

/* Rank of the target among n_negatives sampled unseen items. mark[item] ==
 * stamp flags the user's items, n_seen of them. A user who has seen every
 * item has no negatives and rank 0. */
static int sampled_rank(const struct eval_source *src, const float *h, int target, int n_items, int n_negatives,
                        const int *mark, int stamp, int n_seen, uint64_t *rng)
{
    double target_score = source_score(src, h, target);
    int rank = 0;

    if (n_seen >= n_items)
        return 0;
    for (int k = 0; k < n_negatives; k++) {
        int item;
        do
            item = 1 + (int)(train_random_next(rng) % (uint64_t)n_items);
        while (mark[item] == stamp);
        /* A NaN score ranks above the target, so broken weights score no hits. */
        if (!(source_score(src, h, item) <= target_score))
            rank++;
    }
    return rank;
}

/* Rank of the target among all items the user never interacted with, from
 * precomputed scores[n_items] (score of item i at index i - 1). */
static int full_rank(const float *scores, int target, int n_items, const int *mark, int stamp)
{
    float target_score = scores[target - 1];
    int rank = 0;

    for (int item = 1; item <= n_items; item++)
        if (mark[item] != stamp && !(scores[item - 1] <= target_score))
            rank++;
    return rank;
}

static void add_rank(int rank, double *hr, double *ndcg)
{
    if (rank >= 10)
        return;
    *hr += 1.0;
    *ndcg += 1.0 / log2((double)rank + 2.0);
}

int train_eval_ranking(struct train_model *m, const struct train_sequences *s, enum train_holdout holdout,
                       const struct train_eval_config *c, struct train_eval_result *r, char *error)
{
    return train_eval_ranking_ensemble(&m, 1, s, holdout, c, r, error);
}

/* Writes the last hidden state of the n sequences of sb into last (table
 * k's states at k * stride) and, when scores is set, their full-catalogue
 * scores. Returns 0, or -1 with a message. */
static int encode_batch(struct eval_source *src, const struct train_seq_batch *sb, int n, int n_items, float *last,
                        float *scores, char *error)
{
    int d = src->d;

    if (src->model) {
        if (model_encode(src->model, src->arena, sb->batch.tokens, sb->batch.lengths, n, sb->batch.T, NULL, last,
                         error) != 0)
            return -1;
    } else {
        for (int k = 0; k < src->n_tables; k++) {
            float *member_last = last + (size_t)k * src->stride;
            train_model_encode(src->members[k], &sb->batch);
            for (int i = 0; i < n; i++)
                memcpy(member_last + (size_t)i * d,
                       src->members[k]->enc_out + ((size_t)i * sb->batch.T + sb->lengths[i] - 1) * d,
                       (size_t)d * sizeof(float));
        }
    }
    for (int k = 0; scores && k < src->n_tables; k++)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n_items, d, 1.0f, last + (size_t)k * src->stride, d,
                    src->tables[k] + d, d, k == 0 ? 0.0f : 1.0f, scores, n_items);
    return 0;
}

static void finish_means(struct train_eval_result *r, int n_users)
{
    r->users = n_users;
    if (n_users > 0) {
        r->hr10 /= n_users;
        r->ndcg10 /= n_users;
        r->full_hr10 /= n_users;
        r->full_ndcg10 /= n_users;
    }
    for (int b = 0; b < TRAIN_EVAL_COUNT_BUCKETS; b++) {
        if (r->by_count[b].users > 0) {
            r->by_count[b].hr10 /= r->by_count[b].users;
            r->by_count[b].ndcg10 /= r->by_count[b].users;
        }
    }
}

static int rank_users(struct eval_source *src, const struct train_sequences *s, enum train_holdout holdout,
                      const struct train_eval_config *c, struct train_eval_result *r, char *error)
{
    int n_items = s->n_items, n_users = 0;
    struct train_seq_batch sb;
    int status = 0;
    int *users = pick_users(s, c, &n_users);
    int *mark = calloc((size_t)n_items + 1, sizeof(int));
    int *counts = train_split_training_counts(s);
    float *scores = c->full ? model_alloc_floats((size_t)src->max_B * n_items) : NULL;
    float *last = model_alloc_floats(src->stride * src->n_tables);
    int batch_ok = train_seq_batch_alloc(&sb, src->max_B, src->max_T) == 0;
    sb.pad_left = c->pad_left;
    sb.user_token_base = c->user_token_base;

    memset(r, 0, sizeof *r);
    if (!users || !mark || !counts || (c->full && !scores) || !last || !batch_ok) {
        snprintf(error, MODEL_ERROR_SIZE, "out of memory evaluating %d items", n_items);
        status = -1;
        goto done;
    }

    uint64_t rng = c->seed ^ 0xA5A5A5A5ULL;
    for (int begin = 0; begin < n_users; begin += src->max_B) {
        int n = n_users - begin < src->max_B ? n_users - begin : src->max_B;
        train_seq_batch_fill_eval(&sb, s, users + begin, n, holdout);
        if (encode_batch(src, &sb, n, n_items, last, scores, error) != 0) {
            status = -1;
            goto done;
        }

        for (int i = 0; i < n; i++) {
            int u = users[begin + i], stamp = begin + i + 1;
            const int *items = s->items + s->offsets[u];
            int train_len = train_split_train_length(s, u);
            int target = items[train_len + (holdout == TRAIN_HOLDOUT_TEST ? 1 : 0)];

            int n_seen = 0;
            for (long j = 0; j < s->offsets[u + 1] - s->offsets[u]; j++) {
                n_seen += mark[items[j]] != stamp;
                mark[items[j]] = stamp;
            }
            int rank = sampled_rank(src, last + (size_t)i * src->d, target, n_items, c->n_negatives, mark, stamp,
                                    n_seen, &rng);
            struct train_eval_bucket *bucket = &r->by_count[count_bucket(counts[target])];
            add_rank(rank, &r->hr10, &r->ndcg10);
            bucket->users++;
            add_rank(rank, &bucket->hr10, &bucket->ndcg10);
            if (c->full)
                add_rank(full_rank(scores + (size_t)i * n_items, target, n_items, mark, stamp), &r->full_hr10,
                         &r->full_ndcg10);
        }
    }
    finish_means(r, n_users);
done:
    free(users);
    free(mark);
    free(counts);
    free(scores);
    free(last);
    train_seq_batch_free(&sb);
    return status;
}

int train_eval_ranking_ensemble(struct train_model *const *models, int n_models, const struct train_sequences *s,
                                enum train_holdout holdout, const struct train_eval_config *c,
                                struct train_eval_result *r, char *error)
{
    struct train_model *m = models[0];
    struct eval_source src = {.n_tables = n_models,
                              .d = m->config.d_model,
                              .max_B = m->max_B,
                              .max_T = m->max_T,
                              .stride = (size_t)m->max_B * m->config.d_model,
                              .members = models};

    if (n_models < 1 || n_models > TRAIN_EVAL_MAX_MEMBERS) {
        snprintf(error, MODEL_ERROR_SIZE, "cannot evaluate an ensemble of %d members: expected 1 to %d", n_models,
                 TRAIN_EVAL_MAX_MEMBERS);
        return -1;
    }
    for (int k = 0; k < n_models; k++)
        src.tables[k] = models[k]->params.embedding;
    return rank_users(&src, s, holdout, c, r, error);
}

int train_eval_ranking_model(const struct model *m, int max_B, int max_T, const struct train_sequences *s,
                             enum train_holdout holdout, const struct train_eval_config *c,
                             struct train_eval_result *r, char *error)
{
    struct model_arena arena = {0};
    struct eval_source src = {.n_tables = 1,
                              .d = m->config.d_model,
                              .max_B = max_B,
                              .max_T = max_T,
                              .stride = (size_t)max_B * m->config.d_model,
                              .model = m,
                              .arena = &arena};

    if (max_B < 1 || max_T < 1) {
        snprintf(error, MODEL_ERROR_SIZE, "invalid evaluation batch %d x %d: expected positive sizes", max_B, max_T);
        return -1;
    }
    src.tables[0] = m->params.embedding;
    int status = rank_users(&src, s, holdout, c, r, error);
    model_arena_free(&arena);
    return status;
}
