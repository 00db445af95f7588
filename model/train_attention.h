/*
 * Multi-head scaled dot-product attention for training, with PyTorch's
 * nn.MultiheadAttention parameter layout (in_proj stacks q, k, v; out_proj).
 * Used for encoder and decoder self-attention (xq == xkv) and for
 * encoder-decoder attention (xkv is the encoder output).
 */
#ifndef INTENTD_TRAIN_ATTENTION_H
#define INTENTD_TRAIN_ATTENTION_H

#include <stdint.h>

#include "model_params.h"

/* Activations of one attention block, sized for B sequences of T queries and
 * S keys. Owned by the struct; train_attention_free releases them. */
struct train_attention_acts {
    float *q;     /* [B*T, d] */
    float *k;     /* [B*S, d] */
    float *v;     /* [B*S, d] */
    float *probs; /* [B, H, T, S] softmax weights before dropout; masked entries are 0 */
    float *drop;  /* [B, H, T, S] dropout factors of the weights (0 or 1 / (1 - p)) */
    int dropped;  /* 1 when the last forward applied dropout to the weights */
    float *ctx;   /* [B*T, d] heads concatenated, before out_proj */
    float *dq, *dk, *dv, *dctx; /* backward scratch, same shapes */
};

int train_attention_alloc(struct train_attention_acts *a, int B, int T, int S, int d, int H);
void train_attention_free(struct train_attention_acts *a);

/* out[B*T, d] = MHA(xq[B*T, d], xkv[B*S, d]). Key s of sequence b is masked
 * when s >= key_lengths[b] (key_lengths may be NULL: no padding) and, when
 * causal, when s > t. A query whose keys are all masked gets a zero context,
 * so its output is out_proj.bias. With dropout > 0 each unmasked weight is
 * zeroed with probability dropout and the rest scaled by 1 / (1 - dropout)
 * before the weighted sum of values (inverted dropout, as
 * torch.nn.MultiheadAttention's dropout), drawing from rng. */
void train_attention_forward(float *out, struct train_attention_acts *a, const float *xq, const float *xkv,
                             const struct model_attention_params *p, const int *key_lengths, int causal, int B, int T,
                             int S, int d, int H, float dropout, uint64_t *rng);

/* Accumulates dxq, dxkv (the same buffer for self-attention) and the
 * parameter gradients in g from dout[B*T, d]. */
void train_attention_backward(float *dxq, float *dxkv, struct model_attention_params *g, const float *dout,
                              struct train_attention_acts *a, const float *xq, const float *xkv,
                              const struct model_attention_params *p, int B, int T, int S, int d, int H);

#endif
