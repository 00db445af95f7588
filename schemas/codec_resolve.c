/*
 * Schema resolution while reading: walks the writer schema over the body with
 * the bounded reader of codec_binary.c and stores each datum in a generic value
 * of the reader schema, following "Schema Resolution" in the Avro 1.11
 * specification. With dest NULL the walk only validates and skips the datum.
 *
 * Enums are resolved here by symbol name: avro-c 1.11's resolved reader maps
 * the writer's index to the reader's index, which is wrong when the symbol
 * order differs between the two schemas.
 */
#include <stdlib.h>
#include <string.h>

#include "codec_internal.h"

/* Maximum nesting depth of records, arrays, maps and unions. Without it a
 * recursive schema could recurse once per input byte. */
#define RESOLVE_MAX_DEPTH 64
/* Maximum number of zero-size items (null, empty records) per body. The
 * remaining-bytes check cannot bound them because they take no bytes. */
#define RESOLVE_MAX_EMPTY_ITEMS 65536

typedef struct resolver {
    codec_walker_t walker;
    json_t *named;
    int depth;
    size_t empty_items;
} resolver_t;

static int resolve(resolver_t *r, avro_schema_t ws, avro_schema_t rs, avro_value_t *dest);

static int mismatch(resolver_t *r, avro_schema_t ws, avro_schema_t rs)
{
    return codec_error_set(r->walker.err, CODEC_ERR_RESOLVE, codec_walker_offset(&r->walker),
                           "writer type %s cannot be read as reader type %s (at offset %zu)",
                           avro_schema_type_name(ws), avro_schema_type_name(rs),
                           codec_walker_offset(&r->walker));
}

static int avro_failed(resolver_t *r, const char *what)
{
    return codec_error_set(r->walker.err, CODEC_ERR_NOMEM, codec_walker_offset(&r->walker),
                           "avro-c failed to %s: %s", what, avro_strerror());
}

/* Minimum encoded size of a datum of schema, 0 when it may take no bytes. */
static size_t min_size(avro_schema_t schema, int depth)
{
    schema = codec_schema_deref(schema);
    if (depth > RESOLVE_MAX_DEPTH)
        return 0;
    switch (avro_typeof(schema)) {
    case AVRO_NULL:
        return 0;
    case AVRO_FLOAT:
        return 4;
    case AVRO_DOUBLE:
        return 8;
    case AVRO_FIXED:
        return (size_t)avro_schema_fixed_size(schema);
    case AVRO_RECORD: {
        size_t total = 0;
        for (size_t i = 0; i < avro_schema_record_size(schema); i++)
            total += min_size(avro_schema_record_field_get_by_index(schema, (int)i), depth + 1);
        return total;
    }
    default:
        return 1;
    }
}

/* Named types match by unqualified name, as the Avro 1.11 resolution rules say.
 * NOTE: aliases of types and fields are not consulted, so a renamed field
 * resolves as a removed field plus a new one. */
static bool same_name(avro_schema_t ws, avro_schema_t rs)
{
    return strcmp(avro_schema_name(ws), avro_schema_name(rs)) == 0;
}

/* Whether a writer datum of ws can be stored in reader schema rs (no unions). */
static bool matches(avro_schema_t ws, avro_schema_t rs, bool promote)
{
    avro_type_t wt = avro_typeof(ws), rt = avro_typeof(rs);

    if (wt == rt) {
        if (wt == AVRO_RECORD || wt == AVRO_ENUM)
            return same_name(ws, rs);
        if (wt == AVRO_FIXED)
            return same_name(ws, rs) && avro_schema_fixed_size(ws) == avro_schema_fixed_size(rs);
        return true;
    }
    if (!promote)
        return false;
    switch (wt) {
    case AVRO_INT32: return rt == AVRO_INT64 || rt == AVRO_FLOAT || rt == AVRO_DOUBLE;
    case AVRO_INT64: return rt == AVRO_FLOAT || rt == AVRO_DOUBLE;
    case AVRO_FLOAT: return rt == AVRO_DOUBLE;
    case AVRO_STRING: return rt == AVRO_BYTES;
    case AVRO_BYTES: return rt == AVRO_STRING;
    default: return false;
    }
}

