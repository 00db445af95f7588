/* Unit tests of the in-memory user state store: token ring, purchases,
 * lookup and removal, dirty list, idle expiry and budget eviction. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "state_store.h"

static struct state_store *new_store(int max_len, size_t budget)
{
    struct state_store_options options;
    char error[STATE_ERROR_SIZE];

    state_store_options_defaults(&options);
    options.max_len = max_len;
    options.memory_budget = budget;
    struct state_store *store = state_store_new(&options, error);
    assert_non_null(store);
    return store;
}

static struct state_user *add_user(struct state_store *store, const char *id, int32_t partition)
{
    char error[STATE_ERROR_SIZE];
    int created;
    struct state_user *user = state_store_upsert(store, id, strlen(id), partition, &created, error);

    assert_non_null(user);
    return user;
}

static void test_ring_wraps_oldest_first(void **state)
{
    (void)state;
    struct state_store *store = new_store(4, 0);
    struct state_user *user = add_user(store, "u1", 0);
    const int32_t first[] = {1, 2, 3};
    const int32_t second[] = {4, 5, 6};
    int32_t out[8];

    state_store_push_tokens(store, user, first, 3);
    assert_int_equal(state_store_copy_tokens(store, user, out, 8), 3);
    assert_int_equal(out[0], 1);
    assert_int_equal(out[2], 3);

    /* Six tokens into a ring of four: 1 and 2 are overwritten. */
    state_store_push_tokens(store, user, second, 3);
    assert_int_equal(user->token_count, 4);
    assert_int_equal(state_store_copy_tokens(store, user, out, 8), 4);
    assert_int_equal(out[0], 3);
    assert_int_equal(out[1], 4);
    assert_int_equal(out[2], 5);
    assert_int_equal(out[3], 6);

    /* A smaller output keeps the newest tokens. */
    assert_int_equal(state_store_copy_tokens(store, user, out, 2), 2);
    assert_int_equal(out[0], 5);
    assert_int_equal(out[1], 6);
    state_store_free(store);
}

static void test_ring_many_wraps(void **state)
{
    (void)state;
    struct state_store *store = new_store(64, 0);
    struct state_user *user = add_user(store, "u1", 0);
    int32_t out[64];

    for (int32_t t = 0; t < 1000; t++)
        state_store_push_tokens(store, user, &t, 1);
    assert_int_equal(state_store_copy_tokens(store, user, out, 64), 64);
    for (int i = 0; i < 64; i++)
        assert_int_equal(out[i], 1000 - 64 + i);
    state_store_free(store);
}

static void test_purchases_dedupe_and_bound(void **state)
{
    (void)state;
    struct state_store *store = new_store(8, 0);
    struct state_user *user = add_user(store, "buyer", 0);
    int32_t out[STATE_PURCHASES_MAX];

    state_user_add_purchase(user, 100);
    state_user_add_purchase(user, 100);
    assert_int_equal(user->purchase_count, 1);
    for (int32_t item = 101; item < 100 + STATE_PURCHASES_MAX + 1; item++)
        state_user_add_purchase(user, item);

    /* 17 distinct items into 16 places: 100 is forgotten. */
    assert_int_equal(user->purchase_count, STATE_PURCHASES_MAX);
    assert_false(state_user_has_purchased(user, 100));
    assert_true(state_user_has_purchased(user, 101));
    assert_true(state_user_has_purchased(user, 116));
    assert_int_equal(state_user_copy_purchases(user, out), STATE_PURCHASES_MAX);
    assert_int_equal(out[0], 101);
    assert_int_equal(out[STATE_PURCHASES_MAX - 1], 116);
    state_store_free(store);
}

static void test_rule_slots_replace_oldest(void **state)
{
    (void)state;
    struct state_store *store = new_store(4, 0);
    struct state_user *user = add_user(store, "rules", 0);

    for (uint32_t r = 0; r < STATE_RULE_SLOTS; r++) {
        struct state_rule_counters *counters = state_user_claim_rule(user, 100 + r);
        assert_int_equal(counters->rule_hash, 100 + r);
        counters->last_offer_ms = 1000 - (int64_t)r; /* rule 107 is the oldest */
    }
    assert_ptr_equal(state_user_claim_rule(user, 103), state_user_find_rule(user, 103));
    assert_int_equal(user->rule_count, STATE_RULE_SLOTS);
    assert_null(state_user_find_rule(user, 999));

    struct state_rule_counters *fresh = state_user_claim_rule(user, 999);
    assert_int_equal(fresh->rule_hash, 999);
    assert_int_equal(fresh->last_offer_ms, 0);
    assert_int_equal(user->rule_count, STATE_RULE_SLOTS);
    assert_null(state_user_find_rule(user, 100 + STATE_RULE_SLOTS - 1));
    assert_non_null(state_user_find_rule(user, 100));
    state_store_free(store);
}

