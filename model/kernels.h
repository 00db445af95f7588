/*
 * Forward kernels of the Transformer: matrix products through OpenBLAS,
 * layer norm, softmax, activations and scaled dot-product attention.
 *
 * Conventions: float32, row-major. A matrix argument is a pointer plus a
 * leading dimension (the distance in floats between two rows), so a kernel
 * can read one head's columns out of a packed [T, 3d] QKV buffer. No kernel
 * allocates memory; workspaces are passed in by the caller (see arena.h).
 * All kernels are reentrant; thread use is only inside OpenBLAS.
 */
#ifndef INTENTD_MODEL_KERNELS_H
#define INTENTD_MODEL_KERNELS_H

#include <stddef.h>

/* C[M,N] = alpha * op(A) op(B) + beta * C, op(X) = X or X^T, through
 * cblas_sgemm in row-major order. trans_a and trans_b are 0 or 1. */
void model_sgemm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda,
                 const float *B, int ldb, float beta, float *C, int ldc);

/* The same contract as model_sgemm with three plain loops and a double
 * accumulator. The oracle that tests compare the OpenBLAS path against. */
void model_sgemm_naive(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda,
                       const float *B, int ldb, float beta, float *C, int ldc);

/* torch.nn.Linear: y[M,N] = x[M,K] W[N,K]^T + b[N]. b may be NULL.
 * With accumulate = 1 the product is added to y (y += x W^T + b), which fuses
 * a residual connection. y must not alias x. */
void model_linear(float *y, const float *x, const float *w, const float *b, int M, int N, int K, int accumulate);

/* model_linear for a model of towers: w[N, K] is block-diagonal, so only its
 * diagonal blocks are multiplied. K splits into towers column blocks, and N
 * into parts * towers row blocks, row block j belonging to tower j % towers
 * (parts 3 for an attention in_proj, whose q, k and v are each blocked).
 * The zero blocks are skipped, not read. */
void model_linear_blocks(float *y, const float *x, const float *w, const float *b, int M, int N, int K, int towers,
                         int parts, int accumulate);

/* Recommended OpenBLAS thread count for this model: 1. Measured with
 * `tests/bench/run model` (keys enc_t1_* against enc_t2_*) on a 2-core AMD
 * EPYC VM shared with other jobs, default model, 64 tokens. Sequences/s with
 * 1 and 2 threads were: batch 1 5362 and 4325, batch 64 5342 and 4923, batch
 * 256 5238 and 2226 (tests/bench/RESULTS.md has the runs). The matrices (K = 64)
 * are too small for a second thread to pay for its synchronisation, and
 * OpenBLAS worker threads spin, taking the core the Kafka client needs. */
#define MODEL_BLAS_THREADS_DEFAULT 1

/* Sets the thread count OpenBLAS uses in this process (openblas_set_num_threads).
 * Process-wide: call it once at start-up, not per request. */
void model_blas_set_threads(int threads);
int model_blas_threads(void);

/* Layer norm over each row of x[rows, d], as torch.nn.LayerNorm:
 * y = (x - mean) / sqrt(var + eps) * gamma + beta with the biased variance.
 * The mean is accumulated in double, so a constant row gives exactly beta.
 * y may equal x (in place). mean and rstd ([rows], may be NULL) receive the
 * statistics that the backward pass needs. */
void model_layernorm(float *y, const float *x, const float *gamma, const float *beta, int rows, int d, float eps,
                     float *mean, float *rstd);

/* In-place softmax of row[0..n): subtracts the row maximum before exp.
 * Entries n..width-1 are set to 0 (masked keys). n == 0 gives an all-zero row. */
void model_softmax_row(float *row, int n, int width);

/* log(sum_j exp(x[j])), computed as max + log(sum exp(x - max)) so that it
 * does not overflow. -inf entries (masked tokens) add nothing; returns -inf
 * when every entry is -inf. */
float model_logsumexp(const float *x, int n);

/* Index of the first largest entry of x[n], or -1 when every entry is -inf
 * (or NaN, or n is 0). */
int model_argmax(const float *x, int n);

/* Index of the first x[i] > threshold, or n when there is none. A top-k
 * scan over ~10^4 scores calls it to skip the entries that cannot enter
 * the list; NaN entries never match. */
int model_find_above(const float *x, int n, float threshold);

/* In-place activations over n floats. GELU is the exact erf form, as
 * torch.nn.functional.gelu with approximate='none'. */
void model_relu(float *x, size_t n);
void model_gelu(float *x, size_t n);

/* x[rows, cols] = act(x + bias) with the bias broadcast over rows: the bias
 * of a linear layer fused with its activation, saving one pass over x. */
void model_add_bias_relu(float *x, const float *bias, int rows, int cols);
void model_add_bias_gelu(float *x, const float *bias, int rows, int cols);

/* Logistic sigmoid that does not overflow for large |x|. */
float model_sigmoid(float x);

/*
 * Multi-head scaled dot-product attention for one sequence:
 *   out_h = softmax(Q_h K_h^T / sqrt(d_head) + mask) V_h,  out = [out_0 .. out_{H-1}]
 * q: [tq, ldq], k and v: [tk, ldkv]; head h uses columns h*d_head .. (h+1)*d_head-1.
 * out: [tq, ldo], written for the n_heads * d_head columns.
 * Masks: keys >= key_len are padding and never attended to. With causal = 1,
 * query i sits at absolute position q_pos + i and attends to keys 0 .. q_pos + i only.
 * A query with no visible key gets zero weights and a zero output row (never NaN).
 * probs: workspace [n_heads, tq, tk] that contains the attention weights on return
 * (the backward pass reads them).
 */
struct model_attention_args {
    int tq, tk;             /* query rows, key rows */
    int n_heads, d_head;
    int key_len;            /* keys 0 .. key_len-1 are valid, 0 <= key_len <= tk */
    int causal;             /* 1: query i attends to keys j <= q_pos + i only */
    int q_pos;              /* absolute position of query row 0 (cached decoding) */
};

void model_attention(const struct model_attention_args *args, const float *q, int ldq, const float *k,
                     const float *v, int ldkv, float *out, int ldo, float *probs);

/* Number of keys query i may attend to under the masks above (0 .. tk). */
int model_attention_visible(const struct model_attention_args *args, int i);

#endif
