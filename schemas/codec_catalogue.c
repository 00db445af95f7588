/* The local schema catalogue: schema ids, their .avsc files and the reader version per record. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "codec_internal.h"

static int collect_named(json_t *node, const char *ns, json_t *named, codec_error_t *err);

static int collect_named_object(json_t *node, const char *ns, json_t *named, codec_error_t *err)
{
    json_t *type = json_object_get(node, "type");
    const char *type_name = json_string_value(type);

    if (type_name == NULL)
        return collect_named(type, ns, named, err);
    if (strcmp(type_name, "array") == 0)
        return collect_named(json_object_get(node, "items"), ns, named, err);
    if (strcmp(type_name, "map") == 0)
        return collect_named(json_object_get(node, "values"), ns, named, err);
    if (strcmp(type_name, "record") != 0 && strcmp(type_name, "error") != 0 &&
        strcmp(type_name, "enum") != 0 && strcmp(type_name, "fixed") != 0)
        return CODEC_OK;

    const char *name = json_string_value(json_object_get(node, "name"));
    const char *own_ns = json_string_value(json_object_get(node, "namespace"));
    char full[512];

    if (name == NULL)
        return codec_error_set(err, CODEC_ERR_CATALOGUE, CODEC_NO_OFFSET,
                               "a named type of kind %s has no \"name\"", type_name);
    char child_ns[512];
    if (strchr(name, '.') != NULL) {
        snprintf(full, sizeof(full), "%s", name);
    } else {
        if (own_ns != NULL)
            ns = own_ns;
        snprintf(full, sizeof(full), "%s%s%s", ns != NULL && *ns ? ns : "", ns != NULL && *ns ? "." : "",
                 name);
    }
    if (json_object_set(named, full, node) != 0)
        return codec_error_set(err, CODEC_ERR_NOMEM, CODEC_NO_OFFSET, "out of memory indexing %s", full);

    /* The namespace of nested definitions is the prefix of this full name. */
    snprintf(child_ns, sizeof(child_ns), "%s", full);
    char *dot = strrchr(child_ns, '.');
    if (dot != NULL)
        *dot = '\0';
    else
        child_ns[0] = '\0';
    ns = child_ns;
    if (strcmp(type_name, "enum") == 0 || strcmp(type_name, "fixed") == 0)
        return CODEC_OK;

    json_t *fields = json_object_get(node, "fields");
    size_t i;
    json_t *field;

    json_array_foreach(fields, i, field) {
        int rc = collect_named(json_object_get(field, "type"), ns, named, err);
        if (rc != CODEC_OK)
            return rc;
    }
    return CODEC_OK;
}

/* Indexes every named type definition under node by its full name. */
static int collect_named(json_t *node, const char *ns, json_t *named, codec_error_t *err)
{
    if (json_is_object(node))
        return collect_named_object(node, ns, named, err);
    if (json_is_array(node)) {
        size_t i;
        json_t *branch;

        json_array_foreach(node, i, branch) {
            int rc = collect_named(branch, ns, named, err);
            if (rc != CODEC_OK)
                return rc;
        }
    }
    return CODEC_OK;
}

void codec_schema_full_name(avro_schema_t schema, char *buf, size_t size)
{
    const char *name = avro_schema_name(schema);
    const char *ns = avro_schema_namespace(schema);

    if (name == NULL)
        name = avro_schema_type_name(schema);
    if (ns != NULL && *ns != '\0' && strchr(name, '.') == NULL)
        snprintf(buf, size, "%s.%s", ns, name);
    else
        snprintf(buf, size, "%s", name);
}

avro_schema_t codec_schema_deref(avro_schema_t schema)
{
    while (schema != NULL && avro_typeof(schema) == AVRO_LINK)
        schema = avro_schema_link_target(schema);
    return schema;
}

const codec_schema_t *codec_find_schema(const codec_t *codec, uint32_t id)
{
    for (size_t i = 0; i < codec->count; i++)
        if (codec->schemas[i].id == id)
            return &codec->schemas[i];
    return NULL;
}

const codec_schema_t *codec_find_reader(const codec_t *codec, const char *record)
{
    for (size_t i = 0; i < codec->count; i++)
        if (codec->schemas[i].reader && strcmp(codec->schemas[i].record, record) == 0)
            return &codec->schemas[i];
    return NULL;
}

static void schema_release(codec_schema_t *entry)
{
    free(entry->record);
    if (entry->iface != NULL)
        avro_value_iface_decref(entry->iface);
    if (entry->schema != NULL)
        avro_schema_decref(entry->schema);
    json_decref(entry->named);
    json_decref(entry->json);
    memset(entry, 0, sizeof(*entry));
}

