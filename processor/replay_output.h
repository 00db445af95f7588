/*
 * Record values written by `intentd replay`: a Confluent Avro frame with
 * the catalogue's reader schema id, or, when schemas.format is json, one
 * JSON object laid out by the schemas.json field mapping so that
 * `intentd run` reads it back through the same mapping.
 */
#ifndef INTENTD_REPLAY_OUTPUT_H
#define INTENTD_REPLAY_OUTPUT_H

#include <stddef.h>
#include <stdint.h>

#include "codec.h"
#include "config.h"
#include "replay_event.h"

/* Encodes e. codec is needed for Avro and may be NULL for JSON. On success
 * returns 0 and a malloc'd value in *buf (*len bytes) that the caller frees;
 * otherwise -1 with a message in error (REPLAY_ERROR_SIZE bytes). */
int replay_output_encode(const struct intentd_config *cfg, const codec_t *codec, const struct replay_event *e,
                         uint8_t **buf, size_t *len, char *error);

/* Checks that the JSON mapping can carry e's record kind: every field the
 * processor requires has a path. Returns 0, or -1 with a message. */
int replay_output_check_json(const struct intentd_config *cfg, enum replay_kind kind, char *error);

#endif
