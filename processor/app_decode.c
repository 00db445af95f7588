/*
 * Input decoding and validation. Everything a producer can send ends here as
 * either a valid app_event or a dead-letter reason; nothing is dropped and
 * nothing crashes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app_event.h"
#include "state_store.h"

static const char *reason_names[APP_DLQ_REASON_COUNT] = {
    [APP_DLQ_NONE] = "none",
    [APP_DLQ_EMPTY_VALUE] = "empty_value",
    [APP_DLQ_FRAME] = "invalid_frame",
    [APP_DLQ_UNKNOWN_SCHEMA] = "unknown_schema_id",
    [APP_DLQ_WRONG_RECORD] = "wrong_record_type",
    [APP_DLQ_MALFORMED_BODY] = "malformed_body",
    [APP_DLQ_MISSING_USER_ID] = "missing_user_id",
    [APP_DLQ_USER_ID_TOO_LONG] = "user_id_too_long",
    [APP_DLQ_KEY_MISMATCH] = "key_mismatch",
    [APP_DLQ_UNKNOWN_ACTION] = "unknown_action",
    [APP_DLQ_TEXT_TOO_LARGE] = "text_too_large",
    [APP_DLQ_INVALID_RATING] = "invalid_rating",
    [APP_DLQ_INVALID_TIMESTAMP] = "invalid_timestamp",
    [APP_DLQ_INCOMPATIBLE_SCHEMA] = "incompatible_schema",
};

const char *app_dead_letter_reason_name(enum app_dead_letter_reason reason)
{
    if (reason < 0 || reason >= APP_DLQ_REASON_COUNT)
        return "unknown";
    return reason_names[reason];
}

void app_decoded_event_clear(struct app_decoded_event *decoded)
{
    if (decoded->has_click)
        codec_click_clear(&decoded->click);
    if (decoded->has_review)
        codec_review_clear(&decoded->review);
    free(decoded->consent_user);
    memset(decoded, 0, sizeof *decoded);
}

static enum app_dead_letter_reason from_codec(const codec_error_t *err, char *detail, size_t detail_size)
{
    snprintf(detail, detail_size, "%s", err->message);
    switch (err->status) {
    case CODEC_ERR_FRAME:
        return APP_DLQ_FRAME;
    case CODEC_ERR_SCHEMA_ID:
        return strstr(err->message, "not in the catalogue") || strstr(err->message, "unknown")
                   ? APP_DLQ_UNKNOWN_SCHEMA
                   : APP_DLQ_WRONG_RECORD;
    case CODEC_ERR_VALUE:
        return strstr(err->message, "rating") ? APP_DLQ_INVALID_RATING : APP_DLQ_MALFORMED_BODY;
    case CODEC_ERR_RESOLVE:
        return APP_DLQ_INCOMPATIBLE_SCHEMA;
    default:
        return APP_DLQ_MALFORMED_BODY;
    }
}

static enum config_action action_from_codec(codec_action_t action)
{
    switch (action) {
    case CODEC_ACTION_VIEW:
        return CONFIG_ACTION_VIEW;
    case CODEC_ACTION_CLICK:
        return CONFIG_ACTION_CLICK;
    case CODEC_ACTION_FAVOURITE:
        return CONFIG_ACTION_FAVOURITE;
    case CODEC_ACTION_ADD_TO_CART:
        return CONFIG_ACTION_CART;
    case CODEC_ACTION_PURCHASE:
        return CONFIG_ACTION_PURCHASE;
    case CODEC_ACTION_SEARCH:
        return CONFIG_ACTION_SEARCH;
    default:
        return CONFIG_ACTION_COUNT;
    }
}

static const char *or_empty(const char *s)
{
    return s ? s : "";
}

enum app_dead_letter_reason app_fill_click(struct app_decoded_event *d, char *detail, size_t detail_size)
{
    struct app_event *e = &d->event;
    const codec_click_event_t *c = &d->click;

    e->kind = APP_EVENT_CLICK;
    e->user_id = or_empty(c->user_id);
    e->user_id_len = strlen(e->user_id);
    e->action = action_from_codec(c->action);
    e->item_id = or_empty(c->item_id);
    e->category_id = or_empty(c->category_id);
    e->text = or_empty(c->query);
    e->rating = 0;
    e->timestamp_ms = c->timestamp_ms;
    e->consent = c->consent == CODEC_CONSENT_UNKNOWN ? -1 : (int)c->consent;

    if (e->action == CONFIG_ACTION_COUNT) {
        snprintf(detail, detail_size, "action %d is not one this version of intentd knows", (int)c->action);
        return APP_DLQ_UNKNOWN_ACTION;
    }
    return APP_DLQ_NONE;
}

enum app_dead_letter_reason app_fill_review(struct app_decoded_event *d)
{
    struct app_event *e = &d->event;
    const codec_review_event_t *r = &d->review;

    e->kind = APP_EVENT_REVIEW;
    e->user_id = or_empty(r->user_id);
    e->user_id_len = strlen(e->user_id);
    e->action = CONFIG_ACTION_REVIEW;
    e->item_id = or_empty(r->item_id);
    e->category_id = or_empty(r->category_id);
    e->text = or_empty(r->text);
    e->rating = r->has_rating ? r->rating : 0;
    e->timestamp_ms = r->timestamp_ms;
    e->consent = r->consent == CODEC_CONSENT_UNKNOWN ? -1 : (int)r->consent;
    return APP_DLQ_NONE;
}

/* Checks that apply to every event, after decoding. */
static enum app_dead_letter_reason validate(const struct intentd_config *cfg, const rd_kafka_message_t *record,
                                            const struct app_event *e, char *detail, size_t detail_size)
{
    if (e->user_id_len == 0) {
        snprintf(detail, detail_size, "user_id is missing or empty");
        return APP_DLQ_MISSING_USER_ID;
    }
    if (e->user_id_len > STATE_USER_ID_MAX) {
        snprintf(detail, detail_size, "user_id is %zu bytes, the maximum is %d", e->user_id_len,
                 STATE_USER_ID_MAX);
        return APP_DLQ_USER_ID_TOO_LONG;
    }
    /* The record key decides the partition and so which instance owns the
     * user; a key that is not the user id would put the user's events on
     * several partitions. A record without a key is accepted as it is. */
    if (record->key && (record->key_len != e->user_id_len || memcmp(record->key, e->user_id, e->user_id_len))) {
        snprintf(detail, detail_size, "record key (%zu bytes) is not the user_id \"%.64s\"", record->key_len,
                 e->user_id);
        return APP_DLQ_KEY_MISMATCH;
    }
    if (strlen(e->text) > cfg->schemas.max_text_bytes) {
        snprintf(detail, detail_size, "text is %zu bytes, schemas.max_text_bytes is %zu", strlen(e->text),
                 cfg->schemas.max_text_bytes);
        return APP_DLQ_TEXT_TOO_LARGE;
    }
    if (e->kind == APP_EVENT_REVIEW && e->rating != 0 && (e->rating < 1 || e->rating > 5)) {
        snprintf(detail, detail_size, "rating %d is outside 1..5", e->rating);
        return APP_DLQ_INVALID_RATING;
    }
    if (e->timestamp_ms <= 0 && e->kind != APP_EVENT_CONSENT) {
        snprintf(detail, detail_size, "timestamp %lld is not a positive Unix time in ms",
                 (long long)e->timestamp_ms);
        return APP_DLQ_INVALID_TIMESTAMP;
    }
    return APP_DLQ_NONE;
}

