/* The two-stage output heads: the top k ranked logits of
 * model_item_logits_top and model_category_logits_top against a
 * double-precision reference. The cases cover row counts around the 8-row
 * groups, item counts around the 16-item panels and the 1,024-item blocks,
 * k from 1 to 32, and hash buckets after the ranked items. */
#include "test_model_util.h"

#include <math.h>
#include <string.h>

#include "head_quant.h"

static int cpu_has_vnni(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vnni");
#else
    return 0;
#endif
}

static double reference_dot(const struct model *m, const float *h, int item)
{
    int d = m->config.d_model;
    const float *e = m->params.embedding + (size_t)(m->config.item_begin + item) * d;
    double dot = 0.0;

    for (int k = 0; k < d; k++)
        dot += (double)h[k] * e[k];
    return dot;
}

/* Checks one row. The stored top k equals the reference top k, the values
 * to float precision and the ids up to ties. Every stored logit is near its
 * reference, and lse is the reference log-sum-exp within the int8 error. */
static void check_row(const struct model *m, const float *h, const float *logits, float lse, const int *top, int k,
                      int n_ranked)
{
    int n_items = m->config.item_end - m->config.item_begin;
    double *ref = malloc(sizeof(double) * (size_t)n_items);
    double *stored = malloc(sizeof(double) * (size_t)n_items);
    int ref_top[32], got_top[32];
    assert_non_null(ref);
    assert_non_null(stored);

    double max = -INFINITY, sum = 0.0, spread = 0.0;
    for (int i = 0; i < n_items; i++) {
        ref[i] = reference_dot(m, h, i);
        stored[i] = logits[i];
        max = ref[i] > max ? ref[i] : max;
        spread = fabs(ref[i]) > spread ? fabs(ref[i]) : spread;
    }
    for (int i = 0; i < n_items; i++)
        sum += exp(ref[i] - max);

    int listed = k < n_ranked ? k : n_ranked;
    for (int j = listed; j < k; j++)
        assert_int_equal(top[j], -1);
    k = listed;
    test_top_indices(ref, n_ranked, k, ref_top);
    test_top_indices(stored, n_ranked, k, got_top);
    for (int j = 0; j < k; j++) {
        assert_true(top[j] >= 0 && top[j] < n_ranked);
        assert_true(stored[top[j]] == stored[got_top[j]]); /* the returned list is the stored order */
        double tolerance = 1e-5 * (1.0 + fabs(ref[ref_top[j]]));
        assert_true(fabs(stored[got_top[j]] - ref[ref_top[j]]) < tolerance);
        assert_true(fabs(ref[got_top[j]] - ref[ref_top[j]]) < tolerance);
    }
    for (int i = 0; i < n_items; i++)
        assert_true(fabs(stored[i] - ref[i]) < 0.05 * (1.0 + spread));
    assert_true(fabs((double)lse - (max + log(sum))) < 0.05);

    free(ref);
    free(stored);
}

/* Scores rows random rows of a random model with `vocab` tokens, and checks
 * each; returns the number of logits rescored in float. */
static long check_shape(int vocab, int rows, int k, int buckets)
{
    struct model_config c = test_config(vocab);
    struct model m;
    char error[MODEL_ERROR_SIZE];
    c.d_model = 64;
    c.n_heads = 1;
    c.d_ff = 128;
    test_random_model(&m, &c, (uint64_t)(vocab + rows + k));
    assert_int_equal(model_quant_heads_build(&m, error), 0);
    if (cpu_has_vnni())
        assert_non_null(m.item_quant); /* the int8 path is the one under test */

    int d = c.d_model, n_items = c.item_end - c.item_begin, n_ranked = n_items - buckets;
    float *pooled = malloc(sizeof(float) * (size_t)rows * d);
    float *logits = malloc(sizeof(float) * (size_t)rows * n_items);
    float *lse = malloc(sizeof(float) * (size_t)rows);
    assert_non_null(pooled);
    assert_non_null(logits);
    assert_non_null(lse);
    uint64_t state = (uint64_t)rows * 31 + (uint64_t)k;
    for (int i = 0; i < rows * d; i++)
        pooled[i] = 3.0f * test_uniform(&state);

    int *top = malloc(sizeof(int) * (size_t)rows * 32);
    assert_non_null(top);
    long rescored = model_item_logits_top(&m, pooled, rows, logits, lse, k, n_ranked, top);
    for (int r = 0; r < rows; r++)
        check_row(&m, pooled + (size_t)r * d, logits + (size_t)r * n_items, lse[r], top + (size_t)r * k, k, n_ranked);

    free(top);
    free(pooled);
    free(logits);
    free(lse);
    model_free(&m);
    return rescored;
}

