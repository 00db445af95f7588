/*
 * Metrics of `intentd eval` on hand-made inputs whose values are worked out
 * in the comments.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <math.h>
#include <stdint.h>

#include "eval_metrics.h"

static void auc_textbook_case(void **state)
{
    (void)state;
    /* Positive 0.35 beats negative 0.1 only, positive 0.8 beats both:
     * 3 of 4 pairs are ordered, AUC = 0.75. */
    const float scores[] = {0.1f, 0.4f, 0.35f, 0.8f};
    const uint8_t labels[] = {0, 0, 1, 1};
    assert_float_equal(eval_auc(scores, labels, 4), 0.75, 1e-12);
}

static void auc_ties_count_half(void **state)
{
    (void)state;
    const float scores[] = {0.5f, 0.5f, 0.9f};
    const uint8_t labels[] = {0, 1, 1};
    /* Pairs (0.5+, 0.5-) tie: 0.5; (0.9+, 0.5-): 1. AUC = 1.5 / 2. */
    assert_float_equal(eval_auc(scores, labels, 3), 0.75, 1e-12);
}

static void auc_one_class_undefined(void **state)
{
    (void)state;
    const float scores[] = {0.2f, 0.7f};
    const uint8_t labels[] = {1, 1};
    assert_true(eval_auc(scores, labels, 2) < 0.0);
    assert_true(eval_auc(scores, labels, 0) < 0.0);
}

static void calibration_bins_by_hand(void **state)
{
    (void)state;
    const float scores[] = {0.05f, 0.15f, 0.95f, 1.0f, 0.12f};
    const uint8_t labels[] = {0, 1, 1, 0, 1};
    struct eval_calibration_bin bins[EVAL_CALIBRATION_BINS];

    eval_calibration(scores, labels, 5, bins);
    assert_int_equal(bins[0].count, 1);
    assert_float_equal(bins[0].sum_observed, 0.0, 1e-12);
    assert_int_equal(bins[1].count, 2);
    assert_float_equal(bins[1].sum_predicted / 2.0, (0.15 + 0.12) / 2.0, 1e-6);
    assert_float_equal(bins[1].sum_observed / 2.0, 1.0, 1e-12);
    /* 1.0 falls into the last bin, not past it. */
    assert_int_equal(bins[9].count, 2);
    assert_float_equal(bins[9].sum_observed / 2.0, 0.5, 1e-12);
    assert_int_equal(bins[5].count, 0);
}

static void rank_counts_ties_ahead(void **state)
{
    (void)state;
    const float scores[] = {3.0f, 1.0f, 2.0f, 2.0f};
    /* Target index 2 (score 2): 3.0 is higher, index 3 ties: rank 2. */
    assert_int_equal(eval_rank_count(scores, 4, scores[2], 2), 2);
    assert_int_equal(eval_rank_count(scores, 4, scores[0], 0), 0);
    assert_int_equal(eval_rank_count(scores, 4, scores[1], 1), 3);
}

static void ranking_hits_and_ndcg(void **state)
{
    (void)state;
    struct eval_ranking r = {0};

    eval_ranking_add(&r, 0); /* hit at every K, gain 1 */
    eval_ranking_add(&r, 2); /* hit at K >= 5, gain 1 / log2(4) = 0.5 */
    eval_ranking_add(&r, 30); /* no hit */
    assert_float_equal(eval_hit_rate(&r, 0), 1.0 / 3.0, 1e-12);
    assert_float_equal(eval_hit_rate(&r, 1), 2.0 / 3.0, 1e-12);
    assert_float_equal(eval_hit_rate(&r, 3), 2.0 / 3.0, 1e-12);
    assert_float_equal(eval_ndcg(&r, 0), 1.0 / 3.0, 1e-12);
    assert_float_equal(eval_ndcg(&r, 1), 1.5 / 3.0, 1e-12);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(auc_textbook_case),       cmocka_unit_test(auc_ties_count_half),
        cmocka_unit_test(auc_one_class_undefined), cmocka_unit_test(calibration_bins_by_hand),
        cmocka_unit_test(rank_counts_ties_ahead),  cmocka_unit_test(ranking_hits_and_ndcg),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
