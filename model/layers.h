/*
 * Transformer sublayers shared by the encoder, the decoder, the per-user
 * key/value cache and generation. Each sublayer updates the residual stream
 * x[rows, d] in place, with the norm placement of the config:
 *   post-norm: x = norm(x + f(x))      pre-norm: x = x + f(norm(x))
 *
 * A call processes n_seq sequences that each add n_new rows at positions
 * pos .. pos + n_new - 1; x contains them sequence after sequence. Self-attention
 * writes the new keys and values into a cache [n_seq, cache_cap, d] and
 * attends over cache rows 0 .. pos + n_new - 1, so a full forward pass is the
 * special case pos = 0, n_new = T (with no cache at all).
 */
#ifndef INTENTD_MODEL_LAYERS_H
#define INTENTD_MODEL_LAYERS_H

#include "arena.h"
#include "model.h"

struct model_layer_batch {
    int n_seq;
    int n_new;
    int pos;
    int causal;               /* self-attention: 1 masks future positions */
    const int *key_lengths;   /* [n_seq] valid self-attention keys (padding), NULL: pos + n_new */
    float *k_cache, *v_cache; /* [n_seq, cache_cap, d] self-attention keys and values, or NULL
                                 for a full pass (pos 0) that needs no cache afterwards */
    int cache_cap;
    const float *mem_k, *mem_v; /* cross-attention keys and values [n_mem, mem_cap, d] */
    int mem_cap;
    int mem_shared;            /* 1: every sequence attends to memory 0 (beams of one user) */
    const int *mem_lengths;    /* [n_seq] valid memory rows per sequence */
};

/* Scratch buffers of one sublayer call, from an arena. */
struct model_layer_workspace {
    float *in;     /* [rows, d] normalised input (pre-norm) */
    float *qkv;    /* [rows, 3d] */
    float *ctx;    /* [rows, d] attention output before out_proj */
    float *hidden; /* [rows, d_ff] */
    float *probs;  /* [n_heads, n_new, max_keys] */
};

/* Bytes model_layer_workspace_alloc takes from an arena. */
size_t model_layer_workspace_bytes(const struct model_config *config, int rows, int n_new, int max_keys);

/* Carves the workspace out of arena. Returns 0, or -1 when the arena is too small. */
int model_layer_workspace_alloc(struct model_layer_workspace *ws, struct model_arena *arena,
                                const struct model_config *config, int rows, int n_new, int max_keys);

void model_layer_self_attention(const struct model *model, const struct model_attention_params *p,
                                const float *norm_w, const float *norm_b, float *x,
                                const struct model_layer_batch *batch, const struct model_layer_workspace *ws);

void model_layer_cross_attention(const struct model *model, const struct model_attention_params *p,
                                 const float *norm_w, const float *norm_b, float *x,
                                 const struct model_layer_batch *batch, const struct model_layer_workspace *ws);

void model_layer_feed_forward(const struct model *model, const float *w1, const float *b1, const float *w2,
                              const float *b2, const float *norm_w, const float *norm_b, float *x, int rows,
                              const struct model_layer_workspace *ws);

/* Projects memory[rows, d] to cross-attention keys and values with the k and
 * v slices of in_proj (rows d .. 3d-1 of the packed weight). */
void model_layer_project_memory(const struct model *model, const struct model_attention_params *p,
                                const float *memory, int rows, float *k, float *v);

/* One encoder layer and one decoder layer, built from the sublayers above. */
void model_layer_encoder(const struct model *model, int layer, float *x, const struct model_layer_batch *batch,
                         const struct model_layer_workspace *ws);
void model_layer_decoder(const struct model *model, int layer, float *x, const struct model_layer_batch *batch,
                         const struct model_layer_workspace *ws);

#endif
