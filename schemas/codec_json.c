/* JSON objects to ClickEvent and ReviewEvent through a field mapping (jansson). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "codec_json.h"

/* Longest dotted path segment accepted; member names are short in practice. */
#define JSON_PATH_SEGMENT_MAX 256

void codec_json_mapping_default(codec_json_mapping_t *m)
{
    memset(m, 0, sizeof(*m));
    m->user_id = "user_id";
    m->item_id = "item_id";
    m->category_id = "category_id";
    m->action = "action";
    m->query = "query";
    m->timestamp = "timestamp";
    m->consent = "consent";
    m->session_id = "session_id";
    m->attributes = "attributes";
    m->rating = "rating";
    m->text = "text";
    m->language = "language";
    m->timestamp_unit = CODEC_TIME_MILLIS;
}

/* Looks up a dotted path; returns NULL when a segment is missing. */
static json_t *lookup(json_t *root, const char *path)
{
    json_t *node = root;
    char segment[JSON_PATH_SEGMENT_MAX];

    while (node != NULL && *path != '\0') {
        const char *dot = strchr(path, '.');
        size_t n = dot != NULL ? (size_t)(dot - path) : strlen(path);
        if (n >= sizeof(segment))
            return NULL;
        memcpy(segment, path, n);
        segment[n] = '\0';
        node = json_object_get(node, segment);
        path += n + (dot != NULL ? 1 : 0);
    }
    return node;
}

/* Finds the member for a record field; *out is NULL for JSON null or an absent member. */
static int member(json_t *root, const char *path, const char *field, int required, json_t **out,
                  codec_error_t *err)
{
    *out = NULL;
    if (path == NULL) {
        if (required)
            return codec_error_set(err, CODEC_ERR_JSON, CODEC_NO_OFFSET,
                                   "field %s is required but the JSON mapping does not map it", field);
        return CODEC_OK;
    }
    json_t *node = lookup(root, path);
    if (node == NULL || json_is_null(node)) {
        if (required)
            return codec_error_set(err, CODEC_ERR_JSON, CODEC_NO_OFFSET,
                                   "JSON member \"%s\" (field %s) is missing or null", path, field);
        return CODEC_OK;
    }
    *out = node;
    return CODEC_OK;
}

static int get_id(json_t *root, const char *path, const char *field, int required, char **out,
                  codec_error_t *err)
{
    json_t *node;
    int rc = member(root, path, field, required, &node, err);
    char digits[32];

    *out = NULL;
    if (rc != CODEC_OK || node == NULL)
        return rc;
    if (json_is_string(node)) {
        /* jansson has checked the UTF-8 and rejects \u0000 without JSON_ALLOW_NUL. */
        *out = strdup(json_string_value(node));
    } else if (json_is_integer(node)) {
        snprintf(digits, sizeof(digits), "%" JSON_INTEGER_FORMAT, json_integer_value(node));
        *out = strdup(digits);
    } else {
        return codec_error_set(err, CODEC_ERR_JSON, CODEC_NO_OFFSET,
                               "JSON member \"%s\" (field %s) must be a string or an integer", path, field);
    }
    if (*out == NULL)
        return codec_error_set(err, CODEC_ERR_NOMEM, CODEC_NO_OFFSET, "out of memory copying %s", field);
    return CODEC_OK;
}

static int get_text(json_t *root, const char *path, const char *field, int required, char **out,
                    codec_error_t *err)
{
    json_t *node;
    int rc = member(root, path, field, required, &node, err);

    *out = NULL;
    if (rc != CODEC_OK || node == NULL)
        return rc;
    if (!json_is_string(node))
        return codec_error_set(err, CODEC_ERR_JSON, CODEC_NO_OFFSET,
                               "JSON member \"%s\" (field %s) must be a string", path, field);
    *out = strdup(json_string_value(node));
    if (*out == NULL)
        return codec_error_set(err, CODEC_ERR_NOMEM, CODEC_NO_OFFSET, "out of memory copying %s", field);
    return CODEC_OK;
}

