#include "kernels.h"
#include "kernels_avx512.h"
#include "kernels_simd.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

/* The row loops below are written so the compiler can vectorise them
 * (-fopenmp-simd honours the "omp simd" reductions; no OpenMP runtime is
 * used). With GCC on x86-64 each kernel is also built for AVX2 and AVX-512
 * and the best clone is picked at load time, since the library is compiled
 * for the baseline ISA. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(INTENTD_NO_CLONES)
#define SIMD_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define SIMD_CLONES
#endif

SIMD_CLONES
void model_layernorm(float *y, const float *x, const float *gamma, const float *beta, int rows, int d, float eps,
                     float *mean_out, float *rstd_out)
{
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * d;
        float *yr = y + (size_t)r * d;

        /* One pass of double sums of x and x^2. A constant row then has
         * mean == x exactly in any summation order, so x - mean is 0 and the
         * output is exactly beta. Double keeps E[x^2] - mean^2 accurate for
         * float inputs. */
        double sum = 0.0, sq = 0.0;
#pragma omp simd reduction(+ : sum, sq)
        for (int i = 0; i < d; i++) {
            sum += xr[i];
            sq += (double)xr[i] * xr[i];
        }
        double mean_d = sum / d, var = sq / d - mean_d * mean_d;
        float mean = (float)mean_d;
        float rstd = (float)(1.0 / sqrt((var > 0.0 ? var : 0.0) + (double)eps));

#pragma omp simd
        for (int i = 0; i < d; i++)
            yr[i] = (xr[i] - mean) * rstd * gamma[i] + beta[i];
        if (mean_out)
            mean_out[r] = mean;
        if (rstd_out)
            rstd_out[r] = rstd;
    }
}

/* exp for x <= 0 (softmax after subtracting the max), vectorisable: the
 * Cephes expf range reduction and polynomial, relative error about 2e-7.
 * Inputs below -87 return 0, where expf would return a value below 2e-38. */
static inline float exp_nonpositive(float x)
{
    float in = x;
    x = x < -87.0f ? -87.0f : x;
    float n = floorf(x * 1.44269504088896341f + 0.5f);
    float r = x - n * 0.693359375f + n * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    union {
        int32_t i;
        float f;
    } scale = {.i = ((int32_t)n + 127) << 23};
    return in < -87.0f ? 0.0f : p * scale.f;
}

