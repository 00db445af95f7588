/*
 * Intents: the touched users of a batch are encoded together (in chunks of
 * ENCODE_CHUNK sequences), their heads scored, and one UserIntent per user is
 * produced as intents.emit allows. model.encoder_threads chunks are computed
 * at a time, one per thread. The stream loop's thread then writes the
 * intents in chunk order, so the output does not depend on the thread count.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app.h"
#include "encoder.h"
#include "intent_cache.h"
#include "intent_pool.h"
#include "kv_cache.h"
#include "kernels.h"
#include "log.h"
#include "tokenizer.h"

/* Sequences per model call. Bounds the item-score buffer at
 * ENCODE_CHUNK x items floats. */
#define ENCODE_CHUNK 64
#define MAX_TOP_K 32
#define MAX_ENCODER_THREADS 16 /* model.encoder_threads above this use this many */

/* The verdict of judge_intent on one row of a chunk, kept until the row's intent is written. */
struct intent_row {
    int emit;
    int item_row; /* row of the item scores when emit is set, else -1 */
    int n_top_categories;
    codec_scored_id_t top_categories[MAX_TOP_K];
};

/* Scratch and results of one encoder chunk, one per thread, kept from batch
 * to batch (the item scores alone are ENCODE_CHUNK x ~12k floats, and a fresh
 * calloc per batch costs page faults and zeroing). Owned by this file; sized
 * for the dimensions below and reallocated when a model swap changes them.
 * A worker thread writes only its own buffers, and the stream loop's thread
 * reads them after the round. */
struct intent_buffers {
    int seq_len, n_items, n_categories, n_sentiments, d_model; /* sizes allocated for */
    int *tokens;        /* [chunk, seq_len] */
    int *lengths;       /* [chunk] */
    float *pooled;      /* [chunk, d] */
    float *items;       /* [chunk, n_items] */
    float *categories;  /* [chunk, n_categories] */
    float *sentiments;  /* [chunk, n_sentiments] */
    float *propensity;  /* [chunk] */
    float *lse_items;   /* [chunk] log of the item softmax normaliser */
    float *lse_categories; /* [chunk] the same for categories */
    float *emit_pooled; /* [chunk, d] pooled rows of the intents that go out, packed */
    struct model_arena arena; /* encoder scratch of this thread */

    /* The chunk computed in the current round. */
    size_t first;         /* its first entry in the batch order */
    int rows;             /* 0: no chunk this round */
    int status;           /* 0, or -1 with error set */
    int n_suppressed;     /* rows whose intent intents.emit holds back */
    double model_seconds; /* model time of the chunk, encoder and heads */
    struct intent_row judged[ENCODE_CHUNK];
    char error[APP_ERROR_SIZE];

    /* Key/value caches. kv[r] is row r's cache from the table (or NULL).
     * want_cache[r] requests a new one, which the thread leaves in made[r]
     * for the stream loop's thread to store. */
    struct model_kv_cache *kv[ENCODE_CHUNK];
    struct model_kv_cache *made[ENCODE_CHUNK];
    unsigned char want_cache[ENCODE_CHUNK];
    int cold[ENCODE_CHUNK]; /* rows encoded without a cache, in one batched call */
};

static struct intent_buffers kept_buffers[MAX_ENCODER_THREADS];
static struct intent_pool *encoder_pool;
static struct intent_cache *kv_table;          /* NULL until first used */
static unsigned kv_generation;                /* app->model_generation the caches belong to */

static double wall_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double monotonic_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void free_buffers(struct intent_buffers *b)
{
    free(b->tokens);
    free(b->lengths);
    free(b->pooled);
    free(b->items);
    free(b->categories);
    free(b->sentiments);
    free(b->propensity);
    free(b->lse_items);
    free(b->lse_categories);
    free(b->emit_pooled);
    model_arena_free(&b->arena);
    memset(b, 0, sizeof *b);
}

/* Makes b fit the model and seq_len, keeping what it has when it already
 * does. Returns 0, or -1 when out of memory (b is then empty). */
