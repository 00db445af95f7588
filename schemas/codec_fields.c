/* Field access on generic record values, with errors that name the field. */
#include <stdlib.h>
#include <string.h>

#include "codec_fields.h"
#include "codec_internal.h"

static int field_error(codec_error_t *err, const char *name, const char *what)
{
    return codec_error_set(err, CODEC_ERR_RESOLVE, CODEC_NO_OFFSET,
                           "field %s of the reader schema %s", name, what);
}

int codec_field_get(avro_value_t *record, const char *name, avro_value_t *out, codec_error_t *err)
{
    if (avro_value_get_by_name(record, name, out, NULL) != 0)
        return field_error(err, name, "is missing; the typed codec needs it");
    return CODEC_OK;
}

int codec_string_copy(avro_value_t *value, const char *what, char **out, codec_error_t *err)
{
    const char *s;
    size_t size;

    if (avro_value_get_string(value, &s, &size) != 0)
        return field_error(err, what, "is not a string");
    *out = strndup(s, size > 0 ? size - 1 : 0);
    if (*out == NULL)
        return codec_error_set(err, CODEC_ERR_NOMEM, CODEC_NO_OFFSET, "out of memory copying %s", what);
    return CODEC_OK;
}

int codec_field_get_string(avro_value_t *record, const char *name, char **out, codec_error_t *err)
{
    avro_value_t field;
    int rc = codec_field_get(record, name, &field, err);

    return rc != CODEC_OK ? rc : codec_string_copy(&field, name, out, err);
}

int codec_field_get_opt(avro_value_t *record, const char *name, avro_value_t *inner, bool *present,
                        codec_error_t *err)
{
    avro_value_t field;
    int rc = codec_field_get(record, name, &field, err);

    if (rc != CODEC_OK)
        return rc;
    if (avro_value_get_type(&field) != AVRO_UNION) {
        *inner = field;
        *present = avro_value_get_type(&field) != AVRO_NULL;
        return CODEC_OK;
    }
    if (avro_value_get_current_branch(&field, inner) != 0)
        return field_error(err, name, "has no union branch selected");
    *present = avro_value_get_type(inner) != AVRO_NULL;
    return CODEC_OK;
}

int codec_field_get_opt_string(avro_value_t *record, const char *name, char **out, codec_error_t *err)
{
    avro_value_t inner;
    bool present = false;
    int rc = codec_field_get_opt(record, name, &inner, &present, err);

    *out = NULL;
    if (rc != CODEC_OK || !present)
        return rc;
    return codec_string_copy(&inner, name, out, err);
}

int codec_field_get_long(avro_value_t *record, const char *name, int64_t *out, codec_error_t *err)
{
    avro_value_t field;
    int rc = codec_field_get(record, name, &field, err);

    if (rc == CODEC_OK && avro_value_get_long(&field, out) != 0)
        return field_error(err, name, "is not a long");
    return rc;
}

int codec_field_get_float(avro_value_t *record, const char *name, float *out, codec_error_t *err)
{
    avro_value_t field;
    int rc = codec_field_get(record, name, &field, err);

    if (rc == CODEC_OK && avro_value_get_float(&field, out) != 0)
        return field_error(err, name, "is not a float");
    return rc;
}

int codec_field_get_boolean(avro_value_t *record, const char *name, bool *out, codec_error_t *err)
{
    avro_value_t field;
    int flag = 0;
    int rc = codec_field_get(record, name, &field, err);

    if (rc == CODEC_OK && avro_value_get_boolean(&field, &flag) != 0)
        return field_error(err, name, "is not a boolean");
    *out = flag != 0;
    return rc;
}

int codec_field_get_consent(avro_value_t *record, const char *name, codec_consent_t *out,
                            codec_error_t *err)
{
    avro_value_t inner;
    bool present = false;
    int flag = 0;
    int rc = codec_field_get_opt(record, name, &inner, &present, err);

    *out = CODEC_CONSENT_UNKNOWN;
    if (rc != CODEC_OK || !present)
        return rc;
    if (avro_value_get_boolean(&inner, &flag) != 0)
        return field_error(err, name, "is not a nullable boolean");
    *out = flag ? CODEC_CONSENT_GIVEN : CODEC_CONSENT_DENIED;
    return CODEC_OK;
}

int codec_check_utf8(const char *what, const char *value, codec_error_t *err)
{
    size_t len = strlen(value);
    size_t valid = codec_utf8_valid_prefix((const uint8_t *)value, len);

    if (valid < len)
        return codec_error_set(err, CODEC_ERR_VALUE, valid,
                               "%s has invalid UTF-8 at byte %zu; Avro strings must be UTF-8", what,
                               valid);
    return CODEC_OK;
}

int codec_field_set_string(avro_value_t *record, const char *name, const char *value, codec_error_t *err)
{
    avro_value_t field;
    int rc;

    if (value == NULL)
        return codec_error_set(err, CODEC_ERR_VALUE, CODEC_NO_OFFSET,
                               "field %s is required but the string is NULL", name);
    if ((rc = codec_check_utf8(name, value, err)) != CODEC_OK)
        return rc;
    if ((rc = codec_field_get(record, name, &field, err)) != CODEC_OK)
        return rc;
    if (avro_value_set_string(&field, value) != 0)
        return field_error(err, name, "is not a string");
    return CODEC_OK;
}

