/* JSON input through a field mapping: ClickEvent and ReviewEvent. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "codec_json.h"

static const codec_json_alias_t TAOBAO_ALIASES[] = {
    {"pv", CODEC_ACTION_VIEW},
    {"fav", CODEC_ACTION_FAVOURITE},
    {"cart", CODEC_ACTION_ADD_TO_CART},
    {"buy", CODEC_ACTION_PURCHASE},
};

static codec_json_mapping_t taobao_mapping(void)
{
    codec_json_mapping_t m = {
        .user_id = "uid", .item_id = "iid", .category_id = "cid", .action = "behavior",
        .timestamp = "ts", .timestamp_unit = CODEC_TIME_SECONDS,
        .action_aliases = TAOBAO_ALIASES, .action_alias_count = 4,
    };
    return m;
}

static int click(const codec_json_mapping_t *m, const char *json, codec_click_event_t *e, codec_error_t *err)
{
    return codec_json_decode_click(m, (const uint8_t *)json, strlen(json), e, err);
}

static int review(const codec_json_mapping_t *m, const char *json, codec_review_event_t *e, codec_error_t *err)
{
    return codec_json_decode_review(m, (const uint8_t *)json, strlen(json), e, err);
}

static void click_default_mapping(void **state)
{
    codec_json_mapping_t m;
    codec_click_event_t e;
    codec_error_t err;

    (void)state;
    codec_json_mapping_default(&m);
    assert_int_equal(click(&m, "{\"user_id\":\"u1\",\"item_id\":\"i1\",\"category_id\":\"c1\","
                               "\"action\":\"search\",\"query\":\"红色 shoes\",\"timestamp\":1700000000123,"
                               "\"consent\":true,\"session_id\":\"s1\",\"attributes\":{\"k\":\"v\"},"
                               "\"extra\":[1,2]}", &e, &err), CODEC_OK);
    assert_string_equal(e.user_id, "u1");
    assert_string_equal(e.item_id, "i1");
    assert_string_equal(e.category_id, "c1");
    assert_int_equal(e.action, CODEC_ACTION_SEARCH);
    assert_string_equal(e.query, "红色 shoes");
    assert_int_equal(e.timestamp_ms, 1700000000123);
    assert_int_equal(e.consent, CODEC_CONSENT_GIVEN);
    assert_string_equal(e.session_id, "s1");
    assert_int_equal(e.attribute_count, 1);
    assert_string_equal(e.attributes[0].key, "k");
    assert_string_equal(e.attributes[0].value, "v");
    codec_click_clear(&e);
}

static void click_taobao_mapping(void **state)
{
    codec_json_mapping_t m = taobao_mapping();
    codec_click_event_t e;
    codec_error_t err;

    (void)state;
    assert_int_equal(click(&m, "{\"uid\":1000001,\"iid\":2333346,\"cid\":2520771,\"behavior\":\"cart\","
                               "\"ts\":1511544070}", &e, &err), CODEC_OK);
    assert_string_equal(e.user_id, "1000001");
    assert_string_equal(e.item_id, "2333346");
    assert_string_equal(e.category_id, "2520771");
    assert_int_equal(e.action, CODEC_ACTION_ADD_TO_CART);
    assert_int_equal(e.timestamp_ms, 1511544070000);
    assert_null(e.query);
    assert_null(e.session_id);
    assert_int_equal(e.consent, CODEC_CONSENT_UNKNOWN);
    codec_click_clear(&e);
}

static void click_nested_path(void **state)
{
    codec_json_mapping_t m = taobao_mapping();
    codec_click_event_t e;
    codec_error_t err;

    (void)state;
    m.user_id = "user.id";
    m.timestamp = "meta.time.ms";
    m.timestamp_unit = CODEC_TIME_MILLIS;
    assert_int_equal(click(&m, "{\"user\":{\"id\":\"nested\"},\"iid\":\"i\",\"behavior\":\"buy\","
                               "\"meta\":{\"time\":{\"ms\":5}}}", &e, &err), CODEC_OK);
    assert_string_equal(e.user_id, "nested");
    assert_int_equal(e.timestamp_ms, 5);
    assert_int_equal(e.action, CODEC_ACTION_PURCHASE);
    assert_null(e.category_id);
    codec_click_clear(&e);
}

static void review_full(void **state)
{
    codec_json_mapping_t m;
    codec_review_event_t e;
    codec_error_t err;

    (void)state;
    codec_json_mapping_default(&m);
    assert_int_equal(review(&m, "{\"user_id\":\"u\",\"item_id\":\"i\",\"category_id\":\"书籍\",\"rating\":2,"
                                "\"text\":\"\\u5f88\\u597d \\ud83d\\udc4d\",\"language\":\"zh\","
                                "\"timestamp\":7,\"consent\":false}", &e, &err), CODEC_OK);
    assert_string_equal(e.category_id, "书籍");
    assert_true(e.has_rating);
    assert_int_equal(e.rating, 2);
    assert_string_equal(e.text, "很好 👍");
    assert_string_equal(e.language, "zh");
    assert_int_equal(e.timestamp_ms, 7);
    assert_int_equal(e.consent, CODEC_CONSENT_DENIED);
    codec_review_clear(&e);
}

static void review_null_rating(void **state)
{
    codec_json_mapping_t m;
    codec_review_event_t e;
    codec_error_t err;

    (void)state;
    codec_json_mapping_default(&m);
    assert_int_equal(review(&m, "{\"user_id\":\"u\",\"item_id\":\"i\",\"category_id\":\"c\",\"rating\":null,"
                                "\"text\":\"\",\"timestamp\":7}", &e, &err), CODEC_OK);
    assert_false(e.has_rating);
    assert_null(e.language);
    codec_review_clear(&e);
}

/* Each case must fail with CODEC_ERR_JSON and leave the event empty. */
static void expect_click_error(const codec_json_mapping_t *m, const char *json, const char *fragment)
{
    codec_click_event_t e;
    codec_error_t err;

    assert_int_equal(click(m, json, &e, &err), CODEC_ERR_JSON);
    assert_null(e.user_id);
    assert_null(e.attributes);
    if (strstr(err.message, fragment) == NULL)
        fail_msg("message \"%s\" lacks \"%s\"", err.message, fragment);
}

