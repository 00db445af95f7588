/* Unit tests of the intents.emit policies: on_move against the last emitted
 * embedding (first intent, threshold, drift, missing or mismatched vectors)
 * and the unchanged every_update, on_change and interval. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "intent_emit.h"
#include "state_embedding.h"
#include "state_store.h"

#define D_MODEL 64
#define PI 3.14159265358979323846

struct fixture {
    struct intentd_config cfg;
    struct state_store *store;
    struct state_user *user;
    float embedding[D_MODEL];
};

static void setup_with(struct fixture *f, enum config_emit_mode emit, int embedding_dim)
{
    struct state_store_options options;
    char error[STATE_ERROR_SIZE];
    int created;

    memset(f, 0, sizeof *f);
    f->cfg.intents.emit = emit;
    f->cfg.intents.min_change = 0.05;
    f->cfg.intents.min_move = 0.05;
    f->cfg.intents.interval_ms = 60000;
    state_store_options_defaults(&options);
    options.embedding_dim = embedding_dim;
    f->store = state_store_new(&options, error);
    assert_non_null(f->store);
    f->user = state_store_upsert(f->store, "u1", 2, 0, &created, error);
    assert_non_null(f->user);
}

static void teardown(struct fixture *f)
{
    state_store_free(f->store);
}

/* Points the fixture's embedding at angle degrees in the plane of the first
 * two components, so the cosine distance between angles a and b is
 * 1 - cos(a - b). */
static struct intent_emit_candidate at_angle(struct fixture *f, double degrees, int64_t event_ms)
{
    memset(f->embedding, 0, sizeof f->embedding);
    f->embedding[0] = (float)cos(degrees * PI / 180.0);
    f->embedding[1] = (float)sin(degrees * PI / 180.0);
    return (struct intent_emit_candidate){.event_ms = event_ms, .propensity = 0.5f, .top_category = 7,
                                          .embedding = f->embedding, .d_model = D_MODEL};
}

/* Decides on the candidate and, if it goes out, remembers it as written. */
static int decide_and_send(struct fixture *f, const struct intent_emit_candidate *candidate)
{
    int emit = intent_emit_decide(&f->cfg, f->store, f->user, candidate);
    if (emit)
        intent_emit_remember(f->store, f->user, candidate);
    return emit;
}

static void test_on_move_first_intent_goes_out(void **state)
{
    (void)state;
    struct fixture f;
    setup_with(&f, CONFIG_EMIT_ON_MOVE, D_MODEL);
    f.cfg.intents.min_move = 2.0; /* no move can exceed it */

    struct intent_emit_candidate first = at_angle(&f, 0.0, 1000);
    assert_int_equal(decide_and_send(&f, &first), 1);
    assert_true(f.user->last_intent_ms == 1000);
    assert_true(state_embedding_present(state_store_embedding(f.store, f.user)));

    /* With min_move at its maximum only the first intent goes out, even for the opposite vector. */
    struct intent_emit_candidate opposite = at_angle(&f, 180.0, 2000);
    assert_int_equal(decide_and_send(&f, &opposite), 0);
    teardown(&f);
}

static void test_on_move_threshold(void **state)
{
    (void)state;
    struct fixture f;
    setup_with(&f, CONFIG_EMIT_ON_MOVE, D_MODEL);

    struct intent_emit_candidate first = at_angle(&f, 0.0, 1000);
    assert_int_equal(decide_and_send(&f, &first), 1);

    /* 1 - cos 10 deg = 0.015 and 1 - cos 17 deg = 0.044 stay below 0.05. */
    struct intent_emit_candidate small = at_angle(&f, 10.0, 2000);
    assert_int_equal(decide_and_send(&f, &small), 0);
    struct intent_emit_candidate below = at_angle(&f, -17.0, 3000);
    assert_int_equal(decide_and_send(&f, &below), 0);
    assert_true(f.user->last_intent_ms == 1000);

    /* 1 - cos 19 deg = 0.054 is above it. */
    struct intent_emit_candidate above = at_angle(&f, 19.0, 4000);
    assert_int_equal(decide_and_send(&f, &above), 1);
    assert_true(f.user->last_intent_ms == 4000);

    /* A small min_move still holds back the same vector, whose int8 copy is
     * about 1e-5 away, and lets 1 - cos 5 deg = 0.0038 through. */
    f.cfg.intents.min_move = 0.001;
    struct intent_emit_candidate same = at_angle(&f, 19.0, 5000);
    assert_int_equal(decide_and_send(&f, &same), 0);
    struct intent_emit_candidate nudged = at_angle(&f, 24.0, 6000);
    assert_int_equal(decide_and_send(&f, &nudged), 1);
    teardown(&f);
}

/* Steps of 10 degrees each stay below min_move against the previous step,
 * but two steps from the last emitted vector (1 - cos 20 deg = 0.060) exceed
 * it, so every second step goes out. Comparing with the last computed
 * vector instead would never fire. */
static void test_on_move_drift_accumulates(void **state)
{
    (void)state;
    struct fixture f;
    setup_with(&f, CONFIG_EMIT_ON_MOVE, D_MODEL);
    int sent = 0;

    for (int step = 0; step <= 12; step++) {
        struct intent_emit_candidate candidate = at_angle(&f, 10.0 * step, 1000 + step);
        int emit = decide_and_send(&f, &candidate);
        if (emit != (step % 2 == 0))
            fail_msg("step %d (%d degrees): emit %d, expected %d", step, 10 * step, emit, step % 2 == 0);
        sent += emit;
    }
    assert_int_equal(sent, 7);
    assert_true(f.user->last_intent_ms == 1012);
    teardown(&f);
}

