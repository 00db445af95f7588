/* intentd replay: the synthetic review linkage. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "replay_input.h"
#include "replay_linkage.h"

static const char COMPANION[] = "7,70,700,pv,1000\n"
                                "5,50,500,pv,2000\n"
                                "7,71,701,cart,1500\n"
                                "9,90,900,buy,3000\n"
                                "5,51,501,fav,2600\n"
                                "bad line\n";

static void write_file(char *path, const char *text)
{
    strcpy(path, "/tmp/test_replay_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

/* Returns 1 if a line of the companion file starts with user,item,category. */
static int companion_has(const char *user, const char *item, const char *category)
{
    char line[64];

    snprintf(line, sizeof line, "%s,%s,%s,", user, item, category);
    return strstr(COMPANION, line) != NULL;
}

static void linkage_groups_users(void **state)
{
    struct replay_linkage linkage;
    struct replay_bad_lines bad = {0};
    char path[64], error[REPLAY_ERROR_SIZE];

    (void)state;
    write_file(path, COMPANION);
    assert_int_equal(replay_linkage_load(&linkage, path, &bad, error), 0);
    assert_int_equal(linkage.n_users, 3);
    assert_int_equal(linkage.n_interactions, 5);
    assert_int_equal(bad.count, 1);
    assert_string_equal(linkage.users[0].user_id, "5");
    assert_string_equal(linkage.users[1].user_id, "7");
    assert_int_equal(linkage.users[1].count, 2);
    assert_int_equal(linkage.users[1].min_ms, 1000000);
    assert_int_equal(linkage.users[1].max_ms, 1500000);
    replay_linkage_free(&linkage);
    unlink(path);
}

/* Every pick names a real user with one of that user's own items and a
 * time inside that user's activity. */
static void linkage_picks_real_interactions(void **state)
{
    struct replay_linkage linkage;
    struct replay_bad_lines bad = {0};
    char path[64], error[REPLAY_ERROR_SIZE];
    int seen[3] = {0};

    (void)state;
    write_file(path, COMPANION);
    assert_int_equal(replay_linkage_load(&linkage, path, &bad, error), 0);
    for (uint64_t i = 0; i < 300; i++) {
        struct replay_linkage_pick pick;
        replay_linkage_pick(&linkage, i, &pick);
        assert_true(companion_has(pick.user_id, pick.item_id, pick.category_id));
        const struct replay_linkage_user *user = NULL;
        for (size_t u = 0; u < linkage.n_users; u++)
            if (strcmp(linkage.users[u].user_id, pick.user_id) == 0) {
                user = &linkage.users[u];
                seen[u] = 1;
            }
        assert_non_null(user);
        assert_true(pick.timestamp_ms >= user->min_ms);
        assert_true(pick.timestamp_ms <= user->max_ms);
    }
    /* 300 picks among 3 users reach every user */
    assert_int_equal(seen[0] + seen[1] + seen[2], 3);
    replay_linkage_free(&linkage);
    unlink(path);
}

/* The same file and index give the same pick, whatever order the file's
 * users come in. */
static void linkage_is_deterministic(void **state)
{
    struct replay_linkage a, b;
    struct replay_bad_lines bad = {0};
    char path_a[64], path_b[64], error[REPLAY_ERROR_SIZE];

    (void)state;
    write_file(path_a, COMPANION);
    write_file(path_b, "9,90,900,buy,3000\n5,50,500,pv,2000\n5,51,501,fav,2600\n7,70,700,pv,1000\n"
                       "7,71,701,cart,1500\n");
    assert_int_equal(replay_linkage_load(&a, path_a, &bad, error), 0);
    assert_int_equal(replay_linkage_load(&b, path_b, &bad, error), 0);
    for (uint64_t i = 0; i < 100; i++) {
        struct replay_linkage_pick pa, pb;
        replay_linkage_pick(&a, i, &pa);
        replay_linkage_pick(&b, i, &pb);
        assert_string_equal(pa.user_id, pb.user_id);
        assert_string_equal(pa.item_id, pb.item_id);
        assert_int_equal(pa.timestamp_ms, pb.timestamp_ms);
    }
    replay_linkage_free(&a);
    replay_linkage_free(&b);
    unlink(path_a);
    unlink(path_b);
}

static void linkage_mix_spreads(void **state)
{
    (void)state;
    assert_true(replay_linkage_mix(0, 1) != replay_linkage_mix(0, 2));
    assert_true(replay_linkage_mix(1, 1) != replay_linkage_mix(0, 1));
    assert_true(replay_linkage_mix(5, 3) == replay_linkage_mix(5, 3));
}

/* Reviews without user ids take their owner from the companion file. */
static void reviews_use_linkage(void **state)
{
    struct replay_linkage linkage;
    struct replay_bad_lines bad = {0};
    struct replay_events events = {0};
    struct replay_load load = {.events = &events, .bad = &bad};
    char companion[64], reviews[64], error[REPLAY_ERROR_SIZE];

    (void)state;
    write_file(companion, COMPANION);
    write_file(reviews, "cat,label,review\n书籍,1,好\n水果,0,\"差, 很差\"\n");
    assert_int_equal(replay_linkage_load(&linkage, companion, &bad, error), 0);
    assert_int_equal(replay_read_reviews(&load, reviews, &linkage, error), 0);
    assert_int_equal(events.count, 2);
    for (size_t i = 0; i < events.count; i++) {
        const codec_review_event_t *r = &events.items[i].u.review;
        struct replay_linkage_pick pick;
        replay_linkage_pick(&linkage, i, &pick);
        assert_string_equal(r->user_id, pick.user_id);
        assert_string_equal(r->item_id, pick.item_id);
        assert_string_equal(r->category_id, pick.category_id);
        assert_int_equal(r->timestamp_ms, pick.timestamp_ms);
        assert_true(companion_has(r->user_id, r->item_id, r->category_id));
    }
    assert_int_equal(events.items[1].u.review.rating, 1);
    replay_events_free(&events);
    replay_linkage_free(&linkage);
    unlink(companion);
    unlink(reviews);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(linkage_groups_users),     cmocka_unit_test(linkage_picks_real_interactions),
        cmocka_unit_test(linkage_is_deterministic), cmocka_unit_test(linkage_mix_spreads),
        cmocka_unit_test(reviews_use_linkage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
