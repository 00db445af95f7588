/* Unit tests of the offer policy: consent, cooldown, frequency cap and rate
 * limit at their exact boundaries, sticky and independent holdouts, outcome
 * counters and the purchased-item filter. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "offer_policy.h"
#include "state_hash.h"
#include "state_store.h"

#define HOLDOUT_IDS 100000
/* Binomial standard deviation at p = 0.1 and n = 100,000 is 0.095 percentage
 * points, so 0.5 points is more than 5 deviations: a correct hash fails this
 * with probability below 1e-6. */
#define HOLDOUT_TOLERANCE_POINTS 0.5

struct fixture {
    struct state_store *store;
    struct offer_policy *policy;
};

static struct offer_policy *new_policy(const struct offer_policy_options *options)
{
    char error[OFFER_ERROR_SIZE];
    struct offer_policy *policy = offer_policy_new(options, error);

    assert_non_null(policy);
    return policy;
}

static int setup(void **state)
{
    static struct fixture f;
    struct state_store_options store_options;
    struct offer_policy_options options;
    char error[STATE_ERROR_SIZE];

    state_store_options_defaults(&store_options);
    f.store = state_store_new(&store_options, error);
    offer_policy_options_defaults(&options);
    f.policy = new_policy(&options);
    *state = &f;
    return f.store == NULL;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    state_store_free(f->store);
    offer_policy_free(f->policy);
    return 0;
}

static struct state_user *user_with_consent(struct state_store *store, const char *id,
                                            enum state_consent consent)
{
    char error[STATE_ERROR_SIZE];
    int created;
    struct state_user *user = state_store_upsert(store, id, strlen(id), 0, &created, error);

    assert_non_null(user);
    user->consent = (uint8_t)consent;
    return user;
}

static struct offer_rule plain_rule(void)
{
    return (struct offer_rule){
        .name = "cart_abandon", .cooldown_ms = 0, .max_offers = 0, .window_ms = 0,
        .holdout_percent = 0.0};
}

static uint32_t rule_hash_of(const struct offer_rule *rule)
{
    return (uint32_t)state_hash_bytes(rule->name, strlen(rule->name));
}

static void test_consent_default_denies(void **state)
{
    struct fixture *f = *state;
    struct offer_rule rule = plain_rule();

    struct state_user *unknown = user_with_consent(f->store, "unknown", STATE_CONSENT_UNKNOWN);
    struct state_user *denied = user_with_consent(f->store, "denied", STATE_CONSENT_DENIED);
    struct state_user *granted = user_with_consent(f->store, "granted", STATE_CONSENT_GRANTED);
    assert_int_equal(offer_policy_decide(f->policy, &rule, unknown, 1000), OFFER_NO_CONSENT);
    assert_int_equal(offer_policy_decide(f->policy, &rule, denied, 1000), OFFER_NO_CONSENT);
    assert_int_equal(offer_policy_decide(f->policy, &rule, granted, 1000), OFFER_FIRED);
    assert_int_equal(unknown->last_offer_ms, 0);
    assert_int_equal(granted->last_offer_ms, 1000);
}

static void test_consent_default_grant_option(void **state)
{
    struct fixture *f = *state;
    struct offer_policy_options options;
    struct offer_rule rule = plain_rule();

    offer_policy_options_defaults(&options);
    options.unknown_consent_grants = 1;
    struct offer_policy *policy = new_policy(&options);
    struct state_user *unknown = user_with_consent(f->store, "u", STATE_CONSENT_UNKNOWN);
    struct state_user *denied = user_with_consent(f->store, "d", STATE_CONSENT_DENIED);
    assert_int_equal(offer_policy_decide(policy, &rule, unknown, 1000), OFFER_FIRED);
    /* An explicit denial always wins. */
    assert_int_equal(offer_policy_decide(policy, &rule, denied, 1000), OFFER_NO_CONSENT);
    offer_policy_free(policy);
}

static void test_cooldown_boundary(void **state)
{
    struct fixture *f = *state;
    struct offer_rule rule = plain_rule();
    struct state_user *user = user_with_consent(f->store, "cool", STATE_CONSENT_GRANTED);

    rule.cooldown_ms = 1000;
    assert_int_equal(offer_policy_decide(f->policy, &rule, user, 10000), OFFER_FIRED);
    assert_int_equal(offer_policy_decide(f->policy, &rule, user, 10999), OFFER_COOLDOWN);
    assert_int_equal(offer_policy_decide(f->policy, &rule, user, 11000), OFFER_FIRED);
    assert_int_equal(user->last_offer_ms, 11000);
    /* An out-of-order event before the last offer is inside the cooldown. */
    assert_int_equal(offer_policy_decide(f->policy, &rule, user, 10500), OFFER_COOLDOWN);
}

