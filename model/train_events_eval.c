/*
 * Validation metrics of train_events.h, computed with the inference path
 * (model_encode and model_heads) on a non-owning view of the trained weights.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encoder.h"
#include "train_events.h"

#define EVAL_CHUNK 64

static int argmax(const float *x, int n)
{
    int best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best])
            best = i;
    return best;
}

/* Buffers of one evaluation chunk. */
struct eval_buffers {
    struct model view;
    struct model_arena arena;
    float *pooled, *items, *actions, *categories, *sentiments, *propensity;
    int32_t cuts[EVAL_CHUNK];
    int limits[EVAL_CHUNK];
};

static int eval_buffers_init(struct eval_buffers *e, const struct train_model *m)
{
    const struct model_config *c = &m->config;
    memset(e, 0, sizeof *e);
    e->view.config = m->config;
    e->view.params = m->params;
    e->view.params.owns_data = 0;
    e->pooled = calloc((size_t)EVAL_CHUNK * c->d_model, sizeof(float));
    e->items = calloc((size_t)EVAL_CHUNK * (size_t)(c->item_end - c->item_begin + 1), sizeof(float));
    e->actions = calloc((size_t)EVAL_CHUNK * (size_t)(c->n_actions + 1), sizeof(float));
    e->categories = calloc((size_t)EVAL_CHUNK * (size_t)(c->n_categories + 1), sizeof(float));
    e->sentiments = calloc((size_t)EVAL_CHUNK * (size_t)(c->n_sentiments + 1), sizeof(float));
    e->propensity = calloc(EVAL_CHUNK, sizeof(float));
    return e->pooled && e->items && e->actions && e->categories && e->sentiments && e->propensity ? 0 : -1;
}

static void eval_buffers_free(struct eval_buffers *e)
{
    model_arena_free(&e->arena);
    free(e->pooled);
    free(e->items);
    free(e->actions);
    free(e->categories);
    free(e->sentiments);
    free(e->propensity);
}

/* Encodes the filled batch and applies every head. */
static int run_heads(struct eval_buffers *e, struct train_events_batch *b, int n, char *error)
{
    const struct model_config *c = &e->view.config;
    if (model_encode(&e->view, &e->arena, b->tokens, b->lengths, n, b->batch.T, NULL, e->pooled, error) != 0)
        return -1;
    struct model_head_outputs out = {
        .item_scores = c->item_end > c->item_begin ? e->items : NULL,
        .action_logits = c->n_actions > 0 ? e->actions : NULL,
        .category_logits = c->n_categories > 0 ? e->categories : NULL,
        .sentiment_logits = c->n_sentiments > 0 ? e->sentiments : NULL,
        .propensity = e->propensity,
    };
    model_heads(&e->view, e->pooled, n, &out);
    return 0;
}

/* Adds the next-event metrics of row i to the sums in m. The item is ranked
 * among the known items only, the ones the processor can recommend. */
static void score_next(struct train_events_metrics *m, const struct eval_buffers *e,
                       const struct train_events_batch *b, int i, int known_end)
{
    const struct model_config *c = &e->view.config;
    int n_items = c->item_end - c->item_begin, n_known = known_end - c->item_begin;
    int target = b->item_targets[(size_t)i * b->batch.T + b->lengths[i] - 1];

    m->next_samples++;
    if (target >= c->item_begin && target < known_end) {
        const float *scores = e->items + (size_t)i * n_items;
        float own = scores[target - c->item_begin];
        int rank = 0;
        for (int j = 0; j < n_known; j++)
            rank += scores[j] > own;
        m->item_samples++;
        if (rank < 10) {
            m->hr10 += 1.0;
            m->ndcg10 += 1.0 / log2(rank + 2.0);
        }
    }
    if (b->action[i] >= 0 && b->action[i] < TOKENIZER_N_ACTIONS)
        m->action_counts[b->action[i]]++;
    if (b->action[i] >= 0 && c->n_actions > 0)
        m->action_accuracy += argmax(e->actions + (size_t)i * c->n_actions, c->n_actions) == b->action[i];
    if (b->category[i] >= 0 && c->n_categories > 0)
        m->category_accuracy +=
            argmax(e->categories + (size_t)i * c->n_categories, c->n_categories) == b->category[i];
    double p = e->propensity[i] < 1e-7f ? 1e-7 : (e->propensity[i] > 1 - 1e-7f ? 1 - 1e-7 : e->propensity[i]);
    m->propensity_log_loss -= b->propensity[i] > 0.5f ? log(p) : log(1.0 - p);
}