static void count_partition(void *ctx, struct state_user *user)
{
    size_t *counts = ctx;

    counts[user->partition]++;
}

static void test_foreach_visits_all(void **state)
{
    (void)state;
    struct state_store *store = new_store(4, 0);
    size_t counts[3] = {0, 0, 0};
    char id[16];

    for (int i = 0; i < 30; i++) {
        snprintf(id, sizeof(id), "f%d", i);
        add_user(store, id, i % 3);
    }
    state_store_remove(store, "f0", 2);
    state_store_foreach(store, count_partition, counts);
    assert_int_equal(counts[0], 9);
    assert_int_equal(counts[1], 10);
    assert_int_equal(counts[2], 10);
    state_store_free(store);
}

static void test_upsert_rejects_bad_ids(void **state)
{
    (void)state;
    struct state_store *store = new_store(8, 0);
    char id[STATE_USER_ID_MAX + 2];
    char error[STATE_ERROR_SIZE];
    int created = -1;

    memset(id, 'x', sizeof(id));
    assert_null(state_store_upsert(store, id, STATE_USER_ID_MAX + 1, 0, &created, error));
    assert_non_null(strstr(error, "65 bytes"));
    assert_null(state_store_upsert(store, id, 0, 0, &created, error));
    assert_non_null(state_store_upsert(store, id, STATE_USER_ID_MAX, 0, &created, error));
    assert_int_equal(created, 1);
    assert_non_null(state_store_find(store, id, STATE_USER_ID_MAX));
    state_store_free(store);
}

static void test_upsert_keeps_state(void **state)
{
    (void)state;
    struct state_store *store = new_store(8, 0);
    char error[STATE_ERROR_SIZE];
    int created;

    struct state_user *user = state_store_upsert(store, "a", 1, 3, &created, error);
    assert_int_equal(created, 1);
    assert_int_equal(user->consent, STATE_CONSENT_UNKNOWN);
    assert_int_equal(user->sentiment, STATE_SENTIMENT_NONE);
    assert_int_equal(user->last_top_category, -1);
    assert_int_equal(user->rule_count, 0);
    user->last_event_ms = 42;

    struct state_user *again = state_store_upsert(store, "a", 1, 7, &created, error);
    assert_int_equal(created, 0);
    assert_ptr_equal(again, user);
    assert_int_equal(again->last_event_ms, 42);
    assert_int_equal(again->partition, 3);
    state_store_free(store);
}

static void test_remove_keeps_others(void **state)
{
    (void)state;
    struct state_store *store = new_store(4, 0);
    char id[32];
    const int n = 20000;

    for (int i = 0; i < n; i++) {
        snprintf(id, sizeof(id), "user-%d", i);
        add_user(store, id, i % 4)->last_event_ms = i;
    }
    for (int i = 0; i < n; i += 2) {
        snprintf(id, sizeof(id), "user-%d", i);
        assert_int_equal(state_store_remove(store, id, strlen(id)), 1);
    }
    assert_int_equal(state_store_remove(store, "user-0", 6), 0);

    struct state_store_stats stats;
    state_store_get_stats(store, &stats);
    assert_int_equal(stats.users, n / 2);
    for (int i = 0; i < n; i++) {
        snprintf(id, sizeof(id), "user-%d", i);
        struct state_user *user = state_store_find(store, id, strlen(id));
        if (i % 2 == 0) {
            assert_null(user);
        } else {
            assert_non_null(user);
            assert_int_equal(user->last_event_ms, i);
        }
    }
    state_store_free(store);
}