static int alloc_buffers(struct intent_buffers *b, const struct model_config *c, int seq_len)
{
    int n_items = c->item_end - c->item_begin;

    if (b->tokens && b->seq_len == seq_len && b->n_items == n_items && b->n_categories == c->n_categories &&
        b->n_sentiments == c->n_sentiments && b->d_model == c->d_model)
        return 0;
    free_buffers(b);
    b->seq_len = seq_len;
    b->n_items = n_items;
    b->n_categories = c->n_categories;
    b->n_sentiments = c->n_sentiments;
    b->d_model = c->d_model;
    b->tokens = calloc((size_t)ENCODE_CHUNK * (size_t)seq_len, sizeof(int));
    b->lengths = calloc(ENCODE_CHUNK, sizeof(int));
    b->pooled = calloc((size_t)ENCODE_CHUNK * (size_t)c->d_model, sizeof(float));
    b->items = calloc((size_t)ENCODE_CHUNK * (size_t)(n_items > 0 ? n_items : 1), sizeof(float));
    b->categories = calloc((size_t)ENCODE_CHUNK * (size_t)(c->n_categories > 0 ? c->n_categories : 1), sizeof(float));
    b->sentiments = calloc((size_t)ENCODE_CHUNK * (size_t)(c->n_sentiments > 0 ? c->n_sentiments : 1), sizeof(float));
    b->propensity = calloc(ENCODE_CHUNK, sizeof(float));
    b->lse_items = calloc(ENCODE_CHUNK, sizeof(float));
    b->lse_categories = calloc(ENCODE_CHUNK, sizeof(float));
    b->emit_pooled = calloc((size_t)ENCODE_CHUNK * (size_t)c->d_model, sizeof(float));
    if (!b->tokens || !b->lengths || !b->pooled || !b->items || !b->categories || !b->sentiments || !b->propensity ||
        !b->lse_items || !b->lse_categories || !b->emit_pooled) {
        free_buffers(b);
        return -1;
    }
    return 0;
}

/* Converts logits[n] to probabilities in place (max subtracted first). */
static void softmax(float *x, int n)
{
    if (n <= 0)
        return;
    float max = x[0];
    for (int i = 1; i < n; i++)
        max = x[i] > max ? x[i] : max;
    double sum = 0.0;
    for (int i = 0; i < n; i++) {
        x[i] = expf(x[i] - max);
        sum += x[i];
    }
    for (int i = 0; i < n; i++)
        x[i] = (float)(x[i] / sum);
}

/* Picks the k highest logits among the first n_known tokens (those with an
 * external id; buckets follow them in the layout) and scores them as
 * probabilities exp(logit - lse), lse being the log of the softmax
 * normaliser over the whole row. Only these k entries are exponentiated.
 * Returns the count; ids point into the tokenizer. */
static int top_known(const struct tokenizer *tok, const float *probs, float lse, int n_known, int32_t first_token,
                     int k, codec_scored_id_t *out, int32_t *best_token)
{
    int index[MAX_TOP_K];
    int count = 0;
    float threshold = -INFINITY; /* the k-th best once the list is full */

    *best_token = -1;
    if (k <= 0)
        return 0;

    for (int i = 0; i < n_known; i++) {
        /* Once the list is full most entries lose: jump to the next one
         * that beats the k-th best (a vectorised scan). */
        if (count == k) {
            i += model_find_above(probs + i, n_known - i, threshold);
            if (i >= n_known)
                break;
        }
        int j = count < k ? count++ : k - 1;
        while (j > 0 && probs[index[j - 1]] < probs[i]) {
            index[j] = index[j - 1];
            j--;
        }
        index[j] = i;
        if (count == k)
            threshold = probs[index[k - 1]];
    }

    *best_token = count > 0 ? first_token + index[0] : -1;
    for (int j = 0; j < count; j++) {
        out[j].id = (char *)tokenizer_token_id(tok, first_token + index[j]);
        out[j].score = expf(probs[index[j]] - lse);
    }
    return count;
}

