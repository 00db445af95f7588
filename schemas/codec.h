/*
 * codec: Avro records in the Confluent wire format, with a local schema catalogue.
 *
 * Every Kafka value intentd reads or writes is one frame:
 *
 *    offset  0        1                       5
 *           +--------+--------+--------+--------+--------+--------------------
 *           | magic  |     schema id (uint32, big-endian)|  Avro binary body
 *           |  0x00  | id>>24 | id>>16 | id>>8  |  id    |  (writer schema of id)
 *           +--------+--------+--------+--------+--------+--------------------
 *            1 byte   4 bytes                              len - 5 bytes
 *
 * The body is decoded with the writer schema named by the id and resolved to the
 * reader schema of the same record (the catalogue entry marked "reader") by the
 * rules of the Avro specification: fields match by name, a reader field missing
 * from the writer takes its default, writer-only fields are skipped, enum symbols
 * match by name and an unknown symbol takes the reader enum's default.
 *
 * Decoding never trusts the input: the body is read by a bounded reader of our
 * own (codec_resolve.c), which checks every declared length and count against
 * the bytes that remain before allocating anything. avro-c 1.11 is used for
 * schema parsing, generic values and encoding, but not for reading bodies,
 * because its reader allocates a declared string length before checking it and
 * resolves enums by index.
 *
 * Threads: a codec_t is immutable after codec_open() and the codec_catalogue_add()
 * calls that follow it, and may then be shared by any number of threads.
 */
#ifndef INTENTD_CODEC_H
#define INTENTD_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include <avro.h>

/* Bytes before the Avro body: magic byte plus schema id. */
#define CODEC_FRAME_HEADER_SIZE 5
#define CODEC_MAGIC_BYTE 0x00

/* Status codes. 0 is success; every failure fills a codec_error_t. */
typedef enum codec_status {
    CODEC_OK = 0,
    CODEC_ERR_FRAME,     /* short frame or wrong magic byte */
    CODEC_ERR_SCHEMA_ID, /* schema id not in the catalogue, or of another record */
    CODEC_ERR_BODY,      /* malformed Avro body: truncated, bad length, bad branch, trailing bytes */
    CODEC_ERR_RESOLVE,   /* writer and reader schemas cannot be resolved */
    CODEC_ERR_CATALOGUE, /* catalogue or .avsc file missing or invalid */
    CODEC_ERR_VALUE,     /* a value to encode is invalid (NULL required string, bad UTF-8) */
    CODEC_ERR_JSON,      /* JSON input invalid or not matching the field mapping */
    CODEC_ERR_NOMEM,     /* allocation failed */
} codec_status_t;

#define CODEC_NO_OFFSET SIZE_MAX

/* Error of the last failed call: status, the byte offset in the input where the
 * problem was found (CODEC_NO_OFFSET when none applies) and a message. */
typedef struct codec_error {
    codec_status_t status;
    size_t offset;
    char message[256];
} codec_error_t;

typedef struct codec codec_t;

/*
 * Opens a codec with the catalogue file catalogue_path (JSON, see
 * schemas/catalogue.json); .avsc files are read from the same folder. NULL
 * opens an empty catalogue for codec_catalogue_add(). On success *out owns the
 * codec, freed with codec_close().
 */
int codec_open(const char *catalogue_path, codec_t **out, codec_error_t *err);
void codec_close(codec_t *codec);

/*
 * Adds schema schema_json (Avro JSON text) under id, for example a schema
 * fetched from a schema registry. reader != 0 makes it the version that decodes
 * and encodes its record, replacing an earlier reader. Not thread-safe: call
 * before sharing the codec.
 */
int codec_catalogue_add(codec_t *codec, uint32_t id, const char *schema_json, int reader,
                        codec_error_t *err);

/* Id of the reader schema of record full_name (e.g. "io.intentd.ClickEvent"). */
int codec_reader_id(const codec_t *codec, const char *full_name, uint32_t *id, codec_error_t *err);

/* Full name of the record that schema id describes, or NULL if the id is unknown.
 * The string is owned by the codec. */
const char *codec_record_name(const codec_t *codec, uint32_t id);

/* ---- frame (codec_frame.c) ---- */

/* Splits frame into schema id and body (a pointer into frame, not a copy). */
int codec_frame_parse(const uint8_t *frame, size_t len, uint32_t *schema_id,
                      const uint8_t **body, size_t *body_len, codec_error_t *err);

/* Writes the 5 header bytes for schema_id into out. */
void codec_frame_write_header(uint32_t schema_id, uint8_t out[CODEC_FRAME_HEADER_SIZE]);

/* ---- generic values (codec_value.c) ---- */

/*
 * Decodes frame into a new generic value of the reader schema of the frame's
 * record. On success *out is a value the caller releases with
 * avro_value_decref(out), and *record_name (if not NULL) points at the record's
 * full name, owned by the codec. expected_record, if not NULL, rejects frames
 * of any other record with CODEC_ERR_SCHEMA_ID.
 */
int codec_decode_value(const codec_t *codec, const uint8_t *frame, size_t len,
                       const char *expected_record, avro_value_t *out,
                       const char **record_name, codec_error_t *err);

/*
 * Encodes value (whose schema must be the reader schema of schema_id) into a
 * frame. On success *buf is a malloc'd buffer of *len bytes, freed by the
 * caller with free().
 */
int codec_encode_value(const codec_t *codec, uint32_t schema_id, avro_value_t *value,
                       uint8_t **buf, size_t *len, codec_error_t *err);

/* Creates an empty generic value of the reader schema of record full_name;
 * release with avro_value_decref(). */
int codec_new_value(const codec_t *codec, const char *full_name, avro_value_t *out,
                    uint32_t *schema_id, codec_error_t *err);

/* ---- errors (codec_error.c) ---- */

/* Fills err (if not NULL) and returns status. */
int codec_error_set(codec_error_t *err, codec_status_t status, size_t offset, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Name of a status, e.g. "CODEC_ERR_BODY". */
const char *codec_status_name(codec_status_t status);

#endif
