/* Internals shared by the codec's source files; not part of the public API. */
#ifndef INTENTD_CODEC_INTERNAL_H
#define INTENTD_CODEC_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <avro.h>
#include <jansson.h>

#include "codec.h"
#include "codec_events.h"

/* One schema of the catalogue. The JSON is kept because avro-c 1.11 drops field
 * and enum defaults when it parses a schema, and resolution needs them. */
typedef struct codec_schema {
    uint32_t id;
    char *record;               /* full name of the top-level record */
    avro_schema_t schema;       /* owned reference */
    json_t *json;               /* owned; the parsed schema text */
    json_t *named;              /* owned object: full name -> borrowed node in json */
    avro_value_iface_t *iface;  /* generic class of schema, owned */
    bool reader;
    bool binary_intent;         /* a UserIntent that codec_write_intent_binary encodes */
} codec_schema_t;

struct codec {
    codec_schema_t *schemas;
    size_t count;
    size_t capacity;
};

const codec_schema_t *codec_find_schema(const codec_t *codec, uint32_t id);

/* True when schema is the UserIntent layout that codec_write_intent_binary
 * encodes (docs, defaults and logical types aside). */
bool codec_intent_layout_matches(avro_schema_t schema);

/* Writes intent as a Confluent frame of schema_id, with the bytes
 * avro_value_write gives for that layout. The same checks as the generic
 * path: every string present and valid UTF-8. Returns CODEC_OK with *buf
 * malloc'd, or an error. */
int codec_write_intent_binary(const codec_user_intent_t *intent, uint32_t schema_id, uint8_t **buf, size_t *len,
                              codec_error_t *err);

/* codec_encode_intent through an Avro generic value of the catalogue's
 * UserIntent reader schema, whatever its layout. */
int codec_encode_intent_generic(const codec_t *codec, const codec_user_intent_t *intent, uint8_t **buf,
                                size_t *len, codec_error_t *err);
const codec_schema_t *codec_find_reader(const codec_t *codec, const char *record);

/* Full name of a named schema (record, enum, fixed) into buf. */
void codec_schema_full_name(avro_schema_t schema, char *buf, size_t size);

/* Follows AVRO_LINK references to the schema they name. */
avro_schema_t codec_schema_deref(avro_schema_t schema);

/*
 * Reads body (written with writer) into dest, a generic value of reader, by
 * the Avro resolution rules. reader_named maps full names of the reader's named
 * types to their JSON definitions, for defaults. base is the offset of body
 * inside the frame, added to offsets in errors.
 */
int codec_resolve(avro_schema_t writer, avro_schema_t reader, json_t *reader_named,
                  const uint8_t *body, size_t len, size_t base, avro_value_t *dest,
                  codec_error_t *err);

/* Sets dest (a generic value of schema) from a JSON default value. */
int codec_default_set(json_t *value, avro_schema_t schema, json_t *named, avro_value_t *dest,
                      codec_error_t *err);

/*
 * Bounded reader over an Avro binary body (codec_binary.c). Every read checks
 * the bytes that remain first and reports the frame offset of a problem.
 */
typedef struct codec_walker {
    const uint8_t *data;
    size_t len;
    size_t pos;
    size_t base;      /* offset of data[0] inside the frame, for error offsets */
    codec_error_t *err;
} codec_walker_t;

static inline size_t codec_walker_remaining(const codec_walker_t *w)
{
    return w->len - w->pos;
}

static inline size_t codec_walker_offset(const codec_walker_t *w)
{
    return w->base + w->pos;
}

int codec_read_long(codec_walker_t *w, int64_t *out);
int codec_read_int(codec_walker_t *w, int32_t *out);
/* Reads a length or count that must be from 0 to the bytes remaining. */
int codec_read_length(codec_walker_t *w, const char *what, size_t *out);
int codec_read_boolean(codec_walker_t *w, int *out);
int codec_read_float(codec_walker_t *w, float *out);
int codec_read_double(codec_walker_t *w, double *out);
/* Points *out at the next n bytes, which must remain. */
int codec_read_fixed(codec_walker_t *w, size_t n, const uint8_t **out);
/* Reads a string: length, then bytes that must be valid UTF-8 without NUL. */
int codec_read_string(codec_walker_t *w, const uint8_t **out, size_t *n);
/* Checks that s (read at frame offset start) is valid UTF-8 without a NUL byte. */
int codec_check_text(codec_walker_t *w, const uint8_t *s, size_t n, size_t start);

/* Number of bytes of valid UTF-8 at the start of s, which equals len when all of s is valid. */
size_t codec_utf8_valid_prefix(const uint8_t *s, size_t len);

#endif
