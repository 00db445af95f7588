/*
 * Forward and backward passes of the Transformer building blocks, for
 * training. Each forward stores what its backward needs; each backward
 * accumulates (+=) into the parameter gradients and into the input gradient,
 * so the caller zeroes gradient buffers once per step.
 *
 * Shapes use N for rows (batch * positions), C for features. All matrices are
 * row-major. Linear weights are [out, in] as in torch.nn.Linear.
 */
#ifndef INTENTD_TRAIN_LAYERS_H
#define INTENTD_TRAIN_LAYERS_H

#include <stddef.h>
#include <stdint.h>

/* out[N,OUT] = in[N,IN] W[OUT,IN]^T + b[OUT]; b may be NULL. */
void train_linear_forward(float *out, const float *in, const float *weight, const float *bias, int N, int IN, int OUT);

/* din[N,IN] += dout W; dweight[OUT,IN] += dout^T in; dbias[OUT] += column sums of
 * dout. din, dbias may be NULL when not needed. */
void train_linear_backward(float *din, float *dweight, float *dbias, const float *dout, const float *in,
                           const float *weight, int N, int IN, int OUT);

/* Layer norm over the last dimension: out = (in - mean) / sqrt(var + eps) * w + b,
 * with the biased variance as torch.nn.LayerNorm. Stores mean[N] and rstd[N]. */
void train_layernorm_forward(float *out, float *mean, float *rstd, const float *in, const float *weight,
                             const float *bias, int N, int C, float eps);

void train_layernorm_backward(float *din, float *dweight, float *dbias, const float *dout, const float *in,
                              const float *weight, const float *mean, const float *rstd, int N, int C);

/* ReLU (gelu == 0) or exact GELU 0.5 x (1 + erf(x / sqrt 2)) (gelu == 1), elementwise over n. */
void train_activation_forward(float *out, const float *in, size_t n, int gelu);

/* din += dout * act'(in). */
void train_activation_backward(float *din, const float *dout, const float *in, size_t n, int gelu);

/* Inverted dropout in place: each element is zeroed with probability p and
 * the rest scaled by 1 / (1 - p). mask[n] receives the per-element factor (0
 * or 1 / (1 - p)) for the backward; p is rounded to a multiple of 1/65536.
 * p == 0 sets the mask to 1, leaves x and draws nothing. */
void train_dropout_forward(float *x, float *mask, size_t n, float p, uint64_t *rng);

/* dx *= mask, in place. */
void train_dropout_backward(float *dx, const float *mask, size_t n);

/* The sinusoidal encoding of position pos, feature i, as in Vaswani et al.
 * 2017: sin(pos / 10000^(2k/C)) for i = 2k and cos of the same angle for
 * i = 2k + 1. */
float train_positional_encoding(int pos, int i, int C);

/* out[B,T,C] = embedding[tokens[b,t]] * sqrt(C) + PE(t). */
void train_embedding_forward(float *out, const int *tokens, const float *embedding, int B, int T, int C);

/* dembedding[tokens[b,t]] += dout[b,t] * sqrt(C). */
void train_embedding_backward(float *dembedding, const float *dout, const int *tokens, int B, int T, int C);

/* The next value of a splitmix64 generator; the trainer's only randomness. */
uint64_t train_random_next(uint64_t *state);

/* A uniform double in [0, 1) from the generator. */
double train_random_uniform(uint64_t *state);

#endif
