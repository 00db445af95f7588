/* Typed ClickEvent and ReviewEvent: structs to and from frames. */
#include <stdlib.h>
#include <string.h>

#include "codec_events.h"
#include "codec_fields.h"

static const char *const ACTION_SYMBOLS[CODEC_ACTION_COUNT] = {
    "UNKNOWN", "VIEW", "CLICK", "FAVOURITE", "ADD_TO_CART", "PURCHASE", "SEARCH",
};

const char *codec_action_symbol(codec_action_t action)
{
    if ((int)action < 0 || action >= CODEC_ACTION_COUNT)
        return NULL;
    return ACTION_SYMBOLS[action];
}

int codec_action_from_symbol(const char *symbol)
{
    for (int i = 0; i < CODEC_ACTION_COUNT; i++)
        if (strcmp(ACTION_SYMBOLS[i], symbol) == 0)
            return i;
    return -1;
}

static int get_action(avro_value_t *record, codec_action_t *out, codec_error_t *err)
{
    avro_value_t field;
    int index;
    int rc = codec_field_get(record, "action", &field, err);

    if (rc != CODEC_OK)
        return rc;
    if (avro_value_get_enum(&field, &index) != 0)
        return codec_error_set(err, CODEC_ERR_RESOLVE, CODEC_NO_OFFSET, "field action is not an enum");
    /* The reader schema may be newer than this struct: a symbol we lack is UNKNOWN. */
    int action = codec_action_from_symbol(avro_schema_enum_get(avro_value_get_schema(&field), index));
    *out = action >= 0 ? (codec_action_t)action : CODEC_ACTION_UNKNOWN;
    return CODEC_OK;
}

static int set_action(avro_value_t *record, codec_action_t action, codec_error_t *err)
{
    avro_value_t field;
    const char *symbol = codec_action_symbol(action);
    int rc = codec_field_get(record, "action", &field, err);

    if (rc != CODEC_OK)
        return rc;
    int index = symbol != NULL ? avro_schema_enum_get_by_name(avro_value_get_schema(&field), symbol) : -1;
    if (index < 0 || avro_value_set_enum(&field, index) != 0)
        return codec_error_set(err, CODEC_ERR_VALUE, CODEC_NO_OFFSET,
                               "action %d has no symbol in the reader schema's Action enum", (int)action);
    return CODEC_OK;
}

static int get_attributes(avro_value_t *record, codec_click_event_t *event, codec_error_t *err)
{
    avro_value_t map;
    bool present = false;
    size_t n = 0;
    int rc = codec_field_get_opt(record, "attributes", &map, &present, err);

    if (rc != CODEC_OK || !present)
        return rc;
    if (avro_value_get_size(&map, &n) != 0 || n == 0)
        return CODEC_OK;
    event->attributes = calloc(n, sizeof(*event->attributes));
    if (event->attributes == NULL)
        return codec_error_set(err, CODEC_ERR_NOMEM, CODEC_NO_OFFSET, "out of memory for %zu attributes", n);
    event->attribute_count = n;
    for (size_t i = 0; i < n; i++) {
        avro_value_t value;
        const char *key;
        if (avro_value_get_by_index(&map, i, &value, &key) != 0)
            return codec_error_set(err, CODEC_ERR_RESOLVE, CODEC_NO_OFFSET, "attributes entry %zu is missing", i);
        event->attributes[i].key = strdup(key);
        if (event->attributes[i].key == NULL)
            return codec_error_set(err, CODEC_ERR_NOMEM, CODEC_NO_OFFSET, "out of memory");
        rc = codec_string_copy(&value, "attributes", &event->attributes[i].value, err);
        if (rc != CODEC_OK)
            return rc;
    }
    return CODEC_OK;
}

static int set_attributes(avro_value_t *record, const codec_click_event_t *event, codec_error_t *err)
{
    avro_value_t map;
    int rc = codec_field_set_opt(record, "attributes", event->attribute_count > 0, &map, err);

    for (size_t i = 0; i < event->attribute_count && rc == CODEC_OK; i++) {
        const codec_attribute_t *attr = &event->attributes[i];
        avro_value_t value;
        if (attr->key == NULL || attr->value == NULL)
            return codec_error_set(err, CODEC_ERR_VALUE, CODEC_NO_OFFSET, "attribute %zu has a NULL key or value", i);
        if ((rc = codec_check_utf8("attribute key", attr->key, err)) != CODEC_OK ||
            (rc = codec_check_utf8("attribute value", attr->value, err)) != CODEC_OK)
            return rc;
        if (avro_value_add(&map, attr->key, &value, NULL, NULL) != 0 ||
            avro_value_set_string(&value, attr->value) != 0)
            return codec_error_set(err, CODEC_ERR_RESOLVE, CODEC_NO_OFFSET, "field attributes is not a map of strings");
    }
    return rc;
}