static void test_dirty_list_once_in_order(void **state)
{
    (void)state;
    struct state_store *store = new_store(4, 0);
    struct state_user *a = add_user(store, "a", 0);
    struct state_user *b = add_user(store, "b", 0);
    struct state_user *c = add_user(store, "c", 0);

    assert_int_equal(state_store_mark_dirty(store, b), 0);
    assert_int_equal(state_store_mark_dirty(store, a), 0);
    assert_int_equal(state_store_mark_dirty(store, b), 0);
    assert_int_equal(state_store_mark_dirty(store, c), 0);
    assert_int_equal(state_store_dirty_count(store), 3);
    assert_ptr_equal(state_store_dirty_at(store, 0), b);
    assert_ptr_equal(state_store_dirty_at(store, 1), a);
    assert_ptr_equal(state_store_dirty_at(store, 2), c);

    /* Removing a dirty user takes it off the list. */
    assert_int_equal(state_store_remove(store, "b", 1), 1);
    assert_int_equal(state_store_dirty_count(store), 2);
    assert_true(state_store_dirty_at(store, 0) != state_store_dirty_at(store, 1));

    state_store_clear_dirty(store);
    assert_int_equal(state_store_dirty_count(store), 0);
    assert_int_equal(state_store_mark_dirty(store, a), 0);
    assert_int_equal(state_store_dirty_count(store), 1);
    state_store_free(store);
}

static int expired_has(const struct state_expired *out, size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++) {
        if (out[i].id_len == strlen(id) && memcmp(out[i].id, id, out[i].id_len) == 0)
            return 1;
    }
    return 0;
}

static void test_expire_returns_idle_ids(void **state)
{
    (void)state;
    struct state_store *store = new_store(4, 0);
    struct state_expired out[8];

    add_user(store, "old", 2)->last_event_ms = 100;
    add_user(store, "edge", 3)->last_event_ms = 250;
    add_user(store, "fresh", 1)->last_event_ms = 251;
    struct state_user *pinned = add_user(store, "pinned", 0);
    pinned->last_event_ms = 10;
    state_store_mark_dirty(store, pinned);

    /* now 1000, idle 750: last_event_ms <= 250 is idle, dirty users stay. */
    size_t n = state_store_expire(store, 1000, 750, out, 8);
    assert_int_equal(n, 2);
    assert_true(expired_has(out, n, "old"));
    assert_true(expired_has(out, n, "edge"));
    assert_int_equal(out[0].partition + out[1].partition, 5);
    assert_null(state_store_find(store, "old", 3));
    assert_null(state_store_find(store, "edge", 4));
    assert_non_null(state_store_find(store, "fresh", 5));
    assert_non_null(state_store_find(store, "pinned", 6));

    /* Once committed, the pinned user expires too. */
    state_store_clear_dirty(store);
    n = state_store_expire(store, 1000, 750, out, 8);
    assert_int_equal(n, 1);
    assert_true(expired_has(out, n, "pinned"));
    state_store_free(store);
}

static void test_expire_respects_cap(void **state)
{
    (void)state;
    struct state_store *store = new_store(4, 0);
    struct state_expired out[3];
    char id[16];

    for (int i = 0; i < 7; i++) {
        snprintf(id, sizeof(id), "idle-%d", i);
        add_user(store, id, 0)->last_event_ms = 1;
    }
    add_user(store, "busy", 0)->last_event_ms = 95;
    assert_int_equal(state_store_expire(store, 100, 10, out, 3), 3);
    assert_int_equal(state_store_expire(store, 100, 10, out, 3), 3);
    assert_int_equal(state_store_expire(store, 100, 10, out, 3), 1);
    assert_int_equal(state_store_expire(store, 100, 10, out, 3), 0);

    struct state_store_stats stats;
    state_store_get_stats(store, &stats);
    assert_int_equal(stats.users, 1);
    assert_int_equal(stats.expired, 7);

    /* A later pass starts again from the first record: "busy" was passed
     * over while active and expires once idle. */
    assert_int_equal(state_store_expire(store, 200, 10, out, 3), 1);
    assert_true(expired_has(out, 1, "busy"));
    state_store_free(store);
}

