/*
 * Shared item-feature vectors (train_item_features.h): items are binned by
 * training count and by the share of their late occurrences, and one update
 * moves every item row of a bin by the Adam step of the bin's summed
 * gradient.
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
#include "train_item_features.h"
#include "../support/split_fixture.h"

enum { N_ITEMS = SPLIT_FIXTURE_ITEMS, D = 3 };

static void bins_follow_counts_and_recency(void **state)
{
    (void)state;
    struct train_sequences data;
    struct train_item_features f;
    char error[MODEL_ERROR_SIZE];

    make_split_fixture(&data);
    assert_int_equal(train_split_train_length(&data, 0), 4);
    assert_int_equal(train_item_features_init(&f, &data, D, 1, error), 0);

    /* counts 1, 3, 3, 5, 0, 0: log2 bins, never-seen items with the once-seen */
    int popularity[N_ITEMS + 1] = {0, 0, 1, 1, 2, 0, 0};
    for (int i = 1; i <= N_ITEMS; i++)
        assert_int_equal(f.bin[0][i], popularity[i]);

    /* last training item of each user: 3, 4, 4. Item 3 is last once in 3
     * occurrences, item 4 twice in 5; the others never. */
    int bins = TRAIN_ITEM_RECENCY_BINS - 1;
    assert_int_equal(f.bin[1][1], 1);
    assert_int_equal(f.bin[1][2], 1);
    assert_int_equal(f.bin[1][3], 1 + (int)(1.0 / 3 * bins));
    assert_int_equal(f.bin[1][4], 1 + (int)(2.0 / 5 * bins));
    assert_int_equal(f.bin[1][5], 0);
    assert_int_equal(f.bin[1][6], 0);

    train_item_features_free(&f);
    train_sequences_free(&data);
}

/* The first Adam step moves by lr * g / (|g| + eps) against the summed
 * gradient g of the bin, so items of one bin move together and each row
 * moves by the sum of its two bins' steps. */
static void step_moves_rows_by_their_bins(void **state)
{
    (void)state;
    struct train_sequences data;
    struct train_item_features f;
    char error[MODEL_ERROR_SIZE];
    float embedding[(N_ITEMS + 1) * D], before[(N_ITEMS + 1) * D], grad[(N_ITEMS + 1) * D];
    const float lr = 0.01f, eps = 1e-8f;

    make_split_fixture(&data);
    assert_int_equal(train_item_features_init(&f, &data, D, 1, error), 0);
    for (int j = 0; j < (N_ITEMS + 1) * D; j++) {
        embedding[j] = before[j] = 0.1f * (float)j;
        grad[j] = (j % 5 == 0 ? -1.0f : 1.0f) * (0.01f + 0.003f * (float)j);
    }
    train_item_features_step(&f, embedding, grad, lr, 0.9f, 0.98f, eps);

    for (int i = 1; i <= N_ITEMS; i++) {
        for (int j = 0; j < D; j++) {
            double expected = before[i * D + j];
            for (int k = 0; k < TRAIN_ITEM_FEATURES; k++) {
                double g = 0.0;
                for (int other = 1; other <= N_ITEMS; other++)
                    if (f.bin[k][other] == f.bin[k][i])
                        g += grad[other * D + j];
                double step = -lr * g / (fabs(g) + eps);
                expected += step;
                assert_float_equal(f.vectors[k][f.bin[k][i] * D + j], step, 1e-6);
            }
            assert_float_equal(embedding[i * D + j], expected, 1e-5);
        }
    }
    for (int j = 0; j < D; j++)
        assert_true(embedding[j] == before[j]); /* padding row untouched */

    train_item_features_free(&f);
    train_sequences_free(&data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bins_follow_counts_and_recency),
        cmocka_unit_test(step_moves_rows_by_their_bins),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
