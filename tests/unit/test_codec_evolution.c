/*
 * Schema evolution by the Avro 1.11 resolution rules: reader fields missing
 * from the writer take defaults, writer-only fields are skipped, enum symbols
 * resolve by name, promotions and unions. Writer bodies are written byte by
 * byte here, so the test does not depend on the codec's encoder.
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

typedef struct bytes {
    uint8_t data[512];
    size_t len;
} bytes_t;

static void put(bytes_t *b, uint8_t byte)
{
    assert_true(b->len < sizeof(b->data));
    b->data[b->len++] = byte;
}

static void put_long(bytes_t *b, int64_t value)
{
    uint64_t z = ((uint64_t)value << 1) ^ (uint64_t)(value >> 63);
    while (z >= 0x80) {
        put(b, (uint8_t)(z | 0x80));
        z >>= 7;
    }
    put(b, (uint8_t)z);
}

static void put_string(bytes_t *b, const char *s)
{
    put_long(b, (int64_t)strlen(s));
    for (size_t i = 0; s[i] != '\0'; i++)
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

/* ClickEvent version 1 (schema id 1); action_index is into the v1 symbols
 * PURCHASE, ADD_TO_CART, FAVOURITE, CLICK, VIEW. */
static bytes_t click_v1(int action_index)
{
    bytes_t b = frame_start(1);
    put_string(&b, "u1");
    put_string(&b, "i9");
    put_long(&b, 1);
    put_string(&b, "c3");
    put_long(&b, action_index);
    put_long(&b, 1511544070000);
    return b;
}

/* ClickEvent version 3 (schema id 3); action_index is into the v3 symbols
 * SEARCH, PURCHASE, SHARE, VIEW, CLICK, FAVOURITE, ADD_TO_CART, RETURN, UNKNOWN. */
static bytes_t click_v3(int action_index)
{
    bytes_t b = frame_start(3);
    put_string(&b, "u1");
    put_string(&b, "tablet"); /* device.kind */
    put_long(&b, 2);          /* device.screen: 2 ints */
    put_long(&b, 1024);
    put_long(&b, 768);
    put_long(&b, 0);
    put_string(&b, "i9");
    put_long(&b, 0);          /* category_id null */
    put_long(&b, action_index);
    put_long(&b, 1);
    put_string(&b, "boots");  /* query */
    put_long(&b, 42);         /* timestamp */
    put_long(&b, 1);
    put(&b, 0);               /* consent false */
    put_long(&b, 1);
    put_string(&b, "s7");     /* session_id */
    put_long(&b, 1);
    put_string(&b, "https://example.com/"); /* referrer, writer-only */
    put_long(&b, 1);
    put_long(&b, 1);
    put_string(&b, "k");
    put_string(&b, "v");
    put_long(&b, 0);          /* attributes {"k": "v"} */
    return b;
}

static void old_writer_missing_fields_take_defaults(void **state)
{
    bytes_t b = click_v1(3);
    codec_click_event_t e;
    codec_error_t err;

    assert_int_equal(codec_decode_click(*state, b.data, b.len, &e, &err), CODEC_OK);
    assert_string_equal(e.user_id, "u1");
    assert_string_equal(e.item_id, "i9");
    assert_string_equal(e.category_id, "c3");
    assert_int_equal(e.timestamp_ms, 1511544070000);
    assert_null(e.query);
    assert_int_equal(e.consent, CODEC_CONSENT_UNKNOWN);
    assert_null(e.session_id);
    assert_int_equal(e.attribute_count, 0);
    codec_click_clear(&e);
}

/* v1 lists PURCHASE first and VIEW last; the reader has them at 5 and 1, so
 * resolving by index would give UNKNOWN and ADD_TO_CART instead. */