static void top_k_matches_reference(void **state)
{
    (void)state;
    static const int vocabs[] = {10 + 5, 10 + 16, 10 + 33, 10 + 2500};
    static const int rows[] = {1, 8, 9, 17};
    static const int ks[] = {1, 10, 32};

    for (size_t v = 0; v < sizeof vocabs / sizeof vocabs[0]; v++)
        for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++)
            for (size_t j = 0; j < sizeof ks / sizeof ks[0]; j++)
                check_shape(vocabs[v], rows[r], ks[j], 0);
}

static void buckets_are_never_ranked(void **state)
{
    (void)state;
    /* 37 bucket items after the ranked ones: the top k is taken among the
     * ranked items only, and the buckets still count in lse. */
    check_shape(10 + 2500, 9, 10, 37);
    check_shape(10 + 40, 3, 10, 37);
}

static void few_items_rescored(void **state)
{
    (void)state;
    long rescored = check_shape(10 + 4000, 16, 10, 0);

    /* the point of stage one: far fewer float dot products than items */
    if (cpu_has_vnni())
        assert_true(rescored < 16L * 4000 / 10);
}

/* Identical item embeddings give every item the same logit, so every item
 * stays a candidate: the list overflows and stage two scans the whole row. */
static void equal_logits_scan_row(void **state)
{
    (void)state;
    struct model_config c = test_config(10 + 3000);
    struct model m;
    char error[MODEL_ERROR_SIZE];
    test_random_model(&m, &c, 8);
    int d = c.d_model, n_items = c.item_end - c.item_begin;
    for (int i = 1; i < n_items; i++)
        memcpy(m.params.embedding + (size_t)(c.item_begin + i) * d, m.params.embedding + (size_t)c.item_begin * d,
               (size_t)d * sizeof(float));
    assert_int_equal(model_quant_heads_build(&m, error), 0);

    float pooled[512], lse;
    float *logits = malloc(sizeof(float) * (size_t)n_items);
    int top[10];
    assert_non_null(logits);
    uint64_t rng = 3;
    for (int i = 0; i < d; i++)
        pooled[i] = test_uniform(&rng);

    long rescored = model_item_logits_top(&m, pooled, 1, logits, &lse, 10, n_items, top);
    double exact = reference_dot(&m, pooled, 0);
    if (m.item_quant)
        assert_int_equal(rescored, n_items);
    for (int j = 0; j < 10; j++) {
        assert_true(top[j] >= 0 && top[j] < n_items);
        assert_true(fabs(logits[top[j]] - exact) < 1e-5 * (1.0 + fabs(exact)));
    }
    assert_true(fabs(lse - (exact + log((double)n_items))) < 1e-3);
    free(logits);
    model_free(&m);
}

static void large_k_scores_in_float(void **state)
{
    (void)state;
    struct model_config c = test_config(10 + 300);
    struct model m;
    char error[MODEL_ERROR_SIZE];
    test_random_model(&m, &c, 5);
    assert_int_equal(model_quant_heads_build(&m, error), 0);

    int d = c.d_model, n_items = c.item_end - c.item_begin;
    float pooled[512], lse;
    float *logits = malloc(sizeof(float) * (size_t)n_items);
    assert_non_null(logits);
    uint64_t state_rng = 11;
    for (int i = 0; i < d; i++)
        pooled[i] = test_uniform(&state_rng);

    assert_int_equal(model_item_logits_top(&m, pooled, 1, logits, &lse, 33, n_items, NULL), n_items);
    for (int i = 0; i < n_items; i++)
        assert_true(fabs(logits[i] - reference_dot(&m, pooled, i)) < 1e-4);
    free(logits);
    model_free(&m);
}

