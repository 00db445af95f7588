/*
 * Item-graph smoothing (train_item_graph.h): neighbours and weights come
 * from the training parts only, the smoothed rows follow the formula, and
 * the gradient map is the exact adjoint of the smoothing.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "model.h"
#include "train_data.h"
#include "train_item_graph.h"
#include "train_smooth.h"
#include "../support/split_fixture.h"

enum { N_ITEMS = SPLIT_FIXTURE_ITEMS, D = 3 };

static float neighbor_weight(const struct train_item_graph *g, int i, int j)
{
    for (long k = g->offsets[i]; k < g->offsets[i + 1]; k++)
        if (g->neighbor[k] == j)
            return g->weight[k];
    return 0.0f;
}

static void fill(float *x, size_t n, uint64_t seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        x[i] = (float)((seed >> 40) & 0xFFFF) / 32768.0f - 1.0f;
    }
}

static void neighbours_come_from_training_parts(void **state)
{
    (void)state;
    struct train_sequences data;
    struct train_item_graph g;
    struct train_item_graph_config c = {.window = 1, .max_neighbors = 0, .alpha = 1.0f, .shrink = 1.0f};
    float embedding[(N_ITEMS + 1) * D] = {0};
    char error[MODEL_ERROR_SIZE];

    make_split_fixture(&data);
    assert_int_equal(train_item_graph_init(&g, &data, &c, embedding, D, error), 0);

    /* item 1 (count 1) sits next to 2 once: beta 1 / (1 + 1), all on item 2 */
    assert_float_equal(neighbor_weight(&g, 1, 2), 0.5f, 1e-6);
    assert_float_equal(g.self[1], 0.5f, 1e-6);
    /* item 2 (count 3): neighbours 1, 2, 2, 3, 3 (two users) -> shares 1/5, 2/5, 2/5, beta 1/4 */
    assert_float_equal(neighbor_weight(&g, 2, 1), 0.25f * 0.2f, 1e-6);
    assert_float_equal(neighbor_weight(&g, 2, 2), 0.25f * 0.4f, 1e-6);
    assert_float_equal(neighbor_weight(&g, 2, 3), 0.25f * 0.4f, 1e-6);
    /* held-out places add nothing: items 5 and 6 have no neighbours, and none has them */
    assert_true(g.offsets[5] == g.offsets[6]);
    assert_true(g.offsets[6] == g.offsets[7]);
    assert_true(g.self[5] == 1.0f);
    assert_true(g.self[6] == 1.0f);
    for (int i = 1; i <= N_ITEMS; i++) {
        assert_true(neighbor_weight(&g, i, 5) == 0.0f);
        assert_true(neighbor_weight(&g, i, 6) == 0.0f);
    }

    train_item_graph_free(&g);
    train_sequences_free(&data);
}

/* With max_neighbors 1 only the most frequent neighbour stays, and it takes
 * the whole beta; a tie goes to the smaller item id. */
static void cap_keeps_most_frequent(void **state)
{
    (void)state;
    struct train_sequences data;
    struct train_item_graph g;
    struct train_item_graph_config c = {.window = 1, .max_neighbors = 1, .alpha = 1.0f, .shrink = 1.0f};
    float embedding[(N_ITEMS + 1) * D] = {0};
    char error[MODEL_ERROR_SIZE];

    make_split_fixture(&data);
    assert_int_equal(train_item_graph_init(&g, &data, &c, embedding, D, error), 0);

    assert_int_equal(g.offsets[3] - g.offsets[2], 1);
    assert_float_equal(neighbor_weight(&g, 2, 2), 0.25f, 1e-6);
    /* item 4 (count 5): neighbours 3, 4 x6, 3 -> item 4 */
    assert_float_equal(neighbor_weight(&g, 4, 4), 1.0f / 6.0f, 1e-6);

    train_item_graph_free(&g);
    train_sequences_free(&data);
}

static void rows_follow_formula(void **state)
{
    (void)state;
    struct train_sequences data;
    struct train_item_graph g;
    struct train_item_graph_config c = {.window = 2, .max_neighbors = 0, .alpha = 0.7f, .shrink = 3.0f};
    float own[(N_ITEMS + 1) * D], embedding[(N_ITEMS + 1) * D];
    char error[MODEL_ERROR_SIZE];

    make_split_fixture(&data);
    fill(own, sizeof own / sizeof own[0], 1);
    memcpy(embedding, own, sizeof own);
    assert_int_equal(train_item_graph_init(&g, &data, &c, embedding, D, error), 0);
    assert_memory_equal(g.own, own, sizeof own);

    for (int i = 0; i <= N_ITEMS; i++)
        for (int x = 0; x < D; x++) {
            double expected = (double)g.self[i] * own[i * D + x];
            for (int j = 1; i > 0 && j <= N_ITEMS; j++)
                expected += neighbor_weight(&g, i, j) * own[j * D + x];
            assert_float_equal(embedding[i * D + x], expected, 1e-5);
        }

    train_item_graph_load_own(&g, embedding);
    assert_memory_equal(embedding, own, sizeof own);

    train_item_graph_free(&g);
    train_sequences_free(&data);
}