int codec_field_set_opt(avro_value_t *record, const char *name, bool present, avro_value_t *inner,
                        codec_error_t *err)
{
    avro_value_t field;
    int rc = codec_field_get(record, name, &field, err);

    if (rc != CODEC_OK)
        return rc;
    if (avro_value_get_type(&field) != AVRO_UNION) {
        if (!present)
            return field_error(err, name, "is not nullable but the value is null");
        *inner = field;
        return CODEC_OK;
    }

    avro_schema_t schema = avro_value_get_schema(&field);
    for (size_t i = 0; i < avro_schema_union_size(schema); i++) {
        bool is_null = avro_typeof(avro_schema_union_branch(schema, (int)i)) == AVRO_NULL;
        if (is_null != present) {
            if (avro_value_set_branch(&field, (int)i, inner) != 0)
                return field_error(err, name, "rejected its union branch");
            return is_null ? (avro_value_set_null(inner) == 0 ? CODEC_OK : field_error(err, name, "rejected null"))
                           : CODEC_OK;
        }
    }
    return field_error(err, name, present ? "has no non-null branch" : "has no null branch");
}

int codec_field_set_opt_string(avro_value_t *record, const char *name, const char *value,
                               codec_error_t *err)
{
    avro_value_t inner;
    int rc;

    if (value != NULL && (rc = codec_check_utf8(name, value, err)) != CODEC_OK)
        return rc;
    rc = codec_field_set_opt(record, name, value != NULL, &inner, err);
    if (rc != CODEC_OK || value == NULL)
        return rc;
    return avro_value_set_string(&inner, value) == 0 ? CODEC_OK : field_error(err, name, "is not a nullable string");
}

int codec_field_set_long(avro_value_t *record, const char *name, int64_t value, codec_error_t *err)
{
    avro_value_t field;
    int rc = codec_field_get(record, name, &field, err);

    if (rc == CODEC_OK && avro_value_set_long(&field, value) != 0)
        return field_error(err, name, "is not a long");
    return rc;
}

int codec_field_set_float(avro_value_t *record, const char *name, float value, codec_error_t *err)
{
    avro_value_t field;
    int rc = codec_field_get(record, name, &field, err);

    if (rc == CODEC_OK && avro_value_set_float(&field, value) != 0)
        return field_error(err, name, "is not a float");
    return rc;
}

int codec_field_set_boolean(avro_value_t *record, const char *name, bool value, codec_error_t *err)
{
    avro_value_t field;
    int rc = codec_field_get(record, name, &field, err);

    if (rc == CODEC_OK && avro_value_set_boolean(&field, value) != 0)
        return field_error(err, name, "is not a boolean");
    return rc;
}

int codec_field_set_consent(avro_value_t *record, const char *name, codec_consent_t consent,
                            codec_error_t *err)
{
    avro_value_t inner;
    bool present = consent != CODEC_CONSENT_UNKNOWN;
    int rc = codec_field_set_opt(record, name, present, &inner, err);

    if (rc != CODEC_OK || !present)
        return rc;
    if (avro_value_set_boolean(&inner, consent == CODEC_CONSENT_GIVEN) != 0)
        return field_error(err, name, "is not a nullable boolean");
    return CODEC_OK;
}

void codec_offsets_free(codec_source_offset_t *offsets, size_t count)
{
    for (size_t i = 0; offsets != NULL && i < count; i++)
        free(offsets[i].topic);
    free(offsets);
}

int codec_field_get_offsets(avro_value_t *record, codec_source_offset_t **out, size_t *count,
                            codec_error_t *err)
{
    avro_value_t array;
    size_t n = 0;
    int rc = codec_field_get(record, "source_offsets", &array, err);

    *out = NULL;
    *count = 0;
    if (rc != CODEC_OK)
        return rc;
    if (avro_value_get_size(&array, &n) != 0)
        return field_error(err, "source_offsets", "is not an array");
    if (n == 0)
        return CODEC_OK;
    codec_source_offset_t *offsets = calloc(n, sizeof(*offsets));
    if (offsets == NULL)
        return codec_error_set(err, CODEC_ERR_NOMEM, CODEC_NO_OFFSET, "out of memory for %zu offsets", n);
    for (size_t i = 0; i < n && rc == CODEC_OK; i++) {
        avro_value_t item, partition;
        if (avro_value_get_by_index(&array, i, &item, NULL) != 0)
            rc = field_error(err, "source_offsets", "has a missing item");
        if (rc == CODEC_OK)
            rc = codec_field_get_string(&item, "topic", &offsets[i].topic, err);
        if (rc == CODEC_OK)
            rc = codec_field_get_long(&item, "offset", &offsets[i].offset, err);
        if (rc == CODEC_OK && (codec_field_get(&item, "partition", &partition, err) != CODEC_OK ||
                               avro_value_get_int(&partition, &offsets[i].partition) != 0))
            rc = field_error(err, "source_offsets.partition", "is not an int");
    }
    if (rc != CODEC_OK) {
        codec_offsets_free(offsets, n);
        return rc;
    }
    *out = offsets;
    *count = n;
    return CODEC_OK;
}

int codec_field_set_offsets(avro_value_t *record, const codec_source_offset_t *offsets, size_t count,
                            codec_error_t *err)
{
    avro_value_t array;
    int rc = codec_field_get(record, "source_offsets", &array, err);

    for (size_t i = 0; i < count && rc == CODEC_OK; i++) {
        avro_value_t item, partition;
        if (avro_value_append(&array, &item, NULL) != 0)
            return field_error(err, "source_offsets", "rejected an item");
        rc = codec_field_set_string(&item, "topic", offsets[i].topic, err);
        if (rc == CODEC_OK)
            rc = codec_field_set_long(&item, "offset", offsets[i].offset, err);
        if (rc == CODEC_OK && (codec_field_get(&item, "partition", &partition, err) != CODEC_OK ||
                               avro_value_set_int(&partition, offsets[i].partition) != 0))
            rc = field_error(err, "source_offsets.partition", "is not an int");
    }
    return rc;
}
