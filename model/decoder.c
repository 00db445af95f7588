#include "decoder.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "layers.h"

void model_decoder_logits(const struct model *m, float *x, int rows, float *logits)
{
    const struct model_config *c = &m->config;

    model_layernorm(x, x, m->params.decoder_norm_weight, m->params.decoder_norm_bias, rows, c->d_model,
                    c->layer_norm_eps, NULL, NULL);
    model_linear(logits, x, m->params.generator_weight, m->params.generator_bias, rows, c->vocab_size, c->d_model,
                 0);
}

/* model_decoder_logits for the state's token range and extra token only;
 * the rest of each logits row is -INFINITY. Rows of the output projection
 * are contiguous per token, so the range is one smaller product. */
static void decoder_logits_range(const struct model *m, struct model_decoder_state *s, int rows, float *logits)
{
    const struct model_config *c = &m->config;
    const float *w = m->params.generator_weight, *b = m->params.generator_bias;
    size_t d = (size_t)c->d_model, vocab = (size_t)c->vocab_size;
    int begin = s->logit_begin, extra = s->logit_extra, n = s->logit_end - begin;
    int has_extra = extra >= 0 && (extra < begin || extra >= s->logit_end);
    float *extra_logits = s->logit_slice + (size_t)s->rows * (size_t)n; /* [rows] */

    model_layernorm(s->x, s->x, m->params.decoder_norm_weight, m->params.decoder_norm_bias, rows, c->d_model,
                    c->layer_norm_eps, NULL, NULL);
    model_linear(s->logit_slice, s->x, w + (size_t)begin * d, b ? b + begin : NULL, rows, n, c->d_model, 0);
    if (has_extra)
        model_linear(extra_logits, s->x, w + (size_t)extra * d, b ? b + extra : NULL, rows, 1, c->d_model, 0);

    for (int r = 0; r < rows; r++) {
        float *row = logits + (size_t)r * vocab;
        for (size_t i = 0; i < vocab; i++)
            row[i] = -INFINITY;
        memcpy(row + begin, s->logit_slice + (size_t)r * (size_t)n, (size_t)n * sizeof(float));
        if (has_extra)
            row[extra] = extra_logits[r];
    }
}

void model_decoder_state_restrict(struct model_decoder_state *s, int begin, int end, int extra)
{
    free(s->logit_slice);
    s->logit_slice = NULL;
    s->logit_begin = s->logit_end = 0;
    s->logit_extra = -1;
    if (begin >= end)
        return;

    /* Without memory for the slice the steps keep computing every token. */
    s->logit_slice = model_alloc_floats((size_t)s->rows * (size_t)(end - begin + 1));
    if (!s->logit_slice)
        return;
    s->logit_begin = begin;
    s->logit_end = end;
    s->logit_extra = extra;
}

static int check_decoder(const struct model *m, char *error)
{
    if (m->config.n_decoder_layers > 0)
        return 0;
    snprintf(error, MODEL_ERROR_SIZE, "the model has no decoder (n_decoder_layers is 0)");
    return -1;
}

static size_t decode_arena_bytes(const struct model_config *c, int batch, int src_len, int tgt_len)
{
    size_t rows = (size_t)batch * tgt_len, mem_rows = (size_t)batch * src_len;
    int max_keys = src_len > tgt_len ? src_len : tgt_len;
    return model_arena_bytes(rows * c->d_model) + model_arena_bytes(mem_rows * c->d_model) * 2 +
           model_layer_workspace_bytes(c, (int)rows, tgt_len, max_keys);
}

int model_decode(const struct model *m, struct model_arena *arena, const float *memory,
                 const int *memory_lengths, int batch, int src_len, const int *tgt, int tgt_len, float *logits,
                 char *error)
{
    const struct model_config *c = &m->config;
    int d = c->d_model, rows = batch * tgt_len, mem_rows = batch * src_len;

    if (check_decoder(m, error) != 0 || model_check_tokens(m, tgt, rows, error) != 0)
        return -1;
    for (int b = 0; b < batch; b++) {
        if (memory_lengths[b] < 0 || memory_lengths[b] > src_len) {
            snprintf(error, MODEL_ERROR_SIZE, "invalid memory length %d of sequence %d: expected 0 to %d",
                     memory_lengths[b], b, src_len);
            return -1;
        }
    }
    if (rows == 0)
        return 0;
    size_t bytes = decode_arena_bytes(c, batch, src_len, tgt_len);
    if (model_arena_reserve(arena, bytes) != 0) {
        snprintf(error, MODEL_ERROR_SIZE, "out of memory reserving %zu bytes for decoding", bytes);
        return -1;
    }

    float *x = model_arena_floats(arena, (size_t)rows * d);
    float *mk = model_arena_floats(arena, (size_t)mem_rows * d);
    float *mv = model_arena_floats(arena, (size_t)mem_rows * d);
    struct model_layer_workspace ws;
    model_layer_workspace_alloc(&ws, arena, c, rows, tgt_len, src_len > tgt_len ? src_len : tgt_len);

    for (int b = 0; b < batch; b++)
        model_embed(m, tgt + (size_t)b * tgt_len, tgt_len, 0, x + (size_t)b * tgt_len * d);

    struct model_layer_batch lb = {
        .n_seq = batch,
        .n_new = tgt_len,
        .pos = 0,
        .causal = 1,
        .key_lengths = NULL,
        .k_cache = NULL,
        .v_cache = NULL,
        .mem_k = mk,
        .mem_v = mv,
        .mem_cap = src_len,
        .mem_shared = 0,
        .mem_lengths = memory_lengths,
    };
    for (int l = 0; l < c->n_decoder_layers; l++) {
        if (mem_rows > 0)
            model_layer_project_memory(m, &m->params.decoder[l].cross_attn, memory, mem_rows, mk, mv);
        model_layer_decoder(m, l, x, &lb, &ws);
    }
    model_decoder_logits(m, x, rows, logits);
    return 0;
}