/* A user with an intent but no stored vector (a version 1 changelog record,
 * or one written under another policy) gets the next intent sent, and the
 * one after that is compared again. */
static void test_on_move_without_stored_vector(void **state)
{
    (void)state;
    struct fixture f;
    setup_with(&f, CONFIG_EMIT_ON_MOVE, D_MODEL);
    f.user->last_intent_ms = 500;

    struct intent_emit_candidate candidate = at_angle(&f, 0.0, 1000);
    assert_int_equal(decide_and_send(&f, &candidate), 1);
    struct intent_emit_candidate again = at_angle(&f, 1.0, 2000);
    assert_int_equal(decide_and_send(&f, &again), 0);
    teardown(&f);
}

/* After a swap to a model of another d_model the stored vector cannot be
 * compared: every intent goes out and the stale vector is cleared. */
static void test_on_move_other_d_model(void **state)
{
    (void)state;
    struct fixture f;
    setup_with(&f, CONFIG_EMIT_ON_MOVE, D_MODEL);

    struct intent_emit_candidate first = at_angle(&f, 0.0, 1000);
    assert_int_equal(decide_and_send(&f, &first), 1);

    struct intent_emit_candidate narrow = at_angle(&f, 0.0, 2000);
    narrow.d_model = D_MODEL / 2;
    assert_int_equal(decide_and_send(&f, &narrow), 1);
    assert_false(state_embedding_present(state_store_embedding(f.store, f.user)));
    assert_int_equal(decide_and_send(&f, &narrow), 1);
    teardown(&f);
}

/* A store without embeddings under on_move (which app_init never creates)
 * cannot hold an intent back. */
static void test_on_move_store_without_embeddings(void **state)
{
    (void)state;
    struct fixture f;
    setup_with(&f, CONFIG_EMIT_ON_MOVE, 0);

    struct intent_emit_candidate first = at_angle(&f, 0.0, 1000);
    assert_int_equal(decide_and_send(&f, &first), 1);
    assert_int_equal(decide_and_send(&f, &first), 1);
    teardown(&f);
}

static void test_remember_records_sent_intent(void **state)
{
    (void)state;
    struct fixture f;
    setup_with(&f, CONFIG_EMIT_ON_MOVE, D_MODEL);

    struct intent_emit_candidate candidate = at_angle(&f, 30.0, 1234);
    candidate.propensity = 0.25f;
    candidate.top_category = 42;
    intent_emit_remember(f.store, f.user, &candidate);
    assert_true(f.user->last_intent_ms == 1234);
    assert_true(f.user->last_propensity == 0.25f);
    assert_int_equal(f.user->last_top_category, 42);
    assert_true(state_embedding_distance(state_store_embedding(f.store, f.user), f.embedding, D_MODEL) < 1e-4);
    teardown(&f);
}

static void test_every_update_always_emits(void **state)
{
    (void)state;
    struct fixture f;
    setup_with(&f, CONFIG_EMIT_EVERY_UPDATE, 0);

    struct intent_emit_candidate candidate = at_angle(&f, 0.0, 1000);
    for (int i = 0; i < 3; i++)
        assert_int_equal(decide_and_send(&f, &candidate), 1);
    assert_null(state_store_embedding(f.store, f.user));
    teardown(&f);
}

static void test_on_change_propensity_and_category(void **state)
{
    (void)state;
    struct fixture f;
    setup_with(&f, CONFIG_EMIT_ON_CHANGE, 0);

    struct intent_emit_candidate candidate = at_angle(&f, 0.0, 1000);
    assert_int_equal(decide_and_send(&f, &candidate), 1);
    /* The embedding does not count under on_change. */
    struct intent_emit_candidate turned = at_angle(&f, 90.0, 2000);
    assert_int_equal(decide_and_send(&f, &turned), 0);
    turned.propensity = 0.54f;
    assert_int_equal(decide_and_send(&f, &turned), 0);
    turned.propensity = 0.56f;
    assert_int_equal(decide_and_send(&f, &turned), 1);
    turned.top_category = 8;
    assert_int_equal(decide_and_send(&f, &turned), 1);
    assert_int_equal(decide_and_send(&f, &turned), 0);
    teardown(&f);
}

static void test_interval_event_time(void **state)
{
    (void)state;
    struct fixture f;
    setup_with(&f, CONFIG_EMIT_INTERVAL, 0);

    struct intent_emit_candidate candidate = at_angle(&f, 0.0, 1000);
    assert_int_equal(decide_and_send(&f, &candidate), 1);
    candidate.event_ms = 1000 + 59999;
    assert_int_equal(decide_and_send(&f, &candidate), 0);
    candidate.event_ms = 1000 + 60000;
    assert_int_equal(decide_and_send(&f, &candidate), 1);
    teardown(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_on_move_first_intent_goes_out),
        cmocka_unit_test(test_on_move_threshold),
        cmocka_unit_test(test_on_move_drift_accumulates),
        cmocka_unit_test(test_on_move_without_stored_vector),
        cmocka_unit_test(test_on_move_other_d_model),
        cmocka_unit_test(test_on_move_store_without_embeddings),
        cmocka_unit_test(test_remember_records_sent_intent),
        cmocka_unit_test(test_every_update_always_emits),
        cmocka_unit_test(test_on_change_propensity_and_category),
        cmocka_unit_test(test_interval_event_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
