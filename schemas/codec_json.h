/*
 * JSON input: ClickEvent and ReviewEvent decoded from JSON objects for topics
 * that carry JSON today. A mapping names the JSON member that feeds each
 * record field, so the same decoder serves differently shaped sources.
 *
 * Ownership and errors are as for the Avro decoders in codec_events.h: the
 * event owns its strings (free with codec_click_clear / codec_review_clear),
 * and a failed decode leaves the event empty and fills err.
 */
#ifndef INTENTD_CODEC_JSON_H
#define INTENTD_CODEC_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "codec.h"
#include "codec_events.h"

typedef enum codec_time_unit {
    CODEC_TIME_MILLIS = 0, /* Unix epoch milliseconds */
    CODEC_TIME_SECONDS,    /* Unix epoch seconds, multiplied by 1000 */
} codec_time_unit_t;

/* A source action string and the action it means, e.g. {"pv", CODEC_ACTION_VIEW}. */
typedef struct codec_json_alias {
    const char *value;
    codec_action_t action;
} codec_json_alias_t;

/*
 * JSON member names per record field. A name may be a dotted path into nested
 * objects ("user.id"). NULL leaves a field unmapped: an unmapped nullable field
 * is null, and an unmapped required field makes every decode fail. The strings
 * are borrowed and must outlive the mapping's use.
 *
 * Accepted JSON types: ids (user_id, item_id, category_id, session_id) are
 * strings or integers, and integers become decimal strings. The action is a
 * string, matched first against action_aliases and then against the Action
 * symbols ignoring case. An action that matches neither is an error. The
 * timestamp is an integer in timestamp_unit, consent a boolean, rating an
 * integer from 1 to 5 and attributes an object of string values. JSON null
 * is Avro null.
 */
typedef struct codec_json_mapping {
    const char *user_id;     /* required */
    const char *item_id;     /* required */
    const char *category_id; /* required for reviews */
    const char *action;      /* required for clicks */
    const char *query;
    const char *timestamp;   /* required */
    const char *consent;
    const char *session_id;
    const char *attributes;
    const char *rating;
    const char *text;        /* required for reviews */
    const char *language;
    codec_time_unit_t timestamp_unit;
    const codec_json_alias_t *action_aliases;
    size_t action_alias_count;
} codec_json_mapping_t;

/* Fills mapping with the Avro field names, milliseconds and no aliases. */
void codec_json_mapping_default(codec_json_mapping_t *mapping);

/* Decodes one JSON object of len bytes (no NUL terminator needed). */
int codec_json_decode_click(const codec_json_mapping_t *mapping, const uint8_t *data, size_t len,
                            codec_click_event_t *event, codec_error_t *err);
int codec_json_decode_review(const codec_json_mapping_t *mapping, const uint8_t *data, size_t len,
                             codec_review_event_t *event, codec_error_t *err);

#endif
