/*
 * JSON input records, read through the field mapping of schemas.json.
 */
#include <stdio.h>
#include <string.h>

#include "app_event.h"
#include "codec_json.h"

static const char *mapped(const char *path)
{
    return path && path[0] ? path : NULL;
}

static const codec_action_t codec_actions[CONFIG_ACTION_COUNT] = {
    [CONFIG_ACTION_VIEW] = CODEC_ACTION_VIEW,         [CONFIG_ACTION_CLICK] = CODEC_ACTION_CLICK,
    [CONFIG_ACTION_FAVOURITE] = CODEC_ACTION_FAVOURITE, [CONFIG_ACTION_CART] = CODEC_ACTION_ADD_TO_CART,
    [CONFIG_ACTION_PURCHASE] = CODEC_ACTION_PURCHASE, [CONFIG_ACTION_SEARCH] = CODEC_ACTION_SEARCH,
    [CONFIG_ACTION_REVIEW] = CODEC_ACTION_UNKNOWN,
};

/* Builds the codec mapping from the config; aliases[] receives the action
 * strings of the input. */
static void build_mapping(const struct config_json_fields *f, codec_json_mapping_t *m,
                          codec_json_alias_t aliases[CONFIG_ACTION_COUNT])
{
    size_t n_aliases = 0;

    codec_json_mapping_default(m);
    m->user_id = mapped(f->user_id);
    m->item_id = mapped(f->item_id);
    m->category_id = mapped(f->category_id);
    m->action = mapped(f->action);
    m->query = mapped(f->query);
    m->timestamp = mapped(f->timestamp);
    m->consent = mapped(f->consent);
    m->rating = mapped(f->rating);
    m->text = mapped(f->text);
    m->session_id = NULL;
    m->attributes = NULL;
    m->language = NULL;
    m->timestamp_unit = f->timestamp_in_seconds ? CODEC_TIME_SECONDS : CODEC_TIME_MILLIS;

    for (int a = 0; a < CONFIG_ACTION_COUNT; a++) {
        if (f->action_values[a] && f->action_values[a][0] && codec_actions[a] != CODEC_ACTION_UNKNOWN)
            aliases[n_aliases++] = (codec_json_alias_t){f->action_values[a], codec_actions[a]};
    }
    m->action_aliases = aliases;
    m->action_alias_count = n_aliases;
}

enum app_dead_letter_reason app_decode_json(const struct intentd_config *cfg, enum app_event_kind kind,
                                            const rd_kafka_message_t *record, struct app_decoded_event *decoded,
                                            char *detail, size_t detail_size)
{
    codec_json_mapping_t mapping;
    codec_json_alias_t aliases[CONFIG_ACTION_COUNT];
    codec_error_t err;

    build_mapping(&cfg->schemas.json, &mapping, aliases);
    if (kind == APP_EVENT_CLICK) {
        if (codec_json_decode_click(&mapping, record->payload, record->len, &decoded->click, &err) != CODEC_OK)
            goto invalid;
        decoded->has_click = 1;
        return app_fill_click(decoded, detail, detail_size);
    }
    if (codec_json_decode_review(&mapping, record->payload, record->len, &decoded->review, &err) != CODEC_OK)
        goto invalid;
    decoded->has_review = 1;
    return app_fill_review(decoded);

invalid:
    snprintf(detail, detail_size, "%s", err.message);
    /* codec_json names the schema field in parentheses, whatever the JSON path */
    if (strstr(err.message, "(field user_id)"))
        return APP_DLQ_MISSING_USER_ID;
    if (strstr(err.message, "action"))
        return APP_DLQ_UNKNOWN_ACTION;
    if (strstr(err.message, "rating"))
        return APP_DLQ_INVALID_RATING;
    return APP_DLQ_MALFORMED_BODY;
}
