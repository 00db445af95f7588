/* intentd replay: the input file readers, bad lines and the time filter. */
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

struct fixture {
    char path[64];
    struct replay_events events;
    struct replay_bad_lines bad;
    struct replay_load load;
    char error[REPLAY_ERROR_SIZE];
};

/* Writes text to a fresh temporary file and prepares an empty load. */
static struct fixture *fixture_new(const char *text, size_t len)
{
    struct fixture *f = calloc(1, sizeof *f);

    assert_non_null(f);
    snprintf(f->path, sizeof f->path, "/tmp/test_replay_XXXXXX");
    int fd = mkstemp(f->path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    close(fd);
    f->load.events = &f->events;
    f->load.bad = &f->bad;
    return f;
}

static void fixture_free(struct fixture *f)
{
    unlink(f->path);
    replay_events_free(&f->events);
    free(f);
}

static struct fixture *fixture_text(const char *text)
{
    return fixture_new(text, strlen(text));
}

static const codec_click_event_t *click_at(struct fixture *f, size_t i)
{
    assert_true(i < f->events.count);
    assert_int_equal(f->events.items[i].kind, REPLAY_CLICK);
    return &f->events.items[i].u.click;
}

static const codec_review_event_t *review_at(struct fixture *f, size_t i)
{
    assert_true(i < f->events.count);
    assert_int_equal(f->events.items[i].kind, REPLAY_REVIEW);
    return &f->events.items[i].u.review;
}

static void taobao_maps_behaviors(void **state)
{
    struct fixture *f = fixture_text("1,10,100,pv,1511658000\n"
                                     "2,20,200,fav,1511658001\r\n"
                                     "3,30,300,cart,1511658002\n"
                                     "\n"
                                     "4,40,400,buy,1511658003");

    (void)state;
    assert_int_equal(replay_read_taobao(&f->load, f->path, f->error), 0);
    assert_int_equal(f->events.count, 4);
    assert_string_equal(click_at(f, 0)->user_id, "1");
    assert_string_equal(click_at(f, 0)->item_id, "10");
    assert_string_equal(click_at(f, 0)->category_id, "100");
    assert_int_equal(click_at(f, 0)->action, CODEC_ACTION_VIEW);
    assert_int_equal(click_at(f, 0)->timestamp_ms, 1511658000000LL);
    assert_int_equal(click_at(f, 1)->action, CODEC_ACTION_FAVOURITE);
    assert_int_equal(click_at(f, 2)->action, CODEC_ACTION_ADD_TO_CART);
    assert_int_equal(click_at(f, 3)->action, CODEC_ACTION_PURCHASE);
    assert_int_equal(click_at(f, 3)->timestamp_ms, 1511658003000LL);
    assert_int_equal(f->bad.count, 0);
    fixture_free(f);
}

static void taobao_bad_lines_named(void **state)
{
    struct fixture *f = fixture_text("1,10,100,pv,1511658000\n"
                                     "2,20,200,click,1511658001\n"
                                     "3,30,300,pv\n"
                                     "x,40,400,pv,1511658003\n"
                                     "5,50,500,pv,soon\n"
                                     "6,60,600,buy,1511658005\n");
    char expected[128];

    (void)state;
    assert_int_equal(replay_read_taobao(&f->load, f->path, f->error), 0);
    assert_int_equal(f->events.count, 2);
    assert_int_equal(f->bad.count, 4);
    assert_int_equal(f->bad.shown, 4);
    snprintf(expected, sizeof expected, "%s:2: invalid behavior 'click'", f->path);
    assert_non_null(strstr(f->bad.messages[0], expected));
    snprintf(expected, sizeof expected, "%s:3: expected 5 fields", f->path);
    assert_non_null(strstr(f->bad.messages[1], expected));
    snprintf(expected, sizeof expected, "%s:4: invalid user_id 'x'", f->path);
    assert_non_null(strstr(f->bad.messages[2], expected));
    snprintf(expected, sizeof expected, "%s:5: invalid timestamp 'soon'", f->path);
    assert_non_null(strstr(f->bad.messages[3], expected));
    fixture_free(f);
}

static void taobao_strict_stops(void **state)
{
    struct fixture *f = fixture_text("1,10,100,pv,1511658000\n2,20,200,??,1\n3,30,300,pv,1511658002\n");
    char expected[128];

    (void)state;
    f->bad.strict = 1;
    assert_int_equal(replay_read_taobao(&f->load, f->path, f->error), -1);
    snprintf(expected, sizeof expected, "%s:2:", f->path);
    assert_non_null(strstr(f->error, expected));
    assert_int_equal(f->events.count, 1);
    fixture_free(f);
}

static void bad_lines_capped_at_ten(void **state)
{
    char text[4096] = "";

    (void)state;
    for (int i = 0; i < 25; i++)
        strcat(text, "bad line\n");
    struct fixture *f = fixture_text(text);
    assert_int_equal(replay_read_taobao(&f->load, f->path, f->error), 0);
    assert_int_equal(f->bad.count, 25);
    assert_int_equal(f->bad.shown, REPLAY_BAD_SHOWN);
    fixture_free(f);
}

static void sequences_synthetic_minutes(void **state)
{
    struct fixture *f = fixture_text("1 5\n1 7\n2 5\n1 9\n\n2 8\n");

    (void)state;
    assert_int_equal(replay_read_sequences(&f->load, f->path, f->error), 0);
    assert_int_equal(f->events.count, 5);
    assert_int_equal(click_at(f, 0)->timestamp_ms, REPLAY_SYNTHETIC_START_S * 1000);
    assert_int_equal(click_at(f, 1)->timestamp_ms, (REPLAY_SYNTHETIC_START_S + 60) * 1000);
    assert_int_equal(click_at(f, 2)->timestamp_ms, REPLAY_SYNTHETIC_START_S * 1000);
    assert_int_equal(click_at(f, 3)->timestamp_ms, (REPLAY_SYNTHETIC_START_S + 120) * 1000);
    assert_int_equal(click_at(f, 4)->timestamp_ms, (REPLAY_SYNTHETIC_START_S + 60) * 1000);
    assert_string_equal(click_at(f, 3)->item_id, "9");
    assert_int_equal(click_at(f, 3)->action, CODEC_ACTION_VIEW);
    assert_null(click_at(f, 3)->category_id);
    fixture_free(f);
}

static void sequences_bad_lines(void **state)
{
    struct fixture *f = fixture_text("1 5\n0 3\n1\n1 2 3\na b\n2 4\n");
    char expected[128];

    (void)state;
    assert_int_equal(replay_read_sequences(&f->load, f->path, f->error), 0);
    assert_int_equal(f->events.count, 2);
    assert_int_equal(f->bad.count, 4);
    snprintf(expected, sizeof expected, "%s:2: invalid user id '0'", f->path);
    assert_non_null(strstr(f->bad.messages[0], expected));
    snprintf(expected, sizeof expected, "%s:5:", f->path);
    assert_non_null(strstr(f->bad.messages[3], expected));
    fixture_free(f);
}

/* A review file with a BOM in the first review, quoted commas, quoted
 * newlines and doubled quotes, and explicit user ids. */
static void reviews_quoting_and_bom(void **state)
{
    const char text[] = "cat,label,review,user_id,item_id,timestamp\n"
                        "书籍,1,\xEF\xBB\xBF很好,u1,i1,1511658000\n"
                        "水果,0,\"甜, 但是\n坏了\",u2,i2,1511658001\n"
                        "平板,1,\"He said \"\"ok\"\"\",u3,i3,1511658002\n";
    struct fixture *f = fixture_text(text);

    (void)state;
    assert_int_equal(replay_read_reviews(&f->load, f->path, NULL, f->error), 0);
    assert_int_equal(f->events.count, 3);
    assert_string_equal(review_at(f, 0)->text, "很好");
    assert_string_equal(review_at(f, 0)->category_id, "书籍");
    assert_int_equal(review_at(f, 0)->rating, 5);
    assert_true(review_at(f, 0)->has_rating);
    assert_string_equal(review_at(f, 1)->text, "甜, 但是\n坏了");
    assert_int_equal(review_at(f, 1)->rating, 1);
    assert_string_equal(review_at(f, 1)->user_id, "u2");
    assert_string_equal(review_at(f, 1)->item_id, "i2");
    assert_int_equal(review_at(f, 1)->timestamp_ms, 1511658001000LL);
    assert_string_equal(review_at(f, 2)->text, "He said \"ok\"");
    assert_int_equal(f->bad.count, 0);
    fixture_free(f);
}

/* A byte-order mark before the header does not hide the "cat" column. */
static void reviews_bom_before_header(void **state)
{
    struct fixture *f = fixture_text("\xEF\xBB\xBF" "cat,label,review,user_id,item_id\n书籍,0,差,u1,i1\n");

    (void)state;
    assert_int_equal(replay_read_reviews(&f->load, f->path, NULL, f->error), 0);
    assert_int_equal(f->events.count, 1);
    assert_string_equal(review_at(f, 0)->category_id, "书籍");
    assert_int_equal(review_at(f, 0)->rating, 1);
    fixture_free(f);
}

static void reviews_bad_lines_named(void **state)
{
    const char text[] = "cat,label,review,user_id,item_id\n"
                        "书籍,1,好,u1,i1\n"
                        "书籍,2,好,u1,i1\n"
                        "\"书籍,1,\"多行\n引号\",u1,i1\n"
                        "书籍,0,,u1,i1\n"
                        "书籍,1,好\n"
                        "书籍,1,\"unterminated,u1,i1\n";
    struct fixture *f = fixture_text(text);
    char expected[128];

    (void)state;
    assert_int_equal(replay_read_reviews(&f->load, f->path, NULL, f->error), 0);
    assert_int_equal(f->events.count, 1);
    assert_int_equal(f->bad.count, 6);
    snprintf(expected, sizeof expected, "%s:3: invalid label '2'", f->path);
    assert_non_null(strstr(f->bad.messages[0], expected));
    /* a character after a closing quote: the record is skipped to the end of
     * its line, and the rest of the quoted text is a record of its own */
    snprintf(expected, sizeof expected, "%s:4:", f->path);
    assert_non_null(strstr(f->bad.messages[1], expected));
    snprintf(expected, sizeof expected, "%s:5: expected 5 fields", f->path);
    assert_non_null(strstr(f->bad.messages[2], expected));
    snprintf(expected, sizeof expected, "%s:6: empty review text", f->path);
    assert_non_null(strstr(f->bad.messages[3], expected));
    snprintf(expected, sizeof expected, "%s:7: expected 5 fields", f->path);
    assert_non_null(strstr(f->bad.messages[4], expected));
    snprintf(expected, sizeof expected, "%s:8: unterminated quoted field", f->path);
    assert_non_null(strstr(f->bad.messages[5], expected));
    fixture_free(f);
}

static void reviews_without_users_rejected(void **state)
{
    struct fixture *f = fixture_text("cat,label,review\n书籍,1,好\n");

    (void)state;
    assert_int_equal(replay_read_reviews(&f->load, f->path, NULL, f->error), -1);
    assert_non_null(strstr(f->error, "--reviews-users-from"));
    fixture_free(f);
}

static void reviews_header_checked(void **state)
{
    struct fixture *f = fixture_text("cat,stars,review\n书籍,1,好\n");

    (void)state;
    assert_int_equal(replay_read_reviews(&f->load, f->path, NULL, f->error), -1);
    assert_non_null(strstr(f->error, ":1: the header must name the columns cat, label and review"));
    fixture_free(f);
}

static void jsonl_clicks_and_reviews(void **state)
{
    struct fixture *f = fixture_text(
        "{\"type\":\"click\",\"user_id\":\"u1\",\"item_id\":\"i1\",\"action\":\"PURCHASE\",\"timestamp\":1000}\n"
        "{\"type\":\"review\",\"user_id\":\"u1\",\"item_id\":\"i1\",\"category_id\":\"c\",\"rating\":4,"
        "\"text\":\"不错\",\"timestamp\":2000}\n"
        "{\"user_id\":\"u1\",\"item_id\":\"i1\",\"action\":\"VIEW\",\"timestamp\":3000}\n"
        "{\"type\":\"click\",\"user_id\":\"u1\"\n"
        "{\"type\":\"review\",\"user_id\":\"u1\",\"item_id\":\"i1\",\"category_id\":\"c\",\"rating\":9,"
        "\"text\":\"x\",\"timestamp\":2000}\n");
    char expected[128];

    (void)state;
    assert_int_equal(replay_read_jsonl(&f->load, f->path, f->error), 0);
    assert_int_equal(f->events.count, 2);
    assert_int_equal(click_at(f, 0)->action, CODEC_ACTION_PURCHASE);
    assert_int_equal(click_at(f, 0)->timestamp_ms, 1000);
    assert_string_equal(review_at(f, 1)->text, "不错");
    assert_int_equal(review_at(f, 1)->rating, 4);
    assert_int_equal(f->bad.count, 3);
    snprintf(expected, sizeof expected, "%s:3: missing or invalid \"type\"", f->path);
    assert_non_null(strstr(f->bad.messages[0], expected));
    snprintf(expected, sizeof expected, "%s:4: invalid JSON", f->path);
    assert_non_null(strstr(f->bad.messages[1], expected));
    snprintf(expected, sizeof expected, "%s:5: invalid ReviewEvent", f->path);
    assert_non_null(strstr(f->bad.messages[2], expected));
    fixture_free(f);
}

static void time_filter_half_open(void **state)
{
    struct fixture *f = fixture_text("1,1,1,pv,100\n1,1,1,pv,200\n1,1,1,pv,300\n1,1,1,pv,400\n");

    (void)state;
    f->load.has_from = f->load.has_to = 1;
    f->load.from_ms = 200000;
    f->load.to_ms = 400000;
    assert_int_equal(replay_read_taobao(&f->load, f->path, f->error), 0);
    assert_int_equal(f->events.count, 2);
    assert_int_equal(click_at(f, 0)->timestamp_ms, 200000);
    assert_int_equal(click_at(f, 1)->timestamp_ms, 300000);
    assert_int_equal(f->load.filtered, 2);
    fixture_free(f);
}

/* Two inputs with equal times: the sort keeps input order, then file order. */
static void sort_is_stable_merge(void **state)
{
    struct fixture *a = fixture_text("1,1,1,pv,300\n1,2,1,pv,100\n1,3,1,pv,100\n");
    struct fixture *b = fixture_text("2,4,1,pv,100\n2,5,1,pv,200\n");

    (void)state;
    assert_int_equal(replay_read_taobao(&a->load, a->path, a->error), 0);
    b->load.events = &a->events;
    b->load.input = 1;
    assert_int_equal(replay_read_taobao(&b->load, b->path, b->error), 0);
    replay_events_sort(&a->events);
    static const char *const order[] = {"2", "3", "4", "5", "1"};
    assert_int_equal(a->events.count, 5);
    for (size_t i = 0; i < 5; i++)
        assert_string_equal(click_at(a, i)->item_id, order[i]);
    fixture_free(b);
    fixture_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(taobao_maps_behaviors),      cmocka_unit_test(taobao_bad_lines_named),
        cmocka_unit_test(taobao_strict_stops),        cmocka_unit_test(bad_lines_capped_at_ten),
        cmocka_unit_test(sequences_synthetic_minutes), cmocka_unit_test(sequences_bad_lines),
        cmocka_unit_test(reviews_quoting_and_bom),
        cmocka_unit_test(reviews_bom_before_header),    cmocka_unit_test(reviews_bad_lines_named),
        cmocka_unit_test(reviews_without_users_rejected), cmocka_unit_test(reviews_header_checked),
        cmocka_unit_test(jsonl_clicks_and_reviews),   cmocka_unit_test(time_filter_half_open),
        cmocka_unit_test(sort_is_stable_merge),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