static void invalid_json(void **state)
{
    codec_json_mapping_t m;
    codec_click_event_t e;
    codec_error_t err;

    (void)state;
    codec_json_mapping_default(&m);
    assert_int_equal(click(&m, "{\"user_id\": \"u\",, }", &e, &err), CODEC_ERR_JSON);
    assert_int_equal(err.offset, 17);
}

static void not_an_object(void **state)
{
    codec_json_mapping_t m;

    (void)state;
    codec_json_mapping_default(&m);
    expect_click_error(&m, "[1,2]", "not an object");
}

static void trailing_garbage(void **state)
{
    codec_json_mapping_t m;

    (void)state;
    codec_json_mapping_default(&m);
    expect_click_error(&m, "{} x", "invalid JSON");
}

static void missing_required(void **state)
{
    codec_json_mapping_t m = taobao_mapping();

    (void)state;
    expect_click_error(&m, "{\"uid\":1,\"behavior\":\"pv\",\"ts\":1}", "\"iid\"");
}

static void null_required(void **state)
{
    codec_json_mapping_t m = taobao_mapping();

    (void)state;
    expect_click_error(&m, "{\"uid\":null,\"iid\":1,\"behavior\":\"pv\",\"ts\":1}", "\"uid\"");
}

static void unmapped_required(void **state)
{
    codec_json_mapping_t m = taobao_mapping();

    (void)state;
    m.action = NULL;
    expect_click_error(&m, "{\"uid\":1,\"iid\":1,\"ts\":1}", "does not map");
}

static void id_wrong_type(void **state)
{
    codec_json_mapping_t m = taobao_mapping();

    (void)state;
    expect_click_error(&m, "{\"uid\":[1],\"iid\":1,\"behavior\":\"pv\",\"ts\":1}", "string or an integer");
}

static void unknown_action(void **state)
{
    codec_json_mapping_t m = taobao_mapping();

    (void)state;
    expect_click_error(&m, "{\"uid\":1,\"iid\":1,\"behavior\":\"share\",\"ts\":1}", "\"share\"");
}

static void timestamp_not_integer(void **state)
{
    codec_json_mapping_t m = taobao_mapping();

    (void)state;
    expect_click_error(&m, "{\"uid\":1,\"iid\":1,\"behavior\":\"pv\",\"ts\":\"2017-11-25\"}", "integer");
}

static void timestamp_overflow(void **state)
{
    codec_json_mapping_t m = taobao_mapping();

    (void)state;
    expect_click_error(&m, "{\"uid\":1,\"iid\":1,\"behavior\":\"pv\",\"ts\":9223372036854775807}", "does not fit");
}