/* Decides whether the user's intent goes out under intents.emit. */
static int should_emit(const struct app *app, const struct state_user *user, const struct app_touch *touch,
                       float propensity, int32_t top_category)
{
    const struct intentd_config *cfg = app->cfg;

    switch (cfg->intents.emit) {
    case CONFIG_EMIT_ON_CHANGE:
        return user->last_intent_ms == 0 || fabsf(propensity - user->last_propensity) >= cfg->intents.min_change ||
               top_category != user->last_top_category;
    case CONFIG_EMIT_INTERVAL:
        return user->last_intent_ms == 0 || touch->event_ms - user->last_intent_ms >= cfg->intents.interval_ms;
    default:
        return 1;
    }
}

static int top_k_setting(const struct app *app)
{
    return app->cfg->intents.top_k < MAX_TOP_K ? app->cfg->intents.top_k : MAX_TOP_K;
}

/* Scores one encoded row's categories, records the result on the touch and
 * decides under intents.emit whether its intent goes out. Writes only this
 * row's touch, so chunks can be judged on different threads. */
static void judge_intent(struct app *app, struct app_touch *touch, const struct intent_buffers *b, int row,
                         struct intent_row *out)
{
    const struct model_config *c = &app->bundle->model.config;
    const struct tokenizer *tok = app->bundle->tokenizer;
    int32_t best_category = -1;

    out->n_top_categories = top_known(tok, b->categories + (size_t)row * c->n_categories, b->lse_categories[row],
                                      tok->layout.category_bucket_begin - tok->layout.category_begin,
                                      tok->layout.category_begin, top_k_setting(app), out->top_categories,
                                      &best_category);
    float propensity = b->propensity[row];

    touch->encoded = 1;
    touch->propensity = propensity;
    touch->top_category = best_category;
    out->emit = should_emit(app, touch->user, touch, propensity, best_category);
}

/* Writes the intent of a row judge_intent let through. item_row indexes
 * the item scores, which exist for emitted rows only. */
static int produce_intent(struct app *app, struct app_touch *touch, const struct intent_buffers *b, int row,
                          const struct intent_row *judged)
{
    const struct model_config *c = &app->bundle->model.config;
    const struct tokenizer *tok = app->bundle->tokenizer;
    struct state_user *user = touch->user;
    int n_items = c->item_end - c->item_begin;
    codec_scored_id_t top_items[MAX_TOP_K];
    int32_t best_item = -1;

    int item_row = judged->item_row;
    int n_top_items = top_known(tok, b->items + (size_t)item_row * n_items, b->lse_items[item_row],
                                tok->layout.item_bucket_begin - c->item_begin, c->item_begin, top_k_setting(app),
                                top_items, &best_item);
    float propensity = touch->propensity;
    int32_t best_category = touch->top_category;

    codec_source_offset_t offsets[APP_INPUT_COUNT];
    size_t n_offsets = 0;
    const char *topics[APP_INPUT_COUNT] = {app->cfg->topics.clickstream, app->cfg->topics.reviews,
                                           app->cfg->topics.consents};
    for (int i = 0; i < APP_INPUT_COUNT; i++) {
        if (touch->offsets[i] >= 0)
            offsets[n_offsets++] = (codec_source_offset_t){(char *)topics[i], user->partition, touch->offsets[i]};
    }

    codec_user_intent_t intent = {
        .user_id = user->id,
        .embedding = b->pooled + (size_t)row * c->d_model,
        .embedding_len = (size_t)c->d_model,
        .purchase_propensity = propensity,
        .top_categories = (codec_scored_id_t *)judged->top_categories, /* read only */
        .top_category_count = (size_t)judged->n_top_categories,
        .top_items = top_items,
        .top_item_count = (size_t)n_top_items,
        .has_sentiment = user->sentiment != STATE_SENTIMENT_NONE && c->n_sentiments >= 2,
        .sentiment = c->n_sentiments >= 2 ? b->sentiments[(size_t)row * c->n_sentiments + 1] : 0.0f,
        .model_version = app->bundle->version,
        .updated_at_ms = touch->event_ms > 0 ? touch->event_ms : user->last_event_ms,
        .source_offsets = offsets,
        .source_offset_count = n_offsets,
    };

    uint8_t *frame = NULL;
    size_t frame_len = 0;
    codec_error_t err;
    if (codec_encode_intent(app->codec, &intent, &frame, &frame_len, &err) != CODEC_OK) {
        snprintf(app->error, sizeof app->error, "encoding the intent of user %s failed: %s", user->id, err.message);
        return -1;
    }
    int result = app_produce(app, app->cfg->topics.intents, -1, user->id, user->id_len, frame, frame_len);
    free(frame);
    if (result != 0)
        return -1;

    user->last_intent_ms = intent.updated_at_ms;
    user->last_propensity = propensity;
    user->last_top_category = best_category;
    app->counters.intents++;
    if (touch->event_ms > 0)
        app_histogram_observe(&app->counters.end_to_end_seconds, app_latency_bounds,
                              wall_seconds() - (double)touch->event_ms / 1000.0);
    return 0;
}

