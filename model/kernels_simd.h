/*
 * Instruction-set variants of the softmax kernel, so that tests can check
 * every variant this CPU runs, not only the one model_softmax_row picks.
 */
#ifndef INTENTD_MODEL_KERNELS_SIMD_H
#define INTENTD_MODEL_KERNELS_SIMD_H

enum model_simd_isa {
    MODEL_SIMD_PORTABLE = 0, /* plain C */
    MODEL_SIMD_AVX2 = 1,     /* AVX2 + FMA */
    MODEL_SIMD_AVX512 = 2,   /* AVX-512F */
};

/* The best variant this CPU supports (x86-64 with GCC or clang; else portable). */
enum model_simd_isa model_simd_best_isa(void);

/* model_softmax_row with a chosen variant; isa must not exceed model_simd_best_isa(). */
void model_softmax_row_isa(float *row, int n, int width, enum model_simd_isa isa);

#endif
