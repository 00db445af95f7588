/*
 * Tokenizer serialisation to one JSON object, stored in the safetensors
 * metadata under "intentd.tokenizer":
 *
 *   {"format": "intentd.tokenizer", "version": 1,
 *    "hash": "fnv1a64", "text": "utf8-normalize-1/bpe-chunks-1",
 *    "layout": {"category_begin": 19, "category_bucket_begin": ..., ...},
 *    "category_buckets": 64, "item_buckets": 1024,
 *    "categories": ["id", ...], "items": ["id", ...],   (token order)
 *    "bpe_merges": [left0, right0, left1, right1, ...]} (rank order)
 *
 * "hash" and "text" name the bucket hash and the normalisation and chunking
 * rules; a loader that does not implement exactly those rejects the file.
 * "layout" is redundant with the rest and is checked against it, which
 * catches a file edited by hand or cut short.
 */
#include "tokenizer.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FORMAT_NAME "intentd.tokenizer"
#define FORMAT_VERSION 1
#define HASH_NAME "fnv1a64"
#define TEXT_RULES "utf8-normalize-1/bpe-chunks-1"

static const char *const layout_fields[] = {
    "category_begin", "category_bucket_begin", "category_end", "item_begin", "item_bucket_begin",
    "item_end",       "text_begin",            "text_end",     "vocab_size",
};
#define N_LAYOUT_FIELDS (sizeof layout_fields / sizeof layout_fields[0])

static const char *const top_fields[] = {
    "format",       "version",    "hash",  "text",      "layout", "category_buckets",
    "item_buckets", "categories", "items", "bpe_merges",
};
#define N_TOP_FIELDS (sizeof top_fields / sizeof top_fields[0])

static void layout_values(const struct tokenizer_layout *l, int32_t *values)
{
    const int32_t all[N_LAYOUT_FIELDS] = {
        l->category_begin, l->category_bucket_begin, l->category_end, l->item_begin, l->item_bucket_begin,
        l->item_end,       l->text_begin,            l->text_end,     l->vocab_size,
    };
    memcpy(values, all, sizeof all);
}

static json_t *id_array(const struct tokenizer_idmap *map)
{
    json_t *array = json_array();
    for (size_t i = 0; array && i < map->n; i++) {
        if (json_array_append_new(array, json_string(map->ids[i])) != 0) {
            json_decref(array);
            return NULL;
        }
    }
    return array;
}

static json_t *build_object(const struct tokenizer *t)
{
    int32_t values[N_LAYOUT_FIELDS];
    json_t *layout = json_object();
    json_t *merges = json_array();
    json_t *categories = id_array(&t->categories);
    json_t *items = id_array(&t->items);
    const int32_t *m = bpe_merges(t->bpe);
    int ok = layout && merges && categories && items;

    layout_values(&t->layout, values);
    for (size_t i = 0; ok && i < N_LAYOUT_FIELDS; i++)
        ok = json_object_set_new(layout, layout_fields[i], json_integer(values[i])) == 0;
    for (int i = 0; ok && i < 2 * bpe_n_merges(t->bpe); i++)
        ok = json_array_append_new(merges, json_integer(m[i])) == 0;
    if (!ok) {
        json_decref(layout);
        json_decref(merges);
        json_decref(categories);
        json_decref(items);
        return NULL;
    }
    /* "o" steals each reference, also when packing fails. */
    return json_pack("{s:s, s:i, s:s, s:s, s:o, s:i, s:i, s:o, s:o, s:o}", "format", FORMAT_NAME, "version",
                     FORMAT_VERSION, "hash", HASH_NAME, "text", TEXT_RULES, "layout", layout, "category_buckets",
                     (int)t->n_category_buckets, "item_buckets", (int)t->n_item_buckets, "categories", categories,
                     "items", items, "bpe_merges", merges);
}

int tokenizer_to_json(const struct tokenizer *t, char **json, char *error)
{
    json_t *root = build_object(t);

    *json = NULL;
    if (root)
        *json = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (!*json) {
        snprintf(error, MODEL_ERROR_SIZE, "out of memory serialising the tokenizer (%zu items, %d merges)",
                 t->items.n, bpe_n_merges(t->bpe));
        return -1;
    }
    return 0;
}

/* ---- loading ---- */

static int invalid(char *error, const char *field, const char *expected)
{
    snprintf(error, MODEL_ERROR_SIZE, "invalid tokenizer JSON: field \"%s\" %s", field, expected);
    return -1;
}

static int get_int(json_t *object, const char *field, int64_t low, int64_t high, int64_t *value, char *error)
{
    json_t *node = json_object_get(object, field);
    if (!json_is_integer(node))
        return invalid(error, field, "is missing or not an integer");
    *value = json_integer_value(node);
    if (*value < low || *value > high) {
        if (low == high)
            snprintf(error, MODEL_ERROR_SIZE, "invalid tokenizer JSON: field \"%s\" is %lld, expected %lld", field,
                     (long long)*value, (long long)low);
        else
            snprintf(error, MODEL_ERROR_SIZE, "invalid tokenizer JSON: field \"%s\" is %lld, expected %lld to %lld",
                     field, (long long)*value, (long long)low, (long long)high);
        return -1;
    }
    return 0;
}

static int check_string(json_t *object, const char *field, const char *expected, char *error)
{
    const char *value = json_string_value(json_object_get(object, field));
    if (!value || strcmp(value, expected) != 0) {
        snprintf(error, MODEL_ERROR_SIZE, "invalid tokenizer JSON: field \"%s\" is %s%s%s, expected \"%s\"", field,
                 value ? "\"" : "", value ? value : "missing or not a string", value ? "\"" : "", expected);
        return -1;
    }
    return 0;
}