static void test_partition_users_follow_changes(void **state)
{
    (void)state;
    struct state_store *store = new_store(4, 0);
    struct state_expired expired[8];

    struct state_user *a = add_user(store, "a", 0);
    a->last_event_ms = 9000;
    add_user(store, "b", 2);
    add_user(store, "c", 2);
    struct state_user *d = add_user(store, "d", 5);
    d->last_event_ms = 1000;
    assert_int_equal(state_store_partition_users(store, 0), 1);
    assert_int_equal(state_store_partition_users(store, 1), 0);
    assert_int_equal(state_store_partition_users(store, 2), 2);
    assert_int_equal(state_store_partition_users(store, 5), 1);
    assert_int_equal(state_store_partition_users(store, 9), 0); /* never seen */
    assert_int_equal(state_store_partition_users(store, -1), 0);

    /* An existing user keeps its partition. */
    add_user(store, "b", 5);
    assert_int_equal(state_store_partition_users(store, 2), 2);
    assert_int_equal(state_store_partition_users(store, 5), 1);

    assert_int_equal(state_store_remove(store, "b", 1), 1);
    assert_int_equal(state_store_partition_users(store, 2), 1);

    assert_int_equal(state_store_drop_partition(store, 2), 1);
    assert_int_equal(state_store_partition_users(store, 2), 0);

    /* At 10 s with 5 s of idle time only "d" (last event at 1 s) expires. */
    assert_int_equal(state_store_expire(store, 10000, 5000, expired, 8), 1);
    assert_int_equal(state_store_partition_users(store, 5), 0);
    assert_int_equal(state_store_partition_users(store, 0), 1);
    state_store_free(store);
}

static void test_evicts_least_recent(void **state)
{
    (void)state;
    struct state_store *probe = new_store(64, 0);
    struct state_store_stats stats;
    char id[32];

    /* Budget: the empty store's fixed bytes plus exactly 100 records. */
    state_store_get_stats(probe, &stats);
    size_t budget = stats.bytes + 100 * stats.record_bytes + 256 * sizeof(uint32_t) + 16 * sizeof(void *);
    state_store_free(probe);

    struct state_store *store = new_store(64, budget);
    struct state_user *first = add_user(store, "user-0", 0);
    state_store_mark_dirty(store, first);
    for (int i = 1; i < 100; i++) {
        snprintf(id, sizeof(id), "user-%d", i);
        add_user(store, id, 0);
    }
    state_store_get_stats(store, &stats);
    assert_int_equal(stats.evicted, 0);

    /* Touch user-1, then add 50 users: user-2 to user-51 make room. */
    add_user(store, "user-1", 0);
    for (int i = 100; i < 150; i++) {
        snprintf(id, sizeof(id), "user-%d", i);
        add_user(store, id, 0);
    }

    state_store_get_stats(store, &stats);
    assert_true(stats.bytes <= budget);
    assert_int_equal(stats.users, 100);
    assert_int_equal(stats.evicted, 50);
    assert_int_equal(stats.over_budget, 0);
    /* The dirty user survives although it is the oldest. */
    assert_non_null(state_store_find(store, "user-0", 6));
    assert_non_null(state_store_find(store, "user-1", 6));
    assert_null(state_store_find(store, "user-2", 6));
    assert_null(state_store_find(store, "user-51", 7));
    assert_non_null(state_store_find(store, "user-52", 7));
    assert_non_null(state_store_find(store, "user-149", 8));
    assert_int_equal(state_store_partition_users(store, 0), 100); /* evictions are counted out */
    state_store_free(store);
}

static void test_over_budget_when_all_dirty(void **state)
{
    (void)state;
    struct state_store *probe = new_store(16, 0);
    struct state_store_stats stats;
    char id[32];

    state_store_get_stats(probe, &stats);
    size_t budget = stats.bytes + 256 * sizeof(uint32_t) + 16 * sizeof(void *) + 5 * stats.record_bytes;
    state_store_free(probe);

    struct state_store *store = new_store(16, budget);
    for (int i = 0; i < 10; i++) {
        snprintf(id, sizeof(id), "d%d", i);
        state_store_mark_dirty(store, add_user(store, id, 0));
    }
    state_store_get_stats(store, &stats);
    assert_int_equal(stats.users, 10);
    assert_int_equal(stats.over_budget, 1);

    /* After the commit the store shrinks to its budget. */
    state_store_clear_dirty(store);
    state_store_get_stats(store, &stats);
    assert_true(stats.bytes <= budget);
    assert_int_equal(stats.over_budget, 0);
    assert_int_equal(stats.users, 5);
    assert_non_null(state_store_find(store, "d9", 2));
    state_store_free(store);
}

