/*
 * One input event after decoding and validation, whatever its topic and wire
 * format: the fields the tokenizer and the trigger rules read. Strings point
 * into the decoded codec struct that owns them (see app_decoded_event).
 */
#ifndef INTENTD_APP_EVENT_H
#define INTENTD_APP_EVENT_H

#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "codec_events.h"
#include "config.h"

enum app_event_kind {
    APP_EVENT_CLICK = 0,
    APP_EVENT_REVIEW = 1,
    APP_EVENT_CONSENT = 2,
};

struct app_event {
    enum app_event_kind kind;
    const char *user_id;
    size_t user_id_len;
    enum config_action action;   /* CONFIG_ACTION_REVIEW for reviews */
    const char *item_id;         /* "" when absent */
    const char *category_id;     /* "" when absent */
    const char *text;            /* query or review text, "" when absent */
    int rating;                  /* 1..5, 0 when absent */
    int64_t timestamp_ms;        /* event time, Unix ms */
    int consent;                 /* -1 unknown, 0 denied, 1 granted */
};

/* Owner of the decoded strings an app_event points into. */
struct app_decoded_event {
    struct app_event event;
    codec_click_event_t click;
    codec_review_event_t review;
    char *consent_user;          /* user id of a consent record, malloc'ed */
    int has_click, has_review;
};

/* Why a record went to the dead-letter topic: the value of the
 * intentd.reason header and the label of the dead-letter metric. */
enum app_dead_letter_reason {
    APP_DLQ_NONE = 0,
    APP_DLQ_EMPTY_VALUE,       /* a zero-length value (not a tombstone) */
    APP_DLQ_FRAME,             /* short frame or wrong magic byte */
    APP_DLQ_UNKNOWN_SCHEMA,    /* schema id not in the catalogue */
    APP_DLQ_WRONG_RECORD,      /* a schema of another record type for this topic */
    APP_DLQ_MALFORMED_BODY,    /* truncated or invalid Avro body, or invalid JSON */
    APP_DLQ_MISSING_USER_ID,
    APP_DLQ_USER_ID_TOO_LONG,
    APP_DLQ_KEY_MISMATCH,      /* record key differs from the user id: breaks partitioning */
    APP_DLQ_UNKNOWN_ACTION,
    APP_DLQ_TEXT_TOO_LARGE,
    APP_DLQ_INVALID_RATING,
    APP_DLQ_INVALID_TIMESTAMP,
    APP_DLQ_INCOMPATIBLE_SCHEMA, /* writer schema not Avro, or not resolvable to the reader schema */
    APP_DLQ_REASON_COUNT
};

/* Short stable name of a reason ("malformed_body"). */
const char *app_dead_letter_reason_name(enum app_dead_letter_reason reason);

/* Decodes and validates one record value of an input topic. Returns
 * APP_DLQ_NONE and fills *decoded (release with app_decoded_event_clear), or a
 * reason with a human-readable detail in detail[detail_size]. */
enum app_dead_letter_reason app_decode_event(const struct intentd_config *cfg, const codec_t *codec,
                                             enum app_event_kind kind, const rd_kafka_message_t *record,
                                             struct app_decoded_event *decoded, char *detail,
                                             size_t detail_size);

void app_decoded_event_clear(struct app_decoded_event *decoded);

/* Decodes a JSON record through schemas.json (app_decode_json.c). */
enum app_dead_letter_reason app_decode_json(const struct intentd_config *cfg, enum app_event_kind kind,
                                            const rd_kafka_message_t *record, struct app_decoded_event *decoded,
                                            char *detail, size_t detail_size);

/* Decodes a consent record (app_decode_consent.c). */
enum app_dead_letter_reason app_decode_consent(const struct intentd_config *cfg, const codec_t *codec,
                                               const rd_kafka_message_t *record, struct app_decoded_event *decoded,
                                               char *detail, size_t detail_size);

/* Fill decoded->event from the decoded codec struct (app_decode.c). */
enum app_dead_letter_reason app_fill_click(struct app_decoded_event *decoded, char *detail, size_t detail_size);
enum app_dead_letter_reason app_fill_review(struct app_decoded_event *decoded);

#endif