static void old_writer_enum_resolves_by_name(void **state)
{
    static const codec_action_t expected[5] = {
        CODEC_ACTION_PURCHASE, CODEC_ACTION_ADD_TO_CART, CODEC_ACTION_FAVOURITE, CODEC_ACTION_CLICK,
        CODEC_ACTION_VIEW,
    };

    for (int i = 0; i < 5; i++) {
        bytes_t b = click_v1(i);
        codec_click_event_t e;
        codec_error_t err;

        assert_int_equal(codec_decode_click(*state, b.data, b.len, &e, &err), CODEC_OK);
        assert_int_equal(e.action, expected[i]);
        codec_click_clear(&e);
    }
}

static void new_writer_only_fields_skipped(void **state)
{
    bytes_t b = click_v3(3);
    codec_click_event_t e;
    codec_error_t err;

    assert_int_equal(codec_decode_click(*state, b.data, b.len, &e, &err), CODEC_OK);
    assert_string_equal(e.user_id, "u1");
    assert_string_equal(e.item_id, "i9");
    assert_null(e.category_id);
    assert_int_equal(e.action, CODEC_ACTION_VIEW);
    assert_string_equal(e.query, "boots");
    assert_int_equal(e.timestamp_ms, 42);
    assert_int_equal(e.consent, CODEC_CONSENT_DENIED);
    assert_string_equal(e.session_id, "s7");
    assert_int_equal(e.attribute_count, 1);
    assert_string_equal(e.attributes[0].key, "k");
    assert_string_equal(e.attributes[0].value, "v");
    codec_click_clear(&e);
}

static void new_writer_enum_reordered(void **state)
{
    static const int v3_index[] = {0, 1, 4, 5, 6};
    static const codec_action_t expected[] = {
        CODEC_ACTION_SEARCH, CODEC_ACTION_PURCHASE, CODEC_ACTION_CLICK, CODEC_ACTION_FAVOURITE,
        CODEC_ACTION_ADD_TO_CART,
    };

    for (size_t i = 0; i < sizeof(v3_index) / sizeof(v3_index[0]); i++) {
        bytes_t b = click_v3(v3_index[i]);
        codec_click_event_t e;
        codec_error_t err;

        assert_int_equal(codec_decode_click(*state, b.data, b.len, &e, &err), CODEC_OK);
        assert_int_equal(e.action, expected[i]);
        codec_click_clear(&e);
    }
}

static void unknown_symbol_takes_default(void **state)
{
    static const int unknown_to_reader[] = {2, 7}; /* SHARE, RETURN */

    for (size_t i = 0; i < 2; i++) {
        bytes_t b = click_v3(unknown_to_reader[i]);
        codec_click_event_t e;
        codec_error_t err;

        assert_int_equal(codec_decode_click(*state, b.data, b.len, &e, &err), CODEC_OK);
        assert_int_equal(e.action, CODEC_ACTION_UNKNOWN);
        codec_click_clear(&e);
    }
}

static void writer_truncated_in_skipped_field(void **state)
{
    bytes_t b = frame_start(3);
    codec_click_event_t e;
    codec_error_t err;

    put_string(&b, "u1");
    put_string(&b, "tablet");
    put_long(&b, 3); /* three ints declared, one present */
    put_long(&b, 1);
    assert_int_equal(codec_decode_click(*state, b.data, b.len, &e, &err), CODEC_ERR_BODY);
}

/* ---- hand-written writer and reader pairs ---- */

static const char *ENUM_WRITER =
    "{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"e\",\"type\":"
    "{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\",\"B\",\"C\"]}}]}";
static const char *ENUM_READER_NO_DEFAULT =
    "{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"e\",\"type\":"
    "{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"C\",\"A\"]}}]}";

static void open_pair(codec_t **codec, const char *writer, const char *reader)
{
    codec_error_t err;

    assert_int_equal(codec_open(NULL, codec, &err), CODEC_OK);
    assert_int_equal(codec_catalogue_add(*codec, 100, writer, 0, &err), CODEC_OK);
    assert_int_equal(codec_catalogue_add(*codec, 101, reader, 1, &err), CODEC_OK);
}

