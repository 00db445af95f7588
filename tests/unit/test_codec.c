/* Round trips of the four intentd records through the Confluent frame codec. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "codec.h"
#include "codec_events.h"

#define CATALOGUE INTENTD_SCHEMA_DIR "/catalogue.json"

static int setup(void **state)
{
    codec_t *codec;
    codec_error_t err;

    if (codec_open(CATALOGUE, &codec, &err) != CODEC_OK) {
        print_error("codec_open: %s\n", err.message);
        return -1;
    }
    *state = codec;
    return 0;
}

static int teardown(void **state)
{
    codec_close(*state);
    return 0;
}

static codec_click_event_t sample_click(codec_attribute_t *attrs)
{
    codec_click_event_t e = {
        .user_id = "u-1001",
        .item_id = "item-77",
        .category_id = "cat-5",
        .action = CODEC_ACTION_SEARCH,
        .query = "红色 running shoes",
        .timestamp_ms = 1511544070000,
        .consent = CODEC_CONSENT_GIVEN,
        .session_id = "s-9",
        .attributes = attrs,
        .attribute_count = 2,
    };
    return e;
}

static void click_round_trip(void **state)
{
    codec_attribute_t attrs[2] = {{"device", "mobile"}, {"referrer", "ad"}};
    codec_click_event_t in = sample_click(attrs);
    codec_click_event_t out;
    codec_error_t err;
    uint8_t *buf;
    size_t len;

    assert_int_equal(codec_encode_click(*state, &in, &buf, &len, &err), CODEC_OK);
    assert_int_equal(codec_decode_click(*state, buf, len, &out, &err), CODEC_OK);
    assert_string_equal(out.user_id, in.user_id);
    assert_string_equal(out.item_id, in.item_id);
    assert_string_equal(out.category_id, in.category_id);
    assert_int_equal(out.action, CODEC_ACTION_SEARCH);
    assert_string_equal(out.query, in.query);
    assert_int_equal(out.timestamp_ms, in.timestamp_ms);
    assert_int_equal(out.consent, CODEC_CONSENT_GIVEN);
    assert_string_equal(out.session_id, in.session_id);
    assert_int_equal(out.attribute_count, 2);
    for (size_t i = 0; i < 2; i++) {
        int found = 0;
        for (size_t k = 0; k < 2; k++)
            if (strcmp(out.attributes[k].key, attrs[i].key) == 0 &&
                strcmp(out.attributes[k].value, attrs[i].value) == 0)
                found = 1;
        assert_true(found);
    }
    codec_click_clear(&out);
    free(buf);
}

static void click_nulls_round_trip(void **state)
{
    codec_click_event_t in = {.user_id = "u", .item_id = "i", .action = CODEC_ACTION_VIEW,
                              .timestamp_ms = -5, .consent = CODEC_CONSENT_UNKNOWN};
    codec_click_event_t out;
    codec_error_t err;
    uint8_t *buf;
    size_t len;

    assert_int_equal(codec_encode_click(*state, &in, &buf, &len, &err), CODEC_OK);
    assert_int_equal(codec_decode_click(*state, buf, len, &out, &err), CODEC_OK);
    assert_null(out.category_id);
    assert_null(out.query);
    assert_null(out.session_id);
    assert_int_equal(out.consent, CODEC_CONSENT_UNKNOWN);
    assert_int_equal(out.attribute_count, 0);
    assert_int_equal(out.timestamp_ms, -5);
    assert_int_equal(out.action, CODEC_ACTION_VIEW);
    codec_click_clear(&out);
    free(buf);
}

static void click_every_action(void **state)
{
    for (int a = 0; a < CODEC_ACTION_COUNT; a++) {
        codec_click_event_t in = {.user_id = "u", .item_id = "i", .action = (codec_action_t)a,
                                  .consent = CODEC_CONSENT_DENIED};
        codec_click_event_t out;
        codec_error_t err;
        uint8_t *buf;
        size_t len;

        assert_int_equal(codec_encode_click(*state, &in, &buf, &len, &err), CODEC_OK);
        assert_int_equal(codec_decode_click(*state, buf, len, &out, &err), CODEC_OK);
        assert_int_equal(out.action, a);
        assert_int_equal(out.consent, CODEC_CONSENT_DENIED);
        codec_click_clear(&out);
        free(buf);
    }
}

static void review_round_trip(void **state)
{
    codec_review_event_t in = {
        .user_id = "u-2", .item_id = "i-3", .category_id = "书籍", .has_rating = true, .rating = 4,
        .text = "物流很快，质量不错 👍 fast shipping", .language = "zh", .timestamp_ms = 1700000000123,
        .consent = CODEC_CONSENT_UNKNOWN,
    };
    codec_review_event_t out;
    codec_error_t err;
    uint8_t *buf;
    size_t len;

    assert_int_equal(codec_encode_review(*state, &in, &buf, &len, &err), CODEC_OK);
    assert_int_equal(codec_decode_review(*state, buf, len, &out, &err), CODEC_OK);
    assert_string_equal(out.user_id, in.user_id);
    assert_string_equal(out.item_id, in.item_id);
    assert_string_equal(out.category_id, in.category_id);
    assert_true(out.has_rating);
    assert_int_equal(out.rating, 4);
    assert_string_equal(out.text, in.text);
    assert_string_equal(out.language, "zh");
    assert_int_equal(out.timestamp_ms, in.timestamp_ms);
    assert_int_equal(out.consent, CODEC_CONSENT_UNKNOWN);
    codec_review_clear(&out);
    free(buf);
}

static void review_without_rating(void **state)
{
    codec_review_event_t in = {.user_id = "u", .item_id = "i", .category_id = "c", .text = "",
                               .consent = CODEC_CONSENT_GIVEN};
    codec_review_event_t out;
    codec_error_t err;
    uint8_t *buf;
    size_t len;

    assert_int_equal(codec_encode_review(*state, &in, &buf, &len, &err), CODEC_OK);
    assert_int_equal(codec_decode_review(*state, buf, len, &out, &err), CODEC_OK);
    assert_false(out.has_rating);
    assert_null(out.language);
    assert_string_equal(out.text, "");
    codec_review_clear(&out);
    free(buf);
}

static void review_rating_out_of_range(void **state)
{
    codec_review_event_t in = {.user_id = "u", .item_id = "i", .category_id = "c", .text = "t",
                               .has_rating = true, .rating = 6};
    codec_error_t err;
    uint8_t *buf;
    size_t len;

    assert_int_equal(codec_encode_review(*state, &in, &buf, &len, &err), CODEC_ERR_VALUE);
    assert_null(buf);
    assert_non_null(strstr(err.message, "rating"));
}

static void intent_round_trip(void **state)
{
    float embedding[64];
    codec_scored_id_t cats[2] = {{"cat-1", 0.75f}, {"cat-2", 0.25f}};
    codec_scored_id_t items[3] = {{"i-1", 0.5f}, {"i-2", 0.3f}, {"i-3", 0.2f}};
    codec_source_offset_t offsets[2] = {{"clickstream", 3, 123456789012LL}, {"reviews", 0, 7}};
    for (int i = 0; i < 64; i++)
        embedding[i] = (float)i / 7.0f - 4.0f;
    codec_user_intent_t in = {
        .user_id = "u-42", .embedding = embedding, .embedding_len = 64, .purchase_propensity = 0.125f,
        .top_categories = cats, .top_category_count = 2, .top_items = items, .top_item_count = 3,
        .has_sentiment = true, .sentiment = -0.5f, .model_version = "m-2026-12-04",
        .updated_at_ms = 1733300000000, .source_offsets = offsets, .source_offset_count = 2,
    };
    codec_user_intent_t out;
    codec_error_t err;
    uint8_t *buf;
    size_t len;

    assert_int_equal(codec_encode_intent(*state, &in, &buf, &len, &err), CODEC_OK);
    assert_int_equal(codec_decode_intent(*state, buf, len, &out, &err), CODEC_OK);
    assert_string_equal(out.user_id, "u-42");
    assert_int_equal(out.embedding_len, 64);
    assert_memory_equal(out.embedding, embedding, sizeof(embedding));
    assert_true(out.purchase_propensity == 0.125f);
    assert_int_equal(out.top_category_count, 2);
    assert_string_equal(out.top_categories[1].id, "cat-2");
    assert_true(out.top_categories[1].score == 0.25f);
    assert_int_equal(out.top_item_count, 3);
    assert_string_equal(out.top_items[2].id, "i-3");
    assert_true(out.has_sentiment);
    assert_true(out.sentiment == -0.5f);
    assert_string_equal(out.model_version, in.model_version);
    assert_int_equal(out.updated_at_ms, in.updated_at_ms);
    assert_int_equal(out.source_offset_count, 2);
    assert_string_equal(out.source_offsets[0].topic, "clickstream");
    assert_int_equal(out.source_offsets[0].partition, 3);
    assert_int_equal(out.source_offsets[0].offset, 123456789012LL);
    codec_intent_clear(&out);
    free(buf);
}

static void intent_empty_arrays(void **state)
{
    codec_user_intent_t in = {.user_id = "u", .model_version = "m"};
    codec_user_intent_t out;
    codec_error_t err;
    uint8_t *buf;
    size_t len;

    assert_int_equal(codec_encode_intent(*state, &in, &buf, &len, &err), CODEC_OK);
    assert_int_equal(codec_decode_intent(*state, buf, len, &out, &err), CODEC_OK);
    assert_int_equal(out.embedding_len, 0);
    assert_null(out.embedding);
    assert_int_equal(out.top_item_count, 0);
    assert_false(out.has_sentiment);
    assert_int_equal(out.source_offset_count, 0);
    codec_intent_clear(&out);
    free(buf);
}

static void offer_round_trip(void **state)
{
    char *items[3] = {"i-1", "i-2", "商品-3"};
    codec_source_offset_t offsets[1] = {{"clickstream", 1, 99}};
    codec_offer_t in = {
        .offer_id = "o-1", .user_id = "u-1", .rule = "cart-abandon", .items = items, .item_count = 3,
        .offer_category = "shoes", .message = "您的购物车还有商品", .language = "zh",
        .discount_percent = 15.5f, .created_at_ms = 1000, .expires_at_ms = 2000, .holdout = true,
        .model_version = "m1", .source_offsets = offsets, .source_offset_count = 1,
    };
    codec_offer_t out;
    codec_error_t err;
    uint8_t *buf;
    size_t len;

    assert_int_equal(codec_encode_offer(*state, &in, &buf, &len, &err), CODEC_OK);
    assert_int_equal(codec_decode_offer(*state, buf, len, &out, &err), CODEC_OK);
    assert_string_equal(out.offer_id, "o-1");
    assert_string_equal(out.user_id, "u-1");
    assert_string_equal(out.rule, "cart-abandon");
    assert_int_equal(out.item_count, 3);
    assert_string_equal(out.items[2], "商品-3");
    assert_string_equal(out.offer_category, "shoes");
    assert_string_equal(out.message, in.message);
    assert_string_equal(out.language, "zh");
    assert_true(out.discount_percent == 15.5f);
    assert_int_equal(out.created_at_ms, 1000);
    assert_int_equal(out.expires_at_ms, 2000);
    assert_true(out.holdout);
    assert_string_equal(out.model_version, "m1");
    assert_int_equal(out.source_offset_count, 1);
    assert_int_equal(out.source_offsets[0].offset, 99);
    codec_offer_clear(&out);
    free(buf);
}

static void frame_header_bytes(void **state)
{
    codec_review_event_t in = {.user_id = "u", .item_id = "i", .category_id = "c", .text = "t"};
    codec_error_t err;
    uint32_t id;
    uint8_t *buf;
    size_t len;

    assert_int_equal(codec_reader_id(*state, CODEC_REVIEW_EVENT, &id, &err), CODEC_OK);
    assert_int_equal(codec_encode_review(*state, &in, &buf, &len, &err), CODEC_OK);
    assert_int_equal(buf[0], 0x00);
    assert_int_equal(((uint32_t)buf[1] << 24) | ((uint32_t)buf[2] << 16) | ((uint32_t)buf[3] << 8) | buf[4], id);
    free(buf);
}

/* Expected bytes from the Avro 1.11 specification's examples: long 64 is
 * 0x80 0x01 and the string "foo" is 0x06 'f' 'o' 'o'. */
