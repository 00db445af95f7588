/*
 * Typed C structs for the four intentd records and their frame encoders and
 * decoders.
 *
 * Ownership: a decode function fills a caller-provided struct whose strings
 * and arrays are malloc'd and owned by the struct. Release them with the
 * matching codec_*_clear(), which also resets the struct to empty (NULL
 * pointers, zero counts, consent CODEC_CONSENT_UNKNOWN). On failure the struct
 * is left empty and nothing needs to be freed. An encode function only reads
 * the struct and returns a malloc'd frame in *buf that the caller frees with
 * free().
 *
 * Nullable Avro fields: a NULL string pointer is Avro null; numbers carry a
 * has_ flag; consent uses codec_consent_t.
 */
#ifndef INTENTD_CODEC_EVENTS_H
#define INTENTD_CODEC_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codec.h"

#define CODEC_CLICK_EVENT "io.intentd.ClickEvent"
#define CODEC_REVIEW_EVENT "io.intentd.ReviewEvent"
#define CODEC_USER_INTENT "io.intentd.UserIntent"
#define CODEC_OFFER "io.intentd.Offer"

/* Action symbols of io.intentd.Action. Values are ours, not the schema's enum
 * indexes: the codec converts by symbol name. */
typedef enum codec_action {
    CODEC_ACTION_UNKNOWN = 0, /* a symbol this version of intentd does not know */
    CODEC_ACTION_VIEW,
    CODEC_ACTION_CLICK,
    CODEC_ACTION_FAVOURITE,
    CODEC_ACTION_ADD_TO_CART,
    CODEC_ACTION_PURCHASE,
    CODEC_ACTION_SEARCH,
    CODEC_ACTION_COUNT
} codec_action_t;

/* Symbol of action ("VIEW"), or NULL when out of range. */
const char *codec_action_symbol(codec_action_t action);
/* Action with symbol name, or -1 when no action has that symbol. */
int codec_action_from_symbol(const char *symbol);

typedef enum codec_consent {
    CODEC_CONSENT_UNKNOWN = -1, /* Avro null */
    CODEC_CONSENT_DENIED = 0,
    CODEC_CONSENT_GIVEN = 1,
} codec_consent_t;

typedef struct codec_attribute {
    char *key;
    char *value;
} codec_attribute_t;

typedef struct codec_click_event {
    char *user_id;
    char *item_id;
    char *category_id; /* nullable */
    codec_action_t action;
    char *query; /* nullable; search text */
    int64_t timestamp_ms; /* Unix epoch milliseconds */
    codec_consent_t consent;
    char *session_id; /* nullable */
    codec_attribute_t *attributes; /* Avro null when attribute_count is 0 */
    size_t attribute_count;
} codec_click_event_t;

typedef struct codec_review_event {
    char *user_id;
    char *item_id;
    char *category_id;
    bool has_rating;
    int32_t rating; /* 1..5 when has_rating */
    char *text; /* UTF-8, any language */
    char *language; /* nullable */
    int64_t timestamp_ms;
    codec_consent_t consent;
} codec_review_event_t;

typedef struct codec_scored_id {
    char *id;
    float score;
} codec_scored_id_t;

typedef struct codec_source_offset {
    char *topic;
    int32_t partition;
    int64_t offset;
} codec_source_offset_t;

typedef struct codec_user_intent {
    char *user_id;
    float *embedding;
    size_t embedding_len;
    float purchase_propensity;
    codec_scored_id_t *top_categories;
    size_t top_category_count;
    codec_scored_id_t *top_items;
    size_t top_item_count;
    bool has_sentiment;
    float sentiment;
    char *model_version;
    int64_t updated_at_ms;
    codec_source_offset_t *source_offsets;
    size_t source_offset_count;
} codec_user_intent_t;

typedef struct codec_offer {
    char *offer_id;
    char *user_id;
    char *rule;
    char **items;
    size_t item_count;
    char *offer_category; /* nullable */
    char *message;
    char *language;
    float discount_percent;
    int64_t created_at_ms;
    int64_t expires_at_ms;
    bool holdout;
    char *model_version;
    codec_source_offset_t *source_offsets;
    size_t source_offset_count;
} codec_offer_t;

/*
 * Decoders: frame is one Kafka value of len bytes. Each rejects a frame whose
 * schema id belongs to another record with CODEC_ERR_SCHEMA_ID. A rating
 * outside 1..5 is rejected with CODEC_ERR_VALUE.
 */
int codec_decode_click(const codec_t *codec, const uint8_t *frame, size_t len,
                       codec_click_event_t *event, codec_error_t *err);
int codec_decode_review(const codec_t *codec, const uint8_t *frame, size_t len,
                        codec_review_event_t *event, codec_error_t *err);
int codec_decode_intent(const codec_t *codec, const uint8_t *frame, size_t len,
                        codec_user_intent_t *intent, codec_error_t *err);
int codec_decode_offer(const codec_t *codec, const uint8_t *frame, size_t len,
                       codec_offer_t *offer, codec_error_t *err);

/* Encoders: write with the reader schema of the record; *buf is malloc'd. */
int codec_encode_click(const codec_t *codec, const codec_click_event_t *event, uint8_t **buf,
                       size_t *len, codec_error_t *err);
int codec_encode_review(const codec_t *codec, const codec_review_event_t *event, uint8_t **buf,
                        size_t *len, codec_error_t *err);
int codec_encode_intent(const codec_t *codec, const codec_user_intent_t *intent, uint8_t **buf,
                        size_t *len, codec_error_t *err);
int codec_encode_offer(const codec_t *codec, const codec_offer_t *offer, uint8_t **buf,
                       size_t *len, codec_error_t *err);

void codec_click_clear(codec_click_event_t *event);
void codec_review_clear(codec_review_event_t *event);
void codec_intent_clear(codec_user_intent_t *intent);
void codec_offer_clear(codec_offer_t *offer);

#endif