static int evaluate_next(struct train_events_batch *b, struct eval_buffers *e, const struct train_events_data *d,
                         const struct tokenizer *tok, long count, struct train_events_metrics *m, char *error)
{
    for (long begin = 0; begin < count; begin += EVAL_CHUNK) {
        int n = count - begin < EVAL_CHUNK ? (int)(count - begin) : EVAL_CHUNK;
        const int32_t *users = d->valid_next_user + begin;
        for (int i = 0; i < n; i++) {
            long n_user = d->user_begin[users[i] + 1] - d->user_begin[users[i]];
            e->cuts[i] = (int32_t)(n_user - 1);
            e->limits[i] = (int)n_user;
        }
        train_events_batch_fill(b, d, tok, users, e->cuts, e->limits, n, 1);
        if (run_heads(e, b, n, error) != 0)
            return -1;
        for (int i = 0; i < n; i++)
            score_next(m, e, b, i, tok->layout.item_bucket_begin);
    }
    return 0;
}

static int evaluate_sentiment(struct train_events_batch *b, struct eval_buffers *e,
                              const struct train_events_data *d, const struct tokenizer *tok, long count,
                              struct train_events_metrics *m, char *error)
{
    int n_classes = e->view.config.n_sentiments;
    for (long begin = 0; begin < count && n_classes > 0; begin += EVAL_CHUNK) {
        int n = count - begin < EVAL_CHUNK ? (int)(count - begin) : EVAL_CHUNK;
        train_events_batch_fill(b, d, tok, d->valid_sentiment_user + begin, d->valid_sentiment_cut + begin, NULL, n,
                                1);
        if (run_heads(e, b, n, error) != 0)
            return -1;
        for (int i = 0; i < n; i++) {
            if (b->sentiment[i] < 0)
                continue;
            m->sentiment_samples++;
            m->sentiment_accuracy += argmax(e->sentiments + (size_t)i * n_classes, n_classes) == b->sentiment[i];
        }
    }
    return 0;
}

/* Turns the sums into means and the score. */
static void finish_metrics(struct train_events_metrics *m)
{
    if (m->item_samples > 0) {
        m->hr10 /= (double)m->item_samples;
        m->ndcg10 /= (double)m->item_samples;
        m->score += m->hr10;
    }
    if (m->next_samples > 0) {
        long most = 0;
        for (int a = 0; a < TOKENIZER_N_ACTIONS; a++)
            most = m->action_counts[a] > most ? m->action_counts[a] : most;
        m->action_baseline = (double)most / (double)m->next_samples;
        m->action_accuracy /= (double)m->next_samples;
        m->category_accuracy /= (double)m->next_samples;
        m->propensity_log_loss /= (double)m->next_samples;
        m->score += m->action_accuracy + m->category_accuracy;
    }
    if (m->sentiment_samples > 0) {
        m->sentiment_accuracy /= (double)m->sentiment_samples;
        m->score += m->sentiment_accuracy;
    }
}

int train_events_evaluate(const struct train_model *m, const struct train_events_data *d,
                          const struct tokenizer *tokenizer, long max_samples, struct train_events_metrics *out,
                          char *error)
{
    struct train_events_batch b;
    struct eval_buffers e;
    long n_next = max_samples > 0 && d->n_valid_next > max_samples ? max_samples : d->n_valid_next;
    long n_sentiment =
        max_samples > 0 && d->n_valid_sentiment > max_samples ? max_samples : d->n_valid_sentiment;
    int result = -1;

    memset(out, 0, sizeof *out);
    memset(&e, 0, sizeof e);
    if (train_events_batch_alloc(&b, EVAL_CHUNK, m->config.max_len, d->options.offer_items) != 0 ||
        eval_buffers_init(&e, m) != 0) {
        snprintf(error, MODEL_ERROR_SIZE, "out of memory evaluating the model");
        train_events_batch_free(&b);
        eval_buffers_free(&e);
        return -1;
    }
    if (evaluate_next(&b, &e, d, tokenizer, n_next, out, error) == 0 &&
        evaluate_sentiment(&b, &e, d, tokenizer, n_sentiment, out, error) == 0) {
        finish_metrics(out);
        result = 0;
    }
    train_events_batch_free(&b);
    eval_buffers_free(&e);
    return result;
}
