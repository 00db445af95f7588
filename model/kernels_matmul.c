#include "kernels.h"

#include <cblas.h>
#include <string.h>

/* Up to this many rows model_linear calls sgemv per row. 4 is a guess from
 * one profile of single-token decoding (d_model 64, vocab 4096), not tuned. */
#define LINEAR_GEMV_MAX_ROWS 4

void model_sgemm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda,
                 const float *B, int ldb, float beta, float *C, int ldc)
{
    if (M <= 0 || N <= 0)
        return;
    if (K <= 0) {
        /* An empty sum: C = beta * C, which BLAS implementations handle unevenly. */
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++)
                C[(size_t)i * ldc + j] = beta == 0.0f ? 0.0f : beta * C[(size_t)i * ldc + j];
        return;
    }
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, M, N,
                K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void model_sgemm_naive(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda,
                       const float *B, int ldb, float beta, float *C, int ldc)
{
    for (int i = 0; i < M; i++) {
        for (int j = 0; j < N; j++) {
            double acc = 0.0;
            for (int p = 0; p < K; p++) {
                float a = trans_a ? A[(size_t)p * lda + i] : A[(size_t)i * lda + p];
                float b = trans_b ? B[(size_t)j * ldb + p] : B[(size_t)p * ldb + j];
                acc += (double)a * (double)b;
            }
            float *c = &C[(size_t)i * ldc + j];
            /* beta == 0 overwrites, as BLAS does, so NaN in C does not leak through. */
            *c = (float)(alpha * acc + (beta == 0.0f ? 0.0 : (double)beta * *c));
        }
    }
}

void model_linear(float *y, const float *x, const float *w, const float *b, int M, int N, int K, int accumulate)
{
    if (M <= 0 || N <= 0)
        return;

    /* The bias goes in first so that one sgemm with beta = 1 finishes the job. */
    if (b) {
        for (int i = 0; i < M; i++) {
            float *row = y + (size_t)i * N;
            if (accumulate) {
                for (int j = 0; j < N; j++)
                    row[j] += b[j];
            } else {
                memcpy(row, b, (size_t)N * sizeof(float));
            }
        }
    }
    float beta = (b || accumulate) ? 1.0f : 0.0f;

    /* A few rows (one decoding step, a handful of beams): sgemm would pack all
     * of W for each call, which costs more than the product, so use sgemv. */
    if (M <= LINEAR_GEMV_MAX_ROWS) {
        for (int i = 0; i < M; i++)
            cblas_sgemv(CblasRowMajor, CblasNoTrans, N, K, 1.0f, w, K, x + (size_t)i * K, 1, beta, y + (size_t)i * N, 1);
        return;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, x, K, w, K, beta, y, N);
}

void model_linear_blocks(float *y, const float *x, const float *w, const float *b, int M, int N, int K, int towers,
                         int parts, int accumulate)
{
    int blocks = towers * parts, n_block = N / blocks, k_block = K / towers;

    if (M <= 0 || N <= 0)
        return;
    for (int j = 0; j < blocks; j++) {
        int g = j % towers;
        const float *w_block = w + (size_t)j * n_block * K + (size_t)g * k_block;
        const float *b_block = b ? b + (size_t)j * n_block : NULL;
        float *y_block = y + (size_t)j * n_block;

        if (b_block) {
            for (int i = 0; i < M; i++) {
                float *row = y_block + (size_t)i * N;
                for (int o = 0; o < n_block; o++)
                    row[o] = accumulate ? row[o] + b_block[o] : b_block[o];
            }
        }
        float beta = (b_block || accumulate) ? 1.0f : 0.0f;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, n_block, k_block, 1.0f, x + (size_t)g * k_block, K,
                    w_block, K, beta, y_block, N);
    }
}

void model_blas_set_threads(int threads)
{
    openblas_set_num_threads(threads);
}

int model_blas_threads(void)
{
    return openblas_get_num_threads();
}