static int get_timestamp(json_t *root, const codec_json_mapping_t *m, int64_t *out, codec_error_t *err)
{
    json_t *node;
    int rc = member(root, m->timestamp, "timestamp", 1, &node, err);

    if (rc != CODEC_OK)
        return rc;
    if (!json_is_integer(node))
        return codec_error_set(err, CODEC_ERR_JSON, CODEC_NO_OFFSET,
                               "JSON member \"%s\" (field timestamp) must be an integer", m->timestamp);
    int64_t value = json_integer_value(node);
    if (m->timestamp_unit == CODEC_TIME_SECONDS) {
        if (value > INT64_MAX / 1000 || value < INT64_MIN / 1000)
            return codec_error_set(err, CODEC_ERR_JSON, CODEC_NO_OFFSET,
                                   "timestamp %" PRId64 " s does not fit in 64-bit milliseconds", value);
        value *= 1000;
    }
    *out = value;
    return CODEC_OK;
}

static int get_action(json_t *root, const codec_json_mapping_t *m, codec_action_t *out, codec_error_t *err)
{
    json_t *node;
    int rc = member(root, m->action, "action", 1, &node, err);

    if (rc != CODEC_OK)
        return rc;
    const char *value = json_string_value(node);
    if (value == NULL)
        return codec_error_set(err, CODEC_ERR_JSON, CODEC_NO_OFFSET,
                               "JSON member \"%s\" (field action) must be a string", m->action);
    for (size_t i = 0; i < m->action_alias_count; i++)
        if (strcmp(m->action_aliases[i].value, value) == 0) {
            *out = m->action_aliases[i].action;
            return CODEC_OK;
        }
    for (int a = 0; a < CODEC_ACTION_COUNT; a++)
        if (strcasecmp(codec_action_symbol((codec_action_t)a), value) == 0) {
            *out = (codec_action_t)a;
            return CODEC_OK;
        }
    return codec_error_set(err, CODEC_ERR_JSON, CODEC_NO_OFFSET,
                           "action \"%.64s\" is neither an alias in the JSON mapping nor an Action "
                           "symbol (VIEW, CLICK, FAVOURITE, ADD_TO_CART, PURCHASE, SEARCH)", value);
}

static int get_consent(json_t *root, const codec_json_mapping_t *m, codec_consent_t *out, codec_error_t *err)
{
    json_t *node;
    int rc = member(root, m->consent, "consent", 0, &node, err);

    *out = CODEC_CONSENT_UNKNOWN;
    if (rc != CODEC_OK || node == NULL)
        return rc;
    if (!json_is_boolean(node))
        return codec_error_set(err, CODEC_ERR_JSON, CODEC_NO_OFFSET,
                               "JSON member \"%s\" (field consent) must be a boolean or null", m->consent);
    *out = json_is_true(node) ? CODEC_CONSENT_GIVEN : CODEC_CONSENT_DENIED;
    return CODEC_OK;
}

static int get_attributes(json_t *root, const codec_json_mapping_t *m, codec_click_event_t *e,
                          codec_error_t *err)
{
    json_t *node, *value;
    const char *key;
    int rc = member(root, m->attributes, "attributes", 0, &node, err);

    if (rc != CODEC_OK || node == NULL)
        return rc;
    if (!json_is_object(node))
        return codec_error_set(err, CODEC_ERR_JSON, CODEC_NO_OFFSET,
                               "JSON member \"%s\" (field attributes) must be an object", m->attributes);
    size_t n = json_object_size(node);
    if (n == 0)
        return CODEC_OK;
    e->attributes = calloc(n, sizeof(*e->attributes));
    if (e->attributes == NULL)
        return codec_error_set(err, CODEC_ERR_NOMEM, CODEC_NO_OFFSET, "out of memory for %zu attributes", n);
    json_object_foreach(node, key, value) {
        if (!json_is_string(value))
            return codec_error_set(err, CODEC_ERR_JSON, CODEC_NO_OFFSET,
                                   "attribute \"%.64s\" must be a string", key);
        codec_attribute_t *attr = &e->attributes[e->attribute_count++];
        attr->key = strdup(key);
        attr->value = strdup(json_string_value(value));
        if (attr->key == NULL || attr->value == NULL)
            return codec_error_set(err, CODEC_ERR_NOMEM, CODEC_NO_OFFSET, "out of memory copying attributes");
    }
    return CODEC_OK;
}

