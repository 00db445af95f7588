/*
 * Avro object container files of ClickEvent or ReviewEvent records.
 *
 * Each record is re-encoded as one Confluent frame under a private schema id
 * that names the file's writer schema, and the codec decodes that frame.
 * Records of an older or newer schema version are therefore resolved to the
 * reader schema by the same rules and checks as records read from Kafka.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <avro.h>

#include "replay_input.h"

/* First private schema id; ids above it are not used by the catalogue. */
#define AVRO_PRIVATE_ID_BASE 0x7FFF0000u
#define AVRO_SCHEMA_JSON_MAX (1 << 20)

/* Adds the writer schema to codec under a free private id. */
static int register_writer(codec_t *codec, avro_schema_t schema, const char *path, uint32_t *id,
                           const char **record, char *error)
{
    char *json = calloc(1, AVRO_SCHEMA_JSON_MAX); /* zeroed: avro_writer_memory takes a const buffer */
    codec_error_t err;

    if (!json) {
        snprintf(error, REPLAY_ERROR_SIZE, "out of memory reading %.300s", path);
        return -1;
    }
    avro_writer_t writer = avro_writer_memory(json, AVRO_SCHEMA_JSON_MAX - 1);
    int rc = avro_schema_to_json(schema, writer);
    json[rc == 0 ? avro_writer_tell(writer) : 0] = '\0';
    avro_writer_free(writer);

    *id = AVRO_PRIVATE_ID_BASE;
    while (codec_record_name(codec, *id))
        (*id)++;
    if (rc != 0 || codec_catalogue_add(codec, *id, json, 0, &err) != CODEC_OK) {
        snprintf(error, REPLAY_ERROR_SIZE, "the writer schema of %.300s is not usable: %.150s", path,
                 rc != 0 ? avro_strerror() : err.message);
        free(json);
        return -1;
    }
    free(json);
    *record = codec_record_name(codec, *id);
    if (strcmp(*record, CODEC_CLICK_EVENT) != 0 && strcmp(*record, CODEC_REVIEW_EVENT) != 0) {
        snprintf(error, REPLAY_ERROR_SIZE, "%.300s holds %.100s records; expected %s or %s", path, *record,
                 CODEC_CLICK_EVENT, CODEC_REVIEW_EVENT);
        return -1;
    }
    return 0;
}

/* Frames value under id and decodes it into e; returns 0, 1 for a bad
 * record (reason set) or -1 when out of memory. */
static int decode_record(codec_t *codec, uint32_t id, avro_value_t *value, enum replay_kind kind,
                         struct replay_event *e, char *reason)
{
    size_t size;
    codec_error_t err;

    if (avro_value_sizeof(value, &size) != 0) {
        snprintf(reason, REPLAY_ERROR_SIZE, "cannot size the record: %s", avro_strerror());
        return 1;
    }
    uint8_t *frame = malloc(CODEC_FRAME_HEADER_SIZE + size);
    if (!frame)
        return -1;
    codec_frame_write_header(id, frame);
    avro_writer_t writer = avro_writer_memory((const char *)frame + CODEC_FRAME_HEADER_SIZE, (int64_t)size);
    int rc = avro_value_write(writer, value);
    avro_writer_free(writer);

    int status = 1;
    e->kind = kind;
    if (rc != 0)
        snprintf(reason, REPLAY_ERROR_SIZE, "cannot encode the record: %s", avro_strerror());
    else if ((kind == REPLAY_CLICK ? codec_decode_click(codec, frame, CODEC_FRAME_HEADER_SIZE + size, &e->u.click, &err)
                                   : codec_decode_review(codec, frame, CODEC_FRAME_HEADER_SIZE + size, &e->u.review,
                                                         &err)) != CODEC_OK)
        snprintf(reason, REPLAY_ERROR_SIZE, "invalid record: %s", err.message);
    else
        status = 0;
    free(frame);
    return status;
}

static int read_records(struct replay_load *load, avro_file_reader_t reader, avro_value_t *value, codec_t *codec,
                        uint32_t id, enum replay_kind kind, const char *path, char *error)
{
    char reason[REPLAY_ERROR_SIZE];
    long number = 0;
    int rc;

    while ((rc = avro_file_reader_read_value(reader, value)) == 0) {
        struct replay_event e = {0};

        number++;
        int status = decode_record(codec, id, value, kind, &e, reason);
        if (status < 0) {
            snprintf(error, REPLAY_ERROR_SIZE, "out of memory reading %.300s", path);
            return -1;
        }
        if (status > 0 && replay_bad_line(load->bad, path, number, reason, error) != 0)
            return -1;
        if (status == 0 && replay_load_add(load, &e, error) != 0)
            return -1;
    }
    if (rc != EOF) {
        snprintf(error, REPLAY_ERROR_SIZE, "reading %.300s failed after record %ld: %.150s", path, number,
                 avro_strerror());
        return -1;
    }
    return 0;
}

int replay_read_avro(struct replay_load *load, const char *path, codec_t *codec, char *error)
{
    avro_file_reader_t reader;
    avro_value_t value;
    const char *record;
    uint32_t id;

    if (avro_file_reader(path, &reader) != 0) {
        snprintf(error, REPLAY_ERROR_SIZE, "cannot open Avro file %.300s: %.150s", path, avro_strerror());
        return -1;
    }
    /* avro-c 1.11 returns a new reference here, released below. */
    avro_schema_t schema = avro_file_reader_get_writer_schema(reader);
    avro_value_iface_t *iface = avro_generic_class_from_schema(schema);
    int result = -1;
    if (!iface)
        snprintf(error, REPLAY_ERROR_SIZE, "cannot use the writer schema of %.300s: %.150s", path, avro_strerror());
    else if (register_writer(codec, schema, path, &id, &record, error) != 0)
        result = -1;
    else if (avro_generic_value_new(iface, &value) != 0)
        snprintf(error, REPLAY_ERROR_SIZE, "out of memory reading %.300s", path);
    else {
        enum replay_kind kind = strcmp(record, CODEC_CLICK_EVENT) == 0 ? REPLAY_CLICK : REPLAY_REVIEW;
        result = read_records(load, reader, &value, codec, id, kind, path, error);
        avro_value_decref(&value);
    }
    if (iface)
        avro_value_iface_decref(iface);
    avro_schema_decref(schema);
    avro_file_reader_close(reader);
    return result;
}