static void test_cap_boundary(void **state)
{
    struct fixture *f = *state;
    struct offer_rule rule = plain_rule();
    struct state_user *user = user_with_consent(f->store, "cap", STATE_CONSENT_GRANTED);

    rule.max_offers = 2;
    rule.window_ms = 5000;
    assert_int_equal(offer_policy_decide(f->policy, &rule, user, 1000), OFFER_FIRED);
    assert_int_equal(offer_policy_decide(f->policy, &rule, user, 2000), OFFER_FIRED);
    assert_int_equal(offer_policy_decide(f->policy, &rule, user, 2001), OFFER_CAPPED);
    assert_int_equal(offer_policy_decide(f->policy, &rule, user, 5999), OFFER_CAPPED);
    struct state_rule_counters *counters = state_user_find_rule(user, rule_hash_of(&rule));
    assert_non_null(counters);
    assert_int_equal(counters->offers_in_window, 2);

    /* The window opened at 1000 closes at exactly 6000. */
    assert_int_equal(offer_policy_decide(f->policy, &rule, user, 6000), OFFER_FIRED);
    assert_int_equal(counters->window_start_ms, 6000);
    assert_int_equal(counters->offers_in_window, 1);
}

static void test_rules_counted_apart(void **state)
{
    struct fixture *f = *state;
    struct offer_rule cart = plain_rule();
    struct offer_rule review = plain_rule();
    struct state_user *user = user_with_consent(f->store, "two", STATE_CONSENT_GRANTED);

    cart.cooldown_ms = 10000;
    cart.max_offers = 1;
    cart.window_ms = 60000;
    review.name = "bad_review";
    review.cooldown_ms = 10000;
    assert_int_equal(offer_policy_decide(f->policy, &cart, user, 1000), OFFER_FIRED);
    /* The cart rule's cooldown does not block the review rule. */
    assert_int_equal(offer_policy_decide(f->policy, &review, user, 1001), OFFER_FIRED);
    assert_int_equal(offer_policy_decide(f->policy, &cart, user, 2000), OFFER_COOLDOWN);
    assert_int_equal(offer_policy_decide(f->policy, &review, user, 2000), OFFER_COOLDOWN);
    assert_int_equal(offer_policy_decide(f->policy, &cart, user, 11000), OFFER_CAPPED);
    assert_int_equal(offer_policy_decide(f->policy, &review, user, 11001), OFFER_FIRED);
    assert_int_equal(user->last_offer_ms, 11001);
    assert_int_equal(user->rule_count, 2);
}

static void test_rate_limit_boundary(void **state)
{
    struct fixture *f = *state;
    struct offer_policy_options options;
    struct offer_rule rule = plain_rule();
    char id[16];

    offer_policy_options_defaults(&options);
    options.rate_per_s = 10.0; /* one offer per 100 ms */
    options.burst = 2.0;
    struct offer_policy *policy = new_policy(&options);
    struct state_user *users[6];
    for (int i = 0; i < 6; i++) {
        snprintf(id, sizeof(id), "r%d", i);
        users[i] = user_with_consent(f->store, id, STATE_CONSENT_GRANTED);
    }

    assert_int_equal(offer_policy_decide(policy, &rule, users[0], 50000), OFFER_FIRED);
    assert_int_equal(offer_policy_decide(policy, &rule, users[1], 50000), OFFER_FIRED);
    assert_int_equal(offer_policy_decide(policy, &rule, users[2], 50000), OFFER_RATE_LIMITED);
    assert_int_equal(offer_policy_decide(policy, &rule, users[2], 50099), OFFER_RATE_LIMITED);
    assert_int_equal(offer_policy_decide(policy, &rule, users[2], 50100), OFFER_FIRED);
    assert_int_equal(users[2]->last_offer_ms, 50100);
    /* A rate-limited user keeps no trace of the attempt. */
    assert_int_equal(offer_policy_decide(policy, &rule, users[3], 50100), OFFER_RATE_LIMITED);
    assert_int_equal(users[3]->last_offer_ms, 0);

    /* Older event times refill nothing. */
    assert_int_equal(offer_policy_decide(policy, &rule, users[3], 40000), OFFER_RATE_LIMITED);
    /* A long gap refills to the burst size, not more. */
    assert_int_equal(offer_policy_decide(policy, &rule, users[3], 90000), OFFER_FIRED);
    assert_int_equal(offer_policy_decide(policy, &rule, users[4], 90000), OFFER_FIRED);
    assert_int_equal(offer_policy_decide(policy, &rule, users[5], 90000), OFFER_RATE_LIMITED);
    assert_int_equal(offer_policy_count(policy, OFFER_RATE_LIMITED), 5);
    assert_int_equal(offer_policy_count(policy, OFFER_FIRED), 5);
    offer_policy_free(policy);
}