/* The smoothing is linear, rows = S own, so the gradient map must satisfy
 * <G, S x> = <S^T G, x> for any G and x. */
static void backward_is_adjoint(void **state)
{
    (void)state;
    struct train_sequences data;
    struct train_item_graph g;
    struct train_item_graph_config c = {.window = 2, .max_neighbors = 2, .alpha = 0.9f, .shrink = 2.0f};
    float x[(N_ITEMS + 1) * D], sx[(N_ITEMS + 1) * D], grad[(N_ITEMS + 1) * D];
    char error[MODEL_ERROR_SIZE];
    size_t n = sizeof x / sizeof x[0];

    make_split_fixture(&data);
    fill(x, n, 2);
    memcpy(sx, x, sizeof x);
    assert_int_equal(train_item_graph_init(&g, &data, &c, sx, D, error), 0);
    fill(grad, n, 3);
    double forward = 0.0, adjoint = 0.0;
    for (size_t k = 0; k < n; k++)
        forward += (double)grad[k] * sx[k];

    train_item_graph_backward(&g, grad);
    for (size_t k = 0; k < n; k++)
        adjoint += (double)grad[k] * x[k];
    assert_true(fabs(forward - adjoint) < 1e-5);
    assert_true(fabs(forward) > 1e-3);

    train_item_graph_free(&g);
    train_sequences_free(&data);
}

/* Each row is summed in one order by whichever thread owns it, so any
 * thread count gives the same bits. */
static void threads_give_same_rows(void **state)
{
    (void)state;
    struct train_sequences data;
    struct train_item_graph g;
    struct train_item_graph_config c = {.window = 2, .max_neighbors = 0, .alpha = 0.6f, .shrink = 2.0f};
    float one[(N_ITEMS + 1) * D], three[(N_ITEMS + 1) * D], grad_one[(N_ITEMS + 1) * D], grad_three[(N_ITEMS + 1) * D];
    char error[MODEL_ERROR_SIZE];
    size_t n = sizeof one / sizeof one[0];

    make_split_fixture(&data);
    fill(one, n, 4);
    assert_int_equal(train_item_graph_init(&g, &data, &c, one, D, error), 0);
    memcpy(three, g.own, sizeof three);
    fill(grad_one, n, 5);
    memcpy(grad_three, grad_one, sizeof grad_one);

    train_item_graph_backward(&g, grad_one);
    g.threads = 3;
    train_item_graph_compose(&g, three);
    train_item_graph_backward(&g, grad_three);
    assert_memory_equal(three, one, sizeof one);
    assert_memory_equal(grad_three, grad_one, sizeof grad_one);

    train_item_graph_free(&g);
    train_sequences_free(&data);
}

/* A bad value would poison every row (NaN) or divide by zero for items
 * seen once, so the graph refuses it and names it. */
static void invalid_configs_rejected(void **state)
{
    (void)state;
    struct train_sequences data;
    struct train_item_graph g;
    float embedding[(N_ITEMS + 1) * D] = {0};
    char error[MODEL_ERROR_SIZE];
    const struct train_item_graph_config bad[] = {
        {.window = 0, .alpha = 0.5f, .shrink = 1.0f},
        {.window = 1, .max_neighbors = -1, .alpha = 0.5f, .shrink = 1.0f},
        {.window = 1, .alpha = NAN, .shrink = 1.0f},
        {.window = 1, .alpha = 1.5f, .shrink = 1.0f},
        {.window = 1, .alpha = 0.0f, .shrink = 1.0f},
        {.window = 1, .alpha = 0.5f, .shrink = -1.0f},
        {.window = 1, .alpha = 0.5f, .shrink = INFINITY},
    };

    make_split_fixture(&data);
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        error[0] = '\0';
        assert_int_equal(train_item_graph_init(&g, &data, &bad[k], embedding, D, error), -1);
        assert_non_null(strstr(error, "invalid item graph"));
    }
    struct train_smooth_config choices = {.n_windows = 1, .windows = {2}, .n_shrinks = 1, .shrinks = {30.0f},
                                          .n_alphas = 2, .alphas = {0.5f, 2.0f}};
    assert_int_equal(train_smooth_check(&choices, error), -1);
    assert_non_null(strstr(error, "alpha 2"));
    choices.alphas[1] = 1.0f;
    assert_int_equal(train_smooth_check(&choices, error), 0);

    train_sequences_free(&data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(neighbours_come_from_training_parts),
        cmocka_unit_test(cap_keeps_most_frequent),
        cmocka_unit_test(rows_follow_formula),
        cmocka_unit_test(backward_is_adjoint),
        cmocka_unit_test(threads_give_same_rows),
        cmocka_unit_test(invalid_configs_rejected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
