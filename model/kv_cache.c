#include "kv_cache.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "layers.h"

struct model_kv_cache *model_kv_cache_create(const struct model *m, char *error)
{
    const struct model_config *c = &m->config;

    if (c->encoder_mode != MODEL_ENCODER_CAUSAL) {
        snprintf(error, MODEL_ERROR_SIZE,
                 "a key/value cache needs encoder_mode causal: bidirectional states change with every new token");
        return NULL;
    }
    size_t cap = (size_t)c->max_len, d = (size_t)c->d_model, layers = (size_t)c->n_encoder_layers;
    size_t floats = 2 * layers * cap * d + d;
    size_t bytes = model_arena_bytes(floats) + cap * sizeof(int);

    struct model_kv_cache *cache = calloc(1, sizeof *cache);
    float *block = cache ? model_alloc_floats(bytes / sizeof(float)) : NULL;
    if (!block) {
        free(cache);
        snprintf(error, MODEL_ERROR_SIZE, "out of memory allocating a %zu-byte key/value cache", bytes);
        return NULL;
    }
    cache->capacity = (int)cap;
    cache->d_model = (int)d;
    cache->n_layers = (int)layers;
    cache->block = block;
    cache->block_bytes = bytes;
    cache->k = block;
    cache->v = block + layers * cap * d;
    cache->pooled = block + 2 * layers * cap * d;
    cache->tokens = (int *)((char *)block + model_arena_bytes(floats));
    return cache;
}

void model_kv_cache_free(struct model_kv_cache *cache)
{
    if (!cache)
        return;
    free(cache->block);
    free(cache);
}

size_t model_kv_cache_bytes(const struct model_kv_cache *cache)
{
    return sizeof *cache + cache->block_bytes;
}

/* Runs n new tokens at positions length .. length+n-1 through the encoder. */
static int encode_rows(const struct model *m, struct model_kv_cache *cache, struct model_arena *arena,
                       const int *tokens, int n, char *error)
{
    const struct model_config *c = &m->config;
    int d = c->d_model, cap = cache->capacity;
    size_t bytes = model_arena_bytes((size_t)n * d) + model_layer_workspace_bytes(c, n, n, cap);

    if (model_arena_reserve(arena, bytes) != 0) {
        snprintf(error, MODEL_ERROR_SIZE, "out of memory reserving %zu bytes for a cache update", bytes);
        return -1;
    }
    float *x = model_arena_floats(arena, (size_t)n * d);
    struct model_layer_workspace ws;
    model_layer_workspace_alloc(&ws, arena, c, n, n, cap);

    model_embed(m, tokens, n, cache->length, x);
    for (int l = 0; l < c->n_encoder_layers; l++) {
        struct model_layer_batch lb = {
            .n_seq = 1,
            .n_new = n,
            .pos = cache->length,
            .causal = 1,
            .k_cache = cache->k + (size_t)l * cap * d,
            .v_cache = cache->v + (size_t)l * cap * d,
            .cache_cap = cap,
        };
        model_layer_encoder(m, l, x, &lb, &ws);
    }

    /* Only the last row's final state is kept: it is the intent embedding. */
    model_norm(c, cache->pooled, x + (size_t)(n - 1) * d, m->params.encoder_norm_weight,
               m->params.encoder_norm_bias, 1);
    memcpy(cache->tokens + cache->length, tokens, (size_t)n * sizeof(int));
    cache->length += n;
    return 0;
}

int model_kv_cache_rebuild(const struct model *m, struct model_kv_cache *cache, struct model_arena *arena,
                           const int *tokens, int n, float *pooled, char *error)
{
    if (model_check_tokens(m, tokens, n, error) != 0)
        return -1;
    if (n > cache->capacity) {
        tokens += n - cache->capacity;
        n = cache->capacity;
    }
    cache->length = 0;
    memset(cache->pooled, 0, (size_t)cache->d_model * sizeof(float));
    if (n > 0 && encode_rows(m, cache, arena, tokens, n, error) != 0)
        return -1;
    if (pooled)
        memcpy(pooled, cache->pooled, (size_t)cache->d_model * sizeof(float));
    return 0;
}