/* Encodes row r through its key/value cache: the new tokens only when the
 * cache contains a prefix of the row's window, else a rebuild of the window. */
static int encode_cached(const struct model *model, struct intent_buffers *b, int r, int seq_len)
{
    const int *window = b->tokens + (size_t)r * (size_t)seq_len;
    int n = b->lengths[r];
    float *pooled = b->pooled + (size_t)r * (size_t)model->config.d_model;
    char error[MODEL_ERROR_SIZE];
    struct model_kv_cache *kv = b->kv[r];

    if (!kv) {
        kv = model_kv_cache_create(model, error);
        if (!kv) {
            snprintf(b->error, sizeof b->error, "creating a key/value cache failed: %s", error);
            return -1;
        }
        b->made[r] = kv;
    }

    int prefix = kv->length > 0 && kv->length <= n &&
                 memcmp(kv->tokens, window, (size_t)kv->length * sizeof(int)) == 0;
    int rc = 0;
    if (!prefix)
        rc = model_kv_cache_rebuild(model, kv, &b->arena, window, n, pooled, error);
    else if (kv->length < n)
        rc = model_kv_cache_append(model, kv, &b->arena, window + kv->length, n - kv->length, pooled, error);
    else /* the same window again, after an aborted batch was replayed */
        memcpy(pooled, kv->pooled, (size_t)model->config.d_model * sizeof(float));
    if (rc != 0)
        snprintf(b->error, sizeof b->error, "encoding a user through its key/value cache failed: %s", error);
    return rc;
}

/* Encodes the rows listed in b->cold in one batched call. Their token rows
 * move down to the front of b->tokens; rows with a cache are done by then. */
static int encode_cold(const struct model *model, struct intent_buffers *b, int n_cold, int seq_len)
{
    size_t d = (size_t)model->config.d_model;
    char error[MODEL_ERROR_SIZE];

    for (int i = 0; i < n_cold; i++) {
        int from = b->cold[i]; /* >= i, so no row still to move is overwritten */
        if (from != i)
            memmove(b->tokens + (size_t)i * (size_t)seq_len, b->tokens + (size_t)from * (size_t)seq_len,
                    (size_t)seq_len * sizeof(int));
        b->lengths[i] = b->lengths[from];
    }
    if (model_encode(model, &b->arena, b->tokens, b->lengths, n_cold, seq_len, NULL, b->emit_pooled, error) != 0) {
        snprintf(b->error, sizeof b->error, "encoding a batch of %d users failed: %s", n_cold, error);
        return -1;
    }
    for (int i = 0; i < n_cold; i++)
        memcpy(b->pooled + (size_t)b->cold[i] * d, b->emit_pooled + (size_t)i * d, d * sizeof(float));
    return 0;
}