static int64_t fake_clock(void *ctx)
{
    return *(const int64_t *)ctx;
}

static void test_rate_limit_wall_clock(void **state)
{
    struct fixture *f = *state;
    struct offer_policy_options options;
    struct offer_rule rule = plain_rule();
    int64_t wall_ms = 5;

    offer_policy_options_defaults(&options);
    options.rate_per_s = 0.5; /* one offer per 2 s */
    options.burst = 1.0;
    options.rate_clock = OFFER_CLOCK_WALL;
    struct offer_policy *policy = new_policy(&options);
    offer_policy_set_wall_clock(policy, fake_clock, &wall_ms);
    struct state_user *a = user_with_consent(f->store, "wa", STATE_CONSENT_GRANTED);
    struct state_user *b = user_with_consent(f->store, "wb", STATE_CONSENT_GRANTED);

    assert_int_equal(offer_policy_decide(policy, &rule, a, 1000), OFFER_FIRED);
    /* Event time jumps a day ahead, but the wall clock has not moved. */
    assert_int_equal(offer_policy_decide(policy, &rule, b, 86400000), OFFER_RATE_LIMITED);
    wall_ms += 1999;
    assert_int_equal(offer_policy_decide(policy, &rule, b, 86400000), OFFER_RATE_LIMITED);
    wall_ms += 1;
    assert_int_equal(offer_policy_decide(policy, &rule, b, 86400000), OFFER_FIRED);
    offer_policy_free(policy);
}

static double holdout_share(const struct offer_policy *policy, const struct offer_rule *rule)
{
    char id[24];
    int held = 0;

    for (int i = 0; i < HOLDOUT_IDS; i++) {
        int len = snprintf(id, sizeof(id), "%d", 1000000 + i);
        held += rule ? offer_policy_in_rule_holdout(policy, rule, id, (size_t)len)
                     : offer_policy_in_global_holdout(policy, id, (size_t)len);
    }
    return 100.0 * held / HOLDOUT_IDS;
}

static void test_holdout_share_close(void **state)
{
    (void)state;
    struct offer_policy_options options;
    struct offer_rule rule = plain_rule();

    offer_policy_options_defaults(&options);
    options.holdout_percent = 10.0;
    struct offer_policy *policy = new_policy(&options);
    rule.holdout_percent = 25.0;

    double global = holdout_share(policy, NULL);
    double per_rule = holdout_share(policy, &rule);
    printf("holdout: global %.3f%% (configured 10%%), rule %.3f%% (configured 25%%)\n", global,
           per_rule);
    assert_true(fabs(global - 10.0) <= HOLDOUT_TOLERANCE_POINTS);
    /* At p = 0.25 one deviation is 0.137 points: 0.7 is over 5 deviations. */
    assert_true(fabs(per_rule - 25.0) <= 0.7);

    rule.holdout_percent = 0.0;
    assert_true(holdout_share(policy, &rule) == 0.0);
    rule.holdout_percent = 100.0;
    assert_true(holdout_share(policy, &rule) == 100.0);
    offer_policy_free(policy);
}

static void test_holdout_sticky(void **state)
{
    (void)state;
    struct offer_policy_options options;
    struct offer_rule rule = plain_rule();
    char id[24];

    offer_policy_options_defaults(&options);
    options.holdout_percent = 30.0;
    struct offer_policy *first = new_policy(&options);
    struct offer_policy *second = new_policy(&options);
    rule.holdout_percent = 30.0;

    for (int i = 0; i < 2000; i++) {
        int len = snprintf(id, sizeof(id), "user-%d", i);
        int g = offer_policy_in_global_holdout(first, id, (size_t)len);
        assert_int_equal(offer_policy_in_global_holdout(first, id, (size_t)len), g);
        assert_int_equal(offer_policy_in_global_holdout(second, id, (size_t)len), g);
        int r = offer_policy_in_rule_holdout(first, &rule, id, (size_t)len);
        assert_int_equal(offer_policy_in_rule_holdout(second, &rule, id, (size_t)len), r);
    }
    offer_policy_free(first);
    offer_policy_free(second);
}