static int decode_enum(codec_t *codec, int writer_index, const char **symbol, codec_error_t *err)
{
    bytes_t b = frame_start(100);
    avro_value_t value, field;
    int index = 0;

    put_long(&b, writer_index);
    int rc = codec_decode_value(codec, b.data, b.len, NULL, &value, NULL, err);
    if (rc != CODEC_OK)
        return rc;
    assert_int_equal(avro_value_get_by_name(&value, "e", &field, NULL), 0);
    assert_int_equal(avro_value_get_enum(&field, &index), 0);
    *symbol = avro_schema_enum_get(avro_value_get_schema(&field), index);
    avro_value_decref(&value);
    return rc;
}

static void enum_reordered_generic(void **state)
{
    codec_t *codec;
    codec_error_t err;
    const char *symbol;

    (void)state;
    open_pair(&codec, ENUM_WRITER, ENUM_READER_NO_DEFAULT);
    assert_int_equal(decode_enum(codec, 2, &symbol, &err), CODEC_OK);
    assert_string_equal(symbol, "C");
    assert_int_equal(decode_enum(codec, 0, &symbol, &err), CODEC_OK);
    assert_string_equal(symbol, "A");
    codec_close(codec);
}

static void unknown_symbol_without_default(void **state)
{
    codec_t *codec;
    codec_error_t err;
    const char *symbol;

    (void)state;
    open_pair(&codec, ENUM_WRITER, ENUM_READER_NO_DEFAULT);
    assert_int_equal(decode_enum(codec, 1, &symbol, &err), CODEC_ERR_RESOLVE);
    assert_non_null(strstr(err.message, "symbol B"));
    assert_int_equal(err.offset, 5);
    codec_close(codec);
}

static const char *ID_WRITER =
    "{\"type\":\"record\",\"name\":\"D\",\"namespace\":\"x\",\"fields\":[{\"name\":\"id\",\"type\":\"string\"}]}";

static void missing_field_without_default(void **state)
{
    static const char *reader =
        "{\"type\":\"record\",\"name\":\"D\",\"namespace\":\"x\",\"fields\":["
        "{\"name\":\"id\",\"type\":\"string\"},{\"name\":\"n\",\"type\":\"int\"}]}";
    codec_t *codec;
    codec_error_t err;
    avro_value_t value;
    bytes_t b = frame_start(100);

    (void)state;
    put_string(&b, "a");
    open_pair(&codec, ID_WRITER, reader);
    assert_int_equal(codec_decode_value(codec, b.data, b.len, NULL, &value, NULL, &err), CODEC_ERR_RESOLVE);
    assert_non_null(strstr(err.message, "x.D.n"));
    codec_close(codec);
}

static const char *DEFAULTS_READER =
    "{\"type\":\"record\",\"name\":\"D\",\"namespace\":\"x\",\"fields\":["
    "{\"name\":\"id\",\"type\":\"string\"},"
    "{\"name\":\"n\",\"type\":\"int\",\"default\":7},"
    "{\"name\":\"s\",\"type\":\"string\",\"default\":\"dflt\"},"
    "{\"name\":\"d\",\"type\":\"double\",\"default\":1.5},"
    "{\"name\":\"u\",\"type\":[\"null\",\"long\"],\"default\":null},"
    "{\"name\":\"a\",\"type\":{\"type\":\"array\",\"items\":\"long\"},\"default\":[1,2,3]},"
    "{\"name\":\"m\",\"type\":{\"type\":\"map\",\"values\":\"string\"},\"default\":{\"k\":\"v\"}},"
    "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"Color\",\"symbols\":[\"RED\",\"GREEN\"]},\"default\":\"GREEN\"},"
    "{\"name\":\"r\",\"type\":{\"type\":\"record\",\"name\":\"P\",\"fields\":["
    "{\"name\":\"x\",\"type\":\"int\"},{\"name\":\"y\",\"type\":\"int\",\"default\":9}]},\"default\":{\"x\":4}},"
    "{\"name\":\"b\",\"type\":\"bytes\",\"default\":\"\\u00ff\\u0001\"}]}";

