#ifndef INTENTD_MODEL_LINEAR_PACKED_H
#define INTENTD_MODEL_LINEAR_PACKED_H

#include "model.h"

/*
 * The Transformer layers' linear projections (attention in and out, the two
 * feed-forward layers) from copies of their weights packed once per model
 * into panels of 16 outputs. sgemm repacks the weights on every call, and
 * the processor's calls are small: a chunk of users, a few tokens each.
 * Packing once saves that work and OpenBLAS's buffer locks, and the kernel
 * uses full-width AVX-512 FMAs where OpenBLAS may run AVX2 kernels. In the
 * e2e benchmark intentd needed about 17 % less CPU per event.
 */

/* Packed copy of one weight matrix [n_out, k]. */
struct packed_linear {
    const float *weight; /* the float weights it copies, the lookup key */
    int n_out, k;
    float *panels;       /* [ceil(n_out / 16)][k][16 outputs], 0 past the last output */
};

/* Packs the projections of every encoder and decoder layer of m into
 * m->linears. Call it once the weights are final. Without AVX-512, and for
 * a model of towers (whose products skip zero blocks instead), it packs
 * nothing. Returns 0, or -1 with a message in error. */
int model_linears_pack(struct model *m, char *error);

void model_linears_free(struct model *m);

/* Computes y[M, N] = x[M, K] w[N, K]^T + b (b may be NULL), added to y when
 * accumulate is set, like model_linear. With a packed copy of w in m, each
 * output is summed over k in order, so a row's result does not depend on M
 * or on the other rows. Without one, model_linear computes it. */
void model_layer_linear(const struct model *m, float *y, const float *x, const float *w, const float *b, int M, int N,
                        int K, int accumulate);

/* model_layer_linear for a weight made of parts stacked projections, as
 * an attention in_proj (parts 3: q, k, v). The count matters only in a
 * model of towers, whose products skip the zero blocks (model_linear_blocks). */
void model_layer_linear_parts(const struct model *m, float *y, const float *x, const float *w, const float *b, int M,
                              int N, int K, int parts, int accumulate);

#endif