static void body_matches_spec_examples(void **state)
{
    static const char *schema =
        "{\"type\":\"record\",\"name\":\"T\",\"fields\":[{\"name\":\"n\",\"type\":\"long\"},"
        "{\"name\":\"s\",\"type\":\"string\"}]}";
    static const uint8_t expected[] = {0, 0, 0, 1, 0x2c, 0x80, 0x01, 0x06, 'f', 'o', 'o'};
    codec_t *codec;
    codec_error_t err;
    avro_value_t value, field;
    uint32_t id;
    uint8_t *buf;
    size_t len;

    (void)state;
    assert_int_equal(codec_open(NULL, &codec, &err), CODEC_OK);
    assert_int_equal(codec_catalogue_add(codec, 300, schema, 1, &err), CODEC_OK);
    assert_int_equal(codec_new_value(codec, "T", &value, &id, &err), CODEC_OK);
    assert_int_equal(avro_value_get_by_name(&value, "n", &field, NULL), 0);
    assert_int_equal(avro_value_set_long(&field, 64), 0);
    assert_int_equal(avro_value_get_by_name(&value, "s", &field, NULL), 0);
    assert_int_equal(avro_value_set_string(&field, "foo"), 0);
    assert_int_equal(codec_encode_value(codec, id, &value, &buf, &len, &err), CODEC_OK);
    assert_int_equal(len, sizeof(expected));
    assert_memory_equal(buf, expected, sizeof(expected));
    free(buf);
    avro_value_decref(&value);
    codec_close(codec);
}

