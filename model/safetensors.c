#include "safetensors.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "safetensors_config.h"

#define TOKENIZER_KEY "intentd.tokenizer"

static void format_shape(char *out, size_t size, const int *shape, int ndim)
{
    if (ndim == 1)
        snprintf(out, size, "[%d]", shape[0]);
    else
        snprintf(out, size, "[%d, %d]", shape[0], shape[1]);
}

/* Checks the shape array of tensor t in the header against the layout. */
static int check_shape(const struct model_tensor_info *t, json_t *shape, char *error)
{
    char expected[48], found[160] = "not an array of integers";
    format_shape(expected, sizeof expected, t->shape, t->ndim);

    int ok = json_is_array(shape) && (int)json_array_size(shape) == t->ndim;
    if (json_is_array(shape)) {
        size_t n = json_array_size(shape), used = 0;
        used += (size_t)snprintf(found, sizeof found, "[");
        for (size_t i = 0; i < n && used < sizeof found - 24; i++) {
            json_t *dim = json_array_get(shape, i);
            if (!json_is_integer(dim)) {
                ok = 0;
                used += (size_t)snprintf(found + used, sizeof found - used, "%s?", i ? ", " : "");
                continue;
            }
            json_int_t v = json_integer_value(dim);
            if ((int)i < t->ndim && v != t->shape[i])
                ok = 0;
            used += (size_t)snprintf(found + used, sizeof found - used, "%s%lld", i ? ", " : "", (long long)v);
        }
        snprintf(found + used, sizeof found - used, "]");
    }
    if (ok)
        return 0;
    snprintf(error, MODEL_ERROR_SIZE, "tensor \"%s\" has shape %s, expected %s", t->name, found, expected);
    return -1;
}

/* Checks one tensor entry and returns its byte offset in the data region. */
static int check_tensor(const struct model_tensor_info *t, json_t *entry, size_t data_size, size_t *offset,
                        char *error)
{
    if (!json_is_object(entry)) {
        snprintf(error, MODEL_ERROR_SIZE, "tensor \"%s\" is missing from the safetensors header", t->name);
        return -1;
    }

    json_t *dtype = json_object_get(entry, "dtype");
    if (!json_is_string(dtype) || strcmp(json_string_value(dtype), "F32") != 0) {
        snprintf(error, MODEL_ERROR_SIZE, "tensor \"%s\" has dtype %.16s, expected F32", t->name,
                 json_is_string(dtype) ? json_string_value(dtype) : "(missing)");
        return -1;
    }
    if (check_shape(t, json_object_get(entry, "shape"), error) != 0)
        return -1;

    json_t *offsets = json_object_get(entry, "data_offsets");
    json_t *begin = json_array_get(offsets, 0), *end = json_array_get(offsets, 1);
    if (!json_is_array(offsets) || json_array_size(offsets) != 2 || !json_is_integer(begin) ||
        !json_is_integer(end)) {
        snprintf(error, MODEL_ERROR_SIZE, "tensor \"%s\" has invalid data_offsets: expected [begin, end]", t->name);
        return -1;
    }
    json_int_t b = json_integer_value(begin), e = json_integer_value(end);
    size_t bytes = t->count * sizeof(float);
    if (b < 0 || e < b || (uint64_t)e > data_size || (uint64_t)(e - b) != bytes) {
        snprintf(error, MODEL_ERROR_SIZE,
                 "tensor \"%s\" has data_offsets [%lld, %lld], expected %zu bytes inside a data region of %zu bytes",
                 t->name, (long long)b, (long long)e, bytes, data_size);
        return -1;
    }
    *offset = (size_t)b;
    return 0;
}

/* Rejects names that the config does not lay out, so a file for another
 * architecture cannot load silently. */
static int check_unknown(json_t *root, const struct model_params *layout, char *error)
{
    const char *key;
    json_t *value;

    json_object_foreach(root, key, value) {
        if (strcmp(key, "__metadata__") == 0)
            continue;
        if (!model_params_find(layout, key)) {
            snprintf(error, MODEL_ERROR_SIZE, "unexpected tensor \"%.96s\" in the safetensors header for this config",
                     key);
            return -1;
        }
    }
    return 0;
}

static int read_tokenizer(json_t *meta, char **out, char *error)
{
    json_t *v = json_object_get(meta, TOKENIZER_KEY);

    *out = NULL;
    if (!v)
        return 0;
    if (!json_is_string(v)) {
        snprintf(error, MODEL_ERROR_SIZE, "invalid safetensors metadata: \"%s\" is not a string", TOKENIZER_KEY);
        return -1;
    }
    *out = strdup(json_string_value(v));
    if (!*out) {
        snprintf(error, MODEL_ERROR_SIZE, "out of memory copying \"%s\"", TOKENIZER_KEY);
        return -1;
    }
    return 0;
}

static int parse_tensors(json_t *root, struct model_safetensors_header *h, size_t data_size, char *error)
{
    json_t *meta = json_object_get(root, "__metadata__");

    if (model_safetensors_config_from_json(meta, &h->config, error) != 0)
        return -1;
    model_params_layout(&h->layout, &h->config);
    for (int i = 0; i < h->layout.n_tensors; i++) {
        const struct model_tensor_info *t = &h->layout.tensors[i];
        if (check_tensor(t, json_object_get(root, t->name), data_size, &h->offsets[i], error) != 0)
            return -1;
    }
    if (check_unknown(root, &h->layout, error) != 0)
        return -1;
    return read_tokenizer(meta, &h->tokenizer, error);
}

int model_safetensors_parse(const unsigned char *buf, size_t size, struct model_safetensors_header *h, char *error)
{
    memset(h, 0, sizeof *h);
    if (size < 8) {
        snprintf(error, MODEL_ERROR_SIZE, "invalid safetensors file: %zu bytes, expected at least 8", size);
        return -1;
    }

    uint64_t n = 0;
    for (int i = 7; i >= 0; i--)
        n = (n << 8) | buf[i];
    if (n > size - 8 || n > MODEL_SAFETENSORS_MAX_HEADER) {
        snprintf(error, MODEL_ERROR_SIZE,
                 "invalid safetensors file: header length %llu exceeds the %zu bytes after the length field",
                 (unsigned long long)n, size - 8);
        return -1;
    }

    json_error_t jerr;
    json_t *root = json_loadb((const char *)buf + 8, (size_t)n, JSON_REJECT_DUPLICATES, &jerr);
    if (!root || !json_is_object(root)) {
        snprintf(error, MODEL_ERROR_SIZE, "invalid safetensors header: %s at byte %d",
                 root ? "not a JSON object" : jerr.text, root ? 0 : jerr.position);
        json_decref(root);
        return -1;
    }

    h->data_start = 8 + (size_t)n;
    int rc = parse_tensors(root, h, size - h->data_start, error);
    json_decref(root);
    if (rc != 0) {
        free(h->tokenizer);
        h->tokenizer = NULL;
    }
    return rc;
}