/* Fraction of ids in both groups, in percent. */
static double overlap_share(const struct offer_policy *a_policy, const struct offer_rule *a_rule,
                            const struct offer_policy *b_policy, const struct offer_rule *b_rule)
{
    char id[24];
    int both = 0;

    for (int i = 0; i < HOLDOUT_IDS; i++) {
        int len = snprintf(id, sizeof(id), "%d", 1000000 + i);
        int a = a_rule ? offer_policy_in_rule_holdout(a_policy, a_rule, id, (size_t)len)
                       : offer_policy_in_global_holdout(a_policy, id, (size_t)len);
        int b = b_rule ? offer_policy_in_rule_holdout(b_policy, b_rule, id, (size_t)len)
                       : offer_policy_in_global_holdout(b_policy, id, (size_t)len);
        both += a && b;
    }
    return 100.0 * both / HOLDOUT_IDS;
}

static void test_holdouts_independent(void **state)
{
    (void)state;
    struct offer_policy_options options;
    struct offer_rule first = plain_rule();
    struct offer_rule second = plain_rule();

    offer_policy_options_defaults(&options);
    options.holdout_percent = 20.0;
    struct offer_policy *policy = new_policy(&options);
    first.holdout_percent = 20.0;
    second.name = "browse_abandon";
    second.holdout_percent = 20.0;

    /* Independent 20% groups overlap on 4% of ids; one deviation at p = 0.04
     * is 0.062 points, so 0.35 points is over 5 deviations. Identical groups
     * would overlap on 20%. */
    double global_rule = overlap_share(policy, NULL, policy, &first);
    double rule_rule = overlap_share(policy, &first, policy, &second);
    printf("holdout overlap: global/rule %.3f%%, rule/rule %.3f%% (independent: 4%%)\n",
           global_rule, rule_rule);
    assert_true(fabs(global_rule - 4.0) <= 0.35);
    assert_true(fabs(rule_rule - 4.0) <= 0.35);

    /* A new salt draws a new global group. */
    strcpy(options.holdout_salt, "2026-q1");
    struct offer_policy *salted = new_policy(&options);
    double salt_overlap = overlap_share(policy, NULL, salted, NULL);
    assert_true(fabs(salt_overlap - 4.0) <= 0.35);
    offer_policy_free(policy);
    offer_policy_free(salted);
}

/* Finds an id in the global holdout of policy. */
static void find_held_id(const struct offer_policy *policy, char *id, size_t cap)
{
    for (int i = 0; i < 1000; i++) {
        snprintf(id, cap, "h%d", i);
        if (offer_policy_in_global_holdout(policy, id, strlen(id)))
            return;
    }
    fail_msg("no id among 1000 fell in a 50%% holdout");
}

static void test_holdout_counts_as_offer(void **state)
{
    struct fixture *f = *state;
    struct offer_policy_options options;
    struct offer_rule rule = plain_rule();
    char id[16];

    offer_policy_options_defaults(&options);
    options.holdout_percent = 50.0;
    struct offer_policy *policy = new_policy(&options);
    find_held_id(policy, id, sizeof(id));
    struct state_user *user = user_with_consent(f->store, id, STATE_CONSENT_GRANTED);

    rule.cooldown_ms = 100;
    assert_int_equal(offer_policy_decide(policy, &rule, user, 1000), OFFER_HOLDOUT);
    assert_int_equal(user->last_offer_ms, 1000);
    assert_int_equal(offer_policy_decide(policy, &rule, user, 1050), OFFER_COOLDOWN);
    /* Consent still comes first for held-out users. */
    user->consent = STATE_CONSENT_DENIED;
    assert_int_equal(offer_policy_decide(policy, &rule, user, 2000), OFFER_NO_CONSENT);

    assert_int_equal(offer_policy_count(policy, OFFER_HOLDOUT), 1);
    assert_int_equal(offer_policy_count(policy, OFFER_COOLDOWN), 1);
    assert_int_equal(offer_policy_count(policy, OFFER_NO_CONSENT), 1);
    assert_int_equal(offer_policy_count(policy, OFFER_FIRED), 0);
    offer_policy_free(policy);
}