static void generic_decode_names_record(void **state)
{
    codec_click_event_t in = {.user_id = "u", .item_id = "i", .action = CODEC_ACTION_CLICK};
    codec_error_t err;
    avro_value_t value, field;
    const char *record;
    const char *s;
    size_t size;
    uint8_t *buf;
    size_t len;

    assert_int_equal(codec_encode_click(*state, &in, &buf, &len, &err), CODEC_OK);
    assert_int_equal(codec_decode_value(*state, buf, len, NULL, &value, &record, &err), CODEC_OK);
    assert_string_equal(record, CODEC_CLICK_EVENT);
    assert_int_equal(avro_value_get_by_name(&value, "item_id", &field, NULL), 0);
    assert_int_equal(avro_value_get_string(&field, &s, &size), 0);
    assert_string_equal(s, "i");
    avro_value_decref(&value);
    free(buf);
}

static void encode_value_wrong_schema(void **state)
{
    codec_error_t err;
    avro_value_t value;
    uint32_t review_id, click_id;
    uint8_t *buf;
    size_t len;

    assert_int_equal(codec_reader_id(*state, CODEC_CLICK_EVENT, &click_id, &err), CODEC_OK);
    assert_int_equal(codec_new_value(*state, CODEC_REVIEW_EVENT, &value, &review_id, &err), CODEC_OK);
    assert_int_equal(codec_encode_value(*state, click_id, &value, &buf, &len, &err), CODEC_ERR_VALUE);
    assert_null(buf);
    avro_value_decref(&value);
}