/* Parses schema_json into entry, both as avro-c schema and as JSON. */
static int schema_parse(codec_schema_t *entry, uint32_t id, const char *schema_json, codec_error_t *err)
{
    json_error_t json_err;
    char full[512];

    entry->id = id;
    entry->json = json_loads(schema_json, JSON_REJECT_DUPLICATES, &json_err);
    if (entry->json == NULL)
        return codec_error_set(err, CODEC_ERR_CATALOGUE, CODEC_NO_OFFSET,
                               "schema id %u is not valid JSON: %s at line %d", id, json_err.text,
                               json_err.line);
    if (avro_schema_from_json_length(schema_json, strlen(schema_json), &entry->schema) != 0)
        return codec_error_set(err, CODEC_ERR_CATALOGUE, CODEC_NO_OFFSET,
                               "schema id %u is not a valid Avro schema: %s", id, avro_strerror());
    if (avro_typeof(entry->schema) != AVRO_RECORD)
        return codec_error_set(err, CODEC_ERR_CATALOGUE, CODEC_NO_OFFSET,
                               "schema id %u is a %s; the catalogue holds records only", id,
                               avro_schema_type_name(entry->schema));

    entry->named = json_object();
    if (entry->named == NULL)
        return codec_error_set(err, CODEC_ERR_NOMEM, CODEC_NO_OFFSET, "out of memory");
    int rc = collect_named(entry->json, NULL, entry->named, err);
    if (rc != CODEC_OK)
        return rc;

    codec_schema_full_name(entry->schema, full, sizeof(full));
    entry->record = strdup(full);
    entry->iface = avro_generic_class_from_schema(entry->schema);
    entry->binary_intent = strcmp(full, CODEC_USER_INTENT) == 0 && codec_intent_layout_matches(entry->schema);
    if (entry->record == NULL || entry->iface == NULL)
        return codec_error_set(err, CODEC_ERR_NOMEM, CODEC_NO_OFFSET,
                               "out of memory creating the value class of schema id %u", id);
    return CODEC_OK;
}

int codec_catalogue_add(codec_t *codec, uint32_t id, const char *schema_json, int reader,
                        codec_error_t *err)
{
    codec_schema_t entry = {0};

    if (codec_find_schema(codec, id) != NULL)
        return codec_error_set(err, CODEC_ERR_CATALOGUE, CODEC_NO_OFFSET,
                               "schema id %u is already in the catalogue; ids must be unique", id);
    int rc = schema_parse(&entry, id, schema_json, err);
    if (rc != CODEC_OK) {
        schema_release(&entry);
        return rc;
    }
    if (codec->count == codec->capacity) {
        size_t capacity = codec->capacity ? codec->capacity * 2 : 8;
        codec_schema_t *grown = realloc(codec->schemas, capacity * sizeof(*grown));
        if (grown == NULL) {
            schema_release(&entry);
            return codec_error_set(err, CODEC_ERR_NOMEM, CODEC_NO_OFFSET, "out of memory");
        }
        codec->schemas = grown;
        codec->capacity = capacity;
    }
    if (reader) {
        for (size_t i = 0; i < codec->count; i++)
            if (strcmp(codec->schemas[i].record, entry.record) == 0)
                codec->schemas[i].reader = false;
        entry.reader = true;
    }
    codec->schemas[codec->count++] = entry;
    return CODEC_OK;
}

/* Reads the whole file at path into a NUL-terminated malloc'd string. */
static int read_text_file(const char *path, char **out, codec_error_t *err)
{
    FILE *file = fopen(path, "rb");

    if (file == NULL)
        return codec_error_set(err, CODEC_ERR_CATALOGUE, CODEC_NO_OFFSET, "cannot open %s: %s", path,
                               strerror(errno));
    fseek(file, 0, SEEK_END);
    long size = ftell(file);
    fseek(file, 0, SEEK_SET);
    if (size < 0 || size > (1L << 24)) {
        fclose(file);
        return codec_error_set(err, CODEC_ERR_CATALOGUE, CODEC_NO_OFFSET,
                               "%s is unreadable or larger than 16 MiB", path);
    }
    char *text = malloc((size_t)size + 1);
    if (text == NULL) {
        fclose(file);
        return codec_error_set(err, CODEC_ERR_NOMEM, CODEC_NO_OFFSET, "out of memory reading %s", path);
    }
    size_t got = fread(text, 1, (size_t)size, file);
    fclose(file);
    text[got] = '\0';
    *out = text;
    return CODEC_OK;
}

