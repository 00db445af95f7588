/* Typed UserIntent and Offer: structs to and from frames. */
#include <stdlib.h>
#include <string.h>

#include "codec_events.h"
#include "codec_fields.h"
#include "codec_internal.h"

static int array_size(avro_value_t *record, const char *name, avro_value_t *array, size_t *n,
                      codec_error_t *err)
{
    int rc = codec_field_get(record, name, array, err);

    *n = 0;
    if (rc == CODEC_OK && avro_value_get_size(array, n) != 0)
        return codec_error_set(err, CODEC_ERR_RESOLVE, CODEC_NO_OFFSET, "field %s is not an array", name);
    return rc;
}

static int get_embedding(avro_value_t *v, codec_user_intent_t *intent, codec_error_t *err)
{
    avro_value_t array;
    size_t n;
    int rc = array_size(v, "embedding", &array, &n, err);

    if (rc != CODEC_OK || n == 0)
        return rc;
    intent->embedding = calloc(n, sizeof(float));
    if (intent->embedding == NULL)
        return codec_error_set(err, CODEC_ERR_NOMEM, CODEC_NO_OFFSET, "out of memory for %zu floats", n);
    intent->embedding_len = n;
    for (size_t i = 0; i < n; i++) {
        avro_value_t item;
        if (avro_value_get_by_index(&array, i, &item, NULL) != 0 ||
            avro_value_get_float(&item, &intent->embedding[i]) != 0)
            return codec_error_set(err, CODEC_ERR_RESOLVE, CODEC_NO_OFFSET, "embedding is not an array of floats");
    }
    return CODEC_OK;
}

static void scored_free(codec_scored_id_t *items, size_t n)
{
    for (size_t i = 0; items != NULL && i < n; i++)
        free(items[i].id);
    free(items);
}

static int get_scored(avro_value_t *v, const char *name, codec_scored_id_t **out, size_t *count,
                      codec_error_t *err)
{
    avro_value_t array;
    size_t n;
    int rc = array_size(v, name, &array, &n, err);

    if (rc != CODEC_OK || n == 0)
        return rc;
    *out = calloc(n, sizeof(**out));
    if (*out == NULL)
        return codec_error_set(err, CODEC_ERR_NOMEM, CODEC_NO_OFFSET, "out of memory for %zu %s", n, name);
    *count = n;
    for (size_t i = 0; i < n && rc == CODEC_OK; i++) {
        avro_value_t item;
        if (avro_value_get_by_index(&array, i, &item, NULL) != 0)
            return codec_error_set(err, CODEC_ERR_RESOLVE, CODEC_NO_OFFSET, "%s item %zu is missing", name, i);
        rc = codec_field_get_string(&item, "id", &(*out)[i].id, err);
        if (rc == CODEC_OK)
            rc = codec_field_get_float(&item, "score", &(*out)[i].score, err);
    }
    return rc;
}

static int set_scored(avro_value_t *v, const char *name, const codec_scored_id_t *items, size_t n,
                      codec_error_t *err)
{
    avro_value_t array;
    int rc = codec_field_get(v, name, &array, err);

    for (size_t i = 0; i < n && rc == CODEC_OK; i++) {
        avro_value_t item;
        if (avro_value_append(&array, &item, NULL) != 0)
            return codec_error_set(err, CODEC_ERR_RESOLVE, CODEC_NO_OFFSET, "field %s is not an array", name);
        rc = codec_field_set_string(&item, "id", items[i].id, err);
        if (rc == CODEC_OK)
            rc = codec_field_set_float(&item, "score", items[i].score, err);
    }
    return rc;
}

