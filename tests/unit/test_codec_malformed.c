/*
 * Malformed frames: each case must fail with the right status and offset,
 * without crashing, over-reading or leaking (run under ASan/UBSan).
 * Bodies are written byte by byte here, independent of the codec's encoder.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "codec.h"
#include "codec_events.h"

#define CATALOGUE INTENTD_SCHEMA_DIR "/catalogue.json"
#define TEST_ID 7

/* Fields s..e in this order; the valid body is 04 'a' 'b' 02 02 00 00 01 00 00. */
static const char *TEST_SCHEMA =
    "{\"type\":\"record\",\"name\":\"T\",\"namespace\":\"t\",\"fields\":["
    "{\"name\":\"s\",\"type\":\"string\"},"
    "{\"name\":\"u\",\"type\":[\"null\",\"long\"]},"
    "{\"name\":\"a\",\"type\":{\"type\":\"array\",\"items\":\"long\"}},"
    "{\"name\":\"m\",\"type\":{\"type\":\"map\",\"values\":\"string\"}},"
    "{\"name\":\"b\",\"type\":\"boolean\"},"
    "{\"name\":\"i\",\"type\":\"int\"},"
    "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"X\",\"Y\"]}}]}";

static const char *LIST_SCHEMA =
    "{\"type\":\"record\",\"name\":\"L\",\"fields\":[{\"name\":\"next\",\"type\":[\"null\",\"L\"]}]}";

static const char *NULLS_SCHEMA =
    "{\"type\":\"record\",\"name\":\"N\",\"fields\":[{\"name\":\"n\",\"type\":{\"type\":\"array\",\"items\":\"null\"}}]}";

typedef struct bytes {
    uint8_t data[512];
    size_t len;
} bytes_t;

static void put(bytes_t *b, uint8_t byte)
{
    assert_true(b->len < sizeof(b->data));
    b->data[b->len++] = byte;
}

/* Zig-zag varint, as the Avro specification defines long encoding. */
static void put_long(bytes_t *b, int64_t value)
{
    uint64_t z = ((uint64_t)value << 1) ^ (uint64_t)(value >> 63);
    while (z >= 0x80) {
        put(b, (uint8_t)(z | 0x80));
        z >>= 7;
    }
    put(b, (uint8_t)z);
}

static void put_raw(bytes_t *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        put(b, (uint8_t)s[i]);
}

static bytes_t frame_start(uint32_t id)
{
    bytes_t b = {.len = 0};
    put(&b, 0);
    put(&b, (uint8_t)(id >> 24));
    put(&b, (uint8_t)(id >> 16));
    put(&b, (uint8_t)(id >> 8));
    put(&b, (uint8_t)id);
    return b;
}

/* Frame of TEST_SCHEMA up to and including field s = "ab". */
static bytes_t after_s(void)
{
    bytes_t b = frame_start(TEST_ID);
    put_long(&b, 2);
    put_raw(&b, "ab", 2);
    return b;
}

/* Appends fields a..e with valid values, after u. */
static void put_tail(bytes_t *b)
{
    put_long(b, 0);
    put_long(b, 0);
    put(b, 1);
    put_long(b, 0);
    put_long(b, 0);
}

static bytes_t valid_frame(void)
{
    bytes_t b = after_s();
    put_long(&b, 1);
    put_long(&b, 1);
    put_tail(&b);
    return b;
}