static int check_fields(json_t *root, char *error)
{
    const char *key;
    json_t *value;

    if (!json_is_object(root)) {
        snprintf(error, MODEL_ERROR_SIZE, "invalid tokenizer JSON: the top level is not an object");
        return -1;
    }
    json_object_foreach(root, key, value) {
        size_t i = 0;
        while (i < N_TOP_FIELDS && strcmp(key, top_fields[i]) != 0)
            i++;
        if (i == N_TOP_FIELDS)
            return invalid(error, key, "is not a tokenizer field (a newer format or a damaged file)");
    }
    if (check_string(root, "format", FORMAT_NAME, error) != 0)
        return -1;
    int64_t version;
    if (get_int(root, "version", FORMAT_VERSION, FORMAT_VERSION, &version, error) != 0)
        return -1;
    if (check_string(root, "hash", HASH_NAME, error) != 0 || check_string(root, "text", TEXT_RULES, error) != 0)
        return -1;
    return 0;
}

/* Borrows the strings of a JSON array of ids into a new array *ids. */
static int get_ids(json_t *root, const char *field, const char ***ids, size_t *n, char *error)
{
    json_t *array = json_object_get(root, field);

    *ids = NULL;
    *n = 0;
    if (!json_is_array(array))
        return invalid(error, field, "is missing or not an array");
    *n = json_array_size(array);
    *ids = malloc((*n + 1) * sizeof(char *));
    if (!*ids) {
        snprintf(error, MODEL_ERROR_SIZE, "out of memory loading %zu tokenizer %s", *n, field);
        return -1;
    }
    for (size_t i = 0; i < *n; i++) {
        json_t *item = json_array_get(array, i);
        if (!json_is_string(item)) {
            snprintf(error, MODEL_ERROR_SIZE, "invalid tokenizer JSON: %s[%zu] is not a string", field, i);
            return -1;
        }
        (*ids)[i] = json_string_value(item);
    }
    return 0;
}

static int load_bpe(json_t *root, struct bpe **bpe, char *error)
{
    json_t *array = json_object_get(root, "bpe_merges");

    *bpe = NULL;
    if (!json_is_array(array))
        return invalid(error, "bpe_merges", "is missing or not an array");
    size_t n = json_array_size(array);
    if (n % 2 != 0 || n / 2 > BPE_MAX_MERGES)
        return invalid(error, "bpe_merges", "must hold an even number of token ids, at most 2 per merge");

    int32_t *merges = malloc((n + 1) * sizeof(int32_t));
    if (!merges) {
        snprintf(error, MODEL_ERROR_SIZE, "out of memory loading %zu BPE merge ids", n);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *item = json_array_get(array, i);
        json_int_t value = json_is_integer(item) ? json_integer_value(item) : -1;
        if (value < 0 || value >= BPE_BYTE_TOKENS + BPE_MAX_MERGES) {
            free(merges);
            snprintf(error, MODEL_ERROR_SIZE, "invalid tokenizer JSON: bpe_merges[%zu] is not a token id", i);
            return -1;
        }
        merges[i] = (int32_t)value;
    }
    int status = bpe_create(merges, (int)(n / 2), bpe, error);
    free(merges);
    return status;
}

static int check_layout(json_t *root, const struct tokenizer *t, char *error)
{
    json_t *layout = json_object_get(root, "layout");
    int32_t expected[N_LAYOUT_FIELDS];

    if (!json_is_object(layout) || json_object_size(layout) != N_LAYOUT_FIELDS)
        return invalid(error, "layout", "is missing or does not hold exactly the layout fields");
    layout_values(&t->layout, expected);
    for (size_t i = 0; i < N_LAYOUT_FIELDS; i++) {
        int64_t value;
        if (get_int(layout, layout_fields[i], expected[i], expected[i], &value, error) != 0)
            return -1;
    }
    return 0;
}

static int load(json_t *root, struct tokenizer **out, char *error)
{
    const char **categories = NULL, **items = NULL;
    size_t n_categories, n_items;
    int64_t category_buckets, item_buckets;
    struct bpe *bpe = NULL;
    int status = -1;

    if (check_fields(root, error) != 0 ||
        get_int(root, "category_buckets", 0, INT32_MAX, &category_buckets, error) != 0 ||
        get_int(root, "item_buckets", 0, INT32_MAX, &item_buckets, error) != 0 ||
        get_ids(root, "categories", &categories, &n_categories, error) != 0 ||
        get_ids(root, "items", &items, &n_items, error) != 0 || load_bpe(root, &bpe, error) != 0)
        goto done;
    if (tokenizer_create(categories, n_categories, (int32_t)category_buckets, items, n_items, (int32_t)item_buckets,
                         bpe, out, error) != 0)
        goto done;
    if (check_layout(root, *out, error) != 0) {
        tokenizer_free(*out);
        *out = NULL;
        goto done;
    }
    status = 0;

done:
    /* bpe needs no free here: it is loaded last and tokenizer_create takes it. */
    free(categories);
    free(items);
    return status;
}

int tokenizer_from_json(const char *json, size_t len, struct tokenizer **out, char *error)
{
    json_error_t parse_error;
    json_t *root;

    *out = NULL;
    root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &parse_error);
    if (!root) {
        snprintf(error, MODEL_ERROR_SIZE, "invalid tokenizer JSON at line %d, column %d: %s", parse_error.line,
                 parse_error.column, parse_error.text);
        return -1;
    }
    int status = load(root, out, error);
    json_decref(root);
    return status;
}