static void test_extreme_times_safe(void **state)
{
    struct fixture *f = *state;
    struct offer_rule rule = plain_rule();
    struct state_user *user = user_with_consent(f->store, "odd", STATE_CONSENT_GRANTED);

    /* Restored counters from a damaged record: no overflow, plain answers. */
    rule.cooldown_ms = 1000;
    rule.max_offers = 1;
    rule.window_ms = 1000;
    struct state_rule_counters *counters = state_user_claim_rule(user, rule_hash_of(&rule));
    counters->last_offer_ms = INT64_MIN;
    counters->window_start_ms = INT64_MIN;
    counters->offers_in_window = 5;
    assert_int_equal(offer_policy_decide(f->policy, &rule, user, INT64_MAX), OFFER_FIRED);
    counters->last_offer_ms = INT64_MAX;
    assert_int_equal(offer_policy_decide(f->policy, &rule, user, INT64_MIN), OFFER_COOLDOWN);
}

static void test_rule_validate(void **state)
{
    (void)state;
    char error[OFFER_ERROR_SIZE];
    struct offer_rule rule = plain_rule();

    assert_int_equal(offer_rule_validate(&rule, error), 0);
    rule.max_offers = 3;
    assert_int_equal(offer_rule_validate(&rule, error), -1);
    assert_non_null(strstr(error, "window_ms"));
    rule.window_ms = 86400000;
    rule.holdout_percent = 100.5;
    assert_int_equal(offer_rule_validate(&rule, error), -1);
    assert_non_null(strstr(error, "cart_abandon"));
    rule.holdout_percent = 5.0;
    rule.cooldown_ms = -1;
    assert_int_equal(offer_rule_validate(&rule, error), -1);
    rule.cooldown_ms = 0;
    rule.name = "";
    assert_int_equal(offer_rule_validate(&rule, error), -1);
}

static void test_options_validate(void **state)
{
    (void)state;
    struct offer_policy_options options;
    char error[OFFER_ERROR_SIZE];

    offer_policy_options_defaults(&options);
    options.rate_per_s = 5.0;
    options.burst = 0.5;
    assert_null(offer_policy_new(&options, error));
    assert_non_null(strstr(error, "burst"));
    options.burst = 1.0;
    options.holdout_percent = -1.0;
    assert_null(offer_policy_new(&options, error));
    options.holdout_percent = 0.0;
    options.rate_per_s = NAN;
    assert_null(offer_policy_new(&options, error));
    options.rate_per_s = 0.0001; /* below the 0.001 offers/s resolution */
    assert_null(offer_policy_new(&options, error));
}

static void test_filter_purchased(void **state)
{
    struct fixture *f = *state;
    struct state_user *user = user_with_consent(f->store, "buyer", STATE_CONSENT_GRANTED);
    int32_t items[] = {5, 6, 7, 8};

    state_user_add_purchase(user, 6);
    state_user_add_purchase(user, 8);
    assert_int_equal(offer_filter_purchased(user, items, 4), 2);
    assert_int_equal(items[0], 5);
    assert_int_equal(items[1], 7);
}

static void test_outcome_names(void **state)
{
    (void)state;
    assert_string_equal(offer_outcome_name(OFFER_RATE_LIMITED), "rate_limited");
    assert_string_equal(offer_outcome_name(OFFER_NO_CONSENT), "no_consent");
    assert_string_equal(offer_outcome_name(OFFER_OUTCOME_COUNT), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_consent_default_denies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_consent_default_grant_option, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cooldown_boundary, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cap_boundary, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rules_counted_apart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rate_limit_boundary, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rate_limit_wall_clock, setup, teardown),
        cmocka_unit_test(test_holdout_share_close),
        cmocka_unit_test(test_holdout_sticky),
        cmocka_unit_test(test_holdouts_independent),
        cmocka_unit_test_setup_teardown(test_holdout_counts_as_offer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_extreme_times_safe, setup, teardown),
        cmocka_unit_test(test_rule_validate),
        cmocka_unit_test(test_options_validate),
        cmocka_unit_test_setup_teardown(test_filter_purchased, setup, teardown),
        cmocka_unit_test(test_outcome_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
