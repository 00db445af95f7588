/* Forward kernels against plain-loop references and their numeric edge cases. */
#include "test_model_util.h"

#include "kernels.h"
#include "kernels_simd.h"

static void fill(float *x, size_t n, uint64_t seed)
{
    uint64_t state = seed;
    for (size_t i = 0; i < n; i++)
        x[i] = test_uniform(&state);
}

static void sgemm_matches_naive(void **state)
{
    (void)state;
    /* Every transpose combination, odd sizes, leading dimensions wider than the rows. */
    enum { M = 37, N = 29, K = 43, LD = 50 };
    static float a[LD * LD], b[LD * LD], c[LD * LD], ref[LD * LD];
    fill(a, LD * LD, 1);
    fill(b, LD * LD, 2);

    for (int ta = 0; ta < 2; ta++) {
        for (int tb = 0; tb < 2; tb++) {
            fill(c, LD * LD, 3);
            memcpy(ref, c, sizeof c);
            model_sgemm(ta, tb, M, N, K, 0.5f, a, LD, b, LD, 0.25f, c, LD);
            model_sgemm_naive(ta, tb, M, N, K, 0.5f, a, LD, b, LD, 0.25f, ref, LD);
            assert_true(test_max_diff(c, ref, LD * LD) < 1e-5);
        }
    }
}

static void linear_adds_bias_and_residual(void **state)
{
    (void)state;
    enum { M = 5, N = 7, K = 3 };
    float x[M * K], w[N * K], bias[N], y[M * N], expected[M * N];
    fill(x, M * K, 4);
    fill(w, N * K, 5);
    fill(bias, N, 6);
    fill(y, M * N, 7);

    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double acc = y[i * N + j] + bias[j];
            for (int p = 0; p < K; p++)
                acc += (double)x[i * K + p] * w[j * K + p];
            expected[i * N + j] = (float)acc;
        }
    model_linear(y, x, w, bias, M, N, K, 1);
    assert_true(test_max_diff(y, expected, M * N) < 1e-5);
}

/* A block-diagonal product against model_linear on the same weights with
 * the zero blocks written out: 3 towers, one part (out_proj, FFN) and three
 * (in_proj), with and without bias and accumulation, at 1 and 7 rows. */
static void linear_blocks_match_dense(void **state)
{
    (void)state;
    enum { TOWERS = 3, KB = 4, MAX_ROWS = 7, K = TOWERS * KB };
    static const int parts_cases[] = {1, 3};

    for (int c = 0; c < 2; c++) {
        int parts = parts_cases[c], n_block = 5, N = parts * TOWERS * n_block;
        float w[3 * TOWERS * 5 * K], b[3 * TOWERS * 5], x[MAX_ROWS * K];
        float dense[MAX_ROWS * 3 * TOWERS * 5], blocks[MAX_ROWS * 3 * TOWERS * 5];

        fill(w, (size_t)N * K, 11 + (uint64_t)c);
        fill(b, (size_t)N, 12);
        fill(x, (size_t)MAX_ROWS * K, 13);
        for (int r = 0; r < N; r++)
            for (int k = 0; k < K; k++)
                if ((r / n_block) % TOWERS != k / KB)
                    w[r * K + k] = 0.0f;
        for (int M = 1; M <= MAX_ROWS; M += MAX_ROWS - 1) {
            for (int accumulate = 0; accumulate <= 1; accumulate++) {
                for (int with_bias = 0; with_bias <= 1; with_bias++) {
                    fill(dense, (size_t)M * N, 14);
                    memcpy(blocks, dense, (size_t)M * N * sizeof(float));
                    model_linear(dense, x, w, with_bias ? b : NULL, M, N, K, accumulate);
                    model_linear_blocks(blocks, x, w, with_bias ? b : NULL, M, N, K, TOWERS, parts, accumulate);
                    assert_true(test_max_diff(dense, blocks, (size_t)M * N) < 1e-5);
                }
            }
        }
    }
}

static void layernorm_constant_row_is_beta(void **state)
{
    (void)state;
    enum { D = 64 };
    float x[D], y[D], gamma[D], beta[D];
    fill(gamma, D, 8);
    fill(beta, D, 9);
    for (int i = 0; i < D; i++)
        x[i] = 0.1f; /* 0.1 is not exact in binary, so a float mean would round */

    model_layernorm(y, x, gamma, beta, 1, D, 1e-5f, NULL, NULL);
    for (int i = 0; i < D; i++)
        assert_true(y[i] == beta[i]);
}