static void defaults_of_every_kind(void **state)
{
    codec_t *codec;
    codec_error_t err;
    avro_value_t value, field, inner;
    bytes_t b = frame_start(100);
    int32_t n = 0;
    int64_t l = 0;
    double d = 0;
    int index = 0;
    size_t size = 0;
    const char *s;
    const void *raw = NULL;

    (void)state;
    put_string(&b, "a");
    open_pair(&codec, ID_WRITER, DEFAULTS_READER);
    assert_int_equal(codec_decode_value(codec, b.data, b.len, NULL, &value, NULL, &err), CODEC_OK);

    assert_int_equal(avro_value_get_by_name(&value, "n", &field, NULL), 0);
    assert_int_equal(avro_value_get_int(&field, &n), 0);
    assert_int_equal(n, 7);
    assert_int_equal(avro_value_get_by_name(&value, "s", &field, NULL), 0);
    assert_int_equal(avro_value_get_string(&field, &s, &size), 0);
    assert_string_equal(s, "dflt");
    assert_int_equal(avro_value_get_by_name(&value, "d", &field, NULL), 0);
    assert_int_equal(avro_value_get_double(&field, &d), 0);
    assert_true(d == 1.5);
    assert_int_equal(avro_value_get_by_name(&value, "u", &field, NULL), 0);
    assert_int_equal(avro_value_get_discriminant(&field, &index), 0);
    assert_int_equal(index, 0);
    assert_int_equal(avro_value_get_by_name(&value, "a", &field, NULL), 0);
    assert_int_equal(avro_value_get_size(&field, &size), 0);
    assert_int_equal(size, 3);
    assert_int_equal(avro_value_get_by_index(&field, 2, &inner, NULL), 0);
    assert_int_equal(avro_value_get_long(&inner, &l), 0);
    assert_int_equal(l, 3);
    assert_int_equal(avro_value_get_by_name(&value, "m", &field, NULL), 0);
    assert_int_equal(avro_value_get_by_name(&field, "k", &inner, NULL), 0);
    assert_int_equal(avro_value_get_string(&inner, &s, &size), 0);
    assert_string_equal(s, "v");
    assert_int_equal(avro_value_get_by_name(&value, "e", &field, NULL), 0);
    assert_int_equal(avro_value_get_enum(&field, &index), 0);
    assert_int_equal(index, 1);
    assert_int_equal(avro_value_get_by_name(&value, "r", &field, NULL), 0);
    assert_int_equal(avro_value_get_by_name(&field, "x", &inner, NULL), 0);
    assert_int_equal(avro_value_get_int(&inner, &n), 0);
    assert_int_equal(n, 4);
    assert_int_equal(avro_value_get_by_name(&field, "y", &inner, NULL), 0);
    assert_int_equal(avro_value_get_int(&inner, &n), 0);
    assert_int_equal(n, 9);
    assert_int_equal(avro_value_get_by_name(&value, "b", &field, NULL), 0);
    assert_int_equal(avro_value_get_bytes(&field, &raw, &size), 0);
    assert_int_equal(size, 2);
    assert_int_equal(((const uint8_t *)raw)[0], 0xff);
    assert_int_equal(((const uint8_t *)raw)[1], 0x01);

    avro_value_decref(&value);
    codec_close(codec);
}

static const char *PROMOTE_WRITER =
    "{\"type\":\"record\",\"name\":\"P\",\"fields\":["
    "{\"name\":\"i\",\"type\":\"int\"},{\"name\":\"f\",\"type\":\"float\"},"
    "{\"name\":\"s\",\"type\":\"string\"},{\"name\":\"o\",\"type\":\"string\"},"
    "{\"name\":\"w\",\"type\":[\"string\",\"null\"]}]}";
