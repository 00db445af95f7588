/* Scale check of the user state store. It measures bytes per user against a
 * bound of 1024, with full rings at max_len 64 and a stored 64-component
 * embedding, which is the largest state of the default model (intents.emit
 * on_move). It also times the restore from encoded changelog records and one
 * expiry scan. Runs 1,000,000 users, or 100,000 under AddressSanitizer,
 * whose shadow memory and slower code would otherwise push the test past 10 s.
 * The speeds it prints depend on the machine and are not asserted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "state_codec.h"
#include "state_embedding.h"
#include "state_store.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

#define MAX_LEN 64
#define EMBEDDING_DIM 64 /* d_model of the default model */
#define BYTES_PER_USER_LIMIT 1024.0

static size_t user_count(void)
{
    return UNDER_ASAN ? 100000 : 1000000;
}

/* Wall and CPU seconds. The CPU time (user + system of this process) is
 * printed too because a loaded machine stretches the wall time. */
struct stopwatch {
    double wall;
    double cpu;
};

static double clock_s(clockid_t id)
{
    struct timespec ts;

    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static struct stopwatch stopwatch_start(void)
{
    return (struct stopwatch){clock_s(CLOCK_MONOTONIC), clock_s(CLOCK_PROCESS_CPUTIME_ID)};
}

static struct stopwatch stopwatch_elapsed(struct stopwatch start)
{
    return (struct stopwatch){clock_s(CLOCK_MONOTONIC) - start.wall,
                              clock_s(CLOCK_PROCESS_CPUTIME_ID) - start.cpu};
}

/* Resident set size in bytes, from /proc/self/statm. */
static size_t rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long pages_total = 0, pages_resident = 0;

    assert_non_null(f);
    assert_int_equal(fscanf(f, "%lu %lu", &pages_total, &pages_resident), 2);
    fclose(f);
    return (size_t)pages_resident * (size_t)sysconf(_SC_PAGESIZE);
}

static struct state_store *new_store(void)
{
    struct state_store_options options;
    char error[STATE_ERROR_SIZE];

    state_store_options_defaults(&options);
    options.max_len = MAX_LEN;
    options.embedding_dim = EMBEDDING_DIM;
    struct state_store *store = state_store_new(&options, error);
    assert_non_null(store);
    return store;
}

/* Taobao-like numeric ids of 10 bytes. */
static size_t format_id(char *id, size_t i)
{
    return (size_t)snprintf(id, 16, "u%09zu", i);
}

static void fill(struct state_store *store, size_t n)
{
    char id[16];
    char error[STATE_ERROR_SIZE];
    int32_t tokens[MAX_LEN];
    float embedding[EMBEDDING_DIM];
    int created;

    for (size_t i = 0; i < n; i++) {
        size_t len = format_id(id, i);
        struct state_user *user = state_store_upsert(store, id, len, (int32_t)(i % 12), &created, error);
        assert_non_null(user);
        for (int t = 0; t < MAX_LEN; t++)
            tokens[t] = (int32_t)(i + (size_t)t);
        state_store_push_tokens(store, user, tokens, MAX_LEN);
        for (int32_t p = 0; p < 4; p++)
            state_user_add_purchase(user, (int32_t)i + p);
        user->last_event_ms = (int64_t)i;
        user->last_action_ms[0] = (int64_t)i;
        user->consent = STATE_CONSENT_GRANTED;
        state_user_claim_rule(user, 1)->last_offer_ms = (int64_t)i;
        state_user_claim_rule(user, 2)->offers_in_window = 1;
        for (int d = 0; d < EMBEDDING_DIM; d++)
            embedding[d] = (float)((i + (size_t)d) % 13) - 6.0f;
        state_embedding_store(state_store_embedding(store, user), embedding, EMBEDDING_DIM);
    }
}

