/* Field access on generic record values, shared by the typed record codecs. */
#ifndef INTENTD_CODEC_FIELDS_H
#define INTENTD_CODEC_FIELDS_H

#include <stdbool.h>
#include <stdint.h>

#include <avro.h>

#include "codec.h"
#include "codec_events.h"

/* Getters copy into malloc'd memory owned by the caller. A nullable getter
 * stores NULL or sets *present to false for Avro null. */
int codec_field_get(avro_value_t *record, const char *name, avro_value_t *out, codec_error_t *err);
int codec_field_get_string(avro_value_t *record, const char *name, char **out, codec_error_t *err);
int codec_field_get_opt_string(avro_value_t *record, const char *name, char **out, codec_error_t *err);
int codec_field_get_long(avro_value_t *record, const char *name, int64_t *out, codec_error_t *err);
int codec_field_get_float(avro_value_t *record, const char *name, float *out, codec_error_t *err);
int codec_field_get_boolean(avro_value_t *record, const char *name, bool *out, codec_error_t *err);
/* Gets the value inside a nullable union; *present is false for null. */
int codec_field_get_opt(avro_value_t *record, const char *name, avro_value_t *inner, bool *present,
                        codec_error_t *err);
int codec_field_get_consent(avro_value_t *record, const char *name, codec_consent_t *out,
                            codec_error_t *err);
int codec_string_copy(avro_value_t *value, const char *what, char **out, codec_error_t *err);

int codec_field_set_string(avro_value_t *record, const char *name, const char *value, codec_error_t *err);
int codec_field_set_opt_string(avro_value_t *record, const char *name, const char *value,
                               codec_error_t *err);
int codec_field_set_long(avro_value_t *record, const char *name, int64_t value, codec_error_t *err);
int codec_field_set_float(avro_value_t *record, const char *name, float value, codec_error_t *err);
int codec_field_set_boolean(avro_value_t *record, const char *name, bool value, codec_error_t *err);
/* Selects the null or the non-null branch of a nullable union field; *inner
 * is the selected branch. */
int codec_field_set_opt(avro_value_t *record, const char *name, bool present, avro_value_t *inner,
                        codec_error_t *err);
int codec_field_set_consent(avro_value_t *record, const char *name, codec_consent_t consent,
                            codec_error_t *err);
/* Checks that value is valid UTF-8 before it is encoded. */
int codec_check_utf8(const char *what, const char *value, codec_error_t *err);

/* Source offsets, shared by UserIntent and Offer. */
int codec_field_get_offsets(avro_value_t *record, codec_source_offset_t **out, size_t *count,
                            codec_error_t *err);
int codec_field_set_offsets(avro_value_t *record, const codec_source_offset_t *offsets, size_t count,
                            codec_error_t *err);
void codec_offsets_free(codec_source_offset_t *offsets, size_t count);

#endif