void model_decoder_state_free(struct model_decoder_state *s)
{
    for (int l = 0; l < MODEL_MAX_LAYERS; l++) {
        free(s->self_k[l]);
        free(s->self_v[l]);
        free(s->cross_k[l]);
        free(s->cross_v[l]);
    }
    free(s->scratch);
    free(s->x);
    free(s->logit_slice);
    free(s->mem_lengths);
    model_arena_free(&s->arena);
    memset(s, 0, sizeof *s);
}

int model_decoder_state_init(const struct model *m, struct model_decoder_state *s, int rows, int capacity,
                             const float *memory, int mem_len, char *error)
{
    const struct model_config *c = &m->config;
    size_t d = (size_t)c->d_model, cache = (size_t)rows * capacity * d;
    int ok = 1;

    memset(s, 0, sizeof *s);
    if (check_decoder(m, error) != 0)
        return -1;
    s->rows = rows;
    s->capacity = capacity;
    s->mem_len = mem_len;
    s->logit_extra = -1;
    for (int l = 0; l < c->n_decoder_layers && ok; l++) {
        s->self_k[l] = model_alloc_floats(cache);
        s->self_v[l] = model_alloc_floats(cache);
        s->cross_k[l] = model_alloc_floats((size_t)mem_len * d);
        s->cross_v[l] = model_alloc_floats((size_t)mem_len * d);
        ok = s->self_k[l] && s->self_v[l] && s->cross_k[l] && s->cross_v[l];
    }
    s->scratch = model_alloc_floats(cache);
    s->x = model_alloc_floats((size_t)rows * d);
    s->mem_lengths = malloc((size_t)(rows > 0 ? rows : 1) * sizeof(int));
    size_t ws_bytes = model_layer_workspace_bytes(c, rows, 1, capacity > mem_len ? capacity : mem_len);
    if (!ok || !s->scratch || !s->x || !s->mem_lengths || model_arena_reserve(&s->arena, ws_bytes) != 0) {
        model_decoder_state_free(s);
        snprintf(error, MODEL_ERROR_SIZE, "out of memory allocating a decoder state of %d rows x %d tokens", rows,
                 capacity);
        return -1;
    }

    for (int r = 0; r < rows; r++)
        s->mem_lengths[r] = mem_len;
    for (int l = 0; l < c->n_decoder_layers && mem_len > 0; l++)
        model_layer_project_memory(m, &m->params.decoder[l].cross_attn, memory, mem_len, s->cross_k[l],
                                   s->cross_v[l]);
    return 0;
}

int model_decoder_step(const struct model *m, struct model_decoder_state *s, const int *tokens, float *logits,
                       char *error)
{
    const struct model_config *c = &m->config;

    if (s->length >= s->capacity) {
        snprintf(error, MODEL_ERROR_SIZE, "decoder state is full at %d tokens: create it with a larger capacity",
                 s->capacity);
        return -1;
    }
    if (model_check_tokens(m, tokens, s->rows, error) != 0)
        return -1;

    model_arena_reset(&s->arena);
    struct model_layer_workspace ws;
    model_layer_workspace_alloc(&ws, &s->arena, c, s->rows, 1, s->capacity > s->mem_len ? s->capacity : s->mem_len);

    for (int r = 0; r < s->rows; r++)
        model_embed(m, tokens + r, 1, s->length, s->x + (size_t)r * c->d_model);

    for (int l = 0; l < c->n_decoder_layers; l++) {
        struct model_layer_batch lb = {
            .n_seq = s->rows,
            .n_new = 1,
            .pos = s->length,
            .causal = 1,
            .k_cache = s->self_k[l],
            .v_cache = s->self_v[l],
            .cache_cap = s->capacity,
            .mem_k = s->cross_k[l],
            .mem_v = s->cross_v[l],
            .mem_cap = s->mem_len,
            .mem_shared = 1,
            .mem_lengths = s->mem_lengths,
        };
        model_layer_decoder(m, l, s->x, &lb, &ws);
    }
    int rows = s->logit_rows > 0 && s->logit_rows < s->rows ? s->logit_rows : s->rows;
    size_t vocab = (size_t)c->vocab_size;
    if (s->logit_end > s->logit_begin)
        decoder_logits_range(m, s, rows, logits);
    else
        model_decoder_logits(m, s->x, rows, logits);
    for (size_t i = (size_t)rows * vocab; i < (size_t)s->rows * vocab; i++)
        logits[i] = -INFINITY;
    s->length++;
    return 0;
}

void model_decoder_state_reorder(const struct model *m, struct model_decoder_state *s, const int *parents)
{
    size_t d = (size_t)m->config.d_model, row = (size_t)s->capacity * d;
    size_t used = (size_t)s->length * d * sizeof(float);

    for (int l = 0; l < m->config.n_decoder_layers; l++) {
        float *caches[2] = {s->self_k[l], s->self_v[l]};
        for (int i = 0; i < 2; i++) {
            for (int r = 0; r < s->rows; r++)
                memcpy(s->scratch + r * row, caches[i] + (size_t)parents[r] * row, used);
            for (int r = 0; r < s->rows; r++)
                memcpy(caches[i] + r * row, s->scratch + r * row, used);
        }
    }
}
