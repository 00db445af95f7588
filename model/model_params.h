/*
 * Parameter layout: every weight of the model lives in one 64-byte aligned
 * float32 allocation, with a table of named tensors pointing into it. The
 * trainer's gradients and AdamW moments use the same layout, so checkpoints and
 * the optimizer work on flat buffers of model_params.count floats.
 *
 * Tensor names follow PyTorch's nn.Transformer state_dict, so a model trained
 * in PyTorch can be exported and served:
 *   embedding.weight                                  [vocab, d]
 *   encoder.layers.L.self_attn.in_proj_weight         [3d, d]  (q, k, v stacked)
 *   encoder.layers.L.self_attn.in_proj_bias           [3d]
 *   encoder.layers.L.self_attn.out_proj.weight        [d, d]
 *   encoder.layers.L.self_attn.out_proj.bias          [d]
 *   encoder.layers.L.linear1.weight / .bias           [ff, d] / [ff]
 *   encoder.layers.L.linear2.weight / .bias           [d, ff] / [d]
 *   encoder.layers.L.norm1.weight / .bias, norm2.*    [d]
 *   encoder.norm.weight / .bias                       [d]
 *   decoder.layers.L.self_attn.*                      as in the encoder
 *   decoder.layers.L.multihead_attn.*                 encoder-decoder attention
 *   decoder.layers.L.linear1.*, linear2.*, norm1..3.*
 *   decoder.norm.weight / .bias                       [d]
 *   generator.weight / .bias                          [vocab, d] / [vocab] (no weight when tied)
 *   heads.action.weight / .bias                       [n_actions, d]
 *   heads.category.weight / .bias                     [n_categories, d]
 *   heads.sentiment.weight / .bias                    [n_sentiments, d]
 *   heads.propensity.weight / .bias                   [1, d] / [1]
 * Linear weights are [out, in] as in torch.nn.Linear: y = x W^T + b.
 */
#ifndef INTENTD_MODEL_PARAMS_H
#define INTENTD_MODEL_PARAMS_H

#include <stddef.h>

#include "model_config.h"

#define MODEL_TENSOR_NAME_SIZE 96
/* 12 tensors per encoder layer, 18 per decoder layer, 15 outside the layers. */
#define MODEL_MAX_TENSORS (32 + MODEL_MAX_LAYERS * 30)

/* Pointers into the flat buffer for one attention block. */
struct model_attention_params {
    float *in_proj_weight;  /* [3d, d] */
    float *in_proj_bias;    /* [3d] */
    float *out_proj_weight; /* [d, d] */
    float *out_proj_bias;   /* [d] */
};

struct model_encoder_layer_params {
    struct model_attention_params self_attn;
    float *linear1_weight, *linear1_bias; /* [ff, d], [ff] */
    float *linear2_weight, *linear2_bias; /* [d, ff], [d] */
    float *norm1_weight, *norm1_bias;     /* [d] */
    float *norm2_weight, *norm2_bias;     /* [d] */
};

struct model_decoder_layer_params {
    struct model_attention_params self_attn;
    struct model_attention_params cross_attn; /* multihead_attn in PyTorch */
    float *linear1_weight, *linear1_bias;
    float *linear2_weight, *linear2_bias;
    float *norm1_weight, *norm1_bias;
    float *norm2_weight, *norm2_bias;
    float *norm3_weight, *norm3_bias;
};

struct model_tensor_info {
    char name[MODEL_TENSOR_NAME_SIZE];
    int ndim;        /* 1 or 2 */
    int shape[2];
    size_t offset;   /* in floats from the start of the flat buffer; 16-float aligned */
    size_t count;    /* shape[0] * shape[1] */
    size_t slot;     /* byte offset in struct model_params of the pointer to this tensor */
};

struct model_params {
    float *data;     /* one 64-byte aligned allocation of count floats, or an mmap view */
    size_t count;
    int owns_data;   /* 1: data was allocated by model_params_alloc and is freed with it */

    float *embedding; /* [vocab, d] */
    struct model_encoder_layer_params encoder[MODEL_MAX_LAYERS];
    float *encoder_norm_weight, *encoder_norm_bias;
    struct model_decoder_layer_params decoder[MODEL_MAX_LAYERS];
    float *decoder_norm_weight, *decoder_norm_bias;
    float *generator_weight; /* [vocab, d]; equals embedding when config.tie_output */
    float *generator_bias;   /* [vocab] */
    float *action_weight, *action_bias;
    float *category_weight, *category_bias;
    float *sentiment_weight, *sentiment_bias;
    float *propensity_weight, *propensity_bias;

    struct model_tensor_info tensors[MODEL_MAX_TENSORS];
    int n_tensors;
};

/* Computes the tensor table for a config without allocating: fills
 * params->tensors, n_tensors and count. Pointers stay NULL. */
void model_params_layout(struct model_params *params, const struct model_config *config);

/* Lays out and allocates zeroed parameters. Returns 0, or -1 with a message. */
int model_params_alloc(struct model_params *params, const struct model_config *config, char *error);

/* Points every tensor of an already laid-out table into data (count floats,
 * 64-byte aligned), without taking ownership. Used for mmap'ed weights and for
 * gradient buffers that share the parameter layout. */
void model_params_bind(struct model_params *params, float *data);

/* Frees the buffer if owned; safe on a zeroed struct. */
void model_params_free(struct model_params *params);

/* Returns the tensor with this name, or NULL. */
const struct model_tensor_info *model_params_find(const struct model_params *params, const char *name);

/* Initialises weights as PyTorch does for these layers: Xavier-uniform for
 * attention in_proj, uniform(-1/sqrt(in), 1/sqrt(in)) for Linear, N(0, 1) scaled
 * by 1/sqrt(d) for the embedding, ones and zeros for layer norms, zero biases in
 * attention. Deterministic for a seed. */
void model_params_init(struct model_params *params, const struct model_config *config, unsigned long long seed);

/* Allocates a 64-byte aligned float buffer of count floats, zeroed; NULL on failure. */
float *model_alloc_floats(size_t count);

#endif
