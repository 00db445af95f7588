/*
 * The eval loop: batches of events of distinct users are predicted together
 * from the state before them, then applied one by one in event-time order.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "encoder.h"
#include "eval_internal.h"

/* Tries to draw a negative before giving up on a user who has touched
 * almost every known item. */
#define MAX_NEGATIVE_DRAWS 10000

struct batch_buffers {
    int *tokens;      /* [batch, max_len] */
    int *lengths;     /* [batch] */
    size_t *event;    /* [batch]: event index of each row */
    float *pooled;    /* [batch, d] */
    float *items;     /* [batch, item_end - item_begin] */
    float *actions;   /* [batch, n_actions] */
    float *propensity; /* [batch] */
    float *sampled;   /* [sampled_negatives + 1] */
};

void eval_options_defaults(struct eval_options *options)
{
    memset(options, 0, sizeof *options);
    options->propensity_horizon = 5;
    options->hit_window_ms = 24LL * 3600 * 1000;
    options->max_offers = 2000;
    options->sampled_negatives = 100;
    options->seed = 42;
    options->batch = 64;
}

static double monotonic_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* SplitMix64: a fixed seed gives the same negatives on every run. */
static uint64_t next_random(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void free_buffers(struct batch_buffers *b)
{
    free(b->tokens);
    free(b->lengths);
    free(b->event);
    free(b->pooled);
    free(b->items);
    free(b->actions);
    free(b->propensity);
    free(b->sampled);
}

static int alloc_buffers(struct batch_buffers *b, const struct model_config *c, int batch, int max_len,
                         int negatives)
{
    size_t n_items = (size_t)(c->item_end - c->item_begin);
    b->tokens = calloc((size_t)batch * (size_t)max_len, sizeof *b->tokens);
    b->lengths = calloc((size_t)batch, sizeof *b->lengths);
    b->event = calloc((size_t)batch, sizeof *b->event);
    b->pooled = calloc((size_t)batch * (size_t)c->d_model, sizeof *b->pooled);
    b->items = calloc((size_t)batch * (n_items ? n_items : 1), sizeof *b->items);
    b->actions = calloc((size_t)batch * (size_t)(c->n_actions ? c->n_actions : 1), sizeof *b->actions);
    b->propensity = calloc((size_t)batch, sizeof *b->propensity);
    b->sampled = calloc((size_t)negatives + 1, sizeof *b->sampled);
    return b->tokens && b->lengths && b->event && b->pooled && b->items && b->actions && b->propensity && b->sampled
               ? 0
               : -1;
}

int eval_map_slot(struct eval_context *ctx, uint32_t slot, uint32_t u)
{
    if (slot >= ctx->n_slots) {
        size_t n = ctx->n_slots ? ctx->n_slots : 1024;
        while (n <= slot)
            n *= 2;
        uint32_t *grown = realloc(ctx->slot_user, n * sizeof *grown);
        if (!grown)
            return -1;
        ctx->slot_user = grown;
        ctx->n_slots = n;
    }
    ctx->slot_user[slot] = u;
    return 0;
}

static struct state_user *find_user(struct eval_context *ctx, size_t i)
{
    const char *id = replay_event_user(&ctx->events->items[i]);
    return state_store_find(ctx->store, id, strlen(id));
}

/* Ranks the target among sampled negatives: known items the user never
 * touched anywhere in the stream, drawn uniformly with replacement. */
static void rank_sampled(struct eval_context *ctx, size_t i, const float *row, int n_known, int target,
                         struct batch_buffers *b, uint64_t *rng)
{
    const struct tokenizer *tok = ctx->bundle->tokenizer;
    int n = 0;

    b->sampled[n++] = row[target];
    for (int k = 0; k < ctx->options->sampled_negatives; k++) {
        for (int draw = 0; draw < MAX_NEGATIVE_DRAWS; draw++) {
            int candidate = (int)(next_random(rng) % (uint64_t)n_known);
            if (!eval_stream_user_has_item(&ctx->stream, ctx->stream.user[i], tok->layout.item_begin + candidate)) {
                b->sampled[n++] = row[candidate];
                break;
            }
        }
    }
    eval_ranking_add(&ctx->result->sampled, eval_rank_count(b->sampled, (size_t)n, b->sampled[0], 0));
}

static void score_row(struct eval_context *ctx, struct batch_buffers *b, int r, uint64_t *rng)
{
    const struct model_config *c = &ctx->bundle->model.config;
    const struct tokenizer *tok = ctx->bundle->tokenizer;
    struct eval_result *res = ctx->result;
    size_t i = b->event[r];
    int n_known = tok->layout.item_bucket_begin - tok->layout.item_begin;
    const float *row = b->items + (size_t)r * (size_t)(c->item_end - c->item_begin);
    int32_t item = ctx->stream.item[i];

    res->scored++;
    if (item >= tok->layout.item_begin && item < tok->layout.item_bucket_begin && n_known > 0) {
        int target = item - tok->layout.item_begin;
        eval_ranking_add(&res->full, eval_rank_count(row, (size_t)n_known, row[target], (size_t)target));
        rank_sampled(ctx, i, row, n_known, target, b, rng);
    } else {
        res->unknown_targets++;
    }

    const float *logits = b->actions + (size_t)r * (size_t)c->n_actions;
    int best = 0;
    for (int a = 1; a < c->n_actions; a++)
        best = logits[a] > logits[best] ? a : best;
    int truth = ctx->stream.action[i];
    res->action_counts[truth]++;
    res->action_correct += best == truth;

    ctx->propensity[ctx->n_propensity] = b->propensity[r];
    ctx->labels[ctx->n_propensity] = ctx->stream.purchase_soon[i];
    ctx->n_propensity++;
}

/* Predicts events [begin, end) (distinct users) from the state before them. */
static int predict_batch(struct eval_context *ctx, size_t begin, size_t end, struct batch_buffers *b,
                         uint64_t *rng, char *error)
{
    const struct model *model = &ctx->bundle->model;
    int rows = 0;
    char message[MODEL_ERROR_SIZE];

    for (size_t i = begin; i < end; i++) {
        struct state_user *user = find_user(ctx, i);
        if (!user || user->token_count == 0)
            continue;
        b->lengths[rows] = (int)state_store_copy_tokens(ctx->store, user, b->tokens + (size_t)rows * ctx->max_len,
                                                        (size_t)ctx->max_len);
        b->event[rows++] = i;
    }
    if (rows == 0)
        return 0;

    if (model_encode(model, &ctx->arena, b->tokens, b->lengths, rows, ctx->max_len, NULL, b->pooled, message) != 0) {
        snprintf(error, EVAL_ERROR_SIZE, "encoding %d users failed: %s", rows, message);
        return -1;
    }
    struct model_head_outputs out = {.item_scores = b->items, .action_logits = b->actions,
                                     .propensity = b->propensity};
    model_heads(model, b->pooled, rows, &out);
    for (int r = 0; r < rows; r++)
        score_row(ctx, b, r, rng);
    return 0;
}

static void apply_consent(struct state_user *user, codec_consent_t consent)
{
    if (consent == CODEC_CONSENT_GIVEN)
        user->consent = STATE_CONSENT_GRANTED;
    else if (consent == CODEC_CONSENT_DENIED)
        user->consent = STATE_CONSENT_DENIED;
}

/* Applies event i to its user's state as app_intake.c does. */
static int apply_event(struct eval_context *ctx, size_t i, char *error)
{
    const struct tokenizer *tok = ctx->bundle->tokenizer;
    const struct replay_event *e = &ctx->events->items[i];
    int review = e->kind == REPLAY_REVIEW;
    const char *id = replay_event_user(e);
    const char *category = review ? e->u.review.category_id : e->u.click.category_id;
    const char *item = review ? e->u.review.item_id : e->u.click.item_id;
    const char *text = review ? e->u.review.text : e->u.click.query;
    int rating = review && e->u.review.has_rating ? e->u.review.rating : 0;
    int64_t time_ms = replay_event_time_ms(e);
    char message[MODEL_ERROR_SIZE];

    /* As in app_intake.c, only clickstream events move the timers' clock. */
    if (!review && eval_offers_advance(ctx, i, error) != 0)
        return -1;
    int created = 0;
    struct state_user *user = state_store_upsert(ctx->store, id, strlen(id), 0, &created, message);
    if (!user) {
        snprintf(error, EVAL_ERROR_SIZE, "user state of %s: %s", id, message);
        return -1;
    }

    /* NOTE: the processor first cuts text to schemas.max_text_bytes (4 KiB by
     * default); the 48-token cap below makes that cut matter only for longer
     * limits than tokens, so it is not repeated here. */
    struct tokenizer_event event = {
        .action = eval_event_action(e),
        .category_id = category && category[0] ? category : NULL,
        .item_id = item && item[0] ? item : NULL,
        .rating = rating,
        .sentiment = -1,
        .text = text && text[0] ? text : NULL,
        .text_len = text ? strlen(text) : 0,
    };
    int32_t tokens[TOKENIZER_EVENT_FIXED_TOKENS + EVAL_MAX_TEXT_TOKENS];
    size_t n_tokens = 0;
    if (tokenizer_encode_event(tok, &event, EVAL_MAX_TEXT_TOKENS, tokens, sizeof tokens / sizeof tokens[0], &n_tokens,
                               message) != 0) {
        snprintf(error, EVAL_ERROR_SIZE, "tokenizing event %zu of user %s failed: %s", i, id, message);
        return -1;
    }
    state_store_push_tokens(ctx->store, user, tokens, n_tokens);
    if (eval_map_slot(ctx, user->slot, ctx->stream.user[i]) != 0) {
        snprintf(error, EVAL_ERROR_SIZE, "out of memory indexing user %s", id);
        return -1;
    }

    if (event.action == TOKENIZER_ACTION_PURCHASE && event.item_id)
        state_user_add_purchase(user, tokenizer_item_token(tok, event.item_id));
    apply_consent(user, review ? e->u.review.consent : e->u.click.consent);
    if (review && rating > 0)
        user->sentiment = rating >= 4 ? 1 : (rating <= 2 ? 0 : user->sentiment);
    if (time_ms > user->last_event_ms)
        user->last_event_ms = time_ms;
    if (time_ms > user->last_action_ms[event.action])
        user->last_action_ms[event.action] = time_ms;
    return eval_offers_on_event(ctx, i, user, error);
}

/* Returns the end of the batch starting at begin: at most batch events,
 * stopping before the first event whose user is already in it. */
static size_t batch_end(const struct eval_context *ctx, size_t begin)
{
    size_t end = begin;
    size_t limit = (size_t)ctx->options->batch;

    while (end < ctx->stream.n_events && end - begin < limit) {
        for (size_t j = begin; j < end; j++) {
            if (ctx->stream.user[j] == ctx->stream.user[end])
                return end;
        }
        end++;
    }
    return end;
}

static void report_progress(const struct eval_context *ctx, size_t done, double started, double *last)
{
    double now = monotonic_seconds();
    if (!ctx->options->progress || (now - *last < 2.0 && done < ctx->stream.n_events))
        return;
    *last = now;
    double rate = (double)done / (now - started > 1e-9 ? now - started : 1e-9);
    double eta = rate > 0 ? (double)(ctx->stream.n_events - done) / rate : 0.0;
    fprintf(stderr, "eval %s: %zu/%zu events, %.0f events/s, ETA %.0f s\n", ctx->result->model, done,
            ctx->stream.n_events, rate, eta);
}

static void finish_metrics(struct eval_context *ctx)
{
    struct eval_result *res = ctx->result;

    res->action_accuracy = res->scored ? (double)res->action_correct / (double)res->scored : 0.0;
    res->majority_action = 0;
    for (int a = 1; a < TOKENIZER_N_ACTIONS; a++) {
        if (res->action_counts[a] > res->action_counts[res->majority_action])
            res->majority_action = a;
    }
    res->majority_accuracy =
        res->scored ? (double)res->action_counts[res->majority_action] / (double)res->scored : 0.0;
    res->auc = eval_auc(ctx->propensity, ctx->labels, ctx->n_propensity);
    for (size_t i = 0; i < ctx->n_propensity; i++)
        res->propensity_positives += ctx->labels[i];
    eval_calibration(ctx->propensity, ctx->labels, ctx->n_propensity, res->calibration);
    res->users = ctx->stream.n_users;
}

static int open_context(struct eval_context *ctx, char *error)
{
    const struct model_config *c = &ctx->bundle->model.config;
    const struct intentd_config *cfg = ctx->options->cfg;
    struct state_store_options store_options;
    char message[STATE_ERROR_SIZE];

    if (eval_stream_build(&ctx->stream, ctx->events, ctx->bundle->tokenizer, ctx->options->propensity_horizon,
                          error) != 0)
        return -1;
    state_store_options_defaults(&store_options);
    if (cfg)
        store_options.max_len = cfg->state.max_len;
    if (store_options.max_len > c->max_len)
        store_options.max_len = c->max_len;
    ctx->max_len = store_options.max_len;
    ctx->store = state_store_new(&store_options, message);
    if (!ctx->store) {
        snprintf(error, EVAL_ERROR_SIZE, "user state store: %s", message);
        return -1;
    }
    size_t n = ctx->events->count ? ctx->events->count : 1;
    ctx->propensity = malloc(n * sizeof *ctx->propensity);
    ctx->labels = malloc(n * sizeof *ctx->labels);
    if (!ctx->propensity || !ctx->labels) {
        snprintf(error, EVAL_ERROR_SIZE, "out of memory for %zu predictions", n);
        return -1;
    }
    return eval_offers_open(ctx, error);
}

static void close_context(struct eval_context *ctx)
{
    eval_offers_close(ctx);
    eval_stream_free(&ctx->stream);
    state_store_free(ctx->store);
    model_arena_free(&ctx->arena);
    free(ctx->propensity);
    free(ctx->labels);
    free(ctx->slot_user);
}

int eval_run(const struct model_bundle *bundle, const struct replay_events *events,
             const struct eval_options *options, struct eval_result *result, char *error)
{
    struct eval_context ctx = {.bundle = bundle, .events = events, .options = options, .result = result};
    struct batch_buffers b = {0};
    uint64_t rng = options->seed;
    int rc = -1;

    memset(result, 0, sizeof *result);
    result->options = *options;
    result->options.cfg = NULL;
    snprintf(result->model, sizeof result->model, "%s", bundle->version);
    if (options->batch < 1 || options->propensity_horizon < 1 || options->sampled_negatives < 1) {
        snprintf(error, EVAL_ERROR_SIZE, "batch, propensity horizon and sampled negatives must be at least 1");
        return -1;
    }
    if (open_context(&ctx, error) != 0)
        goto done;
    if (alloc_buffers(&b, &bundle->model.config, options->batch, ctx.max_len, options->sampled_negatives) != 0) {
        snprintf(error, EVAL_ERROR_SIZE, "out of memory for a batch of %d users", options->batch);
        goto done;
    }

    double started = monotonic_seconds(), last = started;
    for (size_t begin = 0; begin < ctx.stream.n_events;) {
        size_t end = batch_end(&ctx, begin);
        if (predict_batch(&ctx, begin, end, &b, &rng, error) != 0)
            goto done;
        for (size_t i = begin; i < end; i++) {
            if (apply_event(&ctx, i, error) != 0)
                goto done;
        }
        result->events = end;
        begin = end;
        report_progress(&ctx, end, started, &last);
    }
    result->seconds = monotonic_seconds() - started;
    result->events_per_s = result->seconds > 0 ? (double)result->events / result->seconds : 0.0;
    finish_metrics(&ctx);
    rc = 0;
done:
    free_buffers(&b);
    close_context(&ctx);
    return rc;
}
