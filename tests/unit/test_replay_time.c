/* intentd replay: time arguments and send pacing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "replay_time.h"

/* 2017-11-26T00:00:00Z in Unix seconds, from `date -u -d 2017-11-26 +%s`. */
#define NOV26_S 1511654400LL

static void time_unix_seconds(void **state)
{
    int64_t ms;

    (void)state;
    assert_int_equal(replay_time_parse("1511658000", &ms), 0);
    assert_int_equal(ms, 1511658000000LL);
}

static void time_iso_forms(void **state)
{
    static const struct {
        const char *text;
        int64_t ms;
    } cases[] = {
        {"2017-11-26", NOV26_S * 1000},
        {"2017-11-26T01:00:00Z", (NOV26_S + 3600) * 1000},
        {"2017-11-26T01:00Z", (NOV26_S + 3600) * 1000},
        {"2017-11-26 01:00:00", (NOV26_S + 3600) * 1000},
        {"2017-11-26T09:00:00+08:00", (NOV26_S + 3600) * 1000},
        {"2017-11-25T20:00:00-0500", (NOV26_S + 3600) * 1000},
        {"2017-11-26T01:00:00.250Z", (NOV26_S + 3600) * 1000 + 250},
        {"1970-01-01T00:00:00Z", 0},
        {"2000-03-01T00:00:00Z", 951868800000LL},
    };
    int64_t ms;

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(replay_time_parse(cases[i].text, &ms), 0);
        assert_int_equal(ms, cases[i].ms);
    }
}

static void time_rejects_garbage(void **state)
{
    static const char *const bad[] = {"", "yesterday", "2017-13-01", "2017-11-26T25:00:00Z", "2017-11-26T01:00:00+8",
                                      "2017-11-26X", "-5", "12a", "2017-11-26T01:00:00Z junk"};
    int64_t ms;

    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(replay_time_parse(bad[i], &ms), -1);
}

static void pacer_max_speed(void **state)
{
    struct replay_pacer pacer = {.speed = 0, .rate = 0, .first_event_ms = 1000, .start_s = 50.0};

    (void)state;
    assert_true(replay_pacer_due(&pacer, 1000000, 999) == 50.0);
}

static void pacer_original_speed(void **state)
{
    struct replay_pacer pacer = {.speed = 1, .first_event_ms = 10000, .start_s = 100.0};

    (void)state;
    assert_true(replay_pacer_due(&pacer, 10000, 0) == 100.0);
    assert_true(replay_pacer_due(&pacer, 13000, 1) == 103.0);
    assert_true(replay_pacer_due(&pacer, 12500, 2) == 102.5);
}

static void pacer_hour_per_minute(void **state)
{
    struct replay_pacer pacer = {.speed = 60, .first_event_ms = 0, .start_s = 0.0};

    (void)state;
    /* one hour of event time at speed 60 is one minute of wall time */
    assert_true(replay_pacer_due(&pacer, 3600 * 1000, 5) == 60.0);
}

static void pacer_rate_limit(void **state)
{
    struct replay_pacer pacer = {.speed = 0, .rate = 4, .first_event_ms = 0, .start_s = 10.0};

    (void)state;
    assert_true(replay_pacer_due(&pacer, 0, 0) == 10.0);
    assert_true(replay_pacer_due(&pacer, 0, 2) == 10.5);
    assert_true(replay_pacer_due(&pacer, 0, 8) == 12.0);
}

static void pacer_later_of_both(void **state)
{
    struct replay_pacer pacer = {.speed = 1, .rate = 1, .first_event_ms = 0, .start_s = 0.0};

    (void)state;
    /* the 10th event may not go before 10 s by rate, although its event time is 2 s */
    assert_true(replay_pacer_due(&pacer, 2000, 10) == 10.0);
    /* and not before 20 s by event time, although the rate allows 1 s */
    assert_true(replay_pacer_due(&pacer, 20000, 1) == 20.0);
}

static void pacer_older_event_at_once(void **state)
{
    struct replay_pacer pacer = {.speed = 1, .first_event_ms = 5000, .start_s = 7.0};

    (void)state;
    assert_true(replay_pacer_due(&pacer, 1000, 1) == 7.0);
}

/* The formatter writes the UTC forms that replay_time_parse reads back,
 * also before 1970, where the milliseconds borrow a second. */
static void time_format_round_trips(void **state)
{
    static const struct {
        int64_t ms;
        const char *text;
    } cases[] = {
        {NOV26_S * 1000, "2017-11-26T00:00:00Z"},
        {(NOV26_S + 3600) * 1000 + 250, "2017-11-26T01:00:00.250Z"},
        {-1, "1969-12-31T23:59:59.999Z"},
        {-1000, "1969-12-31T23:59:59Z"},
        {0, "1970-01-01T00:00:00Z"},
    };
    char text[64];
    int64_t back;

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        replay_time_format(cases[i].ms, text, sizeof text);
        assert_string_equal(text, cases[i].text);
        assert_int_equal(replay_time_parse(text, &back), 0);
        assert_int_equal(back, cases[i].ms);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(time_unix_seconds),      cmocka_unit_test(time_iso_forms),
        cmocka_unit_test(time_rejects_garbage),   cmocka_unit_test(pacer_max_speed),
        cmocka_unit_test(pacer_original_speed),   cmocka_unit_test(pacer_hour_per_minute),
        cmocka_unit_test(pacer_rate_limit),       cmocka_unit_test(pacer_later_of_both),
        cmocka_unit_test(pacer_older_event_at_once), cmocka_unit_test(time_format_round_trips),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