static int click_from_value(avro_value_t *v, codec_click_event_t *e, codec_error_t *err)
{
    int rc = codec_field_get_string(v, "user_id", &e->user_id, err);

    if (rc == CODEC_OK) rc = codec_field_get_string(v, "item_id", &e->item_id, err);
    if (rc == CODEC_OK) rc = codec_field_get_opt_string(v, "category_id", &e->category_id, err);
    if (rc == CODEC_OK) rc = get_action(v, &e->action, err);
    if (rc == CODEC_OK) rc = codec_field_get_opt_string(v, "query", &e->query, err);
    if (rc == CODEC_OK) rc = codec_field_get_long(v, "timestamp", &e->timestamp_ms, err);
    if (rc == CODEC_OK) rc = codec_field_get_consent(v, "consent", &e->consent, err);
    if (rc == CODEC_OK) rc = codec_field_get_opt_string(v, "session_id", &e->session_id, err);
    if (rc == CODEC_OK) rc = get_attributes(v, e, err);
    return rc;
}

static int click_to_value(const codec_click_event_t *e, avro_value_t *v, codec_error_t *err)
{
    int rc = codec_field_set_string(v, "user_id", e->user_id, err);

    if (rc == CODEC_OK) rc = codec_field_set_string(v, "item_id", e->item_id, err);
    if (rc == CODEC_OK) rc = codec_field_set_opt_string(v, "category_id", e->category_id, err);
    if (rc == CODEC_OK) rc = set_action(v, e->action, err);
    if (rc == CODEC_OK) rc = codec_field_set_opt_string(v, "query", e->query, err);
    if (rc == CODEC_OK) rc = codec_field_set_long(v, "timestamp", e->timestamp_ms, err);
    if (rc == CODEC_OK) rc = codec_field_set_consent(v, "consent", e->consent, err);
    if (rc == CODEC_OK) rc = codec_field_set_opt_string(v, "session_id", e->session_id, err);
    if (rc == CODEC_OK) rc = set_attributes(v, e, err);
    return rc;
}

static int get_rating(avro_value_t *v, codec_review_event_t *e, codec_error_t *err)
{
    avro_value_t inner;
    bool present = false;
    int rc = codec_field_get_opt(v, "rating", &inner, &present, err);

    if (rc != CODEC_OK || !present)
        return rc;
    if (avro_value_get_int(&inner, &e->rating) != 0)
        return codec_error_set(err, CODEC_ERR_RESOLVE, CODEC_NO_OFFSET, "field rating is not a nullable int");
    if (e->rating < 1 || e->rating > 5)
        return codec_error_set(err, CODEC_ERR_VALUE, CODEC_NO_OFFSET,
                               "rating is %d, outside 1..5", (int)e->rating);
    e->has_rating = true;
    return CODEC_OK;
}

static int set_rating(avro_value_t *v, const codec_review_event_t *e, codec_error_t *err)
{
    avro_value_t inner;
    int rc;

    if (e->has_rating && (e->rating < 1 || e->rating > 5))
        return codec_error_set(err, CODEC_ERR_VALUE, CODEC_NO_OFFSET,
                               "rating is %d, outside 1..5", (int)e->rating);
    rc = codec_field_set_opt(v, "rating", e->has_rating, &inner, err);
    if (rc != CODEC_OK || !e->has_rating)
        return rc;
    return avro_value_set_int(&inner, e->rating) == 0
               ? CODEC_OK
               : codec_error_set(err, CODEC_ERR_RESOLVE, CODEC_NO_OFFSET, "field rating is not a nullable int");
}

static int review_from_value(avro_value_t *v, codec_review_event_t *e, codec_error_t *err)
{
    int rc = codec_field_get_string(v, "user_id", &e->user_id, err);

    if (rc == CODEC_OK) rc = codec_field_get_string(v, "item_id", &e->item_id, err);
    if (rc == CODEC_OK) rc = codec_field_get_string(v, "category_id", &e->category_id, err);
    if (rc == CODEC_OK) rc = get_rating(v, e, err);
    if (rc == CODEC_OK) rc = codec_field_get_string(v, "text", &e->text, err);
    if (rc == CODEC_OK) rc = codec_field_get_opt_string(v, "language", &e->language, err);
    if (rc == CODEC_OK) rc = codec_field_get_long(v, "timestamp", &e->timestamp_ms, err);
    if (rc == CODEC_OK) rc = codec_field_get_consent(v, "consent", &e->consent, err);
    return rc;
}

