/*
 * Model weights as safetensors (https://huggingface.co/docs/safetensors):
 *
 *   +----------------+----------------------+-------------------------------+
 *   | u64 LE: N      | N bytes JSON header  | data: tensors, little-endian  |
 *   +----------------+----------------------+-------------------------------+
 *
 * The header maps each tensor name to {"dtype", "shape", "data_offsets"} with
 * offsets relative to the start of the data region, and "__metadata__" to a
 * map of string values. intentd stores the model config there (keys listed in
 * safetensors.c, numbers written as decimal strings) plus an opaque string
 * under "intentd.tokenizer", the tokenizer vocabulary that travels with the
 * model. Only F32 tensors are accepted. The host must be little-endian.
 *
 * Files written by model_safetensors_save pad the header with spaces so the
 * data region starts on a 64-byte boundary and place each tensor at its offset
 * in the model_params layout, so loading maps them without copying.
 */
#ifndef INTENTD_MODEL_SAFETENSORS_H
#define INTENTD_MODEL_SAFETENSORS_H

#include <stddef.h>

#include "model.h"

#define MODEL_SAFETENSORS_FORMAT_VERSION "1"
/* Files of more than one tower carry this version and a "towers" key, so that
 * a reader that knows only version 1 rejects them instead of mixing towers. */
#define MODEL_SAFETENSORS_TOWERS_VERSION "2"
/* Headers larger than this are rejected before parsing. */
#define MODEL_SAFETENSORS_MAX_HEADER (64u << 20)

/* Load flags. */
#define MODEL_LOAD_COPY 1 /* always copy into an owned, writable buffer (training) */

/* Writes the model and an optional tokenizer string (may be NULL) to path.
 * Returns 0, or -1 with a message naming the path. */
int model_safetensors_save(const struct model *model, const char *path, const char *tokenizer, char *error);

/* Reads a model from path. Maps the file and uses the tensors in place when
 * the layout allows and flags has no MODEL_LOAD_COPY; in that case the
 * parameters are read-only and stay valid until model_free. tokenizer, when
 * not NULL, receives a malloc'ed copy of "intentd.tokenizer" or NULL when the
 * file has none; the caller frees it. Returns 0, or -1 with a message. */
int model_safetensors_load(struct model *model, const char *path, int flags, char **tokenizer, char *error);

/* Parsed header of a safetensors buffer. */
struct model_safetensors_header {
    struct model_config config;
    struct model_params layout;  /* tensor table for config; no data bound */
    size_t data_start;           /* byte offset of the data region in the buffer */
    size_t offsets[MODEL_MAX_TENSORS]; /* byte offset in the data region of layout.tensors[i] */
    char *tokenizer;             /* malloc'ed "intentd.tokenizer", or NULL */
};

/* Parses and checks the header of a whole file held in buf[size]: header
 * length against size, JSON syntax, config metadata, and for every tensor the
 * dtype, the shape against the config, and the offsets against the data
 * region. Never reads outside buf. Returns 0, or -1 with a message naming the
 * tensor and the expected and found values. On success the caller frees
 * header->tokenizer. */
int model_safetensors_parse(const unsigned char *buf, size_t size, struct model_safetensors_header *header,
                            char *error);

#endif