static enum app_dead_letter_reason decode_avro(const codec_t *codec, enum app_event_kind kind,
                                               const rd_kafka_message_t *record, struct app_decoded_event *d,
                                               char *detail, size_t detail_size)
{
    codec_error_t err;

    if (kind == APP_EVENT_CLICK) {
        if (codec_decode_click(codec, record->payload, record->len, &d->click, &err) != CODEC_OK)
            return from_codec(&err, detail, detail_size);
        d->has_click = 1;
        return app_fill_click(d, detail, detail_size);
    }
    if (codec_decode_review(codec, record->payload, record->len, &d->review, &err) != CODEC_OK)
        return from_codec(&err, detail, detail_size);
    d->has_review = 1;
    return app_fill_review(d);
}

enum app_dead_letter_reason app_decode_event(const struct intentd_config *cfg, const codec_t *codec,
                                             enum app_event_kind kind, const rd_kafka_message_t *record,
                                             struct app_decoded_event *decoded, char *detail,
                                             size_t detail_size)
{
    memset(decoded, 0, sizeof *decoded);
    detail[0] = '\0';

    if (record->len == 0) {
        snprintf(detail, detail_size, "the value is empty (0 bytes); a tombstone has a NULL value instead");
        return APP_DLQ_EMPTY_VALUE;
    }

    enum app_dead_letter_reason reason;
    if (kind == APP_EVENT_CONSENT)
        reason = app_decode_consent(cfg, codec, record, decoded, detail, detail_size);
    else if (cfg->schemas.format == CONFIG_FORMAT_JSON)
        reason = app_decode_json(cfg, kind, record, decoded, detail, detail_size);
    else
        reason = decode_avro(codec, kind, record, decoded, detail, detail_size);

    if (reason == APP_DLQ_NONE)
        reason = validate(cfg, record, &decoded->event, detail, detail_size);
    if (reason != APP_DLQ_NONE)
        app_decoded_event_clear(decoded);
    return reason;
}
