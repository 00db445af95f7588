/* Unit tests of the consumer lag taken from librdkafka statistics: end of
 * partition minus position, the fallbacks when a field is unknown, and
 * which entries a document replaces. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "metrics_lag.h"

static const char *topics[3] = {"click", "reviews", NULL};

static const struct metrics_lag *find(const struct metrics_lag_table *t, const char *topic, int32_t partition)
{
    for (int i = 0; i < t->count; i++) {
        if (strcmp(t->entries[i].topic, topic) == 0 && t->entries[i].partition == partition)
            return &t->entries[i];
    }
    return NULL;
}

static int update(struct metrics_lag_table *t, const char *json)
{
    return metrics_lag_update(t, json, strlen(json), topics, 3);
}

static void test_lag_is_end_minus_position(void **state)
{
    (void)state;
    static struct metrics_lag_table t;
    const char *json =
        "{\"topics\":{\"click\":{\"partitions\":{"
        "\"0\":{\"ls_offset\":120,\"hi_offset\":130,\"app_offset\":100,\"committed_offset\":50},"
        "\"1\":{\"ls_offset\":-1001,\"hi_offset\":40,\"app_offset\":-1001,\"committed_offset\":10},"
        "\"2\":{\"ls_offset\":-1001,\"hi_offset\":-1001,\"app_offset\":5,\"committed_offset\":5},"
        "\"-1\":{\"ls_offset\":9,\"app_offset\":1}}},"
        "\"other\":{\"partitions\":{\"0\":{\"ls_offset\":9,\"app_offset\":1}}}}}";

    assert_int_equal(update(&t, json), 0);
    assert_int_equal(t.count, 2);
    assert_int_equal(find(&t, "click", 0)->lag, 20); /* the last stable offset, not the high watermark */
    assert_int_equal(find(&t, "click", 1)->lag, 30); /* fallbacks: hi_offset and committed_offset */
    assert_null(find(&t, "click", 2));                 /* end unknown */
    assert_null(find(&t, "click", -1));
}

static void test_a_document_replaces_only_its_topics(void **state)
{
    (void)state;
    static struct metrics_lag_table t;
    assert_int_equal(update(&t, "{\"topics\":{\"click\":{\"partitions\":{\"0\":{\"ls_offset\":8,\"app_offset\":3},"
                                "\"1\":{\"ls_offset\":8,\"app_offset\":8}}}}}"),
                     0);
    assert_int_equal(update(&t, "{\"topics\":{\"reviews\":{\"partitions\":{\"2\":{\"ls_offset\":7,\"app_offset\":9}}}}}"),
                     0);
    assert_int_equal(t.count, 3);
    assert_int_equal(find(&t, "reviews", 2)->lag, 0); /* never negative */
    assert_int_equal(update(&t, "{\"topics\":{\"click\":{\"partitions\":{\"1\":{\"ls_offset\":9,\"app_offset\":4}}}}}"),
                     0);
    assert_int_equal(t.count, 2);
    assert_null(find(&t, "click", 0)); /* no longer reported */
    assert_int_equal(find(&t, "click", 1)->lag, 5);
    assert_non_null(find(&t, "reviews", 2));
}

static void test_bad_json_leaves_the_table(void **state)
{
    (void)state;
    static struct metrics_lag_table t;
    assert_int_equal(update(&t, "{\"topics\":{\"click\":{\"partitions\":{\"0\":{\"ls_offset\":8,\"app_offset\":3}}}}}"),
                     0);
    assert_int_equal(update(&t, "{\"topics\":"), -1);
    assert_int_equal(t.count, 1);
    assert_int_equal(find(&t, "click", 0)->lag, 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lag_is_end_minus_position),
        cmocka_unit_test(test_a_document_replaces_only_its_topics),
        cmocka_unit_test(test_bad_json_leaves_the_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
