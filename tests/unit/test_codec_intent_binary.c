/* The direct UserIntent writer against avro-c's generic writer: the same
 * frame bytes for the shipped schema, the same errors for bad strings, and
 * the generic path for a catalogue whose UserIntent has another layout. */
#include <math.h>
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
#include "codec_internal.h"

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

/* Encodes in through both writers and checks that the frames are equal. */
static void assert_same_frame(const codec_t *codec, const codec_user_intent_t *in)
{
    codec_error_t err;
    uint8_t *direct, *generic;
    size_t direct_len, generic_len;

    assert_int_equal(codec_encode_intent(codec, in, &direct, &direct_len, &err), CODEC_OK);
    assert_int_equal(codec_encode_intent_generic(codec, in, &generic, &generic_len, &err), CODEC_OK);
    assert_int_equal(direct_len, generic_len);
    assert_memory_equal(direct, generic, generic_len);
    free(direct);
    free(generic);
}

static void shipped_schema_uses_direct_writer(void **state)
{
    const codec_schema_t *reader = codec_find_reader(*state, CODEC_USER_INTENT);

    assert_non_null(reader);
    assert_true(reader->binary_intent);
}

static void full_intent_same_bytes(void **state)
{
    float embedding[200];
    char long_id[300];
    codec_scored_id_t cats[2] = {{"类目-1", 0.75f}, {"cat-2", -0.0f}};
    codec_scored_id_t items[3] = {{"i-1", 0.5f}, {long_id, 1e-30f}, {"🎮", 3.4e38f}};
    codec_source_offset_t offsets[3] = {
        {"clickstream", 3, 123456789012LL}, {"reviews", 0, 0}, {"consents", 2147483647, INT64_MAX}};
    for (int i = 0; i < 200; i++)
        embedding[i] = (float)i / 7.0f - 14.0f;
    memset(long_id, 'x', sizeof long_id - 1);
    long_id[sizeof long_id - 1] = '\0';
    codec_user_intent_t in = {
        .user_id = "用户-42", .embedding = embedding, .embedding_len = 200, .purchase_propensity = 0.125f,
        .top_categories = cats, .top_category_count = 2, .top_items = items, .top_item_count = 3,
        .has_sentiment = true, .sentiment = -0.5f, .model_version = "m-2026-12-04",
        .updated_at_ms = 1733300000000, .source_offsets = offsets, .source_offset_count = 3,
    };

    assert_same_frame(*state, &in);
    in.updated_at_ms = -1;
    in.has_sentiment = false;
    assert_same_frame(*state, &in);
    in.embedding_len = 63; /* a count below 64 takes one varint byte */
    in.embedding[0] = NAN;
    assert_same_frame(*state, &in);
}

static void empty_intent_same_bytes(void **state)
{
    codec_user_intent_t in = {.user_id = "", .model_version = "m"};

    assert_same_frame(*state, &in);
}

static void bad_strings_rejected(void **state)
{
    codec_scored_id_t items[1] = {{NULL, 0.5f}};
    codec_user_intent_t in = {.user_id = "u", .model_version = "m", .top_items = items, .top_item_count = 1};
    codec_error_t err;
    uint8_t *buf = NULL;
    size_t len;

    assert_int_not_equal(codec_encode_intent(*state, &in, &buf, &len, &err), CODEC_OK);
    assert_null(buf);
    assert_int_not_equal(codec_encode_intent_generic(*state, &in, &buf, &len, &err), CODEC_OK);

    in.top_item_count = 0;
    in.user_id = "bad \xff utf-8";
    assert_int_not_equal(codec_encode_intent(*state, &in, &buf, &len, &err), CODEC_OK);
    assert_non_null(strstr(err.message, "user_id"));
    assert_int_not_equal(codec_encode_intent_generic(*state, &in, &buf, &len, &err), CODEC_OK);
    in.user_id = NULL;
    assert_int_not_equal(codec_encode_intent(*state, &in, &buf, &len, &err), CODEC_OK);
}

/* A UserIntent with one more field is not the direct writer's layout: the
 * codec encodes it through the generic value, whose body is the shipped
 * layout's body followed by the empty string of the extra field. */
static void other_layout_uses_generic(void **state)
{
    static const char schema[] =
        "{\"type\":\"record\",\"name\":\"UserIntent\",\"namespace\":\"io.intentd\",\"fields\":["
        "{\"name\":\"user_id\",\"type\":\"string\"},"
        "{\"name\":\"embedding\",\"type\":{\"type\":\"array\",\"items\":\"float\"}},"
        "{\"name\":\"purchase_propensity\",\"type\":\"float\"},"
        "{\"name\":\"top_categories\",\"type\":{\"type\":\"array\",\"items\":{\"type\":\"record\","
        "\"name\":\"ScoredId\",\"fields\":[{\"name\":\"id\",\"type\":\"string\"},"
        "{\"name\":\"score\",\"type\":\"float\"}]}}},"
        "{\"name\":\"top_items\",\"type\":{\"type\":\"array\",\"items\":\"ScoredId\"}},"
        "{\"name\":\"sentiment\",\"type\":[\"null\",\"float\"]},"
        "{\"name\":\"model_version\",\"type\":\"string\"},"
        "{\"name\":\"updated_at\",\"type\":\"long\"},"
        "{\"name\":\"source_offsets\",\"type\":{\"type\":\"array\",\"items\":{\"type\":\"record\","
        "\"name\":\"SourceOffset\",\"fields\":[{\"name\":\"topic\",\"type\":\"string\"},"
        "{\"name\":\"partition\",\"type\":\"int\"},{\"name\":\"offset\",\"type\":\"long\"}]}}},"
        "{\"name\":\"segment\",\"type\":\"string\",\"default\":\"\"}]}";
    float embedding[3] = {1.0f, -2.0f, 0.5f};
    codec_user_intent_t in = {.user_id = "u-7", .embedding = embedding, .embedding_len = 3, .model_version = "m"};
    codec_t *other;
    codec_error_t err;
    uint8_t *shipped, *buf;
    size_t shipped_len, len;

    assert_int_equal(codec_open(NULL, &other, &err), CODEC_OK);
    assert_int_equal(codec_catalogue_add(other, 90, schema, 1, &err), CODEC_OK);
    assert_false(codec_find_reader(other, CODEC_USER_INTENT)->binary_intent);

    assert_int_equal(codec_encode_intent(other, &in, &buf, &len, &err), CODEC_OK);
    assert_int_equal(codec_encode_intent(*state, &in, &shipped, &shipped_len, &err), CODEC_OK);
    assert_int_equal(len, shipped_len + 1);
    assert_memory_equal(buf + CODEC_FRAME_HEADER_SIZE, shipped + CODEC_FRAME_HEADER_SIZE,
                        shipped_len - CODEC_FRAME_HEADER_SIZE);
    assert_int_equal(buf[len - 1], 0);
    free(buf);
    free(shipped);
    codec_close(other);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(shipped_schema_uses_direct_writer),
        cmocka_unit_test(full_intent_same_bytes),
        cmocka_unit_test(empty_intent_same_bytes),
        cmocka_unit_test(bad_strings_rejected),
        cmocka_unit_test(other_layout_uses_generic),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