static void consent_wrong_type(void **state)
{
    codec_json_mapping_t m;

    (void)state;
    codec_json_mapping_default(&m);
    expect_click_error(&m, "{\"user_id\":1,\"item_id\":1,\"action\":\"VIEW\",\"timestamp\":1,\"consent\":\"yes\"}",
                       "boolean");
}

static void attribute_not_string(void **state)
{
    codec_json_mapping_t m;

    (void)state;
    codec_json_mapping_default(&m);
    expect_click_error(&m, "{\"user_id\":1,\"item_id\":1,\"action\":\"VIEW\",\"timestamp\":1,"
                           "\"attributes\":{\"a\":\"x\",\"b\":3}}", "attribute \"b\"");
}

static void invalid_utf8(void **state)
{
    codec_json_mapping_t m;

    (void)state;
    codec_json_mapping_default(&m);
    expect_click_error(&m, "{\"user_id\":\"a\xff\",\"item_id\":1,\"action\":\"VIEW\",\"timestamp\":1}", "byte 0xff");
}

static void nul_escape(void **state)
{
    codec_json_mapping_t m;

    (void)state;
    codec_json_mapping_default(&m);
    expect_click_error(&m, "{\"user_id\":\"a\\u0000b\",\"item_id\":1,\"action\":\"VIEW\",\"timestamp\":1}",
                       "invalid JSON");
}

static void duplicate_member(void **state)
{
    codec_json_mapping_t m;

    (void)state;
    codec_json_mapping_default(&m);
    expect_click_error(&m, "{\"user_id\":\"a\",\"user_id\":\"b\",\"item_id\":1,\"action\":\"VIEW\",\"timestamp\":1}",
                       "duplicate");
}

static void rating_out_of_range(void **state)
{
    codec_json_mapping_t m;
    codec_review_event_t e;
    codec_error_t err;

    (void)state;
    codec_json_mapping_default(&m);
    assert_int_equal(review(&m, "{\"user_id\":\"u\",\"item_id\":\"i\",\"category_id\":\"c\",\"rating\":6,"
                                "\"text\":\"t\",\"timestamp\":7}", &e, &err), CODEC_ERR_JSON);
    assert_non_null(strstr(err.message, "1 to 5"));
    assert_null(e.user_id);
}

static void rating_as_string(void **state)
{
    codec_json_mapping_t m;
    codec_review_event_t e;
    codec_error_t err;

    (void)state;
    codec_json_mapping_default(&m);
    assert_int_equal(review(&m, "{\"user_id\":\"u\",\"item_id\":\"i\",\"category_id\":\"c\",\"rating\":\"5\","
                                "\"text\":\"t\",\"timestamp\":7}", &e, &err), CODEC_ERR_JSON);
}

static void review_text_missing(void **state)
{
    codec_json_mapping_t m;
    codec_review_event_t e;
    codec_error_t err;

    (void)state;
    codec_json_mapping_default(&m);
    assert_int_equal(review(&m, "{\"user_id\":\"u\",\"item_id\":\"i\",\"category_id\":\"c\",\"timestamp\":7}",
                            &e, &err), CODEC_ERR_JSON);
    assert_non_null(strstr(err.message, "text"));
}

static void empty_input(void **state)
{
    codec_json_mapping_t m;
    codec_click_event_t e;
    codec_error_t err;

    (void)state;
    codec_json_mapping_default(&m);
    assert_int_equal(codec_json_decode_click(&m, (const uint8_t *)"", 0, &e, &err), CODEC_ERR_JSON);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(click_default_mapping),
        cmocka_unit_test(click_taobao_mapping),
        cmocka_unit_test(click_nested_path),
        cmocka_unit_test(review_full),
        cmocka_unit_test(review_null_rating),
        cmocka_unit_test(invalid_json),
        cmocka_unit_test(not_an_object),
        cmocka_unit_test(trailing_garbage),
        cmocka_unit_test(missing_required),
        cmocka_unit_test(null_required),
        cmocka_unit_test(unmapped_required),
        cmocka_unit_test(id_wrong_type),
        cmocka_unit_test(unknown_action),
        cmocka_unit_test(timestamp_not_integer),
        cmocka_unit_test(timestamp_overflow),
        cmocka_unit_test(consent_wrong_type),
        cmocka_unit_test(attribute_not_string),
        cmocka_unit_test(invalid_utf8),
        cmocka_unit_test(nul_escape),
        cmocka_unit_test(duplicate_member),
        cmocka_unit_test(rating_out_of_range),
        cmocka_unit_test(rating_as_string),
        cmocka_unit_test(review_text_missing),
        cmocka_unit_test(empty_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