/* Fills one chunk's token rows and runs the encoder and heads. rows index
 * app->touches through order[first ..]; the chunk is as long as its longest
 * sequence, so short histories are not padded to max_len. */
static int encode_chunk(struct app *app, struct intent_buffers *b, const size_t *order, size_t first, int rows,
                        int max_len)
{
    const struct model *model = &app->bundle->model;
    const struct model_config *c = &model->config;
    int32_t sequence[STATE_MAX_LEN_LIMIT];
    int seq_len = 1;

    for (int r = 0; r < rows; r++) {
        const struct state_user *user = app->touches[order[first + (size_t)r]].user;
        int n = user->token_count < max_len ? user->token_count : max_len;
        seq_len = n > seq_len ? n : seq_len;
    }
    memset(b->tokens, 0, (size_t)rows * (size_t)seq_len * sizeof(int));
    for (int r = 0; r < rows; r++) {
        size_t n = state_store_copy_tokens(app->store, app->touches[order[first + (size_t)r]].user, sequence,
                                           (size_t)seq_len);
        b->lengths[r] = (int)n;
        for (size_t t = 0; t < n; t++)
            b->tokens[(size_t)r * seq_len + t] = sequence[t];
    }

    double started = monotonic_seconds();
    int n_cold = 0;
    for (int r = 0; r < rows; r++) {
        if (!b->kv[r] && !b->want_cache[r])
            b->cold[n_cold++] = r;
        else if (encode_cached(model, b, r, seq_len) != 0)
            return -1;
    }
    if (n_cold > 0 && encode_cold(model, b, n_cold, seq_len) != 0)
        return -1;

    /* Item scores, the largest head, wait until the intents that go out are
     * known: score_items computes them for those rows only. */
    struct model_head_outputs heads = {
        .category_logits = c->n_categories > 0 ? b->categories : NULL,
        .sentiment_logits = c->n_sentiments > 0 ? b->sentiments : NULL,
        .propensity = b->propensity,
    };
    model_heads(model, b->pooled, rows, &heads);
    b->model_seconds = monotonic_seconds() - started;

    /* Categories keep their logits: top_known exponentiates only the k it
     * lists, against the normaliser computed here. */
    for (int r = 0; r < rows; r++) {
        b->lse_categories[r] =
            c->n_categories > 0 ? model_logsumexp(b->categories + (size_t)r * c->n_categories, c->n_categories) : 0.0f;
        softmax(b->sentiments + (size_t)r * c->n_sentiments, c->n_sentiments);
    }
    return 0;
}

/* Item scores and their softmax normalisers for the n rows of
 * b->emit_pooled, into b->items and b->lse_items rows 0 .. n-1. */
static void score_items(struct app *app, struct intent_buffers *b, int n)
{
    const struct model *model = &app->bundle->model;
    int n_items = model->config.item_end - model->config.item_begin;

    if (n == 0 || n_items <= 0)
        return;

    double started = monotonic_seconds();
    struct model_head_outputs heads = {.item_scores = b->items};
    model_heads(model, b->emit_pooled, n, &heads);
    for (int r = 0; r < n; r++)
        b->lse_items[r] = model_logsumexp(b->items + (size_t)r * n_items, n_items);
    b->model_seconds += monotonic_seconds() - started;
}

/* Judges every row of an encoded chunk and scores the items of the rows
 * whose intent goes out. */
static void judge_chunk(struct app *app, struct intent_buffers *b, const size_t *order)
{
    size_t d = (size_t)app->bundle->model.config.d_model;
    int n_emit = 0;

    b->n_suppressed = 0;
    for (int r = 0; r < b->rows; r++) {
        struct intent_row *row = &b->judged[r];
        judge_intent(app, &app->touches[order[b->first + (size_t)r]], b, r, row);
        row->item_row = -1;
        if (!row->emit) {
            b->n_suppressed++;
            continue;
        }
        memcpy(b->emit_pooled + (size_t)n_emit * d, b->pooled + (size_t)r * d, d * sizeof(float));
        row->item_row = n_emit++;
    }
    score_items(app, b, n_emit);
}