int model_kv_cache_append(const struct model *m, struct model_kv_cache *cache, struct model_arena *arena,
                          const int *tokens, int n, float *pooled, char *error)
{
    if (n < 0 || model_check_tokens(m, tokens, n, error) != 0) {
        if (n < 0)
            snprintf(error, MODEL_ERROR_SIZE, "invalid token count %d: expected 0 or more", n);
        return -1;
    }

    if (cache->length + n > cache->capacity) {
        /* The window slides: keep the last capacity tokens of old + new. */
        int total = cache->length + n;
        int *window = malloc((size_t)total * sizeof(int));
        if (!window) {
            snprintf(error, MODEL_ERROR_SIZE, "out of memory sliding a key/value cache of %d tokens", total);
            return -1;
        }
        memcpy(window, cache->tokens, (size_t)cache->length * sizeof(int));
        memcpy(window + cache->length, tokens, (size_t)n * sizeof(int));
        int rc = model_kv_cache_rebuild(m, cache, arena, window, total, pooled, error);
        free(window);
        return rc;
    }

    if (n > 0 && encode_rows(m, cache, arena, tokens, n, error) != 0)
        return -1;
    if (pooled)
        memcpy(pooled, cache->pooled, (size_t)cache->d_model * sizeof(float));
    return 0;
}

#define KV_MAGIC "IKVC"
#define KV_VERSION 1u
#define KV_HEADER_BYTES 24

size_t model_kv_cache_serialized_size(const struct model_kv_cache *c)
{
    size_t rows = (size_t)c->length;
    return KV_HEADER_BYTES + rows * sizeof(int32_t) +
           (2 * (size_t)c->n_layers * rows * c->d_model + (size_t)c->d_model) * sizeof(float);
}

size_t model_kv_cache_serialize(const struct model_kv_cache *c, void *out, size_t size)
{
    size_t need = model_kv_cache_serialized_size(c);
    if (size < need)
        return 0;

    unsigned char *p = out;
    uint32_t header[5] = {KV_VERSION, (uint32_t)c->d_model, (uint32_t)c->n_layers, (uint32_t)c->capacity,
                          (uint32_t)c->length};
    size_t row_bytes = (size_t)c->length * c->d_model * sizeof(float);

    memcpy(p, KV_MAGIC, 4);
    memcpy(p + 4, header, sizeof header);
    p += KV_HEADER_BYTES;
    memcpy(p, c->tokens, (size_t)c->length * sizeof(int32_t));
    p += (size_t)c->length * sizeof(int32_t);
    for (int l = 0; l < c->n_layers; l++) {
        size_t offset = (size_t)l * c->capacity * c->d_model;
        memcpy(p, c->k + offset, row_bytes);
        memcpy(p + row_bytes, c->v + offset, row_bytes);
        p += 2 * row_bytes;
    }
    memcpy(p, c->pooled, (size_t)c->d_model * sizeof(float));
    return need;
}

int model_kv_cache_deserialize(struct model_kv_cache *c, const void *data, size_t size, char *error)
{
    const unsigned char *p = data;
    uint32_t header[5];

    if (size < KV_HEADER_BYTES || memcmp(p, KV_MAGIC, 4) != 0) {
        snprintf(error, MODEL_ERROR_SIZE, "invalid key/value cache: missing the IKVC header");
        return -1;
    }
    memcpy(header, p + 4, sizeof header);
    if (header[0] != KV_VERSION || header[1] != (uint32_t)c->d_model || header[2] != (uint32_t)c->n_layers ||
        header[3] != (uint32_t)c->capacity || header[4] > header[3]) {
        snprintf(error, MODEL_ERROR_SIZE,
                 "key/value cache shape mismatch: version %u, d_model %u, layers %u, capacity %u, length %u; "
                 "expected version %u, d_model %d, layers %d, capacity %d: rebuild it from the token window",
                 header[0], header[1], header[2], header[3], header[4], KV_VERSION, c->d_model, c->n_layers,
                 c->capacity);
        return -1;
    }

    int old_length = c->length;
    c->length = (int)header[4];
    if (size != model_kv_cache_serialized_size(c)) {
        snprintf(error, MODEL_ERROR_SIZE, "invalid key/value cache: %zu bytes, expected %zu for %d tokens", size,
                 model_kv_cache_serialized_size(c), c->length);
        c->length = old_length;
        return -1;
    }

    size_t row_bytes = (size_t)c->length * c->d_model * sizeof(float);
    p += KV_HEADER_BYTES;
    memcpy(c->tokens, p, (size_t)c->length * sizeof(int32_t));
    p += (size_t)c->length * sizeof(int32_t);
    for (int l = 0; l < c->n_layers; l++) {
        size_t offset = (size_t)l * c->capacity * c->d_model;
        memcpy(c->k + offset, p, row_bytes);
        memcpy(c->v + offset, p + row_bytes, row_bytes);
        p += 2 * row_bytes;
    }
    memcpy(c->pooled, p, (size_t)c->d_model * sizeof(float));
    return 0;
}