/* The category head has a bias: stage one adds it to the int8 logits and
 * stage two to the float ones. */
static void category_head_with_bias(void **state)
{
    (void)state;
    struct model_config c = test_config(10 + 50);
    struct model m;
    char error[MODEL_ERROR_SIZE];
    c.n_categories = 700;
    test_random_model(&m, &c, 21);
    assert_int_equal(model_quant_heads_build(&m, error), 0);
    if (cpu_has_vnni())
        assert_non_null(m.category_quant);

    int d = c.d_model, n = c.n_categories, n_ranked = n - 20, rows = 9, k = 10;
    float *pooled = malloc(sizeof(float) * (size_t)rows * d);
    float *logits = malloc(sizeof(float) * (size_t)rows * n);
    double *ref = malloc(sizeof(double) * (size_t)n);
    float lse[9];
    assert_non_null(pooled);
    assert_non_null(logits);
    assert_non_null(ref);
    uint64_t rng = 5;
    for (int i = 0; i < rows * d; i++)
        pooled[i] = 2.0f * test_uniform(&rng);

    int top[9 * 10];
    model_category_logits_top(&m, pooled, rows, logits, lse, k, n_ranked, top);
    for (int r = 0; r < rows; r++) {
        double max = -INFINITY, sum = 0.0;
        for (int i = 0; i < n; i++) {
            ref[i] = m.params.category_bias[i];
            for (int j = 0; j < d; j++)
                ref[i] += (double)pooled[(size_t)r * d + j] * m.params.category_weight[(size_t)i * d + j];
            max = ref[i] > max ? ref[i] : max;
        }
        for (int i = 0; i < n; i++)
            sum += exp(ref[i] - max);
        int ref_top[32];
        test_top_indices(ref, n_ranked, k, ref_top);
        for (int j = 0; j < k; j++) {
            int got = top[r * k + j];
            assert_true(fabs(ref[got] - ref[ref_top[j]]) < 1e-5 * (1.0 + fabs(ref[ref_top[j]])));
            assert_true(fabs(logits[(size_t)r * n + got] - ref[got]) < 1e-5 * (1.0 + fabs(ref[got])));
        }
        assert_true(fabs((double)lse[r] - (max + log(sum))) < 0.05);
    }

    free(pooled);
    free(logits);
    free(ref);
    model_free(&m);
}

/* A model without a category head lists no category: lse 0, every top
 * index -1. */
static void empty_head_lists_nothing(void **state)
{
    (void)state;
    struct model_config c = test_config(10 + 40);
    struct model m;
    char error[MODEL_ERROR_SIZE];
    c.n_categories = 0;
    test_random_model(&m, &c, 6);
    assert_int_equal(model_quant_heads_build(&m, error), 0);
    assert_null(m.category_quant);

    float pooled[2 * 512] = {0}, lse[2] = {1.0f, 1.0f};
    int top[2 * 5];
    memset(top, 0, sizeof top);
    assert_int_equal(model_category_logits_top(&m, pooled, 2, NULL, lse, 5, 0, top), 0);
    for (int r = 0; r < 2; r++)
        assert_true(lse[r] == 0.0f);
    for (int i = 0; i < 2 * 5; i++)
        assert_int_equal(top[i], -1);
    model_free(&m);
}

static void quant_freed_with_model(void **state)
{
    (void)state;
    struct model_config c = test_config(10 + 100);
    struct model m;
    char error[MODEL_ERROR_SIZE];
    test_random_model(&m, &c, 3);

    assert_int_equal(model_quant_heads_build(&m, error), 0);
    assert_int_equal(model_quant_heads_build(&m, error), 0); /* a rebuild replaces the copy */
    model_free(&m);
    assert_null(m.item_quant);
    assert_null(m.category_quant);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(top_k_matches_reference),
        cmocka_unit_test(buckets_are_never_ranked),
        cmocka_unit_test(few_items_rescored),
        cmocka_unit_test(equal_logits_scan_row),
        cmocka_unit_test(large_k_scores_in_float),
        cmocka_unit_test(category_head_with_bias),
        cmocka_unit_test(empty_head_lists_nothing),
        cmocka_unit_test(quant_freed_with_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
