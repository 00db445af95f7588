/*
 * The model object: a config and its parameters, either allocated here or
 * viewed in place from an mmap'ed safetensors file (see safetensors.h).
 *
 * Input embedding (encoder and decoder share it):
 *   x[pos] = embedding[token] * sqrt(d_model) + PE(pos)
 *   PE(pos, 2i) = sin(pos / 10000^(2i/d_model)), PE(pos, 2i+1) = cos(same angle)
 * The sqrt(d_model) scale is the one from Vaswani et al. 2017; nn.Transformer
 * does not embed tokens itself, so tests/ref/torch_parity.py applies the same
 * scale and encoding explicitly. PE is computed on the fly, so any position is
 * encodable, including positions past config.max_len.
 *
 * Threads: a model is read-only after model_create or model_safetensors_load,
 * so any number of threads may run forward passes on it at once, each with
 * its own arena, caches and decoder states.
 */
#ifndef INTENTD_MODEL_MODEL_H
#define INTENTD_MODEL_MODEL_H

#include <stddef.h>

#include "model_config.h"
#include "model_params.h"

struct head_quant;
struct packed_linear;

struct model {
    struct model_config config;
    struct model_params params;
    void *mapping;       /* mmap of the weights file when params view it in place, else NULL */
    size_t mapping_size;
    float *positional;   /* [positional_rows, d] PE table for positions below max_len, or NULL;
                            positions past it are computed on the fly */
    int positional_rows;
    float *item_panels;  /* packed copy of the item embeddings for model_item_logits
                            (model_item_panels_build), or NULL */
    struct head_quant *item_quant;     /* int8 copies of the item and category heads for the */
    struct head_quant *category_quant; /* *_logits_top functions (model_quant_heads_build), or NULL */
    struct packed_linear *linears; /* packed layer projections (model_linears_pack), or NULL */
    int n_linears;
};

/* Validates config, allocates parameters and initialises them from seed
 * (model_params_init). Returns 0, or -1 with a message in error. */
int model_create(struct model *model, const struct model_config *config, unsigned long long seed, char *error);

/* Builds the positional-encoding table of config.max_len rows. model_create
 * and model_safetensors_load call it; a model without the table still works,
 * computing every encoding on the fly. Returns 0, or -1 with a message. */
int model_prepare(struct model *model, char *error);

/* Frees the parameters or unmaps the file; safe on a zeroed struct. */
void model_free(struct model *model);

/* Writes PE(pos, 0 .. d-1) into out[d]. */
void model_positional_encoding(int pos, int d, float *out);

/* Writes the model's encoding of position pos into out[d_model]: PE of width
 * w = d_model / towers once for each tower (all of PE for one tower). */
void model_positional_row(const struct model_config *config, int pos, float *out);

/* Normalises each row of x[rows, d_model] into y (may equal x) as a layer
 * norm, each tower's w columns with their own mean and variance
 * (model_config.towers). */
void model_norm(const struct model_config *config, float *y, const float *x, const float *gamma, const float *beta,
                int rows);

/* out[n, d] = embedding[tokens[i]] * sqrt(w) + the encoding of position
 * pos + i (model_positional_row), w = d / towers. Tokens must be valid ids
 * (see model_check_tokens). */
void model_embed(const struct model *model, const int *tokens, int n, int pos, float *out);

/* Returns 0 when every token is in [0, vocab_size), else -1 with a message
 * naming the index and the value. */
int model_check_tokens(const struct model *model, const int *tokens, int n, char *error);

#endif
