/*
 * Per-user key/value cache of the causal encoder. In causal mode the hidden
 * state of position t depends only on positions 0 .. t. Appending a token to
 * a user's sequence therefore needs one row through each layer plus attention
 * over the cached keys and values, O(length * d + d^2) per layer. A full
 * encode costs O(length^2 * d + length * d^2). The result equals a full
 * model_encode of the whole sequence up to float rounding.
 *
 * A cache holds up to config.max_len tokens. Appending past that slides the
 * window: the cache is rebuilt from the last max_len tokens (one full encode),
 * because every position of the window shifts. NOTE: once a user has
 * max_len tokens, every append therefore costs a full encode plus a malloc
 * of the token window. The O(length) cost applies only while the window fills.
 *
 * Ownership: the caller owns the cache (for example in its per-user state) and
 * frees it with model_kv_cache_free. Not thread-safe; one thread per cache.
 */
#ifndef INTENTD_MODEL_KV_CACHE_H
#define INTENTD_MODEL_KV_CACHE_H

#include <stddef.h>

#include "arena.h"
#include "model.h"

struct model_kv_cache {
    int capacity;    /* config.max_len */
    int length;      /* tokens cached */
    int d_model;
    int n_layers;
    int *tokens;     /* [capacity] the window of tokens */
    float *k, *v;    /* [n_layers, capacity, d_model] per-layer keys and values */
    float *pooled;   /* [d_model] final hidden state of the last token (the intent embedding) */
    void *block;     /* the one allocation behind the arrays above */
    size_t block_bytes;
};

/* Allocates an empty cache for a causal-encoder model. Returns NULL when the
 * model is not in causal mode or memory runs out, with a message. */
struct model_kv_cache *model_kv_cache_create(const struct model *model, char *error);

void model_kv_cache_free(struct model_kv_cache *cache);

/* Bytes of memory the cache uses, struct included. */
size_t model_kv_cache_bytes(const struct model_kv_cache *cache);

/* Appends n tokens and writes the new intent embedding to pooled[d] (may be
 * NULL). arena is reserved and used as scratch. Returns 0, or -1 with a
 * message (invalid token); on error the cache is unchanged. */
int model_kv_cache_append(const struct model *model, struct model_kv_cache *cache, struct model_arena *arena,
                          const int *tokens, int n, float *pooled, char *error);

/* Empties the cache and encodes tokens[n] (the last max_len of them when n is
 * larger), for example after a restart that kept only the token window. */
int model_kv_cache_rebuild(const struct model *model, struct model_kv_cache *cache, struct model_arena *arena,
                           const int *tokens, int n, float *pooled, char *error);

/* Serialised form (little-endian host):
 *   "IKVC" | u32 version 1 | u32 d_model | u32 n_layers | u32 capacity | u32 length
 *   | i32 tokens[length] | per layer: f32 k[length, d], f32 v[length, d] | f32 pooled[d] */
size_t model_kv_cache_serialized_size(const struct model_kv_cache *cache);

/* Writes the serialised form to out[size]. Returns bytes written, or 0 when size is too small. */
size_t model_kv_cache_serialize(const struct model_kv_cache *cache, void *out, size_t size);

/* Restores a cache serialised for the same model shape. Returns 0, or -1 with
 * a message when data is truncated or was written for another shape. */
int model_kv_cache_deserialize(struct model_kv_cache *cache, const void *data, size_t size, char *error);

#endif