/* One round of chunks: job j computes the chunk that starts ENCODE_CHUNK * j
 * entries after first. */
struct encode_round {
    struct app *app;
    const size_t *order;
    size_t n_order, first;
    int seq_len;
};

static void compute_chunk(void *ctx, int job)
{
    const struct encode_round *round = ctx;
    struct intent_buffers *b = &kept_buffers[job];
    size_t first = round->first + (size_t)job * ENCODE_CHUNK;

    b->rows = 0;
    if (first >= round->n_order)
        return;
    b->first = first;
    b->rows = (int)(round->n_order - first < ENCODE_CHUNK ? round->n_order - first : ENCODE_CHUNK);
    b->status = encode_chunk(round->app, b, round->order, first, b->rows, round->seq_len);
    if (b->status == 0)
        judge_chunk(round->app, b, round->order);
}

/* Writes the intents of a computed chunk, on the stream loop's thread. */
static int write_chunk(struct app *app, const struct intent_buffers *b, const size_t *order)
{
    if (b->status != 0) {
        snprintf(app->error, sizeof app->error, "%s", b->error);
        return -1;
    }
    app_histogram_observe(&app->counters.model_seconds, app_latency_bounds, b->model_seconds);
    app->counters.intents_suppressed += (uint64_t)b->n_suppressed;
    for (int r = 0; r < b->rows; r++)
        app->counters.kv_cache_hits += b->kv[r] != NULL;

    for (int r = 0; r < b->rows; r++) {
        if (!b->judged[r].emit)
            continue;
        if (produce_intent(app, &app->touches[order[b->first + (size_t)r]], b, r, &b->judged[r]) != 0)
            return -1;
    }
    return 0;
}

/* Makes kv_table ready for the current model: created on first use with
 * state.kv_cache_budget_mb, emptied when the model changed. Returns NULL when
 * the model is not causal (its states change with every token) or memory
 * runs out, and the users are then encoded without caches. */
static struct intent_cache *cache_table(struct app *app)
{
    if (app->bundle->model.config.encoder_mode != MODEL_ENCODER_CAUSAL)
        return NULL;
    if (!kv_table)
        kv_table = intent_cache_create((size_t)app->cfg->state.kv_cache_budget_mb << 20);
    if (kv_table && kv_generation != app->model_generation) {
        intent_cache_clear(kv_table);
        kv_generation = app->model_generation;
    }
    return kv_table;
}

/* Looks up the caches of the rows the jobs of one round will encode. A user
 * whose window is full gets none: the next token slides the window, which
 * needs a full encode anyway. A cache is built (one unbatched encode) only
 * for a returning user with a quarter of a window or more, who is likely to
 * come back again: most users of a clickstream have one or two events. */
static void attach_caches(struct app *app, struct intent_cache *table, const size_t *order, size_t n_order,
                          size_t first, int jobs, int seq_len)
{
    int capacity = app->bundle->model.config.max_len < seq_len ? app->bundle->model.config.max_len : seq_len;

    for (int j = 0; j < jobs; j++) {
        struct intent_buffers *b = &kept_buffers[j];
        size_t begin = first + (size_t)j * ENCODE_CHUNK;
        for (int r = 0; r < ENCODE_CHUNK; r++) {
            b->kv[r] = NULL;
            b->made[r] = NULL;
            b->want_cache[r] = 0;
            if (!table || begin + (size_t)r >= n_order)
                continue;
            const struct state_user *user = app->touches[order[begin + (size_t)r]].user;
            if ((int)user->token_count >= capacity)
                continue;
            b->kv[r] = intent_cache_get(table, user->id, user->id_len);
            b->want_cache[r] = !b->kv[r] && user->last_intent_ms != 0 && (int)user->token_count >= capacity / 4;
        }
    }
}

