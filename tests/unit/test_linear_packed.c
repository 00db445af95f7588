/* Packed layer projections: model_layer_linear against a double-precision
 * reference for the shapes of the layers and odd ones, row results that do
 * not depend on the batch, and whole encoders with and without packing. */
#include "test_model_util.h"

#include <math.h>

#include "encoder.h"
#include "linear_packed.h"

static int cpu_has_avx512(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
    return __builtin_cpu_supports("avx512f");
#else
    return 0;
#endif
}

/* A model with one encoder layer of width d and feed-forward ff, packed. */
static void packed_model(struct model *m, int d, int ff, uint64_t seed)
{
    struct model_config c = test_config(10 + 50);
    char error[MODEL_ERROR_SIZE];
    c.d_model = d;
    c.n_heads = 1;
    c.d_ff = ff;
    c.n_encoder_layers = 1;
    c.n_decoder_layers = 1;
    test_random_model(m, &c, seed);
    assert_int_equal(model_linears_pack(m, error), 0);
    if (cpu_has_avx512())
        assert_int_equal(m->n_linears, 8); /* encoder: 4 projections; decoder self-attention and FFN: 4 */
}

/* Checks y = x w^T + b (+ y0 when accumulate) for M rows against doubles. */
static void check_linear(const struct model *m, const float *w, const float *b, int M, int N, int K, int accumulate)
{
    float *x = malloc(sizeof(float) * (size_t)M * K);
    float *y = malloc(sizeof(float) * (size_t)M * N);
    float *y0 = malloc(sizeof(float) * (size_t)M * N);
    assert_non_null(x);
    assert_non_null(y);
    assert_non_null(y0);
    uint64_t state = (uint64_t)(M * 131 + N * 7 + K);
    for (int i = 0; i < M * K; i++)
        x[i] = test_uniform(&state);
    for (int i = 0; i < M * N; i++)
        y[i] = y0[i] = test_uniform(&state);

    model_layer_linear(m, y, x, w, b, M, N, K, accumulate);
    for (int r = 0; r < M; r++)
        for (int o = 0; o < N; o++) {
            double ref = (b ? b[o] : 0.0) + (accumulate ? y0[(size_t)r * N + o] : 0.0);
            for (int k = 0; k < K; k++)
                ref += (double)x[(size_t)r * K + k] * w[(size_t)o * K + k];
            assert_true(fabs(y[(size_t)r * N + o] - ref) < 1e-4 * (1.0 + fabs(ref)));
        }
    free(x);
    free(y);
    free(y0);
}

static void projections_match_reference(void **state)
{
    (void)state;
    static const int rows[] = {1, 7, 8, 9, 17};
    struct model m;
    packed_model(&m, 64, 256, 3);
    const struct model_encoder_layer_params *p = &m.params.encoder[0];

    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        check_linear(&m, p->self_attn.in_proj_weight, p->self_attn.in_proj_bias, rows[i], 192, 64, 0);
        check_linear(&m, p->self_attn.out_proj_weight, p->self_attn.out_proj_bias, rows[i], 64, 64, 1);
        check_linear(&m, p->linear1_weight, NULL, rows[i], 256, 64, 0);
        check_linear(&m, p->linear2_weight, p->linear2_bias, rows[i], 64, 256, 1);
    }
    model_free(&m);
}

static void odd_widths_match_reference(void **state)
{
    (void)state;
    /* d 24: 72 in_proj outputs, a partial last panel and an odd panel count;
     * ff 40: 3 panels. */
    struct model m;
    packed_model(&m, 24, 40, 5);
    const struct model_encoder_layer_params *p = &m.params.encoder[0];

    check_linear(&m, p->self_attn.in_proj_weight, p->self_attn.in_proj_bias, 9, 72, 24, 0);
    check_linear(&m, p->self_attn.out_proj_weight, p->self_attn.out_proj_bias, 3, 24, 24, 1);
    check_linear(&m, p->linear1_weight, NULL, 11, 40, 24, 0);
    check_linear(&m, p->linear2_weight, p->linear2_bias, 5, 24, 40, 1);
    model_free(&m);
}

static void row_result_independent_of_batch(void **state)
{
    (void)state;
    struct model m;
    packed_model(&m, 64, 256, 9);
    const float *w = m.params.encoder[0].linear1_weight;
    float x[13 * 64], alone[256], batch[13 * 256];
    uint64_t rng = 17;
    for (int i = 0; i < 13 * 64; i++)
        x[i] = test_uniform(&rng);

    model_layer_linear(&m, batch, x, w, NULL, 13, 256, 64, 0);
    for (int r = 0; r < 13; r++) {
        model_layer_linear(&m, alone, x + r * 64, w, NULL, 1, 256, 64, 0);
        assert_memory_equal(alone, batch + r * 256, sizeof alone);
    }
    model_free(&m);
}

static void encoder_matches_unpacked(void **state)
{
    (void)state;
    struct model packed, plain;
    char error[MODEL_ERROR_SIZE];
    struct model_arena arena = {0};
    int tokens[2 * 12], lengths[2] = {12, 7};
    float pooled_packed[2 * 64], pooled_plain[2 * 64];

    packed_model(&packed, 64, 256, 21);
    packed_model(&plain, 64, 256, 21);
    model_linears_free(&plain);
    for (int i = 0; i < 2 * 12; i++)
        tokens[i] = 10 + (i * 7) % 50;

    assert_int_equal(model_encode(&packed, &arena, tokens, lengths, 2, 12, NULL, pooled_packed, error), 0);
    assert_int_equal(model_encode(&plain, &arena, tokens, lengths, 2, 12, NULL, pooled_plain, error), 0);
    assert_true(test_max_diff(pooled_packed, pooled_plain, 2 * 64) < 1e-4);
    model_arena_free(&arena);
    model_free(&packed);
    model_free(&plain);
}

static void deepest_model_packs(void **state)
{
    (void)state;
    struct model_config c = test_config(10 + 20);
    struct model m;
    char error[MODEL_ERROR_SIZE];
    c.d_model = 16;
    c.n_heads = 1;
    c.d_ff = 32;
    c.n_encoder_layers = MODEL_MAX_LAYERS;
    c.n_decoder_layers = MODEL_MAX_LAYERS;
    test_random_model(&m, &c, 4);

    assert_int_equal(model_linears_pack(&m, error), 0);
    if (cpu_has_avx512())
        assert_int_equal(m.n_linears, 8 * MODEL_MAX_LAYERS);
    const struct model_decoder_layer_params *last = &m.params.decoder[MODEL_MAX_LAYERS - 1];
    check_linear(&m, last->linear2_weight, last->linear2_bias, 3, 16, 32, 0);
    model_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(projections_match_reference),
        cmocka_unit_test(odd_widths_match_reference),
        cmocka_unit_test(row_result_independent_of_batch),
        cmocka_unit_test(encoder_matches_unpacked),
        cmocka_unit_test(deepest_model_packs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
