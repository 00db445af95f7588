/* Item logits and their log-sum-exp from the packed item panels, against a
 * double-precision reference, for row counts around the 8-row groups and
 * item counts around the 16-item panels and the cache blocks. */
#include "test_model_util.h"

#include <math.h>

#include "item_scorer.h"

struct reference {
    float *logits;
    double *lse;
};

static struct reference reference_logits(const struct model *m, const float *pooled, int rows)
{
    int d = m->config.d_model, n_items = m->config.item_end - m->config.item_begin;
    const float *embedding = m->params.embedding + (size_t)m->config.item_begin * d;
    struct reference ref = {malloc(sizeof(float) * (size_t)rows * n_items), malloc(sizeof(double) * (size_t)rows)};
    assert_non_null(ref.logits);
    assert_non_null(ref.lse);

    for (int r = 0; r < rows; r++) {
        double max = -INFINITY, sum = 0.0;
        for (int i = 0; i < n_items; i++) {
            double dot = 0.0;
            for (int k = 0; k < d; k++)
                dot += (double)pooled[(size_t)r * d + k] * embedding[(size_t)i * d + k];
            ref.logits[(size_t)r * n_items + i] = (float)dot;
            max = dot > max ? dot : max;
        }
        for (int i = 0; i < n_items; i++)
            sum += exp((double)ref.logits[(size_t)r * n_items + i] - max);
        ref.lse[r] = max + log(sum);
    }
    return ref;
}

/* Runs model_item_logits on a random model of vocab tokens and width d
 * against the reference, with the packed panels when packed is 1. */
static void check_shape(int vocab, int d, int rows, int packed)
{
    struct model_config c = test_config(vocab);
    struct model m;
    char error[MODEL_ERROR_SIZE];
    c.d_model = d;
    c.n_heads = 1;
    c.d_ff = 2 * d;
    test_random_model(&m, &c, (uint64_t)(vocab + d + rows));
    if (packed) {
        assert_int_equal(model_item_panels_build(&m, error), 0);
#if defined(__x86_64__) && defined(__GNUC__)
        if (__builtin_cpu_supports("avx512f"))
            assert_non_null(m.item_panels); /* the AVX-512 path is the one under test */
#endif
    }

    int n_items = c.item_end - c.item_begin;
    float *pooled = malloc(sizeof(float) * (size_t)rows * d);
    float *logits = malloc(sizeof(float) * (size_t)rows * n_items);
    float *lse = malloc(sizeof(float) * (size_t)rows);
    assert_non_null(pooled);
    assert_non_null(logits);
    assert_non_null(lse);
    uint64_t state = (uint64_t)rows * 31 + 7;
    for (int i = 0; i < rows * d; i++)
        pooled[i] = 3.0f * test_uniform(&state);

    model_item_logits(&m, pooled, rows, logits, lse);
    struct reference ref = reference_logits(&m, pooled, rows);

    assert_true(test_max_diff(logits, ref.logits, (size_t)rows * n_items) < 1e-4);
    for (int r = 0; r < rows; r++)
        assert_true(fabs((double)lse[r] - ref.lse[r]) < 1e-4 * (1.0 + fabs(ref.lse[r])));

    free(ref.logits);
    free(ref.lse);
    free(pooled);
    free(logits);
    free(lse);
    model_free(&m);
}

static void packed_matches_reference(void **state)
{
    (void)state;
    /* Items: one partial panel, exactly one panel, more than one 256 KB
     * block at d 64 (1,024 items per block) with a partial last panel. */
    static const int vocabs[] = {10 + 5, 10 + 16, 10 + 2500};
    static const int rows[] = {1, 7, 8, 9, 17};

    for (size_t v = 0; v < sizeof vocabs / sizeof vocabs[0]; v++)
        for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++)
            check_shape(vocabs[v], 64, rows[r], 1);
}

static void odd_width_matches_reference(void **state)
{
    (void)state;
    check_shape(10 + 1000, 24, 9, 1);
}

static void sgemm_path_matches_reference(void **state)
{
    (void)state;
    check_shape(10 + 2500, 64, 9, 0);
}

static void panels_freed_with_model(void **state)
{
    (void)state;
    struct model_config c = test_config(10 + 100);
    struct model m;
    char error[MODEL_ERROR_SIZE];
    test_random_model(&m, &c, 3);

    assert_int_equal(model_item_panels_build(&m, error), 0);
    assert_int_equal(model_item_panels_build(&m, error), 0); /* a rebuild replaces the copy */
    model_free(&m);
    assert_null(m.item_panels);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(packed_matches_reference),
        cmocka_unit_test(odd_width_matches_reference),
        cmocka_unit_test(sgemm_path_matches_reference),
        cmocka_unit_test(panels_freed_with_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