static void encode_rejects_null_required(void **state)
{
    codec_click_event_t in = {.user_id = NULL, .item_id = "i"};
    codec_error_t err;
    uint8_t *buf;
    size_t len;

    assert_int_equal(codec_encode_click(*state, &in, &buf, &len, &err), CODEC_ERR_VALUE);
    assert_non_null(strstr(err.message, "user_id"));
    assert_null(buf);
}

static void encode_rejects_bad_utf8(void **state)
{
    codec_click_event_t in = {.user_id = "u", .item_id = "bad\xff", .action = CODEC_ACTION_VIEW};
    codec_error_t err;
    uint8_t *buf;
    size_t len;

    assert_int_equal(codec_encode_click(*state, &in, &buf, &len, &err), CODEC_ERR_VALUE);
    assert_non_null(strstr(err.message, "item_id"));
}

static void encode_rejects_bad_action(void **state)
{
    codec_click_event_t in = {.user_id = "u", .item_id = "i", .action = CODEC_ACTION_COUNT};
    codec_error_t err;
    uint8_t *buf;
    size_t len;

    assert_int_equal(codec_encode_click(*state, &in, &buf, &len, &err), CODEC_ERR_VALUE);
}

static void decode_rejects_other_record(void **state)
{
    codec_review_event_t in = {.user_id = "u", .item_id = "i", .category_id = "c", .text = "t"};
    codec_click_event_t out;
    codec_error_t err;
    uint8_t *buf;
    size_t len;

    assert_int_equal(codec_encode_review(*state, &in, &buf, &len, &err), CODEC_OK);
    assert_int_equal(codec_decode_click(*state, buf, len, &out, &err), CODEC_ERR_SCHEMA_ID);
    assert_non_null(strstr(err.message, "ReviewEvent"));
    assert_null(out.user_id);
    free(buf);
}

