#include "intent_chunk.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "encoder.h"
#include "head_quant.h"
#include "item_scorer.h"
#include "kernels.h"

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

int intent_buffers_fit(struct intent_buffers *b, const struct model_config *c, int seq_len)
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

int intent_top_k(const struct app *app)
{
    return app->cfg->intents.top_k < MAX_TOP_K ? app->cfg->intents.top_k : MAX_TOP_K;
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
int intent_encode_chunk(struct app *app, struct intent_buffers *b, const size_t *order, size_t first, int rows,
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
        .sentiment_logits = c->n_sentiments > 0 ? b->sentiments : NULL,
        .propensity = b->propensity,
    };
    model_heads(model, b->pooled, rows, &heads);

    /* Categories keep their logits: top_known exponentiates only the k it
     * lists, against the normaliser lse_categories. */
    const struct tokenizer *tok = app->bundle->tokenizer;
    int n_ranked = tok->layout.category_bucket_begin - tok->layout.category_begin;
    model_category_logits_top(model, b->pooled, rows, b->categories, b->lse_categories, intent_top_k(app), n_ranked,
                              b->top_categories);
    b->model_seconds = monotonic_seconds() - started;

    for (int r = 0; r < rows; r++)
        model_softmax_row(b->sentiments + (size_t)r * c->n_sentiments, c->n_sentiments, c->n_sentiments);
    return 0;
}

void intent_score_items(struct app *app, struct intent_buffers *b, int n)
{
    const struct model *model = &app->bundle->model;
    if (n == 0)
        return;

    /* Only the top_k known items are listed, so only their logits, and any
     * that could outrank them, need float precision. */
    const struct tokenizer *tok = app->bundle->tokenizer;
    int n_ranked = tok->layout.item_bucket_begin - model->config.item_begin;

    double started = monotonic_seconds();
    model_item_logits_top(model, b->emit_pooled, n, b->items, b->lse_items, intent_top_k(app), n_ranked, b->top_items);
    b->model_seconds += monotonic_seconds() - started;
}

