/*
 * One residual sublayer of a Transformer layer, with its layer norm and
 * dropout, for training: self-attention, encoder-decoder attention or the
 * feed-forward network. See struct train_sublayer_acts for the post-norm and
 * pre-norm formulas.
 */
#ifndef INTENTD_TRAIN_SUBLAYER_H
#define INTENTD_TRAIN_SUBLAYER_H

#include <stdint.h>

#include "train_model.h"

/* Sizes and switches shared by the sublayers of one pass. */
struct train_pass {
    int B, T, S;      /* sequences, query positions, key positions (S of the memory for cross-attention) */
    int d, H, ff;
    int pre_norm;
    int gelu;
    float eps;
    float dropout;    /* 0 when not training */
    float attention_dropout; /* dropout on the attention weights, 0 when not training */
    uint64_t *rng;
};

/* Scratch buffers for the backward passes: three [N, d] and two [N, ff]. */
struct train_scratch {
    float *a, *b, *c;
    float *h1, *h2;
};

int train_sublayer_alloc(struct train_sublayer_acts *s, int N, int d, int ff, int attention, int B, int T, int S,
                         int H);
void train_sublayer_free(struct train_sublayer_acts *s);

/* out = sublayer(x). memory is NULL for self-attention; key_lengths masks
 * padded keys (NULL: none); causal masks future keys. */
void train_attention_sublayer_forward(struct train_sublayer_acts *s, const float *x, const float *memory,
                                      const float *norm_weight, const float *norm_bias,
                                      const struct model_attention_params *p, const int *key_lengths, int causal,
                                      const struct train_pass *pass);

/* Accumulates dx (and dmemory for encoder-decoder attention) and the
 * gradients of norm and attention parameters from dout. */
void train_attention_sublayer_backward(struct train_sublayer_acts *s, float *dx, float *dmemory, const float *dout,
                                       const float *x, const float *memory, const float *norm_weight,
                                       float *dnorm_weight, float *dnorm_bias,
                                       const struct model_attention_params *p, struct model_attention_params *g,
                                       const struct train_pass *pass, const struct train_scratch *scratch);

void train_ffn_sublayer_forward(struct train_sublayer_acts *s, const float *x, const float *norm_weight,
                                const float *norm_bias, const float *w1, const float *b1, const float *w2,
                                const float *b2, const struct train_pass *pass);

void train_ffn_sublayer_backward(struct train_sublayer_acts *s, float *dx, const float *dout, const float *x,
                                 const float *norm_weight, float *dnorm_weight, float *dnorm_bias, const float *w1,
                                 const float *w2, float *dw1, float *db1, float *dw2, float *db2,
                                 const struct train_pass *pass, const struct train_scratch *scratch);

#endif