/* Index of the first reader union branch that accepts ws, exact matches first. */
static int find_branch(avro_schema_t ws, avro_schema_t union_schema)
{
    size_t n = avro_schema_union_size(union_schema);

    for (int promote = 0; promote <= 1; promote++)
        for (size_t i = 0; i < n; i++) {
            avro_schema_t branch = codec_schema_deref(avro_schema_union_branch(union_schema, (int)i));
            if (matches(ws, branch, promote))
                return (int)i;
        }
    return -1;
}

static int resolve_union(resolver_t *r, avro_schema_t ws, avro_schema_t rs, avro_value_t *dest)
{
    size_t start = codec_walker_offset(&r->walker);
    int64_t index;
    int rc = codec_read_long(&r->walker, &index);

    if (rc != CODEC_OK)
        return rc;
    size_t n = avro_schema_union_size(ws);
    if (index < 0 || (uint64_t)index >= n)
        return codec_error_set(r->walker.err, CODEC_ERR_BODY, start,
                               "union branch index %lld at offset %zu is out of range 0..%zu",
                               (long long)index, start, n - 1);
    return resolve(r, avro_schema_union_branch(ws, (int)index), rs, dest);
}

/* Stores a writer datum that is not a union into the reader union rs. */
static int resolve_into_union(resolver_t *r, avro_schema_t ws, avro_schema_t rs, avro_value_t *dest)
{
    int index = find_branch(ws, rs);
    avro_value_t branch;

    if (index < 0)
        return codec_error_set(r->walker.err, CODEC_ERR_RESOLVE, codec_walker_offset(&r->walker),
                               "writer type %s matches no branch of the reader union (at offset %zu)",
                               avro_schema_type_name(ws), codec_walker_offset(&r->walker));
    if (avro_value_set_branch(dest, index, &branch) != 0)
        return avro_failed(r, "select a union branch");
    return resolve(r, ws, avro_schema_union_branch(rs, index), &branch);
}

static int resolve_number(resolver_t *r, avro_schema_t ws, avro_schema_t rs, avro_value_t *dest)
{
    avro_type_t wt = avro_typeof(ws);
    double real = 0;
    int64_t whole = 0;
    int rc;

    if (dest != NULL && !matches(ws, rs, true))
        return mismatch(r, ws, rs);
    if (wt == AVRO_INT32) {
        int32_t v;
        rc = codec_read_int(&r->walker, &v);
        whole = v;
        real = v;
    } else if (wt == AVRO_INT64) {
        rc = codec_read_long(&r->walker, &whole);
        real = (double)whole;
    } else if (wt == AVRO_FLOAT) {
        float v;
        rc = codec_read_float(&r->walker, &v);
        real = v;
    } else {
        rc = codec_read_double(&r->walker, &real);
    }
    if (rc != CODEC_OK || dest == NULL)
        return rc;

    switch (avro_typeof(rs)) {
    case AVRO_INT32: rc = avro_value_set_int(dest, (int32_t)whole); break;
    case AVRO_INT64: rc = avro_value_set_long(dest, whole); break;
    case AVRO_FLOAT: rc = avro_value_set_float(dest, (float)real); break;
    default: rc = avro_value_set_double(dest, real); break;
    }
    return rc == 0 ? CODEC_OK : avro_failed(r, "set a number");
}

static int resolve_bytes(resolver_t *r, avro_schema_t ws, avro_schema_t rs, avro_value_t *dest)
{
    bool text = avro_typeof(ws) == AVRO_STRING;
    const uint8_t *data;
    size_t n;
    int rc = codec_read_length(&r->walker, text ? "string length" : "bytes length", &n);

    if (rc != CODEC_OK)
        return rc;
    if (dest != NULL && !matches(ws, rs, true))
        return mismatch(r, ws, rs);
    size_t start = codec_walker_offset(&r->walker);
    rc = codec_read_fixed(&r->walker, n, &data);
    if (rc == CODEC_OK && (text || (dest != NULL && avro_typeof(rs) == AVRO_STRING)))
        rc = codec_check_text(&r->walker, data, n, start);
    if (rc != CODEC_OK || dest == NULL)
        return rc;

    if (avro_typeof(rs) == AVRO_BYTES)
        return avro_value_set_bytes(dest, (void *)data, n) == 0 ? CODEC_OK : avro_failed(r, "set bytes");
    /* avro-c copies a string including its terminator, so give it a terminated copy. */
    char *copy = malloc(n + 1);
    if (copy == NULL)
        return codec_error_set(r->walker.err, CODEC_ERR_NOMEM, start, "out of memory for a %zu-byte string", n);
    memcpy(copy, data, n);
    copy[n] = '\0';
    rc = avro_value_set_string_len(dest, copy, n + 1);
    free(copy);
    return rc == 0 ? CODEC_OK : avro_failed(r, "set a string");
}