static int get_sentiment(avro_value_t *v, codec_user_intent_t *intent, codec_error_t *err)
{
    avro_value_t inner;
    bool present = false;
    int rc = codec_field_get_opt(v, "sentiment", &inner, &present, err);

    if (rc != CODEC_OK || !present)
        return rc;
    if (avro_value_get_float(&inner, &intent->sentiment) != 0)
        return codec_error_set(err, CODEC_ERR_RESOLVE, CODEC_NO_OFFSET, "field sentiment is not a nullable float");
    intent->has_sentiment = true;
    return CODEC_OK;
}

static int intent_from_value(avro_value_t *v, codec_user_intent_t *t, codec_error_t *err)
{
    int rc = codec_field_get_string(v, "user_id", &t->user_id, err);

    if (rc == CODEC_OK) rc = get_embedding(v, t, err);
    if (rc == CODEC_OK) rc = codec_field_get_float(v, "purchase_propensity", &t->purchase_propensity, err);
    if (rc == CODEC_OK) rc = get_scored(v, "top_categories", &t->top_categories, &t->top_category_count, err);
    if (rc == CODEC_OK) rc = get_scored(v, "top_items", &t->top_items, &t->top_item_count, err);
    if (rc == CODEC_OK) rc = get_sentiment(v, t, err);
    if (rc == CODEC_OK) rc = codec_field_get_string(v, "model_version", &t->model_version, err);
    if (rc == CODEC_OK) rc = codec_field_get_long(v, "updated_at", &t->updated_at_ms, err);
    if (rc == CODEC_OK) rc = codec_field_get_offsets(v, &t->source_offsets, &t->source_offset_count, err);
    return rc;
}

static int intent_to_value(const codec_user_intent_t *t, avro_value_t *v, codec_error_t *err)
{
    avro_value_t field, inner;
    int rc = codec_field_set_string(v, "user_id", t->user_id, err);

    if (rc == CODEC_OK)
        rc = codec_field_get(v, "embedding", &field, err);
    for (size_t i = 0; rc == CODEC_OK && i < t->embedding_len; i++)
        if (avro_value_append(&field, &inner, NULL) != 0 || avro_value_set_float(&inner, t->embedding[i]) != 0)
            rc = codec_error_set(err, CODEC_ERR_RESOLVE, CODEC_NO_OFFSET, "field embedding is not an array of floats");
    if (rc == CODEC_OK) rc = codec_field_set_float(v, "purchase_propensity", t->purchase_propensity, err);
    if (rc == CODEC_OK) rc = set_scored(v, "top_categories", t->top_categories, t->top_category_count, err);
    if (rc == CODEC_OK) rc = set_scored(v, "top_items", t->top_items, t->top_item_count, err);
    if (rc == CODEC_OK) rc = codec_field_set_opt(v, "sentiment", t->has_sentiment, &inner, err);
    if (rc == CODEC_OK && t->has_sentiment && avro_value_set_float(&inner, t->sentiment) != 0)
        rc = codec_error_set(err, CODEC_ERR_RESOLVE, CODEC_NO_OFFSET, "field sentiment is not a nullable float");
    if (rc == CODEC_OK) rc = codec_field_set_string(v, "model_version", t->model_version, err);
    if (rc == CODEC_OK) rc = codec_field_set_long(v, "updated_at", t->updated_at_ms, err);
    if (rc == CODEC_OK) rc = codec_field_set_offsets(v, t->source_offsets, t->source_offset_count, err);
    return rc;
}

static int get_items(avro_value_t *v, codec_offer_t *o, codec_error_t *err)
{
    avro_value_t array;
    size_t n;
    int rc = array_size(v, "items", &array, &n, err);

    if (rc != CODEC_OK || n == 0)
        return rc;
    o->items = calloc(n, sizeof(char *));
    if (o->items == NULL)
        return codec_error_set(err, CODEC_ERR_NOMEM, CODEC_NO_OFFSET, "out of memory for %zu items", n);
    o->item_count = n;
    for (size_t i = 0; i < n && rc == CODEC_OK; i++) {
        avro_value_t item;
        if (avro_value_get_by_index(&array, i, &item, NULL) != 0)
            return codec_error_set(err, CODEC_ERR_RESOLVE, CODEC_NO_OFFSET, "items entry %zu is missing", i);
        rc = codec_string_copy(&item, "items", &o->items[i], err);
    }
    return rc;
}