static void layernorm_matches_definition(void **state)
{
    (void)state;
    enum { D = 24 };
    float x[2 * D], y[2 * D], gamma[D], beta[D], mean[2], rstd[2];
    fill(x, 2 * D, 10);
    fill(gamma, D, 11);
    fill(beta, D, 12);
    x[D] = 1e4f; /* a large outlier in row 1 */

    model_layernorm(y, x, gamma, beta, 2, D, 1e-5f, mean, rstd);
    for (int r = 0; r < 2; r++) {
        double m = 0, v = 0;
        for (int i = 0; i < D; i++)
            m += x[r * D + i];
        m /= D;
        for (int i = 0; i < D; i++)
            v += (x[r * D + i] - m) * (x[r * D + i] - m);
        v /= D;
        assert_true(fabs(mean[r] - m) < 1e-3);
        for (int i = 0; i < D; i++) {
            double expected = (x[r * D + i] - m) / sqrt(v + 1e-5) * gamma[i] + beta[i];
            assert_true(fabs(y[r * D + i] - expected) < 1e-4);
        }
    }
}

static void softmax_survives_huge_logits(void **state)
{
    (void)state;
    /* Without subtracting the max, exp(3e38) overflows to inf and the row becomes NaN. */
    float row[4] = {3.0e38f, 3.0e38f, -3.0e38f, 1.0f};
    model_softmax_row(row, 4, 4);
    assert_true(fabsf(row[0] - 0.5f) < 1e-6f);
    assert_true(fabsf(row[1] - 0.5f) < 1e-6f);
    assert_true(row[2] == 0.0f);
    assert_true(row[3] == 0.0f);
}

static void logsumexp_near_overflow(void **state)
{
    (void)state;
    /* Logits near FLT_MAX: a naive log(sum(exp(x))) overflows to inf. */
    float logits[5] = {3.0e38f, 3.0e38f, -INFINITY, -3.0e38f, 0.0f};
    float lse = model_logsumexp(logits, 5);
    assert_true(isfinite(lse));
    assert_true(fabs((double)lse - 3.0e38) < 1e32);
    assert_int_equal(model_argmax(logits, 5), 0);

    float masked[3] = {-INFINITY, -INFINITY, -INFINITY};
    assert_true(model_logsumexp(masked, 3) == -INFINITY);
    assert_int_equal(model_argmax(masked, 3), -1);

    /* A long row exercises the vector path and its masked tail. */
    float row[37];
    double expected = 0.0;
    for (int i = 0; i < 37; i++) {
        row[i] = 0.25f * (float)(i % 11) - 1.0f;
        expected += exp((double)row[i]);
    }
    assert_true(fabs(model_logsumexp(row, 37) - log(expected)) < 1e-5);
}

/* Long rows (the item head's size class) with lengths around the 32-float
 * unrolled loop and the 16-lane tail, against a double-precision sum. */
static void logsumexp_long_rows_match_reference(void **state)
{
    (void)state;
    int lengths[] = {1, 15, 16, 17, 31, 32, 33, 47, 100, 12397};
    static float row[12397];

    for (size_t t = 0; t < sizeof lengths / sizeof lengths[0]; t++) {
        int n = lengths[t];
        double max = -INFINITY, sum = 0.0;
        for (int i = 0; i < n; i++) {
            row[i] = i % 13 == 5 ? -INFINITY : 0.37f * (float)((i * 7919) % 29) - 4.0f;
            max = row[i] > max ? row[i] : max;
        }
        for (int i = 0; i < n; i++)
            sum += exp((double)row[i] - max);
        assert_true(fabs(model_logsumexp(row, n) - (log(sum) + max)) < 1e-4);
    }
}

/* The first entry above a threshold, against a plain loop, at every offset
 * of a 16-lane block and in the scalar tail. */
static void find_above_matches_loop(void **state)
{
    (void)state;
    float x[70];

    for (int i = 0; i < 70; i++)
        x[i] = (float)((i * 37) % 70);
    x[3] = NAN;
    for (int n = 0; n <= 70; n++) {
        for (float threshold = -1.0f; threshold <= 70.0f; threshold += 7.5f) {
            int expected = n;
            for (int i = 0; i < n; i++)
                if (x[i] > threshold) {
                    expected = i;
                    break;
                }
            assert_int_equal(model_find_above(x, n, threshold), expected);
        }
    }
}

/* Every variant this CPU can run, against a double-precision softmax, for
 * lengths around the 8- and 16-lane boundaries. */
static void softmax_variants_match_reference(void **state)
{
    (void)state;
    enum { WIDTH = 37 };
    static const int lengths[] = {1, 7, 8, 9, 15, 16, 17, 31, 33, 37};
    uint64_t rng = 17;

    for (int isa = MODEL_SIMD_PORTABLE; isa <= (int)model_simd_best_isa(); isa++) {
        for (size_t c = 0; c < sizeof lengths / sizeof lengths[0]; c++) {
            int n = lengths[c];
            float row[WIDTH];
            double expected[WIDTH], max = -INFINITY, sum = 0.0;
            for (int j = 0; j < WIDTH; j++)
                row[j] = 8.0f * test_uniform(&rng);
            for (int j = 0; j < n; j++)
                max = row[j] > max ? row[j] : max;
            for (int j = 0; j < n; j++)
                sum += exp(row[j] - max);
            for (int j = 0; j < WIDTH; j++)
                expected[j] = j < n ? exp(row[j] - max) / sum : 0.0;

            model_softmax_row_isa(row, n, WIDTH, (enum model_simd_isa)isa);
            for (int j = 0; j < WIDTH; j++)
                assert_true(fabs(row[j] - expected[j]) < 1e-6);
        }
    }
}