static int resolve_enum(resolver_t *r, avro_schema_t ws, avro_schema_t rs, avro_value_t *dest)
{
    size_t start = codec_walker_offset(&r->walker);
    int32_t index;
    int rc = codec_read_int(&r->walker, &index);

    if (rc != CODEC_OK)
        return rc;
    int count = avro_schema_enum_number_of_symbols(ws);
    if (index < 0 || index >= count)
        return codec_error_set(r->walker.err, CODEC_ERR_BODY, start,
                               "enum index %d at offset %zu is out of range 0..%d of enum %s", index,
                               start, count - 1, avro_schema_name(ws));
    if (dest == NULL)
        return CODEC_OK;
    if (!matches(ws, rs, false))
        return mismatch(r, ws, rs);

    const char *symbol = avro_schema_enum_get(ws, index);
    int reader_index = avro_schema_enum_get_by_name(rs, symbol);
    if (reader_index < 0) {
        char full[512];
        codec_schema_full_name(rs, full, sizeof(full));
        const char *fallback = json_string_value(json_object_get(json_object_get(r->named, full), "default"));
        if (fallback == NULL || (reader_index = avro_schema_enum_get_by_name(rs, fallback)) < 0)
            return codec_error_set(r->walker.err, CODEC_ERR_RESOLVE, start,
                                   "enum symbol %s at offset %zu is not in reader enum %s, "
                                   "which has no default symbol", symbol, start, full);
    }
    return avro_value_set_enum(dest, reader_index) == 0 ? CODEC_OK : avro_failed(r, "set an enum");
}

static int resolve_fixed(resolver_t *r, avro_schema_t ws, avro_schema_t rs, avro_value_t *dest)
{
    const uint8_t *data;
    size_t n = (size_t)avro_schema_fixed_size(ws);
    int rc = codec_read_fixed(&r->walker, n, &data);

    if (rc != CODEC_OK || dest == NULL)
        return rc;
    if (!matches(ws, rs, false))
        return mismatch(r, ws, rs);
    return avro_value_set_fixed(dest, (void *)data, n) == 0 ? CODEC_OK : avro_failed(r, "set a fixed");
}

/*
 * Reads the block count of an array or map. A negative count is followed by
 * the block's size in bytes (Avro 1.11, "Complex Types"), which is checked and
 * otherwise ignored because the items are walked anyway. The count is bounded
 * by the bytes that remain before any item is stored.
 */
static int read_block_count(resolver_t *r, size_t item_size, size_t *count)
{
    size_t start = codec_walker_offset(&r->walker);
    int64_t raw;
    int rc = codec_read_long(&r->walker, &raw);

    if (rc != CODEC_OK)
        return rc;
    if (raw < 0) {
        size_t block_bytes;
        if (raw == INT64_MIN)
            return codec_error_set(r->walker.err, CODEC_ERR_BODY, start,
                                   "block count at offset %zu is out of range", start);
        raw = -raw;
        rc = codec_read_length(&r->walker, "block size", &block_bytes);
        if (rc != CODEC_OK)
            return rc;
    }
    size_t remaining = codec_walker_remaining(&r->walker);
    if (item_size > 0 && (uint64_t)raw > remaining / item_size)
        return codec_error_set(r->walker.err, CODEC_ERR_BODY, start,
                               "block count %lld at offset %zu needs at least %zu bytes per item "
                               "but only %zu bytes remain", (long long)raw, start, item_size, remaining);
    if (item_size == 0) {
        if ((uint64_t)raw > RESOLVE_MAX_EMPTY_ITEMS - r->empty_items)
            return codec_error_set(r->walker.err, CODEC_ERR_BODY, start,
                                   "block count %lld at offset %zu exceeds the limit of %d "
                                   "zero-size items", (long long)raw, start, RESOLVE_MAX_EMPTY_ITEMS);
        r->empty_items += (size_t)raw;
    }
    *count = (size_t)raw;
    return CODEC_OK;
}

