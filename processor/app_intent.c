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
#include "intent_cache.h"
#include "intent_chunk.h"
#include "intent_emit.h"
#include "intent_pool.h"
#include "kernels.h"
#include "log.h"
#include "tokenizer.h"

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

/* Scores the up to k logits that best lists (indices, best first, -1 past
 * the end, as the *_logits_top heads return them) as probabilities
 * exp(logit - lse). lse is the log of the softmax normaliser over the whole
 * row. Returns the count; ids point into the tokenizer. */
static int top_known(const struct tokenizer *tok, const float *logits, float lse, const int *best, int32_t first_token,
                     int k, codec_scored_id_t *out, int32_t *best_token)
{
    int count = 0;

    *best_token = -1;
    while (count < k && best[count] >= 0) {
        out[count].id = (char *)tokenizer_token_id(tok, first_token + best[count]);
        out[count].score = expf(logits[best[count]] - lse);
        count++;
    }
    if (count > 0)
        *best_token = first_token + best[0];
    return count;
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

    int k = intent_top_k(app);
    out->n_top_categories = top_known(tok, b->categories + (size_t)row * c->n_categories, b->lse_categories[row],
                                      b->top_categories + (size_t)row * k, tok->layout.category_begin, k,
                                      out->top_categories, &best_category);
    struct intent_emit_candidate candidate = {
        .event_ms = touch->event_ms,
        .propensity = b->propensity[row],
        .top_category = best_category,
        .embedding = b->pooled + (size_t)row * c->d_model,
        .d_model = c->d_model,
    };

    touch->encoded = 1;
    touch->propensity = candidate.propensity;
    touch->top_category = best_category;
    out->emit = intent_emit_decide(app->cfg, app->store, touch->user, &candidate);
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
    int k = intent_top_k(app);
    int n_top_items = top_known(tok, b->items + (size_t)item_row * n_items, b->lse_items[item_row],
                                b->top_items + (size_t)item_row * k, c->item_begin, k, top_items, &best_item);
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

    struct intent_emit_candidate sent = {
        .event_ms = intent.updated_at_ms,
        .propensity = propensity,
        .top_category = best_category,
        .embedding = intent.embedding,
        .d_model = c->d_model,
    };
    intent_emit_remember(app->store, user, &sent);
    app->counters.intents++;
    if (touch->event_ms > 0)
        app_histogram_observe(&app->counters.end_to_end_seconds, app_latency_bounds,
                              wall_seconds() - (double)touch->event_ms / 1000.0);
    return 0;
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
    intent_score_items(app, b, n_emit);
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
    b->status = intent_encode_chunk(round->app, b, round->order, first, b->rows, round->seq_len);
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
        if (intent_buffers_fit(&kept_buffers[t], c, seq_len) != 0)
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