static void softmax_all_masked_is_zero(void **state)
{
    (void)state;
    float row[3] = {1.0f, NAN, 2.0f};
    model_softmax_row(row, 0, 3);
    for (int i = 0; i < 3; i++)
        assert_true(row[i] == 0.0f);
}

static void attention_all_masked_row_is_zero(void **state)
{
    (void)state;
    enum { T = 3, D = 4, H = 2 };
    float qkv[T * 3 * D], out[T * D], probs[H * T * T];
    fill(qkv, T * 3 * D, 13);
    struct model_attention_args args = {.tq = T, .tk = T, .n_heads = H, .d_head = D / H, .key_len = 0};

    model_attention(&args, qkv, 3 * D, qkv + D, qkv + 2 * D, 3 * D, out, D, probs);
    for (int i = 0; i < T * D; i++)
        assert_true(out[i] == 0.0f);
}

static void attention_matches_naive(void **state)
{
    (void)state;
    enum { T = 6, D = 8, H = 2, DH = D / H };
    float q[T * D], k[T * D], v[T * D], out[T * D], probs[H * T * T];
    fill(q, T * D, 14);
    fill(k, T * D, 15);
    fill(v, T * D, 16);
    struct model_attention_args args = {.tq = T, .tk = T, .n_heads = H, .d_head = DH, .key_len = 4, .causal = 1};

    model_attention(&args, q, D, k, v, D, out, D, probs);
    for (int h = 0; h < H; h++) {
        for (int i = 0; i < T; i++) {
            int visible = i + 1 < 4 ? i + 1 : 4;
            double s[T], max = -INFINITY, sum = 0;
            for (int j = 0; j < visible; j++) {
                s[j] = 0;
                for (int c = 0; c < DH; c++)
                    s[j] += (double)q[i * D + h * DH + c] * k[j * D + h * DH + c];
                s[j] /= sqrt(DH);
                max = s[j] > max ? s[j] : max;
            }
            for (int j = 0; j < visible; j++)
                sum += exp(s[j] - max);
            for (int c = 0; c < DH; c++) {
                double o = 0;
                for (int j = 0; j < visible; j++)
                    o += exp(s[j] - max) / sum * v[j * D + h * DH + c];
                assert_true(fabs(out[i * D + h * DH + c] - o) < 1e-5);
            }
        }
    }
}

static void gelu_and_relu_match_definitions(void **state)
{
    (void)state;
    float x[5] = {-3.0f, -0.5f, 0.0f, 0.5f, 3.0f}, g[5], r[5];
    memcpy(g, x, sizeof x);
    memcpy(r, x, sizeof x);
    model_gelu(g, 5);
    model_relu(r, 5);
    for (int i = 0; i < 5; i++) {
        double expected = 0.5 * x[i] * (1.0 + erf(x[i] / sqrt(2.0)));
        assert_true(fabs(g[i] - expected) < 1e-6);
        assert_true(r[i] == (x[i] > 0 ? x[i] : 0.0f));
    }
}

static void sigmoid_saturates_without_nan(void **state)
{
    (void)state;
    assert_true(model_sigmoid(1e30f) == 1.0f);
    assert_true(model_sigmoid(-1e30f) == 0.0f);
    assert_true(fabsf(model_sigmoid(0.0f) - 0.5f) < 1e-7f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sgemm_matches_naive),
        cmocka_unit_test(linear_adds_bias_and_residual),
        cmocka_unit_test(linear_blocks_match_dense),
        cmocka_unit_test(layernorm_constant_row_is_beta),
        cmocka_unit_test(layernorm_matches_definition),
        cmocka_unit_test(softmax_survives_huge_logits),
        cmocka_unit_test(logsumexp_near_overflow),
        cmocka_unit_test(logsumexp_long_rows_match_reference),
        cmocka_unit_test(find_above_matches_loop),
        cmocka_unit_test(softmax_all_masked_is_zero),
        cmocka_unit_test(softmax_variants_match_reference),
        cmocka_unit_test(attention_all_masked_row_is_zero),
        cmocka_unit_test(attention_matches_naive),
        cmocka_unit_test(gelu_and_relu_match_definitions),
        cmocka_unit_test(sigmoid_saturates_without_nan),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
