/* UserIntent in Avro binary without the generic value API. An intent goes out
 * for almost every event. Building a generic value (an allocation per string
 * and array element, a field lookup by name per field) took 9 % of intentd's
 * CPU in the e2e benchmark, twice the Avro decoding of the events. This writer produces the same bytes as
 * avro_value_write, but only for the schema it was written for: the
 * catalogue marks a UserIntent reader schema equal to that one, and every
 * other schema goes through the generic path. */
#include <stdlib.h>
#include <string.h>

#include "codec_fields.h"
#include "codec_internal.h"

/* The UserIntent layout this writer encodes; docs and defaults do not change
 * the binary form and are left out. */
static const char intent_layout[] =
    "{\"type\":\"record\",\"name\":\"UserIntent\",\"namespace\":\"io.intentd\",\"fields\":["
    "{\"name\":\"user_id\",\"type\":\"string\"},"
    "{\"name\":\"embedding\",\"type\":{\"type\":\"array\",\"items\":\"float\"}},"
    "{\"name\":\"purchase_propensity\",\"type\":\"float\"},"
    "{\"name\":\"top_categories\",\"type\":{\"type\":\"array\",\"items\":{\"type\":\"record\",\"name\":\"ScoredId\","
    "\"fields\":[{\"name\":\"id\",\"type\":\"string\"},{\"name\":\"score\",\"type\":\"float\"}]}}},"
    "{\"name\":\"top_items\",\"type\":{\"type\":\"array\",\"items\":\"ScoredId\"}},"
    "{\"name\":\"sentiment\",\"type\":[\"null\",\"float\"]},"
    "{\"name\":\"model_version\",\"type\":\"string\"},"
    "{\"name\":\"updated_at\",\"type\":\"long\"},"
    "{\"name\":\"source_offsets\",\"type\":{\"type\":\"array\",\"items\":{\"type\":\"record\","
    "\"name\":\"SourceOffset\",\"fields\":[{\"name\":\"topic\",\"type\":\"string\"},"
    "{\"name\":\"partition\",\"type\":\"int\"},{\"name\":\"offset\",\"type\":\"long\"}]}}}]}";

bool codec_intent_layout_matches(avro_schema_t schema)
{
    avro_schema_t layout;

    if (avro_schema_from_json_length(intent_layout, sizeof intent_layout - 1, &layout) != 0)
        return false;
    bool equal = avro_schema_equal(schema, layout) != 0;
    avro_schema_decref(layout);
    return equal;
}

/* Output cursor; the size pass runs the same code with out == NULL. */
struct sink {
    uint8_t *out;
    size_t len;
};

static void put_bytes(struct sink *s, const void *bytes, size_t n)
{
    if (s->out)
        memcpy(s->out + s->len, bytes, n);
    s->len += n;
}

/* Zig-zag varint, the Avro encoding of int and long. */
static void put_long(struct sink *s, int64_t value)
{
    uint64_t z = ((uint64_t)value << 1) ^ (uint64_t)(value >> 63);
    uint8_t bytes[10];
    size_t n = 0;

    while (z >= 0x80) {
        bytes[n++] = (uint8_t)(z | 0x80);
        z >>= 7;
    }
    bytes[n++] = (uint8_t)z;
    put_bytes(s, bytes, n);
}

/* Four bytes, little-endian IEEE 754. */
static void put_float(struct sink *s, float value)
{
    uint32_t bits;
    uint8_t bytes[4];

    memcpy(&bits, &value, sizeof bits);
    for (int i = 0; i < 4; i++)
        bytes[i] = (uint8_t)(bits >> (8 * i));
    put_bytes(s, bytes, sizeof bytes);
}

static void put_string(struct sink *s, const char *text)
{
    size_t n = text ? strlen(text) : 0;

    put_long(s, (int64_t)n);
    put_bytes(s, text, n);
}

/* An array as avro-c writes it: one block of count items, then the 0 that
 * ends the array (only the 0 when it is empty). */
static void put_block_count(struct sink *s, size_t count)
{
    if (count > 0)
        put_long(s, (int64_t)count);
}

static void put_scored(struct sink *s, const codec_scored_id_t *ids, size_t count)
{
    put_block_count(s, count);
    for (size_t i = 0; i < count; i++) {
        put_string(s, ids[i].id);
        put_float(s, ids[i].score);
    }
    put_long(s, 0);
}

static void put_intent(struct sink *s, const codec_user_intent_t *t)
{
    put_string(s, t->user_id);

    put_block_count(s, t->embedding_len);
    for (size_t i = 0; i < t->embedding_len; i++)
        put_float(s, t->embedding[i]);
    put_long(s, 0);

    put_float(s, t->purchase_propensity);
    put_scored(s, t->top_categories, t->top_category_count);
    put_scored(s, t->top_items, t->top_item_count);

    put_long(s, t->has_sentiment ? 1 : 0); /* union branch: null or float */
    if (t->has_sentiment)
        put_float(s, t->sentiment);

    put_string(s, t->model_version);
    put_long(s, t->updated_at_ms);

    put_block_count(s, t->source_offset_count);
    for (size_t i = 0; i < t->source_offset_count; i++) {
        put_string(s, t->source_offsets[i].topic);
        put_long(s, t->source_offsets[i].partition);
        put_long(s, t->source_offsets[i].offset);
    }
    put_long(s, 0);
}

/* Checks string field name as the generic path does: present and UTF-8. */
static int check_string(const char *name, const char *value, codec_error_t *err)
{
    if (value == NULL)
        return codec_error_set(err, CODEC_ERR_VALUE, CODEC_NO_OFFSET, "field %s is required but the string is NULL",
                               name);
    return codec_check_utf8(name, value, err);
}

static int check_strings(const codec_user_intent_t *t, codec_error_t *err)
{
    int rc = check_string("user_id", t->user_id, err);

    for (size_t i = 0; rc == CODEC_OK && i < t->top_category_count; i++)
        rc = check_string("id", t->top_categories[i].id, err);
    for (size_t i = 0; rc == CODEC_OK && i < t->top_item_count; i++)
        rc = check_string("id", t->top_items[i].id, err);
    if (rc == CODEC_OK)
        rc = check_string("model_version", t->model_version, err);
    for (size_t i = 0; rc == CODEC_OK && i < t->source_offset_count; i++)
        rc = check_string("topic", t->source_offsets[i].topic, err);
    return rc;
}

int codec_write_intent_binary(const codec_user_intent_t *intent, uint32_t schema_id, uint8_t **buf, size_t *len,
                              codec_error_t *err)
{
    struct sink size = {NULL, 0};
    int rc = check_strings(intent, err);

    if (rc != CODEC_OK)
        return rc;
    put_intent(&size, intent);

    struct sink frame = {malloc(CODEC_FRAME_HEADER_SIZE + size.len), CODEC_FRAME_HEADER_SIZE};
    if (frame.out == NULL)
        return codec_error_set(err, CODEC_ERR_NOMEM, CODEC_NO_OFFSET, "out of memory for a %zu-byte frame",
                               CODEC_FRAME_HEADER_SIZE + size.len);
    codec_frame_write_header(schema_id, frame.out);
    put_intent(&frame, intent);

    *buf = frame.out;
    *len = frame.len;
    return CODEC_OK;
}