static int resolve_array(resolver_t *r, avro_schema_t ws, avro_schema_t rs, avro_value_t *dest)
{
    avro_schema_t witem = avro_schema_array_items(ws);

    if (dest != NULL && !matches(ws, rs, false))
        return mismatch(r, ws, rs);
    for (;;) {
        size_t count;
        int rc = read_block_count(r, min_size(witem, 0), &count);
        if (rc != CODEC_OK || count == 0)
            return rc;
        for (size_t i = 0; i < count; i++) {
            avro_value_t element;
            avro_value_t *target = NULL;
            if (dest != NULL) {
                if (avro_value_append(dest, &element, NULL) != 0)
                    return avro_failed(r, "append an array item");
                target = &element;
            }
            rc = resolve(r, witem, dest != NULL ? avro_schema_array_items(rs) : NULL, target);
            if (rc != CODEC_OK)
                return rc;
        }
    }
}

static int resolve_map(resolver_t *r, avro_schema_t ws, avro_schema_t rs, avro_value_t *dest)
{
    avro_schema_t wvalues = avro_schema_map_values(ws);

    if (dest != NULL && !matches(ws, rs, false))
        return mismatch(r, ws, rs);
    for (;;) {
        size_t count;
        /* Each entry has at least a one-byte key length besides its value. */
        int rc = read_block_count(r, 1 + min_size(wvalues, 0), &count);
        if (rc != CODEC_OK || count == 0)
            return rc;
        for (size_t i = 0; i < count; i++) {
            const uint8_t *key;
            size_t key_len;
            rc = codec_read_string(&r->walker, &key, &key_len);
            if (rc != CODEC_OK)
                return rc;
            avro_value_t element;
            avro_value_t *target = NULL;
            if (dest != NULL) {
                int is_new = 0;
                char *key_copy = strndup((const char *)key, key_len);
                if (key_copy == NULL)
                    return codec_error_set(r->walker.err, CODEC_ERR_NOMEM, codec_walker_offset(&r->walker),
                                           "out of memory for a map key");
                rc = avro_value_add(dest, key_copy, &element, NULL, &is_new);
                free(key_copy);
                if (rc != 0)
                    return avro_failed(r, "add a map entry");
                /* A repeated key would merge two values into one entry. */
                if (!is_new)
                    return codec_error_set(r->walker.err, CODEC_ERR_BODY, codec_walker_offset(&r->walker) - key_len,
                                           "map key \"%.*s\" at offset %zu appears twice", (int)(key_len > 64 ? 64 : key_len),
                                           (const char *)key, codec_walker_offset(&r->walker) - key_len);
                target = &element;
            }
            rc = resolve(r, wvalues, dest != NULL ? avro_schema_map_values(rs) : NULL, target);
            if (rc != CODEC_OK)
                return rc;
        }
    }
}

/* Fills reader fields the writer did not have from their defaults. */
static int fill_defaults(resolver_t *r, avro_schema_t rs, const bool *seen, avro_value_t *dest)
{
    char full[512];
    codec_schema_full_name(rs, full, sizeof(full));
    json_t *fields = json_object_get(json_object_get(r->named, full), "fields");

    for (size_t i = 0; i < avro_schema_record_size(rs); i++) {
        if (seen[i])
            continue;
        const char *name = avro_schema_record_field_name(rs, (int)i);
        json_t *field_json = json_array_get(fields, i);
        json_t *fallback = json_object_get(field_json, "default");
        avro_value_t field;

        if (fallback == NULL || strcmp(json_string_value(json_object_get(field_json, "name")), name) != 0)
            return codec_error_set(r->walker.err, CODEC_ERR_RESOLVE, CODEC_NO_OFFSET,
                                   "reader field %s.%s is missing from the writer schema and has "
                                   "no default", full, name);
        if (avro_value_get_by_index(dest, i, &field, NULL) != 0)
            return avro_failed(r, "get a record field");
        int rc = codec_default_set(fallback, avro_schema_record_field_get_by_index(rs, (int)i),
                                   r->named, &field, r->walker.err);
        if (rc != CODEC_OK)
            return rc;
    }
    return CODEC_OK;
}