static int set_items(avro_value_t *v, const codec_offer_t *o, codec_error_t *err)
{
    avro_value_t array, item;
    int rc = codec_field_get(v, "items", &array, err);

    for (size_t i = 0; i < o->item_count && rc == CODEC_OK; i++) {
        if (o->items[i] == NULL)
            return codec_error_set(err, CODEC_ERR_VALUE, CODEC_NO_OFFSET, "offer item %zu is NULL", i);
        if ((rc = codec_check_utf8("offer item", o->items[i], err)) != CODEC_OK)
            return rc;
        if (avro_value_append(&array, &item, NULL) != 0 || avro_value_set_string(&item, o->items[i]) != 0)
            return codec_error_set(err, CODEC_ERR_RESOLVE, CODEC_NO_OFFSET, "field items is not an array of strings");
    }
    return rc;
}

static int offer_from_value(avro_value_t *v, codec_offer_t *o, codec_error_t *err)
{
    int rc = codec_field_get_string(v, "offer_id", &o->offer_id, err);

    if (rc == CODEC_OK) rc = codec_field_get_string(v, "user_id", &o->user_id, err);
    if (rc == CODEC_OK) rc = codec_field_get_string(v, "rule", &o->rule, err);
    if (rc == CODEC_OK) rc = get_items(v, o, err);
    if (rc == CODEC_OK) rc = codec_field_get_opt_string(v, "offer_category", &o->offer_category, err);
    if (rc == CODEC_OK) rc = codec_field_get_string(v, "message", &o->message, err);
    if (rc == CODEC_OK) rc = codec_field_get_string(v, "language", &o->language, err);
    if (rc == CODEC_OK) rc = codec_field_get_float(v, "discount_percent", &o->discount_percent, err);
    if (rc == CODEC_OK) rc = codec_field_get_long(v, "created_at", &o->created_at_ms, err);
    if (rc == CODEC_OK) rc = codec_field_get_long(v, "expires_at", &o->expires_at_ms, err);
    if (rc == CODEC_OK) rc = codec_field_get_boolean(v, "holdout", &o->holdout, err);
    if (rc == CODEC_OK) rc = codec_field_get_string(v, "model_version", &o->model_version, err);
    if (rc == CODEC_OK) rc = codec_field_get_offsets(v, &o->source_offsets, &o->source_offset_count, err);
    return rc;
}

static int offer_to_value(const codec_offer_t *o, avro_value_t *v, codec_error_t *err)
{
    int rc = codec_field_set_string(v, "offer_id", o->offer_id, err);

    if (rc == CODEC_OK) rc = codec_field_set_string(v, "user_id", o->user_id, err);
    if (rc == CODEC_OK) rc = codec_field_set_string(v, "rule", o->rule, err);
    if (rc == CODEC_OK) rc = set_items(v, o, err);
    if (rc == CODEC_OK) rc = codec_field_set_opt_string(v, "offer_category", o->offer_category, err);
    if (rc == CODEC_OK) rc = codec_field_set_string(v, "message", o->message, err);
    if (rc == CODEC_OK) rc = codec_field_set_string(v, "language", o->language, err);
    if (rc == CODEC_OK) rc = codec_field_set_float(v, "discount_percent", o->discount_percent, err);
    if (rc == CODEC_OK) rc = codec_field_set_long(v, "created_at", o->created_at_ms, err);
    if (rc == CODEC_OK) rc = codec_field_set_long(v, "expires_at", o->expires_at_ms, err);
    if (rc == CODEC_OK) rc = codec_field_set_boolean(v, "holdout", o->holdout, err);
    if (rc == CODEC_OK) rc = codec_field_set_string(v, "model_version", o->model_version, err);
    if (rc == CODEC_OK) rc = codec_field_set_offsets(v, o->source_offsets, o->source_offset_count, err);
    return rc;
}