/* Loads one {"id", "record", "file", "reader"} entry of the catalogue file. */
static int load_entry(codec_t *codec, json_t *item, const char *dir, const char *catalogue_path,
                      codec_error_t *err)
{
    json_t *id = json_object_get(item, "id");
    const char *record = json_string_value(json_object_get(item, "record"));
    const char *file = json_string_value(json_object_get(item, "file"));
    char path[PATH_MAX];
    char *text = NULL;

    if (!json_is_integer(id) || json_integer_value(id) < 0 || json_integer_value(id) > UINT32_MAX ||
        file == NULL)
        return codec_error_set(err, CODEC_ERR_CATALOGUE, CODEC_NO_OFFSET,
                               "%s: every entry needs an \"id\" from 0 to 4294967295 and a \"file\"",
                               catalogue_path);
    if (snprintf(path, sizeof(path), "%s/%s", dir, file) >= (int)sizeof(path))
        return codec_error_set(err, CODEC_ERR_CATALOGUE, CODEC_NO_OFFSET,
                               "%s: path of schema file %s is longer than %d bytes", catalogue_path, file,
                               PATH_MAX - 1);
    int rc = read_text_file(path, &text, err);
    if (rc != CODEC_OK)
        return rc;
    rc = codec_catalogue_add(codec, (uint32_t)json_integer_value(id), text,
                             json_is_true(json_object_get(item, "reader")), err);
    free(text);
    if (rc != CODEC_OK)
        return rc;

    const char *parsed = codec->schemas[codec->count - 1].record;
    if (record != NULL && strcmp(record, parsed) != 0)
        return codec_error_set(err, CODEC_ERR_CATALOGUE, CODEC_NO_OFFSET,
                               "%s: entry %s says record %s but the file defines %s", catalogue_path,
                               file, record, parsed);
    return CODEC_OK;
}

static int load_catalogue(codec_t *codec, const char *catalogue_path, codec_error_t *err)
{
    json_error_t json_err;
    json_t *root = json_load_file(catalogue_path, JSON_REJECT_DUPLICATES, &json_err);
    char dir[PATH_MAX];

    /* jansson gives line -1 when the file cannot be read at all */
    if (root == NULL && json_err.line < 0)
        return codec_error_set(err, CODEC_ERR_CATALOGUE, CODEC_NO_OFFSET,
                               "cannot read catalogue %s: %s", catalogue_path, json_err.text);
    if (root == NULL)
        return codec_error_set(err, CODEC_ERR_CATALOGUE, CODEC_NO_OFFSET,
                               "cannot load catalogue %s: %s (line %d)", catalogue_path, json_err.text,
                               json_err.line);
    if (snprintf(dir, sizeof(dir), "%s", catalogue_path) >= (int)sizeof(dir)) {
        json_decref(root);
        return codec_error_set(err, CODEC_ERR_CATALOGUE, CODEC_NO_OFFSET,
                               "catalogue path is longer than %d bytes", PATH_MAX - 1);
    }
    char *slash = strrchr(dir, '/');
    if (slash != NULL)
        *slash = '\0';
    else
        snprintf(dir, sizeof(dir), ".");

    json_t *items = json_object_get(root, "schemas");
    int rc = CODEC_OK;
    size_t i;
    json_t *item;

    if (!json_is_array(items))
        rc = codec_error_set(err, CODEC_ERR_CATALOGUE, CODEC_NO_OFFSET,
                             "catalogue %s has no \"schemas\" array", catalogue_path);
    json_array_foreach(items, i, item) {
        if (rc != CODEC_OK)
            break;
        rc = load_entry(codec, item, dir, catalogue_path, err);
    }
    json_decref(root);
    return rc;
}

int codec_open(const char *catalogue_path, codec_t **out, codec_error_t *err)
{
    codec_t *codec = calloc(1, sizeof(*codec));

    *out = NULL;
    if (codec == NULL)
        return codec_error_set(err, CODEC_ERR_NOMEM, CODEC_NO_OFFSET, "out of memory");
    if (catalogue_path != NULL) {
        int rc = load_catalogue(codec, catalogue_path, err);
        if (rc != CODEC_OK) {
            codec_close(codec);
            return rc;
        }
    }
    *out = codec;
    return CODEC_OK;
}

void codec_close(codec_t *codec)
{
    if (codec == NULL)
        return;
    for (size_t i = 0; i < codec->count; i++)
        schema_release(&codec->schemas[i]);
    free(codec->schemas);
    free(codec);
}

int codec_reader_id(const codec_t *codec, const char *full_name, uint32_t *id, codec_error_t *err)
{
    const codec_schema_t *entry = codec_find_reader(codec, full_name);

    if (entry == NULL)
        return codec_error_set(err, CODEC_ERR_SCHEMA_ID, CODEC_NO_OFFSET,
                               "no reader schema for record %s in the catalogue; mark one entry "
                               "of that record with \"reader\": true", full_name);
    *id = entry->id;
    return CODEC_OK;
}

const char *codec_record_name(const codec_t *codec, uint32_t id)
{
    const codec_schema_t *entry = codec_find_schema(codec, id);

    return entry != NULL ? entry->record : NULL;
}