static int resolve_record(resolver_t *r, avro_schema_t ws, avro_schema_t rs, avro_value_t *dest)
{
    size_t wcount = avro_schema_record_size(ws);
    bool *seen = NULL;
    int rc = CODEC_OK;

    if (dest != NULL) {
        if (!matches(ws, rs, false))
            return mismatch(r, ws, rs);
        seen = calloc(avro_schema_record_size(rs) + 1, sizeof(*seen));
        if (seen == NULL)
            return codec_error_set(r->walker.err, CODEC_ERR_NOMEM, CODEC_NO_OFFSET, "out of memory");
    }
    for (size_t i = 0; i < wcount && rc == CODEC_OK; i++) {
        avro_schema_t wfield = avro_schema_record_field_get_by_index(ws, (int)i);
        int ri = dest != NULL ? avro_schema_record_field_get_index(rs, avro_schema_record_field_name(ws, (int)i)) : -1;
        avro_value_t field;

        if (ri < 0) {
            rc = resolve(r, wfield, NULL, NULL); /* writer-only field: skip */
            continue;
        }
        seen[ri] = true;
        if (avro_value_get_by_index(dest, (size_t)ri, &field, NULL) != 0)
            rc = avro_failed(r, "get a record field");
        else
            rc = resolve(r, wfield, avro_schema_record_field_get_by_index(rs, ri), &field);
    }
    if (rc == CODEC_OK && dest != NULL)
        rc = fill_defaults(r, rs, seen, dest);
    free(seen);
    return rc;
}

/* Reads one datum of writer schema ws into dest (reader schema rs), or skips it when dest is NULL. */
static int resolve(resolver_t *r, avro_schema_t ws, avro_schema_t rs, avro_value_t *dest)
{
    int rc;

    ws = codec_schema_deref(ws);
    rs = dest != NULL ? codec_schema_deref(rs) : NULL;
    if (++r->depth > RESOLVE_MAX_DEPTH) {
        r->depth--;
        return codec_error_set(r->walker.err, CODEC_ERR_BODY, codec_walker_offset(&r->walker),
                               "data nested deeper than %d levels at offset %zu", RESOLVE_MAX_DEPTH,
                               codec_walker_offset(&r->walker));
    }

    if (avro_typeof(ws) == AVRO_UNION)
        rc = resolve_union(r, ws, rs, dest);
    else if (dest != NULL && avro_typeof(rs) == AVRO_UNION)
        rc = resolve_into_union(r, ws, rs, dest);
    else {
        switch (avro_typeof(ws)) {
        case AVRO_NULL:
            rc = dest == NULL ? CODEC_OK : avro_typeof(rs) != AVRO_NULL ? mismatch(r, ws, rs)
                                 : avro_value_set_null(dest) == 0 ? CODEC_OK : avro_failed(r, "set null");
            break;
        case AVRO_BOOLEAN: {
            int flag;
            rc = codec_read_boolean(&r->walker, &flag);
            if (rc == CODEC_OK && dest != NULL)
                rc = avro_typeof(rs) != AVRO_BOOLEAN ? mismatch(r, ws, rs)
                     : avro_value_set_boolean(dest, flag) == 0 ? CODEC_OK : avro_failed(r, "set a boolean");
            break;
        }
        case AVRO_INT32:
        case AVRO_INT64:
        case AVRO_FLOAT:
        case AVRO_DOUBLE: rc = resolve_number(r, ws, rs, dest); break;
        case AVRO_STRING:
        case AVRO_BYTES: rc = resolve_bytes(r, ws, rs, dest); break;
        case AVRO_ENUM: rc = resolve_enum(r, ws, rs, dest); break;
        case AVRO_FIXED: rc = resolve_fixed(r, ws, rs, dest); break;
        case AVRO_ARRAY: rc = resolve_array(r, ws, rs, dest); break;
        case AVRO_MAP: rc = resolve_map(r, ws, rs, dest); break;
        case AVRO_RECORD: rc = resolve_record(r, ws, rs, dest); break;
        default:
            rc = codec_error_set(r->walker.err, CODEC_ERR_RESOLVE, CODEC_NO_OFFSET,
                                 "writer schema type %s is not supported", avro_schema_type_name(ws));
        }
    }
    r->depth--;
    return rc;
}

int codec_resolve(avro_schema_t writer, avro_schema_t reader, json_t *reader_named,
                  const uint8_t *body, size_t len, size_t base, avro_value_t *dest,
                  codec_error_t *err)
{
    resolver_t r = {
        .walker = {.data = body, .len = len, .pos = 0, .base = base, .err = err},
        .named = reader_named,
    };
    int rc = resolve(&r, writer, reader, dest);

    if (rc != CODEC_OK)
        return rc;
    if (r.walker.pos != len)
        return codec_error_set(err, CODEC_ERR_BODY, codec_walker_offset(&r.walker),
                               "%zu trailing bytes after the record, starting at offset %zu",
                               len - r.walker.pos, codec_walker_offset(&r.walker));
    return CODEC_OK;
}