/* Stores the caches the jobs of a round created. */
static void keep_caches(struct app *app, struct intent_cache *table, const size_t *order, int jobs)
{
    for (int j = 0; j < jobs; j++) {
        struct intent_buffers *b = &kept_buffers[j];
        for (int r = 0; r < b->rows; r++) {
            if (!b->made[r])
                continue;
            const struct state_user *user = app->touches[order[b->first + (size_t)r]].user;
            intent_cache_put(table, user->id, user->id_len, b->made[r]); /* frees it when out of memory */
            b->made[r] = NULL;
            app->counters.kv_cache_builds++;
        }
    }
}

/* Makes the pool and the buffers of `threads` threads ready. Returns the
 * thread count to use (1 when the pool cannot start), or 0 when out of memory. */
static int prepare_threads(struct app *app, int threads, int seq_len)
{
    const struct model_config *c = &app->bundle->model.config;

    if (threads > MAX_ENCODER_THREADS)
        threads = MAX_ENCODER_THREADS;
    if (threads > 1 && (!encoder_pool || intent_pool_threads(encoder_pool) != threads)) {
        intent_pool_free(encoder_pool);
        encoder_pool = intent_pool_create(threads);
        if (!encoder_pool)
            log_warn("starting %d encoder threads failed, so this batch is encoded on one thread; lower model.encoder_threads if it repeats", threads);
    }
    if (threads > 1 && !encoder_pool)
        threads = 1;

    for (int t = 0; t < threads; t++)
        if (alloc_buffers(&kept_buffers[t], c, seq_len) != 0)
            return 0;
    return threads;
}

/* Orders touched users by sequence length so each chunk pads little. */
static int by_length(const void *a, const void *b, void *ctx)
{
    const struct app *app = ctx;
    int la = app->touches[*(const size_t *)a].user->token_count;
    int lb = app->touches[*(const size_t *)b].user->token_count;
    if (la != lb)
        return la < lb ? -1 : 1;
    return *(const size_t *)a < *(const size_t *)b ? -1 : 1;
}

int app_emit_intents(struct app *app)
{
    const struct model_config *c = &app->bundle->model.config;
    int seq_len = state_store_max_len(app->store);
    if (seq_len > c->max_len)
        seq_len = c->max_len;

    int threads = prepare_threads(app, app->cfg->model.encoder_threads, seq_len);
    if (threads == 0) {
        snprintf(app->error, sizeof app->error, "out of memory allocating intent buffers");
        return -1;
    }

    /* Users with new events in this batch, by length. Users touched only by
     * a timer, a consent record or a tombstone have no new intent. */
    size_t *order = malloc((app->n_touches ? app->n_touches : 1) * sizeof *order);
    size_t n_order = 0;
    if (!order) {
        snprintf(app->error, sizeof app->error, "out of memory ordering the batch");
        return -1;
    }
    for (size_t i = 0; i < app->n_touches; i++) {
        const struct app_touch *touch = &app->touches[i];
        if (!touch->erase && touch->actions != 0 && touch->user->token_count > 0)
            order[n_order++] = i;
    }
    qsort_r(order, n_order, sizeof *order, by_length, app);

    struct intent_cache *table = cache_table(app);
    int result = 0;
    struct encode_round round = {.app = app, .order = order, .n_order = n_order, .seq_len = seq_len};
    size_t step = (size_t)threads * ENCODE_CHUNK;
    for (round.first = 0; round.first < n_order && result == 0; round.first += step) {
        size_t left = n_order - round.first;
        int jobs = left >= step ? threads : (int)((left + ENCODE_CHUNK - 1) / ENCODE_CHUNK);

        attach_caches(app, table, order, n_order, round.first, jobs, seq_len);
        if (threads > 1)
            intent_pool_run(encoder_pool, jobs, compute_chunk, &round);
        else
            compute_chunk(&round, 0);
        if (table)
            keep_caches(app, table, order, jobs);
        for (int j = 0; j < jobs && result == 0; j++)
            result = write_chunk(app, &kept_buffers[j], order);
    }
    free(order);
    return result;
}