void codec_intent_clear(codec_user_intent_t *t)
{
    free(t->user_id);
    free(t->embedding);
    scored_free(t->top_categories, t->top_category_count);
    scored_free(t->top_items, t->top_item_count);
    free(t->model_version);
    codec_offsets_free(t->source_offsets, t->source_offset_count);
    memset(t, 0, sizeof(*t));
}

void codec_offer_clear(codec_offer_t *o)
{
    free(o->offer_id);
    free(o->user_id);
    free(o->rule);
    for (size_t i = 0; o->items != NULL && i < o->item_count; i++)
        free(o->items[i]);
    free(o->items);
    free(o->offer_category);
    free(o->message);
    free(o->language);
    free(o->model_version);
    codec_offsets_free(o->source_offsets, o->source_offset_count);
    memset(o, 0, sizeof(*o));
}

int codec_decode_intent(const codec_t *codec, const uint8_t *frame, size_t len,
                        codec_user_intent_t *intent, codec_error_t *err)
{
    avro_value_t value;
    int rc;

    memset(intent, 0, sizeof(*intent));
    rc = codec_decode_value(codec, frame, len, CODEC_USER_INTENT, &value, NULL, err);
    if (rc != CODEC_OK)
        return rc;
    rc = intent_from_value(&value, intent, err);
    avro_value_decref(&value);
    if (rc != CODEC_OK)
        codec_intent_clear(intent);
    return rc;
}

int codec_decode_offer(const codec_t *codec, const uint8_t *frame, size_t len, codec_offer_t *offer,
                       codec_error_t *err)
{
    avro_value_t value;
    int rc;

    memset(offer, 0, sizeof(*offer));
    rc = codec_decode_value(codec, frame, len, CODEC_OFFER, &value, NULL, err);
    if (rc != CODEC_OK)
        return rc;
    rc = offer_from_value(&value, offer, err);
    avro_value_decref(&value);
    if (rc != CODEC_OK)
        codec_offer_clear(offer);
    return rc;
}

int codec_encode_intent(const codec_t *codec, const codec_user_intent_t *intent, uint8_t **buf,
                        size_t *len, codec_error_t *err)
{
    const codec_schema_t *reader = codec_find_reader(codec, CODEC_USER_INTENT);

    if (reader != NULL && reader->binary_intent) {
        *buf = NULL;
        *len = 0;
        return codec_write_intent_binary(intent, reader->id, buf, len, err);
    }
    return codec_encode_intent_generic(codec, intent, buf, len, err);
}

int codec_encode_intent_generic(const codec_t *codec, const codec_user_intent_t *intent, uint8_t **buf,
                                size_t *len, codec_error_t *err)
{
    avro_value_t value;
    uint32_t id;
    int rc = codec_new_value(codec, CODEC_USER_INTENT, &value, &id, err);

    *buf = NULL;
    *len = 0;
    if (rc != CODEC_OK)
        return rc;
    rc = intent_to_value(intent, &value, err);
    if (rc == CODEC_OK)
        rc = codec_encode_value(codec, id, &value, buf, len, err);
    avro_value_decref(&value);
    return rc;
}

int codec_encode_offer(const codec_t *codec, const codec_offer_t *offer, uint8_t **buf, size_t *len,
                       codec_error_t *err)
{
    avro_value_t value;
    uint32_t id;
    int rc = codec_new_value(codec, CODEC_OFFER, &value, &id, err);

    *buf = NULL;
    *len = 0;
    if (rc != CODEC_OK)
        return rc;
    rc = offer_to_value(offer, &value, err);
    if (rc == CODEC_OK)
        rc = codec_encode_value(codec, id, &value, buf, len, err);
    avro_value_decref(&value);
    return rc;
}