static const char *PROMOTE_READER =
    "{\"type\":\"record\",\"name\":\"P\",\"fields\":["
    "{\"name\":\"i\",\"type\":\"long\"},{\"name\":\"f\",\"type\":\"double\"},"
    "{\"name\":\"s\",\"type\":\"bytes\"},{\"name\":\"o\",\"type\":[\"null\",\"string\"]},"
    "{\"name\":\"w\",\"type\":[\"null\",\"string\"]}]}";

static void promotions_and_unions(void **state)
{
    codec_t *codec;
    codec_error_t err;
    avro_value_t value, field, inner;
    bytes_t b = frame_start(100);
    int64_t l = 0;
    double d = 0;
    size_t size = 0;
    const char *s;
    const void *raw;
    int index = 0;

    (void)state;
    put_long(&b, -300);
    put(&b, 0x00); put(&b, 0x00); put(&b, 0xc0); put(&b, 0x3f); /* float 1.5, little-endian */
    put_string(&b, "xy");
    put_string(&b, "opt");
    put_long(&b, 0);
    put_string(&b, "w");
    open_pair(&codec, PROMOTE_WRITER, PROMOTE_READER);
    assert_int_equal(codec_decode_value(codec, b.data, b.len, NULL, &value, NULL, &err), CODEC_OK);

    assert_int_equal(avro_value_get_by_name(&value, "i", &field, NULL), 0);
    assert_int_equal(avro_value_get_long(&field, &l), 0);
    assert_int_equal(l, -300);
    assert_int_equal(avro_value_get_by_name(&value, "f", &field, NULL), 0);
    assert_int_equal(avro_value_get_double(&field, &d), 0);
    assert_true(d == 1.5);
    assert_int_equal(avro_value_get_by_name(&value, "s", &field, NULL), 0);
    assert_int_equal(avro_value_get_bytes(&field, &raw, &size), 0);
    assert_int_equal(size, 2);
    assert_memory_equal(raw, "xy", 2);
    assert_int_equal(avro_value_get_by_name(&value, "o", &field, NULL), 0);
    assert_int_equal(avro_value_get_current_branch(&field, &inner), 0);
    assert_int_equal(avro_value_get_string(&inner, &s, &size), 0);
    assert_string_equal(s, "opt");
    assert_int_equal(avro_value_get_by_name(&value, "w", &field, NULL), 0);
    assert_int_equal(avro_value_get_discriminant(&field, &index), 0);
    assert_int_equal(index, 1);
    assert_int_equal(avro_value_get_current_branch(&field, &inner), 0);
    assert_int_equal(avro_value_get_string(&inner, &s, &size), 0);
    assert_string_equal(s, "w");

    avro_value_decref(&value);
    codec_close(codec);
}

static void incompatible_types(void **state)
{
    static const char *reader =
        "{\"type\":\"record\",\"name\":\"D\",\"namespace\":\"x\",\"fields\":[{\"name\":\"id\",\"type\":\"int\"}]}";
    codec_t *codec;
    codec_error_t err;
    avro_value_t value;
    bytes_t b = frame_start(100);

    (void)state;
    put_string(&b, "a");
    open_pair(&codec, ID_WRITER, reader);
    assert_int_equal(codec_decode_value(codec, b.data, b.len, NULL, &value, NULL, &err), CODEC_ERR_RESOLVE);
    assert_non_null(strstr(err.message, "string"));
    codec_close(codec);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(old_writer_missing_fields_take_defaults),
        cmocka_unit_test(old_writer_enum_resolves_by_name),
        cmocka_unit_test(new_writer_only_fields_skipped),
        cmocka_unit_test(new_writer_enum_reordered),
        cmocka_unit_test(unknown_symbol_takes_default),
        cmocka_unit_test(writer_truncated_in_skipped_field),
        cmocka_unit_test(enum_reordered_generic),
        cmocka_unit_test(unknown_symbol_without_default),
        cmocka_unit_test(missing_field_without_default),
        cmocka_unit_test(defaults_of_every_kind),
        cmocka_unit_test(promotions_and_unions),
        cmocka_unit_test(incompatible_types),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