static int review_to_value(const codec_review_event_t *e, avro_value_t *v, codec_error_t *err)
{
    int rc = codec_field_set_string(v, "user_id", e->user_id, err);

    if (rc == CODEC_OK) rc = codec_field_set_string(v, "item_id", e->item_id, err);
    if (rc == CODEC_OK) rc = codec_field_set_string(v, "category_id", e->category_id, err);
    if (rc == CODEC_OK) rc = set_rating(v, e, err);
    if (rc == CODEC_OK) rc = codec_field_set_string(v, "text", e->text, err);
    if (rc == CODEC_OK) rc = codec_field_set_opt_string(v, "language", e->language, err);
    if (rc == CODEC_OK) rc = codec_field_set_long(v, "timestamp", e->timestamp_ms, err);
    if (rc == CODEC_OK) rc = codec_field_set_consent(v, "consent", e->consent, err);
    return rc;
}

void codec_click_clear(codec_click_event_t *e)
{
    free(e->user_id);
    free(e->item_id);
    free(e->category_id);
    free(e->query);
    free(e->session_id);
    for (size_t i = 0; e->attributes != NULL && i < e->attribute_count; i++) {
        free(e->attributes[i].key);
        free(e->attributes[i].value);
    }
    free(e->attributes);
    memset(e, 0, sizeof(*e));
    e->consent = CODEC_CONSENT_UNKNOWN;
}

void codec_review_clear(codec_review_event_t *e)
{
    free(e->user_id);
    free(e->item_id);
    free(e->category_id);
    free(e->text);
    free(e->language);
    memset(e, 0, sizeof(*e));
    e->consent = CODEC_CONSENT_UNKNOWN;
}

int codec_decode_click(const codec_t *codec, const uint8_t *frame, size_t len,
                       codec_click_event_t *event, codec_error_t *err)
{
    avro_value_t value;
    int rc;

    memset(event, 0, sizeof(*event));
    event->consent = CODEC_CONSENT_UNKNOWN;
    rc = codec_decode_value(codec, frame, len, CODEC_CLICK_EVENT, &value, NULL, err);
    if (rc != CODEC_OK)
        return rc;
    rc = click_from_value(&value, event, err);
    avro_value_decref(&value);
    if (rc != CODEC_OK)
        codec_click_clear(event);
    return rc;
}

int codec_decode_review(const codec_t *codec, const uint8_t *frame, size_t len,
                        codec_review_event_t *event, codec_error_t *err)
{
    avro_value_t value;
    int rc;

    memset(event, 0, sizeof(*event));
    event->consent = CODEC_CONSENT_UNKNOWN;
    rc = codec_decode_value(codec, frame, len, CODEC_REVIEW_EVENT, &value, NULL, err);
    if (rc != CODEC_OK)
        return rc;
    rc = review_from_value(&value, event, err);
    avro_value_decref(&value);
    if (rc != CODEC_OK)
        codec_review_clear(event);
    return rc;
}

int codec_encode_click(const codec_t *codec, const codec_click_event_t *event, uint8_t **buf,
                       size_t *len, codec_error_t *err)
{
    avro_value_t value;
    uint32_t id;
    int rc = codec_new_value(codec, CODEC_CLICK_EVENT, &value, &id, err);

    *buf = NULL;
    *len = 0;
    if (rc != CODEC_OK)
        return rc;
    rc = click_to_value(event, &value, err);
    if (rc == CODEC_OK)
        rc = codec_encode_value(codec, id, &value, buf, len, err);
    avro_value_decref(&value);
    return rc;
}

int codec_encode_review(const codec_t *codec, const codec_review_event_t *event, uint8_t **buf,
                        size_t *len, codec_error_t *err)
{
    avro_value_t value;
    uint32_t id;
    int rc = codec_new_value(codec, CODEC_REVIEW_EVENT, &value, &id, err);

    *buf = NULL;
    *len = 0;
    if (rc != CODEC_OK)
        return rc;
    rc = review_to_value(event, &value, err);
    if (rc == CODEC_OK)
        rc = codec_encode_value(codec, id, &value, buf, len, err);
    avro_value_decref(&value);
    return rc;
}