static void test_drop_partition(void **state)
{
    (void)state;
    struct state_store *store = new_store(4, 0);
    char id[16];

    for (int i = 0; i < 30; i++) {
        snprintf(id, sizeof(id), "p%d", i);
        add_user(store, id, i % 3);
    }
    assert_int_equal(state_store_drop_partition(store, 1), 10);
    assert_null(state_store_find(store, "p1", 2));
    assert_non_null(state_store_find(store, "p2", 2));
    assert_int_equal(state_store_drop_partition(store, 1), 0);
    state_store_free(store);
}

static void test_options_rejected(void **state)
{
    (void)state;
    struct state_store_options options;
    char error[STATE_ERROR_SIZE];

    state_store_options_defaults(&options);
    assert_int_equal(options.max_len, 64);
    options.max_len = 0;
    assert_null(state_store_new(&options, error));
    assert_non_null(strstr(error, "max_len 0"));
    options.max_len = STATE_MAX_LEN_LIMIT + 1;
    assert_null(state_store_new(&options, error));

    state_store_options_defaults(&options);
    assert_int_equal(options.embedding_dim, 0);
    options.embedding_dim = -1;
    assert_null(state_store_new(&options, error));
    assert_non_null(strstr(error, "embedding_dim -1"));
    options.embedding_dim = STATE_EMBEDDING_DIM_MAX + 1;
    assert_null(state_store_new(&options, error));
    assert_non_null(strstr(error, "embedding_dim 4097"));
}

/* A store that keeps embeddings grows each record by the slot, a new user
 * has no vector, and a store without embeddings has no slot. */
static void test_embedding_slot(void **state)
{
    (void)state;
    struct state_store_options options;
    struct state_store_stats plain_stats, stats;
    char error[STATE_ERROR_SIZE];
    int created;

    state_store_options_defaults(&options);
    struct state_store *plain = state_store_new(&options, error);
    assert_non_null(plain);
    options.embedding_dim = 64;
    struct state_store *store = state_store_new(&options, error);
    assert_non_null(store);

    state_store_get_stats(plain, &plain_stats);
    state_store_get_stats(store, &stats);
    assert_int_equal(state_store_embedding_dim(plain), 0);
    assert_int_equal(state_store_embedding_dim(store), 64);
    /* 4 bytes of scale and 64 values, rounded up to 8. */
    assert_int_equal(stats.record_bytes, (plain_stats.record_bytes + 4 + 64 + 7) & ~(size_t)7);

    struct state_user *without = state_store_upsert(plain, "u", 1, 0, &created, error);
    assert_non_null(without);
    assert_null(state_store_embedding(plain, without));

    struct state_user *user = state_store_upsert(store, "u", 1, 0, &created, error);
    assert_non_null(user);
    struct state_embedding *slot = state_store_embedding(store, user);
    assert_non_null(slot);
    assert_true(slot->scale == 0.0f);
    /* The slot lies inside the record, after the token ring. */
    assert_true((unsigned char *)slot >= (unsigned char *)&user->tokens[state_store_max_len(store)]);
    assert_true((unsigned char *)&slot->values[64] <= (unsigned char *)user + stats.record_bytes);

    /* A reused record starts without a vector again. */
    slot->scale = 1.0f;
    slot->values[63] = 5;
    assert_int_equal(state_store_remove(store, "u", 1), 1);
    user = state_store_upsert(store, "v", 1, 0, &created, error);
    assert_non_null(user);
    assert_true(state_store_embedding(store, user)->scale == 0.0f);
    assert_int_equal(state_store_embedding(store, user)->values[63], 0);
    state_store_free(plain);
    state_store_free(store);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ring_wraps_oldest_first),
        cmocka_unit_test(test_embedding_slot),
        cmocka_unit_test(test_ring_many_wraps),
        cmocka_unit_test(test_purchases_dedupe_and_bound),
        cmocka_unit_test(test_rule_slots_replace_oldest),
        cmocka_unit_test(test_foreach_visits_all),
        cmocka_unit_test(test_upsert_rejects_bad_ids),
        cmocka_unit_test(test_upsert_keeps_state),
        cmocka_unit_test(test_remove_keeps_others),
        cmocka_unit_test(test_dirty_list_once_in_order),
        cmocka_unit_test(test_expire_returns_idle_ids),
        cmocka_unit_test(test_expire_respects_cap),
        cmocka_unit_test(test_partition_users_follow_changes),
        cmocka_unit_test(test_evicts_least_recent),
        cmocka_unit_test(test_over_budget_when_all_dirty),
        cmocka_unit_test(test_drop_partition),
        cmocka_unit_test(test_options_rejected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
