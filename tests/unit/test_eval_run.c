/*
 * `intentd eval` on a hand-built model and stream (test_eval_support.h).
 * Expected values are worked out by hand in the comments.
 */
#include "test_eval_support.h"

#include <math.h>
#include <stdio.h>

#include "config.h"
#include "eval_run.h"

struct fixture {
    struct model_bundle bundle;
    struct replay_events events;
    struct eval_result result;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    test_eval_bundle(&f->bundle, "hand");
    test_eval_stream(&f->events);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    model_bundle_free(&f->bundle);
    replay_events_free(&f->events);
    free(f);
    return 0;
}

static void run(struct fixture *f, const struct eval_options *options)
{
    char error[EVAL_ERROR_SIZE] = "";
    int rc = eval_run(&f->bundle, &f->events, options, &f->result, error);
    if (rc != 0)
        print_error("eval_run: %s\n", error);
    assert_int_equal(rc, 0);
}

/* Scored: u1 i3 (i1 and i2 score higher: rank 2), u2 i1 (rank 0) and
 * u1 i4 (rank 3). */
static void full_catalogue_by_hand(void **state)
{
    struct fixture *f = *state;
    struct eval_options options;
    eval_options_defaults(&options);
    run(f, &options);

    assert_int_equal(f->result.events, 5);
    assert_int_equal(f->result.users, 2);
    assert_int_equal(f->result.scored, 3);
    assert_int_equal(f->result.full.count, 3);
    assert_float_equal(eval_hit_rate(&f->result.full, 0), 1.0 / 3.0, 1e-9);
    assert_float_equal(eval_hit_rate(&f->result.full, 1), 1.0, 1e-9);
    assert_float_equal(eval_ndcg(&f->result.full, 0), 1.0 / 3.0, 1e-9);
    assert_float_equal(eval_ndcg(&f->result.full, 1), (0.5 + 1.0 + 1.0 / log2(5.0)) / 3.0, 1e-9);
}

/* u1 touched i1, i3, i4, so every negative is i2 (score 3), which beats
 * i3 and i4: rank 100. u2's negatives are i3 and i4, below i1: rank 0. */
static void sampled_protocol_by_hand(void **state)
{
    struct fixture *f = *state;
    struct eval_options options;
    eval_options_defaults(&options);
    run(f, &options);

    assert_int_equal(f->result.sampled.count, 3);
    assert_float_equal(eval_hit_rate(&f->result.sampled, 0), 1.0 / 3.0, 1e-9);
    assert_float_equal(eval_hit_rate(&f->result.sampled, 3), 1.0 / 3.0, 1e-9);
    assert_float_equal(eval_ndcg(&f->result.sampled, 3), 1.0 / 3.0, 1e-9);
}

/* The model always predicts view; the truths are view, view, purchase. */
static void action_accuracy_by_hand(void **state)
{
    struct fixture *f = *state;
    struct eval_options options;
    eval_options_defaults(&options);
    run(f, &options);

    assert_float_equal(f->result.action_accuracy, 2.0 / 3.0, 1e-9);
    assert_float_equal(f->result.majority_accuracy, 2.0 / 3.0, 1e-9);
    assert_int_equal(f->result.majority_action, TOKENIZER_ACTION_VIEW);
}

/* Propensity is 0.5 everywhere. Horizon 5: u1 i3 and u1 i4 have a purchase
 * ahead, u2 i1 none. Horizon 1: only the purchase itself. */
static void propensity_labels_by_hand(void **state)
{
    struct fixture *f = *state;
    struct eval_options options;
    eval_options_defaults(&options);
    run(f, &options);

    assert_int_equal(f->result.propensity_positives, 2);
    assert_float_equal(f->result.auc, 0.5, 1e-9);
    assert_int_equal(f->result.calibration[5].count, 3);
    assert_float_equal(f->result.calibration[5].sum_observed, 2.0, 1e-9);
    assert_float_equal(f->result.calibration[5].sum_predicted / 3.0, 0.5, 1e-6);

    options.propensity_horizon = 1;
    run(f, &options);
    assert_int_equal(f->result.propensity_positives, 1);
}

static void load_config(struct intentd_config *cfg, const char *yaml)
{
    struct config_error err;
    int rc = config_load_buffer(yaml, strlen(yaml), "test.yaml", cfg, &err);
    if (rc != 0)
        print_error("config: %s\n", err.message);
    assert_int_equal(rc, 0);
}

/* One rule on purchase: the only purchase raises one candidate. */
static void offers_follow_consent(void **state)
{
    struct fixture *f = *state;
    struct intentd_config cfg;
    struct eval_options options;
    eval_options_defaults(&options);

    load_config(&cfg, "triggers:\n  - name: bought\n    when: {event: purchase}\n    holdout_percent: 0\n");
    options.cfg = &cfg;
    run(f, &options);
    assert_int_equal(f->result.n_rules, 1);
    assert_int_equal(f->result.rules[0].candidates, 1);
    assert_int_equal(f->result.rules[0].outcomes[OFFER_NO_CONSENT], 1);
    assert_int_equal(f->result.rules[0].outcomes[OFFER_FIRED], 0);
    config_free(&cfg);

    load_config(&cfg, "offers:\n  consent_default: grant\ntriggers:\n  - name: bought\n    when: {event: purchase}\n"
                      "    holdout_percent: 0\n");
    options.cfg = &cfg;
    run(f, &options);
    assert_int_equal(f->result.rules[0].outcomes[OFFER_FIRED], 1);
    assert_int_equal(f->result.rules[0].generated[0], 1);
    /* No event of u1 follows the purchase, so the offer cannot hit. */
    assert_int_equal(f->result.rules[0].hits[0], 0);
    config_free(&cfg);
}

/* Views raise candidates; with a 1 h cooldown u1 and u2 each get one offer
 * and their second view is a cooldown. */
static void offers_cooldown_counted(void **state)
{
    struct fixture *f = *state;
    struct intentd_config cfg;
    struct eval_options options;
    eval_options_defaults(&options);

    load_config(&cfg, "offers:\n  consent_default: grant\ntriggers:\n  - name: viewed\n    when: {event: view}\n"
                      "    cooldown: 1h\n    holdout_percent: 0\n");
    options.cfg = &cfg;
    run(f, &options);
    assert_int_equal(f->result.rules[0].candidates, 4);
    assert_int_equal(f->result.rules[0].outcomes[OFFER_FIRED], 2);
    assert_int_equal(f->result.rules[0].outcomes[OFFER_COOLDOWN], 2);
    config_free(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(full_catalogue_by_hand, setup, teardown),
        cmocka_unit_test_setup_teardown(sampled_protocol_by_hand, setup, teardown),
        cmocka_unit_test_setup_teardown(action_accuracy_by_hand, setup, teardown),
        cmocka_unit_test_setup_teardown(propensity_labels_by_hand, setup, teardown),
        cmocka_unit_test_setup_teardown(offers_follow_consent, setup, teardown),
        cmocka_unit_test_setup_teardown(offers_cooldown_counted, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