static void softmax_portable(float *row, int n)
{
    float max = row[0];
    for (int j = 1; j < n; j++)
        max = row[j] > max ? row[j] : max;

    float sum = 0.0f;
    for (int j = 0; j < n; j++) {
        row[j] = exp_nonpositive(row[j] - max);
        sum += row[j];
    }
    float inv = 1.0f / sum;
    for (int j = 0; j < n; j++)
        row[j] *= inv;
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

/* exp_nonpositive on 8 lanes, with the same constants. */
__attribute__((target("avx2,fma"))) static __m256 exp8_nonpositive(__m256 in)
{
    __m256 x = _mm256_max_ps(in, _mm256_set1_ps(-87.0f));
    __m256 n = _mm256_floor_ps(_mm256_fmadd_ps(x, _mm256_set1_ps(1.44269504088896341f), _mm256_set1_ps(0.5f)));
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fmadd_ps(n, _mm256_set1_ps(2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(_mm256_mul_ps(p, r), r, _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvttps_epi32(n), _mm256_set1_epi32(127)), 23);
    __m256 result = _mm256_mul_ps(p, _mm256_castsi256_ps(e));
    __m256 underflow = _mm256_cmp_ps(in, _mm256_set1_ps(-87.0f), _CMP_LT_OQ);
    return _mm256_blendv_ps(result, _mm256_setzero_ps(), underflow);
}

/* Lanes 0 .. count-1 set (count clamped to 0 .. 8), for masked loads of a row's tail. */
__attribute__((target("avx2,fma"))) static __m256i tail_mask(int count)
{
    __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(count), lanes);
}

__attribute__((target("avx2,fma"))) static float horizontal_max(__m256 v)
{
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

__attribute__((target("avx2,fma"))) static float horizontal_sum(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* Rows are short (n averages tk / 2 under a causal mask), so the tail is
 * handled with masked loads and stores instead of scalar code, and the
 * masked entries n .. width-1 are zeroed in the same pass. */
__attribute__((target("avx2,fma"))) static void softmax_avx2(float *row, int n, int width)
{
    __m256 vmax = _mm256_set1_ps(row[0]);
    for (int j = 0; j < n; j += 8) {
        __m256i mask = tail_mask(n - j);
        __m256 v = _mm256_blendv_ps(vmax, _mm256_maskload_ps(row + j, mask), _mm256_castsi256_ps(mask));
        vmax = _mm256_max_ps(vmax, v);
    }
    __m256 max = _mm256_set1_ps(horizontal_max(vmax));

    __m256 vsum = _mm256_setzero_ps();
    for (int j = 0; j < width; j += 8) {
        __m256i valid = tail_mask(n - j);
        __m256 e = exp8_nonpositive(_mm256_sub_ps(_mm256_maskload_ps(row + j, valid), max));
        e = _mm256_and_ps(e, _mm256_castsi256_ps(valid));
        vsum = _mm256_add_ps(vsum, e);
        _mm256_maskstore_ps(row + j, tail_mask(width - j), e);
    }

    __m256 inv = _mm256_set1_ps(1.0f / horizontal_sum(vsum));
    for (int j = 0; j < n; j += 8) {
        __m256i mask = tail_mask(n - j);
        _mm256_maskstore_ps(row + j, mask, _mm256_mul_ps(_mm256_maskload_ps(row + j, mask), inv));
    }
}

/* The AVX2 algorithm with 16 lanes and mask registers. */
__attribute__((target("avx512f"))) static void softmax_avx512(float *row, int n, int width)
{
    __m512 vmax = _mm512_set1_ps(row[0]);
    for (int j = 0; j < n; j += 16)
        vmax = _mm512_mask_max_ps(vmax, tail_mask16(n - j), vmax, _mm512_maskz_loadu_ps(tail_mask16(n - j), row + j));
    __m512 max = _mm512_set1_ps(_mm512_reduce_max_ps(vmax));

    __m512 vsum = _mm512_setzero_ps();
    for (int j = 0; j < width; j += 16) {
        __mmask16 valid = tail_mask16(n - j);
        __m512 e = exp16_nonpositive(_mm512_sub_ps(_mm512_maskz_loadu_ps(valid, row + j), max));
        e = _mm512_maskz_mov_ps(valid, e);
        vsum = _mm512_add_ps(vsum, e);
        _mm512_mask_storeu_ps(row + j, tail_mask16(width - j), e);
    }

    __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(vsum));
    for (int j = 0; j < n; j += 16) {
        __mmask16 mask = tail_mask16(n - j);
        _mm512_mask_storeu_ps(row + j, mask, _mm512_mul_ps(_mm512_maskz_loadu_ps(mask, row + j), inv));
    }
}
#endif

/* log(sum(exp(x - max))) + max over x[n]; -inf entries contribute 0. */
static float logsumexp_portable(const float *x, int n, float max)
{
    float sum = 0.0f;
    for (int j = 0; j < n; j++)
        sum += exp_nonpositive(x[j] - max);
    return logf(sum) + max;
}

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx2,fma"))) static float logsumexp_avx2(const float *x, int n, float max)
{
    __m256 vmax = _mm256_set1_ps(max), vsum = _mm256_setzero_ps();
    for (int j = 0; j < n; j += 8) {
        __m256i mask = tail_mask(n - j);
        __m256 e = exp8_nonpositive(_mm256_sub_ps(_mm256_maskload_ps(x + j, mask), vmax));
        vsum = _mm256_add_ps(vsum, _mm256_and_ps(e, _mm256_castsi256_ps(mask)));
    }
    return logf(horizontal_sum(vsum)) + max;
}

/* Two accumulators and unmasked loads in the main loop: the item head calls
 * this on rows of ~10^4 logits for every encoded user. */
__attribute__((target("avx512f"))) static float logsumexp_avx512(const float *x, int n, float max)
{
    __m512 vmax = _mm512_set1_ps(max), sum0 = _mm512_setzero_ps(), sum1 = _mm512_setzero_ps();
    int j = 0;
    for (; j + 32 <= n; j += 32) {
        sum0 = _mm512_add_ps(sum0, exp16_nonpositive(_mm512_sub_ps(_mm512_loadu_ps(x + j), vmax)));
        sum1 = _mm512_add_ps(sum1, exp16_nonpositive(_mm512_sub_ps(_mm512_loadu_ps(x + j + 16), vmax)));
    }
    for (; j < n; j += 16) {
        __mmask16 valid = tail_mask16(n - j);
        __m512 e = exp16_nonpositive(_mm512_sub_ps(_mm512_maskz_loadu_ps(valid, x + j), vmax));
        sum0 = _mm512_add_ps(sum0, _mm512_maskz_mov_ps(valid, e));
    }
    return logf(_mm512_reduce_add_ps(_mm512_add_ps(sum0, sum1))) + max;
}
#endif

SIMD_CLONES
static float row_max(const float *x, int n)
{
    float max = -INFINITY;
#pragma omp simd reduction(max : max)
    for (int j = 0; j < n; j++)
        max = x[j] > max ? x[j] : max;
    return max;
}

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx512f"))) static int find_above_avx512(const float *x, int n, float threshold)
{
    __m512 t = _mm512_set1_ps(threshold);
    int j = 0;
    for (; j + 16 <= n; j += 16) {
        __mmask16 hit = _mm512_cmp_ps_mask(_mm512_loadu_ps(x + j), t, _CMP_GT_OQ);
        if (hit)
            return j + __builtin_ctz((unsigned)hit);
    }
    for (; j < n; j++)
        if (x[j] > threshold)
            return j;
    return n;
}
#endif

int model_find_above(const float *x, int n, float threshold)
{
#if defined(__x86_64__) && defined(__GNUC__)
    if (__builtin_cpu_supports("avx512f"))
        return find_above_avx512(x, n, threshold);
#endif
    for (int j = 0; j < n; j++)
        if (x[j] > threshold)
            return j;
    return n;
}

int model_argmax(const float *x, int n)
{
    float max = row_max(x, n);
    if (!(max > -INFINITY))
        return -1;
    for (int j = 0; j < n; j++)
        if (x[j] == max)
            return j;
    return -1;
}

float model_logsumexp(const float *x, int n)
{
    float max = row_max(x, n);
    if (!(max > -INFINITY))
        return -INFINITY;
#if defined(__x86_64__) && defined(__GNUC__)
    if (__builtin_cpu_supports("avx512f"))
        return logsumexp_avx512(x, n, max);
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return logsumexp_avx2(x, n, max);
#endif
    return logsumexp_portable(x, n, max);
}

void model_softmax_row_isa(float *row, int n, int width, enum model_simd_isa isa)
{
    if (n > 0) {
#if defined(__x86_64__) && defined(__GNUC__)
        if (isa == MODEL_SIMD_AVX512) {
            softmax_avx512(row, n, width);
            return;
        }
        if (isa == MODEL_SIMD_AVX2) {
            softmax_avx2(row, n, width);
            return;
        }
#endif
        softmax_portable(row, n);
    }
    int first = n > 0 ? n : 0;
    if (width > first)
        memset(row + first, 0, (size_t)(width - first) * sizeof(float));
}

enum model_simd_isa model_simd_best_isa(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
    if (__builtin_cpu_supports("avx512f"))
        return MODEL_SIMD_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return MODEL_SIMD_AVX2;
#endif
    return MODEL_SIMD_PORTABLE;
}

void model_softmax_row(float *row, int n, int width)
{
    model_softmax_row_isa(row, n, width, model_simd_best_isa());
}

SIMD_CLONES
void model_add_bias_relu(float *x, const float *bias, int rows, int cols)
{
    for (int r = 0; r < rows; r++) {
        float *row = x + (size_t)r * cols;
#pragma omp simd
        for (int j = 0; j < cols; j++) {
            float v = row[j] + bias[j];
            row[j] = v > 0.0f ? v : 0.0f;
        }
    }
}

void model_add_bias_gelu(float *x, const float *bias, int rows, int cols)
{
    for (int r = 0; r < rows; r++) {
        float *row = x + (size_t)r * cols;
        for (int j = 0; j < cols; j++) {
            float v = row[j] + bias[j];
            row[j] = 0.5f * v * (1.0f + erff(v * (float)M_SQRT1_2));
        }
    }
}

SIMD_CLONES
void model_relu(float *x, size_t n)
{
#pragma omp simd
    for (size_t i = 0; i < n; i++)
        x[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void model_gelu(float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] = 0.5f * x[i] * (1.0f + erff(x[i] * (float)M_SQRT1_2));
}

float model_sigmoid(float x)
{
    if (x >= 0.0f)
        return 1.0f / (1.0f + expf(-x));
    float e = expf(x);
    return e / (1.0f + e);
}
