/* intentd replay: command-line parsing and its usage errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "replay_cli.h"
#include "replay_copy.h"

#define ARGC(argv) ((int)(sizeof(argv) / sizeof(argv[0])) - 1)

static void cli_inputs_in_order(void **state)
{
    char *argv[] = {"replay", "--config", "c.yaml", "--reviews", "r.csv", "--taobao", "t.csv", "--avro", "a.avro",
                    "--reviews-users-from", "t.csv", NULL};
    struct replay_cli cli;

    (void)state;
    assert_int_equal(replay_cli_parse(ARGC(argv), argv, &cli), -1);
    assert_int_equal(cli.n_inputs, 3);
    assert_int_equal(cli.inputs[0].kind, REPLAY_INPUT_REVIEWS);
    assert_int_equal(cli.inputs[1].kind, REPLAY_INPUT_TAOBAO);
    assert_int_equal(cli.inputs[2].kind, REPLAY_INPUT_AVRO);
    assert_string_equal(cli.reviews_users_from, "t.csv");
    assert_true(cli.speed == 0);
    assert_true(cli.limit == UINT64_MAX);
    replay_cli_free(&cli);
}

static void cli_speed_and_filters(void **state)
{
    char *argv[] = {"replay", "--config", "c.yaml", "--taobao", "t.csv", "--speed", "60", "--rate", "500",
                    "--from", "2017-11-26T00:00:00Z", "--to", "1511740800", "--limit", "42", "--dry-run", "--strict",
                    NULL};
    struct replay_cli cli;

    (void)state;
    assert_int_equal(replay_cli_parse(ARGC(argv), argv, &cli), -1);
    assert_true(cli.speed == 60.0);
    assert_true(cli.rate == 500.0);
    assert_true(cli.has_from);
    assert_int_equal(cli.from_ms, 1511654400000LL);
    assert_int_equal(cli.to_ms, 1511740800000LL);
    assert_int_equal(cli.limit, 42);
    assert_true(cli.dry_run);
    assert_true(cli.strict);
    replay_cli_free(&cli);
}

static void cli_topic_copy(void **state)
{
    char *argv[] = {"replay", "--config", "c.yaml", "--from-topic", "a", "--to-topic", "b", "--from-offset", "5",
                    "--to-timestamp", "2017-11-27", NULL};
    struct replay_cli cli;

    (void)state;
    assert_int_equal(replay_cli_parse(ARGC(argv), argv, &cli), -1);
    assert_string_equal(cli.from_topic, "a");
    assert_int_equal(cli.from_offset, 5);
    assert_true(cli.to_offset == REPLAY_COPY_NONE);
    assert_int_equal(cli.to_timestamp_ms, 1511740800000LL);
    replay_cli_free(&cli);
}

/* Each argument list is a usage error (exit status 2). */
static void cli_usage_errors(void **state)
{
    static char *cases[][12] = {
        {"replay", "--taobao", "t.csv"},
        {"replay", "--config", "c.yaml"},
        {"replay", "--config", "c.yaml", "--taobao", "t.csv", "--speed", "0"},
        {"replay", "--config", "c.yaml", "--taobao", "t.csv", "--speed", "fast"},
        {"replay", "--config", "c.yaml", "--taobao", "t.csv", "--rate", "-1"},
        {"replay", "--config", "c.yaml", "--taobao", "t.csv", "--from", "noon"},
        {"replay", "--config", "c.yaml", "--taobao", "t.csv", "--from", "200", "--to", "100"},
        {"replay", "--config", "c.yaml", "--taobao", "t.csv", "--limit", "-3"},
        {"replay", "--config", "c.yaml", "--taobao", "t.csv", "--from-offset", "3"},
        {"replay", "--config", "c.yaml", "--from-topic", "a"},
        {"replay", "--config", "c.yaml", "--from-topic", "a", "--to-topic", "b", "--taobao", "t.csv"},
        {"replay", "--config", "c.yaml", "--from-topic", "a", "--to-topic", "b", "--to-offset", "1",
         "--to-timestamp", "5"},
    };
    struct replay_cli cli;

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int argc = 0;
        while (cases[i][argc])
            argc++;
        assert_int_equal(replay_cli_parse(argc, cases[i], &cli), 2);
        replay_cli_free(&cli);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cli_inputs_in_order),
        cmocka_unit_test(cli_speed_and_filters),
        cmocka_unit_test(cli_topic_copy),
        cmocka_unit_test(cli_usage_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