static void test_bytes_per_user(void **state)
{
    (void)state;
    size_t n = user_count();
    size_t rss_before = rss_bytes();
    struct state_store *store = new_store();

    struct stopwatch start = stopwatch_start();
    fill(store, n);
    struct stopwatch elapsed = stopwatch_elapsed(start);
    size_t rss_after = rss_bytes();

    struct state_store_stats stats;
    state_store_get_stats(store, &stats);
    double counted = (double)stats.bytes / (double)n;
    double allocated = (double)stats.allocated_bytes / (double)n;
    double resident = (double)(rss_after - rss_before) / (double)n;
    printf("state scale: %zu users, max_len %d, embedding_dim %d%s\n", n, MAX_LEN, EMBEDDING_DIM,
           UNDER_ASAN ? " (AddressSanitizer)" : "");
    printf("state scale: record %zu B, budget-counted %.1f B/user, allocated %.1f B/user, "
           "RSS growth %.1f B/user\n", stats.record_bytes, counted, allocated, resident);
    printf("state scale: insert + 64 tokens each: %.0f users/s wall, %.0f users/s CPU\n",
           (double)n / elapsed.wall, (double)n / elapsed.cpu);

    assert_int_equal(stats.users, n);
    assert_true(counted <= BYTES_PER_USER_LIMIT);
    assert_true(allocated <= BYTES_PER_USER_LIMIT);
    /* Sanitizer shadow memory inflates RSS, so only plain builds check it. */
    if (!UNDER_ASAN)
        assert_true(resident <= BYTES_PER_USER_LIMIT);
    state_store_free(store);
}

static void test_restore_speed(void **state)
{
    (void)state;
    size_t n = user_count();
    struct state_store *source = new_store();
    char error[STATE_ERROR_SIZE];
    char id[16];

    fill(source, n);

    /* Encode every user as the changelog would hold it: key, value. */
    size_t record_max = STATE_CODEC_HEADER_SIZE + 8 * STATE_ACTION_SLOTS +
                        4 * (MAX_LEN + STATE_PURCHASES_MAX) + STATE_CODEC_RULE_SIZE * STATE_RULE_SLOTS +
                        4 + EMBEDDING_DIM;
    unsigned char *values = malloc(n * record_max);
    size_t *lengths = malloc(n * sizeof(*lengths));
    assert_non_null(values);
    assert_non_null(lengths);
    for (size_t i = 0; i < n; i++) {
        size_t len = format_id(id, i);
        struct state_user *user = state_store_find(source, id, len);
        assert_non_null(user);
        assert_int_equal(state_codec_encode(source, user, values + i * record_max, record_max,
                                            &lengths[i], error), STATE_CODEC_OK);
    }
    /* The source stays allocated so the target faults in fresh pages, as a
     * process that restores after a restart does. */
    struct state_store *target = new_store();
    struct stopwatch start = stopwatch_start();
    for (size_t i = 0; i < n; i++) {
        size_t len = format_id(id, i);
        int status = state_codec_restore(target, id, len, values + i * record_max, lengths[i],
                                         (int32_t)(i % 12), error);
        if (status != STATE_CODEC_OK)
            fail_msg("restore of user %zu failed: %s", i, error);
    }
    struct stopwatch elapsed = stopwatch_elapsed(start);
    printf("state scale: restore %zu users in %.3f s wall (%.0f users/s), %.3f s CPU "
           "(%.0f users/s)\n", n, elapsed.wall, (double)n / elapsed.wall, elapsed.cpu,
           (double)n / elapsed.cpu);

    struct state_store_stats stats;
    state_store_get_stats(target, &stats);
    assert_int_equal(stats.users, n);
    int32_t tokens[MAX_LEN];
    size_t last = n - 1;
    struct state_user *user = state_store_find(target, id, format_id(id, last));
    assert_non_null(user);
    assert_int_equal(state_store_copy_tokens(target, user, tokens, MAX_LEN), MAX_LEN);
    assert_int_equal(tokens[0], (int32_t)last);
    assert_int_equal(tokens[MAX_LEN - 1], (int32_t)(last + MAX_LEN - 1));
    assert_true(state_user_has_purchased(user, (int32_t)last + 3));
    assert_non_null(state_user_find_rule(user, 1));
    struct state_user *original = state_store_find(source, id, format_id(id, last));
    assert_non_null(original);
    assert_memory_equal(state_store_embedding(target, user), state_store_embedding(source, original),
                        sizeof(struct state_embedding) + EMBEDDING_DIM);

    /* One expiry pass over every user, drained 256 at a time as a batch
     * would. The older half is idle. */
    struct state_expired expired[256];
    size_t removed = 0;
    size_t calls = 0;
    size_t got;
    start = stopwatch_start();
    do {
        got = state_store_expire(target, (int64_t)n, (int64_t)(n - n / 2 + 1), expired, 256);
        removed += got;
        calls++;
    } while (got == 256);
    elapsed = stopwatch_elapsed(start);
    printf("state scale: expiry pass over %zu users removed %zu in %zu calls, %.3f s wall, "
           "%.3f s CPU\n", n, removed, calls, elapsed.wall, elapsed.cpu);
    assert_int_equal(removed, n / 2);

    state_store_free(source);
    free(values);
    free(lengths);
    state_store_free(target);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bytes_per_user),
        cmocka_unit_test(test_restore_speed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