static int setup(void **state)
{
    codec_t *codec;
    codec_error_t err;

    if (codec_open(CATALOGUE, &codec, &err) != CODEC_OK ||
        codec_catalogue_add(codec, TEST_ID, TEST_SCHEMA, 1, &err) != CODEC_OK ||
        codec_catalogue_add(codec, 8, LIST_SCHEMA, 1, &err) != CODEC_OK ||
        codec_catalogue_add(codec, 9, NULLS_SCHEMA, 1, &err) != CODEC_OK) {
        print_error("setup: %s\n", err.message);
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

/* Decodes b as a generic value and returns the status, releasing any value. */
static int decode(void **state, const bytes_t *b, codec_error_t *err)
{
    avro_value_t value;
    int rc = codec_decode_value(*state, b->data, b->len, NULL, &value, NULL, err);

    if (rc == CODEC_OK)
        avro_value_decref(&value);
    return rc;
}

static void valid_frame_decodes(void **state)
{
    bytes_t b = valid_frame();
    codec_error_t err;

    assert_int_equal(decode(state, &b, &err), CODEC_OK);
}

static void empty_frame(void **state)
{
    codec_error_t err;
    avro_value_t value;

    assert_int_equal(codec_decode_value(*state, NULL, 0, NULL, &value, NULL, &err), CODEC_ERR_FRAME);
    assert_non_null(strstr(err.message, "shorter"));
}

static void short_frame(void **state)
{
    bytes_t b = frame_start(TEST_ID);
    codec_error_t err;

    b.len = 4;
    assert_int_equal(decode(state, &b, &err), CODEC_ERR_FRAME);
    assert_int_equal(err.offset, 4);
}

static void wrong_magic_byte(void **state)
{
    bytes_t b = valid_frame();
    codec_error_t err;

    b.data[0] = 0x7b; /* '{', as in a JSON value */
    assert_int_equal(decode(state, &b, &err), CODEC_ERR_FRAME);
    assert_int_equal(err.offset, 0);
    assert_non_null(strstr(err.message, "0x7b"));
}

static void unknown_schema_id(void **state)
{
    bytes_t b = frame_start(12345);
    codec_error_t err;

    put_long(&b, 0);
    assert_int_equal(decode(state, &b, &err), CODEC_ERR_SCHEMA_ID);
    assert_non_null(strstr(err.message, "12345"));
}

static void truncated_body(void **state)
{
    bytes_t b = valid_frame();
    codec_error_t err;

    b.len -= 1;
    assert_int_equal(decode(state, &b, &err), CODEC_ERR_BODY);
    assert_int_equal(err.offset, b.len);
}

static void header_only_body(void **state)
{
    bytes_t b = frame_start(TEST_ID);
    codec_error_t err;

    assert_int_equal(decode(state, &b, &err), CODEC_ERR_BODY);
    assert_int_equal(err.offset, 5);
}

static void string_longer_than_body(void **state)
{
    bytes_t b = frame_start(TEST_ID);
    codec_error_t err;

    put_long(&b, 100);
    put_raw(&b, "abc", 3);
    assert_int_equal(decode(state, &b, &err), CODEC_ERR_BODY);
    assert_int_equal(err.offset, 5);
    assert_non_null(strstr(err.message, "only 3 bytes remain"));
}

static void negative_string_length(void **state)
{
    bytes_t b = frame_start(TEST_ID);
    codec_error_t err;

    put_long(&b, -1);
    put_raw(&b, "abc", 3);
    assert_int_equal(decode(state, &b, &err), CODEC_ERR_BODY);
    assert_int_equal(err.offset, 5);
    assert_non_null(strstr(err.message, "negative"));
}

/* 2^40 bytes declared; avro-c's own reader would allocate that before reading.
 * A counting allocator proves that nothing near that size is requested. */
static size_t largest_request;

static void *counting_allocator(void *user_data, void *ptr, size_t osize, size_t nsize)
{
    (void)user_data;
    (void)osize;
    if (nsize > largest_request)
        largest_request = nsize;
    if (nsize == 0) {
        free(ptr);
        return NULL;
    }
    return realloc(ptr, nsize);
}

static void huge_declared_length(void **state)
{
    bytes_t b = frame_start(TEST_ID);
    codec_error_t err;
    int rc;

    put_long(&b, (int64_t)1 << 40);
    put_raw(&b, "abc", 3);
    struct avro_allocator_state saved = AVRO_CURRENT_ALLOCATOR;

    largest_request = 0;
    avro_set_allocator(counting_allocator, NULL);
    rc = decode(state, &b, &err);
    avro_set_allocator(saved.alloc, saved.user_data);
    assert_int_equal(rc, CODEC_ERR_BODY);
    assert_int_equal(err.offset, 5);
    assert_non_null(strstr(err.message, "1099511627776"));
    assert_true(largest_request > 0); /* the allocator was in use */
    assert_true(largest_request < 4096);
}

static void huge_array_count(void **state)
{
    bytes_t b = after_s();
    codec_error_t err;

    put_long(&b, 0);
    put_long(&b, (int64_t)1 << 40);
    put_long(&b, 1);
    assert_int_equal(decode(state, &b, &err), CODEC_ERR_BODY);
    assert_int_equal(err.offset, 9);
}

static void array_count_beyond_body(void **state)
{
    bytes_t b = after_s();
    codec_error_t err;

    put_long(&b, 0);
    put_long(&b, 5); /* five longs need at least five bytes */
    put_long(&b, 1);
    put_long(&b, 2);
    assert_int_equal(decode(state, &b, &err), CODEC_ERR_BODY);
    assert_int_equal(err.offset, 9);
}

static void negative_block_count(void **state)
{
    bytes_t b = after_s();
    codec_error_t err;
    avro_value_t value, field, item;
    size_t size = 0;
    int64_t n = 0;

    put_long(&b, 0);
    put_long(&b, -2); /* two items in a block of 2 bytes */
    put_long(&b, 2);
    put_long(&b, 7);
    put_long(&b, -7);
    put_long(&b, 0);
    put_long(&b, 0);
    put(&b, 0);
    put_long(&b, 5);
    put_long(&b, 1);
    assert_int_equal(codec_decode_value(*state, b.data, b.len, NULL, &value, NULL, &err), CODEC_OK);
    assert_int_equal(avro_value_get_by_name(&value, "a", &field, NULL), 0);
    assert_int_equal(avro_value_get_size(&field, &size), 0);
    assert_int_equal(size, 2);
    assert_int_equal(avro_value_get_by_index(&field, 1, &item, NULL), 0);
    assert_int_equal(avro_value_get_long(&item, &n), 0);
    assert_int_equal(n, -7);
    avro_value_decref(&value);
}

static void block_size_beyond_body(void **state)
{
    bytes_t b = after_s();
    codec_error_t err;

    put_long(&b, 0);
    put_long(&b, -1);
    put_long(&b, 1000);
    put_long(&b, 7);
    assert_int_equal(decode(state, &b, &err), CODEC_ERR_BODY);
    assert_int_equal(err.offset, 10);
}

static void int64_min_block_count(void **state)
{
    bytes_t b = after_s();
    codec_error_t err;

    put_long(&b, 0);
    put_long(&b, INT64_MIN);
    put_long(&b, 0);
    assert_int_equal(decode(state, &b, &err), CODEC_ERR_BODY);
    assert_int_equal(err.offset, 9);
}

static void union_branch_out_of_range(void **state)
{
    bytes_t b = after_s();
    codec_error_t err;

    put_long(&b, 2);
    put_long(&b, 1);
    put_tail(&b);
    assert_int_equal(decode(state, &b, &err), CODEC_ERR_BODY);
    assert_int_equal(err.offset, 8);
    assert_non_null(strstr(err.message, "union branch index 2"));
}

static void union_branch_negative(void **state)
{
    bytes_t b = after_s();
    codec_error_t err;

    put_long(&b, -1);
    put_tail(&b);
    assert_int_equal(decode(state, &b, &err), CODEC_ERR_BODY);
    assert_int_equal(err.offset, 8);
}

static void trailing_bytes(void **state)
{
    bytes_t b = valid_frame();
    codec_error_t err;
    size_t end = b.len;

    put(&b, 0);
    put(&b, 0);
    assert_int_equal(decode(state, &b, &err), CODEC_ERR_BODY);
    assert_int_equal(err.offset, end);
    assert_non_null(strstr(err.message, "2 trailing bytes"));
}

static void invalid_utf8_byte(void **state)
{
    bytes_t b = frame_start(TEST_ID);
    codec_error_t err;

    put_long(&b, 2);
    put_raw(&b, "a\xff", 2);
    assert_int_equal(decode(state, &b, &err), CODEC_ERR_BODY);
    assert_int_equal(err.offset, 7);
    assert_non_null(strstr(err.message, "UTF-8"));
}

static void overlong_utf8(void **state)
{
    bytes_t b = frame_start(TEST_ID);
    codec_error_t err;

    put_long(&b, 2);
    put_raw(&b, "\xc0\x80", 2);
    assert_int_equal(decode(state, &b, &err), CODEC_ERR_BODY);
    assert_int_equal(err.offset, 6);
}

static void surrogate_utf8(void **state)
{
    bytes_t b = frame_start(TEST_ID);
    codec_error_t err;

    put_long(&b, 3);
    put_raw(&b, "\xed\xa0\x80", 3);
    assert_int_equal(decode(state, &b, &err), CODEC_ERR_BODY);
    assert_int_equal(err.offset, 6);
}

static void truncated_utf8_sequence(void **state)
{
    bytes_t b = frame_start(TEST_ID);
    codec_error_t err;

    put_long(&b, 2);
    put_raw(&b, "a\xe4", 2); /* first byte of a three-byte character */
    assert_int_equal(decode(state, &b, &err), CODEC_ERR_BODY);
    assert_int_equal(err.offset, 7);
}

static void nul_in_string(void **state)
{
    bytes_t b = frame_start(TEST_ID);
    codec_error_t err;

    put_long(&b, 2);
    put_raw(&b, "a\0", 2);
    put_long(&b, 0);
    put_tail(&b);
    assert_int_equal(decode(state, &b, &err), CODEC_ERR_BODY);
    assert_int_equal(err.offset, 7);
    assert_non_null(strstr(err.message, "NUL"));
}

static void varint_too_long(void **state)
{
    bytes_t b = after_s();
    codec_error_t err;

    for (int i = 0; i < 11; i++)
        put(&b, 0xff);
    assert_int_equal(decode(state, &b, &err), CODEC_ERR_BODY);
    assert_int_equal(err.offset, 8);
}

static void int_out_of_range(void **state)
{
    bytes_t b = after_s();
    codec_error_t err;

    put_long(&b, 0);
    put_long(&b, 0);
    put_long(&b, 0);
    put(&b, 1);
    put_long(&b, (int64_t)INT32_MAX + 1);
    put_long(&b, 0);
    assert_int_equal(decode(state, &b, &err), CODEC_ERR_BODY);
    assert_int_equal(err.offset, 12);
    assert_non_null(strstr(err.message, "32-bit"));
}

static void boolean_not_0_or_1(void **state)
{
    bytes_t b = after_s();
    codec_error_t err;

    put_long(&b, 0);
    put_long(&b, 0);
    put_long(&b, 0);
    put(&b, 2);
    put_long(&b, 0);
    put_long(&b, 0);
    assert_int_equal(decode(state, &b, &err), CODEC_ERR_BODY);
    assert_int_equal(err.offset, 11);
}

static void enum_index_out_of_range(void **state)
{
    bytes_t b = after_s();
    codec_error_t err;

    put_long(&b, 0);
    put_long(&b, 0);
    put_long(&b, 0);
    put(&b, 1);
    put_long(&b, 0);
    put_long(&b, 2);
    assert_int_equal(decode(state, &b, &err), CODEC_ERR_BODY);
    assert_int_equal(err.offset, 13);
    assert_non_null(strstr(err.message, "enum index 2"));
}

static void map_key_longer_than_body(void **state)
{
    bytes_t b = after_s();
    codec_error_t err;

    put_long(&b, 0);
    put_long(&b, 0);
    put_long(&b, 1);
    put_long(&b, 50);
    put_raw(&b, "k", 1);
    assert_int_equal(decode(state, &b, &err), CODEC_ERR_BODY);
    assert_int_equal(err.offset, 11);
}

static void duplicate_map_key(void **state)
{
    bytes_t b = after_s();
    codec_error_t err;

    put_long(&b, 0);
    put_long(&b, 0);
    put_long(&b, 2);
    put_long(&b, 1);
    put_raw(&b, "k", 1);
    put_long(&b, 1);
    put_raw(&b, "x", 1);
    put_long(&b, 1);
    put_raw(&b, "k", 1);
    put_long(&b, 1);
    put_raw(&b, "y", 1);
    put_long(&b, 0);
    put(&b, 1);
    put_long(&b, 0);
    put_long(&b, 0);
    assert_int_equal(decode(state, &b, &err), CODEC_ERR_BODY);
    assert_int_equal(err.offset, 16);
    assert_non_null(strstr(err.message, "twice"));
}

static void nesting_too_deep(void **state)
{
    bytes_t b = frame_start(8);
    codec_error_t err;

    for (int i = 0; i < 200; i++)
        put_long(&b, 1);
    put_long(&b, 0);
    assert_int_equal(decode(state, &b, &err), CODEC_ERR_BODY);
    assert_non_null(strstr(err.message, "nested deeper"));
}

static void shallow_nesting_decodes(void **state)
{
    bytes_t b = frame_start(8);
    codec_error_t err;

    for (int i = 0; i < 10; i++)
        put_long(&b, 1);
    put_long(&b, 0);
    assert_int_equal(decode(state, &b, &err), CODEC_OK);
}

static void too_many_null_items(void **state)
{
    bytes_t b = frame_start(9);
    codec_error_t err;

    put_long(&b, (int64_t)1 << 40);
    put_long(&b, 0);
    assert_int_equal(decode(state, &b, &err), CODEC_ERR_BODY);
    assert_int_equal(err.offset, 5);
}

/* Every proper prefix of a valid frame of each record must be rejected. */
static void check_all_prefixes(void **state, const uint8_t *frame, size_t len)
{
    for (size_t n = 0; n < len; n++) {
        codec_error_t err;
        avro_value_t value;
        int rc = codec_decode_value(*state, frame, n, NULL, &value, NULL, &err);
        if (rc == CODEC_OK)
            avro_value_decref(&value);
        assert_int_not_equal(rc, CODEC_OK);
    }
}

static void every_prefix_rejected(void **state)
{
    char *items[2] = {"a", "b"};
    codec_source_offset_t offsets[1] = {{"t", 1, 2}};
    codec_scored_id_t scored[1] = {{"c", 1.0f}};
    float embedding[4] = {1, 2, 3, 4};
    codec_attribute_t attrs[1] = {{"k", "v"}};
    codec_click_event_t click = {.user_id = "u", .item_id = "i", .category_id = "c",
                                 .action = CODEC_ACTION_SEARCH, .query = "q", .consent = CODEC_CONSENT_GIVEN,
                                 .session_id = "s", .attributes = attrs, .attribute_count = 1};
    codec_review_event_t review = {.user_id = "u", .item_id = "i", .category_id = "c", .has_rating = true,
                                   .rating = 3, .text = "好", .language = "zh"};
    codec_user_intent_t intent = {.user_id = "u", .embedding = embedding, .embedding_len = 4,
                                  .top_categories = scored, .top_category_count = 1, .top_items = scored,
                                  .top_item_count = 1, .has_sentiment = true, .model_version = "m",
                                  .source_offsets = offsets, .source_offset_count = 1};
    codec_offer_t offer = {.offer_id = "o", .user_id = "u", .rule = "r", .items = items, .item_count = 2,
                           .offer_category = "c", .message = "m", .language = "en",
                           .model_version = "m", .source_offsets = offsets, .source_offset_count = 1};
    codec_error_t err;
    uint8_t *buf;
    size_t len;

    assert_int_equal(codec_encode_click(*state, &click, &buf, &len, &err), CODEC_OK);
    check_all_prefixes(state, buf, len);
    free(buf);
    assert_int_equal(codec_encode_review(*state, &review, &buf, &len, &err), CODEC_OK);
    check_all_prefixes(state, buf, len);
    free(buf);
    assert_int_equal(codec_encode_intent(*state, &intent, &buf, &len, &err), CODEC_OK);
    check_all_prefixes(state, buf, len);
    free(buf);
    assert_int_equal(codec_encode_offer(*state, &offer, &buf, &len, &err), CODEC_OK);
    check_all_prefixes(state, buf, len);
    free(buf);
}

static void typed_decode_error_leaves_struct_empty(void **state)
{
    bytes_t b = frame_start(2); /* ClickEvent v2 */
    codec_click_event_t event;
    codec_error_t err;

    put_long(&b, 1);
    put_raw(&b, "u", 1);
    put_long(&b, 40);
    assert_int_equal(codec_decode_click(*state, b.data, b.len, &event, &err), CODEC_ERR_BODY);
    assert_null(event.user_id);
    assert_int_equal(err.offset, 7);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(valid_frame_decodes),
        cmocka_unit_test(empty_frame),
        cmocka_unit_test(short_frame),
        cmocka_unit_test(wrong_magic_byte),
        cmocka_unit_test(unknown_schema_id),
        cmocka_unit_test(truncated_body),
        cmocka_unit_test(header_only_body),
        cmocka_unit_test(string_longer_than_body),
        cmocka_unit_test(negative_string_length),
        cmocka_unit_test(huge_declared_length),
        cmocka_unit_test(huge_array_count),
        cmocka_unit_test(array_count_beyond_body),
        cmocka_unit_test(negative_block_count),
        cmocka_unit_test(block_size_beyond_body),
        cmocka_unit_test(int64_min_block_count),
        cmocka_unit_test(union_branch_out_of_range),
        cmocka_unit_test(union_branch_negative),
        cmocka_unit_test(trailing_bytes),
        cmocka_unit_test(invalid_utf8_byte),
        cmocka_unit_test(overlong_utf8),
        cmocka_unit_test(surrogate_utf8),
        cmocka_unit_test(truncated_utf8_sequence),
        cmocka_unit_test(nul_in_string),
        cmocka_unit_test(varint_too_long),
        cmocka_unit_test(int_out_of_range),
        cmocka_unit_test(boolean_not_0_or_1),
        cmocka_unit_test(enum_index_out_of_range),
        cmocka_unit_test(map_key_longer_than_body),
        cmocka_unit_test(duplicate_map_key),
        cmocka_unit_test(nesting_too_deep),
        cmocka_unit_test(shallow_nesting_decodes),
        cmocka_unit_test(too_many_null_items),
        cmocka_unit_test(every_prefix_rejected),
        cmocka_unit_test(typed_decode_error_leaves_struct_empty),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