static int get_rating(json_t *root, const codec_json_mapping_t *m, codec_review_event_t *e, codec_error_t *err)
{
    json_t *node;
    int rc = member(root, m->rating, "rating", 0, &node, err);

    if (rc != CODEC_OK || node == NULL)
        return rc;
    if (!json_is_integer(node) || json_integer_value(node) < 1 || json_integer_value(node) > 5)
        return codec_error_set(err, CODEC_ERR_JSON, CODEC_NO_OFFSET,
                               "JSON member \"%s\" (field rating) must be an integer from 1 to 5 or null",
                               m->rating);
    e->has_rating = true;
    e->rating = (int32_t)json_integer_value(node);
    return CODEC_OK;
}

/* Parses one JSON object; *root is owned by the caller. */
static int parse_object(const uint8_t *data, size_t len, json_t **root, codec_error_t *err)
{
    json_error_t json_err;

    *root = json_loadb((const char *)data, len, JSON_REJECT_DUPLICATES, &json_err);
    if (*root == NULL)
        return codec_error_set(err, CODEC_ERR_JSON, (size_t)json_err.position,
                               "invalid JSON at byte %d: %s", json_err.position, json_err.text);
    if (!json_is_object(*root)) {
        json_decref(*root);
        *root = NULL;
        return codec_error_set(err, CODEC_ERR_JSON, 0, "JSON value is not an object");
    }
    return CODEC_OK;
}

int codec_json_decode_click(const codec_json_mapping_t *m, const uint8_t *data, size_t len,
                            codec_click_event_t *e, codec_error_t *err)
{
    json_t *root;
    int rc;

    memset(e, 0, sizeof(*e));
    e->consent = CODEC_CONSENT_UNKNOWN;
    if ((rc = parse_object(data, len, &root, err)) != CODEC_OK)
        return rc;

    rc = get_id(root, m->user_id, "user_id", 1, &e->user_id, err);
    if (rc == CODEC_OK) rc = get_id(root, m->item_id, "item_id", 1, &e->item_id, err);
    if (rc == CODEC_OK) rc = get_id(root, m->category_id, "category_id", 0, &e->category_id, err);
    if (rc == CODEC_OK) rc = get_action(root, m, &e->action, err);
    if (rc == CODEC_OK) rc = get_text(root, m->query, "query", 0, &e->query, err);
    if (rc == CODEC_OK) rc = get_timestamp(root, m, &e->timestamp_ms, err);
    if (rc == CODEC_OK) rc = get_consent(root, m, &e->consent, err);
    if (rc == CODEC_OK) rc = get_id(root, m->session_id, "session_id", 0, &e->session_id, err);
    if (rc == CODEC_OK) rc = get_attributes(root, m, e, err);

    json_decref(root);
    if (rc != CODEC_OK)
        codec_click_clear(e);
    return rc;
}

int codec_json_decode_review(const codec_json_mapping_t *m, const uint8_t *data, size_t len,
                             codec_review_event_t *e, codec_error_t *err)
{
    json_t *root;
    int rc;

    memset(e, 0, sizeof(*e));
    e->consent = CODEC_CONSENT_UNKNOWN;
    if ((rc = parse_object(data, len, &root, err)) != CODEC_OK)
        return rc;

    rc = get_id(root, m->user_id, "user_id", 1, &e->user_id, err);
    if (rc == CODEC_OK) rc = get_id(root, m->item_id, "item_id", 1, &e->item_id, err);
    if (rc == CODEC_OK) rc = get_id(root, m->category_id, "category_id", 1, &e->category_id, err);
    if (rc == CODEC_OK) rc = get_rating(root, m, e, err);
    if (rc == CODEC_OK) rc = get_text(root, m->text, "text", 1, &e->text, err);
    if (rc == CODEC_OK) rc = get_text(root, m->language, "language", 0, &e->language, err);
    if (rc == CODEC_OK) rc = get_timestamp(root, m, &e->timestamp_ms, err);
    if (rc == CODEC_OK) rc = get_consent(root, m, &e->consent, err);

    json_decref(root);
    if (rc != CODEC_OK)
        codec_review_clear(e);
    return rc;
}
