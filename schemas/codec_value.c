/* Frames to and from generic avro-c values of the reader schemas. */
#include <stdlib.h>
#include <string.h>

#include "codec_internal.h"

int codec_decode_value(const codec_t *codec, const uint8_t *frame, size_t len,
                       const char *expected_record, avro_value_t *out,
                       const char **record_name, codec_error_t *err)
{
    uint32_t id;
    const uint8_t *body;
    size_t body_len;
    int rc = codec_frame_parse(frame, len, &id, &body, &body_len, err);

    if (rc != CODEC_OK)
        return rc;
    const codec_schema_t *writer = codec_find_schema(codec, id);
    if (writer == NULL)
        return codec_error_set(err, CODEC_ERR_SCHEMA_ID, 1,
                               "schema id %u is not in the catalogue; register it or check "
                               "the producer's schema id", id);
    if (expected_record != NULL && strcmp(writer->record, expected_record) != 0)
        return codec_error_set(err, CODEC_ERR_SCHEMA_ID, 1, "schema id %u is a %s, expected a %s", id,
                               writer->record, expected_record);
    const codec_schema_t *reader = codec_find_reader(codec, writer->record);
    if (reader == NULL)
        return codec_error_set(err, CODEC_ERR_SCHEMA_ID, 1,
                               "schema id %u is a %s, which has no reader schema in the catalogue",
                               id, writer->record);

    if (avro_generic_value_new(reader->iface, out) != 0)
        return codec_error_set(err, CODEC_ERR_NOMEM, CODEC_NO_OFFSET,
                               "cannot create a %s value: %s", reader->record, avro_strerror());
    rc = codec_resolve(writer->schema, reader->schema, reader->named, body, body_len,
                       CODEC_FRAME_HEADER_SIZE, out, err);
    if (rc != CODEC_OK) {
        avro_value_decref(out);
        memset(out, 0, sizeof(*out));
        return rc;
    }
    if (record_name != NULL)
        *record_name = reader->record;
    return CODEC_OK;
}

int codec_encode_value(const codec_t *codec, uint32_t schema_id, avro_value_t *value,
                       uint8_t **buf, size_t *len, codec_error_t *err)
{
    const codec_schema_t *entry = codec_find_schema(codec, schema_id);
    size_t body_len;

    *buf = NULL;
    *len = 0;
    if (entry == NULL)
        return codec_error_set(err, CODEC_ERR_SCHEMA_ID, CODEC_NO_OFFSET,
                               "schema id %u is not in the catalogue", schema_id);
    if (!avro_schema_equal(avro_value_get_schema(value), entry->schema))
        return codec_error_set(err, CODEC_ERR_VALUE, CODEC_NO_OFFSET,
                               "the value's schema is not schema id %u (%s); create the value with "
                               "codec_new_value()", schema_id, entry->record);
    if (avro_value_sizeof(value, &body_len) != 0)
        return codec_error_set(err, CODEC_ERR_VALUE, CODEC_NO_OFFSET,
                               "cannot size a %s value: %s", entry->record, avro_strerror());

    uint8_t *frame = malloc(CODEC_FRAME_HEADER_SIZE + body_len);
    if (frame == NULL)
        return codec_error_set(err, CODEC_ERR_NOMEM, CODEC_NO_OFFSET,
                               "out of memory for a %zu-byte frame", CODEC_FRAME_HEADER_SIZE + body_len);
    codec_frame_write_header(schema_id, frame);
    avro_writer_t writer = avro_writer_memory((const char *)frame + CODEC_FRAME_HEADER_SIZE,
                                              (int64_t)body_len);
    int rc = writer != NULL ? avro_value_write(writer, value) : -1;
    if (writer != NULL)
        avro_writer_free(writer);
    if (rc != 0) {
        free(frame);
        return codec_error_set(err, CODEC_ERR_VALUE, CODEC_NO_OFFSET, "cannot encode a %s value: %s",
                               entry->record, avro_strerror());
    }
    *buf = frame;
    *len = CODEC_FRAME_HEADER_SIZE + body_len;
    return CODEC_OK;
}

int codec_new_value(const codec_t *codec, const char *full_name, avro_value_t *out,
                    uint32_t *schema_id, codec_error_t *err)
{
    const codec_schema_t *reader = codec_find_reader(codec, full_name);

    if (reader == NULL)
        return codec_error_set(err, CODEC_ERR_SCHEMA_ID, CODEC_NO_OFFSET,
                               "no reader schema for record %s in the catalogue", full_name);
    if (avro_generic_value_new(reader->iface, out) != 0)
        return codec_error_set(err, CODEC_ERR_NOMEM, CODEC_NO_OFFSET,
                               "cannot create a %s value: %s", full_name, avro_strerror());
    *schema_id = reader->id;
    return CODEC_OK;
}
