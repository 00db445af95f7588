/*
 * Consent records of the consents topic, in Avro (io.intentd.Consent) or in
 * JSON through schemas.json.consent and schemas.json.opt_out. A user may get
 * offers only while marketing_consent is true and personalised_opt_out false.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "app_event.h"

#define CONSENT_RECORD "io.intentd.Consent"

static enum app_dead_letter_reason decode_avro(const codec_t *codec, const rd_kafka_message_t *record,
                                               struct app_decoded_event *d, char *detail, size_t detail_size)
{
    avro_value_t value, field;
    codec_error_t err;
    const char *user = NULL;
    size_t user_size = 0;
    int marketing = 0, opt_out = 0;
    int64_t updated = 0;

    if (codec_decode_value(codec, record->payload, record->len, CONSENT_RECORD, &value, NULL, &err) != CODEC_OK) {
        snprintf(detail, detail_size, "%s", err.message);
        return err.status == CODEC_ERR_FRAME ? APP_DLQ_FRAME
               : err.status == CODEC_ERR_SCHEMA_ID ? APP_DLQ_UNKNOWN_SCHEMA
               : err.status == CODEC_ERR_RESOLVE   ? APP_DLQ_INCOMPATIBLE_SCHEMA
                                                   : APP_DLQ_MALFORMED_BODY;
    }
    if (avro_value_get_by_name(&value, "user_id", &field, NULL) == 0)
        avro_value_get_string(&field, &user, &user_size);
    if (avro_value_get_by_name(&value, "marketing_consent", &field, NULL) == 0)
        avro_value_get_boolean(&field, &marketing);
    if (avro_value_get_by_name(&value, "personalised_opt_out", &field, NULL) == 0)
        avro_value_get_boolean(&field, &opt_out);
    if (avro_value_get_by_name(&value, "updated_at", &field, NULL) == 0)
        avro_value_get_long(&field, &updated);

    d->consent_user = strdup(user ? user : "");
    avro_value_decref(&value);
    if (!d->consent_user) {
        snprintf(detail, detail_size, "out of memory");
        return APP_DLQ_MALFORMED_BODY;
    }
    d->event.consent = marketing && !opt_out;
    d->event.timestamp_ms = updated;
    return APP_DLQ_NONE;
}

/* Follows a dotted member path ("user.id") from root. */
static json_t *lookup(json_t *root, const char *path)
{
    char part[256];
    json_t *node = root;

    while (node && path && *path) {
        const char *dot = strchr(path, '.');
        size_t n = dot ? (size_t)(dot - path) : strlen(path);
        if (n >= sizeof part)
            return NULL;
        memcpy(part, path, n);
        part[n] = '\0';
        node = json_is_object(node) ? json_object_get(node, part) : NULL;
        path = dot ? dot + 1 : NULL;
    }
    return node;
}

static enum app_dead_letter_reason decode_json(const struct intentd_config *cfg, const rd_kafka_message_t *record,
                                               struct app_decoded_event *d, char *detail, size_t detail_size)
{
    const struct config_json_fields *f = &cfg->schemas.json;
    json_error_t jerr;
    json_t *root = json_loadb(record->payload, record->len, JSON_REJECT_DUPLICATES, &jerr);

    if (!root || !json_is_object(root)) {
        snprintf(detail, detail_size, "invalid JSON consent record at byte %d: %s", jerr.position,
                 root ? "not an object" : jerr.text);
        json_decref(root);
        return APP_DLQ_MALFORMED_BODY;
    }

    json_t *user = lookup(root, f->user_id);
    json_t *consent = lookup(root, f->consent);
    json_t *opt_out = f->opt_out[0] ? lookup(root, f->opt_out) : NULL;
    json_t *time = lookup(root, f->timestamp);
    if (!json_is_boolean(consent) || (opt_out && !json_is_boolean(opt_out))) {
        snprintf(detail, detail_size, "consent record needs boolean %s%s%s", f->consent, f->opt_out[0] ? " and " : "",
                 f->opt_out);
        json_decref(root);
        return APP_DLQ_MALFORMED_BODY;
    }

    d->consent_user = strdup(json_is_string(user) ? json_string_value(user) : "");
    d->event.consent = json_is_true(consent) && !(opt_out && json_is_true(opt_out));
    d->event.timestamp_ms = json_is_integer(time) ? (int64_t)json_integer_value(time) : 0;
    if (f->timestamp_in_seconds)
        d->event.timestamp_ms *= 1000;
    json_decref(root);
    return d->consent_user ? APP_DLQ_NONE : APP_DLQ_MALFORMED_BODY;
}

enum app_dead_letter_reason app_decode_consent(const struct intentd_config *cfg, const codec_t *codec,
                                               const rd_kafka_message_t *record, struct app_decoded_event *d,
                                               char *detail, size_t detail_size)
{
    enum app_dead_letter_reason reason = cfg->schemas.format == CONFIG_FORMAT_JSON
                                             ? decode_json(cfg, record, d, detail, detail_size)
                                             : decode_avro(codec, record, d, detail, detail_size);
    if (reason != APP_DLQ_NONE)
        return reason;

    struct app_event *e = &d->event;
    e->kind = APP_EVENT_CONSENT;
    e->user_id = d->consent_user;
    e->user_id_len = strlen(d->consent_user);
    e->action = CONFIG_ACTION_COUNT;
    e->item_id = "";
    e->category_id = "";
    e->text = "";
    return APP_DLQ_NONE;
}
