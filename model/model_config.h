/*
 * Model hyper-parameters. One struct describes a Transformer encoder-decoder
 * and its output heads; it is stored in the safetensors metadata so that a
 * weights file is self-describing.
 */
#ifndef INTENTD_MODEL_CONFIG_H
#define INTENTD_MODEL_CONFIG_H

#include <stddef.h>

#define MODEL_MAX_LAYERS 16
#define MODEL_ERROR_SIZE 512
#define MODEL_MAX_VOCAB (1 << 24)
#define MODEL_MAX_WIDTH (1 << 16)     /* d_model, d_ff and head classes */
#define MODEL_MAX_SEQUENCE (1 << 20)  /* max_len */

enum model_norm_placement {
    MODEL_NORM_POST = 0, /* x = norm(x + sublayer(x)), as in Vaswani et al. 2017 */
    MODEL_NORM_PRE = 1,  /* x = x + sublayer(norm(x)) */
};

enum model_activation {
    MODEL_ACT_RELU = 0,
    MODEL_ACT_GELU = 1, /* exact erf form, as torch.nn.functional.gelu */
};

enum model_encoder_mode {
    MODEL_ENCODER_BIDIRECTIONAL = 0, /* every position attends to the whole sequence */
    MODEL_ENCODER_CAUSAL = 1,        /* position t attends to 0..t only, as in SASRec */
};

struct model_config {
    int vocab_size;       /* tokens shared by encoder input, decoder input and output */
    int d_model;
    int n_heads;          /* d_model must be a multiple of n_heads */
    int n_encoder_layers;
    int n_decoder_layers; /* 0 builds an encoder-only model */
    int d_ff;
    int max_len;          /* training length; positions past it are still encodable */
    enum model_norm_placement norm;
    enum model_activation activation;
    enum model_encoder_mode encoder_mode;
    int tie_output;       /* 1: decoder logits use embedding.weight, no generator.weight */
    float layer_norm_eps; /* inside the square root: (x - mean) / sqrt(var + eps) */

    /* Output heads on the pooled encoder state (the intent embedding). */
    int item_begin;       /* item tokens are ids [item_begin, item_end): their */
    int item_end;         /* scores are dot products with embedding rows */
    int n_actions;        /* next-action classes */
    int n_categories;     /* category classes */
    int n_sentiments;     /* sentiment classes (2: negative, positive) */

    /* Independent encoders side by side (model_towers.h); 1 is a plain model.
     * Tower g owns columns [g * w, (g + 1) * w) of every d_model-wide
     * activation, w = d_model / towers, and heads [g * h, (g + 1) * h),
     * h = n_heads / towers. Its layer norms, embedding scale sqrt(w) and
     * positional encoding are its own; the projections are stored dense
     * with zero blocks between towers. */
    int towers;
};

/* Fills in the defaults: d_model 64, 2 heads, 2 + 2 layers, d_ff 256, max_len 64,
 * post-norm, ReLU, causal encoder, tied output, eps 1e-5, one tower. vocab_size and the
 * head sizes are left for the caller. */
void model_config_defaults(struct model_config *config);

/* Checks the invariants (positive sizes, d_model % n_heads == 0, layer counts
 * within MODEL_MAX_LAYERS, item range inside the vocabulary; towers divide
 * d_model, n_heads and d_ff, and only an encoder-only model has more than
 * one). Returns 0, or -1
 * with a message naming the field and its value in error[MODEL_ERROR_SIZE]. */
int model_config_validate(const struct model_config *config, char *error);

#endif
