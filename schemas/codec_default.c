/*
 * Field defaults: sets a generic value from the JSON "default" of a reader
 * field, encoded as the Avro 1.11 specification defines. A union's default
 * belongs to its first branch, bytes and fixed defaults are strings of code
 * points 0-255, and enum defaults are symbol strings.
 */
#include <string.h>

#include "codec_internal.h"

static int bad_default(codec_error_t *err, avro_schema_t schema)
{
    return codec_error_set(err, CODEC_ERR_CATALOGUE, CODEC_NO_OFFSET,
                           "a default value does not match its field type %s; fix the .avsc file",
                           avro_schema_type_name(schema));
}

/* Decodes a JSON string of code points 0-255 into bytes; returns the count or -1. */
static long latin1_bytes(const char *s, size_t len, uint8_t *out)
{
    size_t n = 0;

    for (size_t i = 0; i < len; n++) {
        uint8_t c = (uint8_t)s[i];
        if (c < 0x80) {
            out[n] = c;
            i++;
        } else if ((c == 0xc2 || c == 0xc3) && i + 1 < len) {
            out[n] = (uint8_t)(((c & 0x03) << 6) | ((uint8_t)s[i + 1] & 0x3f));
            i += 2;
        } else {
            return -1;
        }
    }
    return (long)n;
}

static int set_binary(json_t *value, avro_schema_t schema, avro_value_t *dest, codec_error_t *err)
{
    const char *s = json_string_value(value);
    size_t len = json_string_length(value);
    uint8_t buf[1024];

    if (s == NULL || len > sizeof(buf))
        return bad_default(err, schema);
    long n = latin1_bytes(s, len, buf);
    if (n < 0)
        return bad_default(err, schema);
    if (avro_typeof(schema) == AVRO_FIXED) {
        if (n != avro_schema_fixed_size(schema))
            return bad_default(err, schema);
        return avro_value_set_fixed(dest, buf, (size_t)n) == 0 ? CODEC_OK : bad_default(err, schema);
    }
    return avro_value_set_bytes(dest, buf, (size_t)n) == 0 ? CODEC_OK : bad_default(err, schema);
}

static int set_record(json_t *value, avro_schema_t schema, json_t *named, avro_value_t *dest,
                      codec_error_t *err)
{
    char full[512];
    codec_schema_full_name(schema, full, sizeof(full));
    json_t *fields = json_object_get(json_object_get(named, full), "fields");

    if (!json_is_object(value))
        return bad_default(err, schema);
    for (size_t i = 0; i < avro_schema_record_size(schema); i++) {
        const char *name = avro_schema_record_field_name(schema, (int)i);
        json_t *field_value = json_object_get(value, name);
        avro_value_t field;

        if (field_value == NULL)
            field_value = json_object_get(json_array_get(fields, i), "default");
        if (field_value == NULL || avro_value_get_by_index(dest, i, &field, NULL) != 0)
            return bad_default(err, schema);
        int rc = codec_default_set(field_value, avro_schema_record_field_get_by_index(schema, (int)i),
                                   named, &field, err);
        if (rc != CODEC_OK)
            return rc;
    }
    return CODEC_OK;
}

static int set_container(json_t *value, avro_schema_t schema, json_t *named, avro_value_t *dest,
                         codec_error_t *err)
{
    avro_value_t element;
    int rc;

    if (avro_typeof(schema) == AVRO_ARRAY) {
        size_t i;
        json_t *item;
        if (!json_is_array(value))
            return bad_default(err, schema);
        json_array_foreach(value, i, item) {
            if (avro_value_append(dest, &element, NULL) != 0)
                return bad_default(err, schema);
            rc = codec_default_set(item, avro_schema_array_items(schema), named, &element, err);
            if (rc != CODEC_OK)
                return rc;
        }
        return CODEC_OK;
    }

    const char *key;
    json_t *item;
    if (!json_is_object(value))
        return bad_default(err, schema);
    json_object_foreach(value, key, item) {
        if (avro_value_add(dest, key, &element, NULL, NULL) != 0)
            return bad_default(err, schema);
        rc = codec_default_set(item, avro_schema_map_values(schema), named, &element, err);
        if (rc != CODEC_OK)
            return rc;
    }
    return CODEC_OK;
}

int codec_default_set(json_t *value, avro_schema_t schema, json_t *named, avro_value_t *dest,
                      codec_error_t *err)
{
    avro_value_t branch;
    int rc = 1;

    schema = codec_schema_deref(schema);
    switch (avro_typeof(schema)) {
    case AVRO_NULL:
        rc = json_is_null(value) ? avro_value_set_null(dest) : 1;
        break;
    case AVRO_BOOLEAN:
        rc = json_is_boolean(value) ? avro_value_set_boolean(dest, json_is_true(value)) : 1;
        break;
    case AVRO_INT32:
        rc = json_is_integer(value) && json_integer_value(value) >= INT32_MIN &&
                     json_integer_value(value) <= INT32_MAX
                 ? avro_value_set_int(dest, (int32_t)json_integer_value(value)) : 1;
        break;
    case AVRO_INT64:
        rc = json_is_integer(value) ? avro_value_set_long(dest, json_integer_value(value)) : 1;
        break;
    case AVRO_FLOAT:
        rc = json_is_number(value) ? avro_value_set_float(dest, (float)json_number_value(value)) : 1;
        break;
    case AVRO_DOUBLE:
        rc = json_is_number(value) ? avro_value_set_double(dest, json_number_value(value)) : 1;
        break;
    case AVRO_STRING:
        rc = json_is_string(value) ? avro_value_set_string(dest, json_string_value(value)) : 1;
        break;
    case AVRO_BYTES:
    case AVRO_FIXED:
        return set_binary(value, schema, dest, err);
    case AVRO_ENUM: {
        const char *symbol = json_string_value(value);
        int index = symbol != NULL ? avro_schema_enum_get_by_name(schema, symbol) : -1;
        rc = index >= 0 ? avro_value_set_enum(dest, index) : 1;
        break;
    }
    case AVRO_ARRAY:
    case AVRO_MAP:
        return set_container(value, schema, named, dest, err);
    case AVRO_RECORD:
        return set_record(value, schema, named, dest, err);
    case AVRO_UNION:
        if (avro_value_set_branch(dest, 0, &branch) != 0)
            return bad_default(err, schema);
        return codec_default_set(value, avro_schema_union_branch(schema, 0), named, &branch, err);
    default:
        break;
    }
    return rc == 0 ? CODEC_OK : bad_default(err, schema);
}