static void catalogue_missing_file(void **state)
{
    codec_t *codec;
    codec_error_t err;

    (void)state;
    assert_int_equal(codec_open("/nonexistent/catalogue.json", &codec, &err), CODEC_ERR_CATALOGUE);
    assert_null(codec);
    assert_non_null(strstr(err.message, "/nonexistent/catalogue.json"));
    assert_null(strstr(err.message, "line -1"));
    assert_non_null(strstr(err.message, "cannot read catalogue"));
}

static void catalogue_duplicate_id(void **state)
{
    codec_error_t err;

    assert_int_equal(codec_catalogue_add(*state, 2, "{\"type\":\"record\",\"name\":\"X\",\"fields\":[]}", 0, &err),
                     CODEC_ERR_CATALOGUE);
    assert_non_null(strstr(err.message, "already"));
}

#define THREAD_COUNT 4
#define THREAD_ROUNDS 300

/* Each thread encodes and decodes its own clicks on the shared codec and
 * counts mismatches, because cmocka asserts are not thread-safe. */
static void *round_trips(void *arg)
{
    const codec_t *codec = arg;
    intptr_t failures = 0;

    for (int i = 0; i < THREAD_ROUNDS; i++) {
        char user[32];
        snprintf(user, sizeof(user), "user-%d", i);
        codec_click_event_t in = {.user_id = user, .item_id = "i", .action = CODEC_ACTION_CLICK,
                                  .timestamp_ms = i};
        codec_click_event_t out;
        codec_error_t err;
        uint8_t *buf;
        size_t len;

        if (codec_encode_click(codec, &in, &buf, &len, &err) != CODEC_OK) {
            failures++;
            continue;
        }
        if (codec_decode_click(codec, buf, len, &out, &err) != CODEC_OK ||
            strcmp(out.user_id, user) != 0 || out.timestamp_ms != i)
            failures++;
        codec_click_clear(&out);
        free(buf);
    }
    return (void *)failures;
}

static void shared_codec_threads(void **state)
{
    pthread_t threads[THREAD_COUNT];

    for (int t = 0; t < THREAD_COUNT; t++)
        assert_int_equal(pthread_create(&threads[t], NULL, round_trips, *state), 0);
    for (int t = 0; t < THREAD_COUNT; t++) {
        void *failures;
        assert_int_equal(pthread_join(threads[t], &failures), 0);
        assert_int_equal((intptr_t)failures, 0);
    }
}

static void catalogue_names_records(void **state)
{
    assert_string_equal(codec_record_name(*state, 1), CODEC_CLICK_EVENT);
    assert_string_equal(codec_record_name(*state, 3), CODEC_CLICK_EVENT);
    assert_string_equal(codec_record_name(*state, 20), CODEC_USER_INTENT);
    assert_string_equal(codec_record_name(*state, 30), CODEC_OFFER);
    assert_null(codec_record_name(*state, 999));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(click_round_trip),
        cmocka_unit_test(click_nulls_round_trip),
        cmocka_unit_test(click_every_action),
        cmocka_unit_test(review_round_trip),
        cmocka_unit_test(review_without_rating),
        cmocka_unit_test(review_rating_out_of_range),
        cmocka_unit_test(intent_round_trip),
        cmocka_unit_test(intent_empty_arrays),
        cmocka_unit_test(offer_round_trip),
        cmocka_unit_test(frame_header_bytes),
        cmocka_unit_test(body_matches_spec_examples),
        cmocka_unit_test(generic_decode_names_record),
        cmocka_unit_test(encode_value_wrong_schema),
        cmocka_unit_test(encode_rejects_null_required),
        cmocka_unit_test(encode_rejects_bad_utf8),
        cmocka_unit_test(encode_rejects_bad_action),
        cmocka_unit_test(decode_rejects_other_record),
        cmocka_unit_test(catalogue_missing_file),
        cmocka_unit_test(catalogue_duplicate_id),
        cmocka_unit_test(catalogue_names_records),
        cmocka_unit_test(shared_codec_threads),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
