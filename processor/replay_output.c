#include "replay_output.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

/* Config action of each codec action, for the schemas.json.action_values
 * strings. SEARCH and UNKNOWN have no Taobao-style alias of their own. */
static const int config_action_of[CODEC_ACTION_COUNT] = {
    [CODEC_ACTION_UNKNOWN] = -1,
    [CODEC_ACTION_VIEW] = CONFIG_ACTION_VIEW,
    [CODEC_ACTION_CLICK] = CONFIG_ACTION_CLICK,
    [CODEC_ACTION_FAVOURITE] = CONFIG_ACTION_FAVOURITE,
    [CODEC_ACTION_ADD_TO_CART] = CONFIG_ACTION_CART,
    [CODEC_ACTION_PURCHASE] = CONFIG_ACTION_PURCHASE,
    [CODEC_ACTION_SEARCH] = CONFIG_ACTION_SEARCH,
};

/* Sets value at a dotted path ("user.id") in root, creating the objects on
 * the way. Takes over value. An empty path means unmapped: value is
 * dropped. Returns 0, or -1 when a path segment is not an object. */
static int set_path(json_t *root, const char *path, json_t *value)
{
    char segment[256];
    json_t *node = root;

    if (!value)
        return -1;
    if (!path || !path[0]) {
        json_decref(value);
        return 0;
    }
    for (const char *dot; (dot = strchr(path, '.')) != NULL; path = dot + 1) {
        snprintf(segment, sizeof segment, "%.*s", (int)(dot - path), path);
        json_t *child = json_object_get(node, segment);
        if (!child) {
            child = json_object();
            json_object_set_new(node, segment, child);
        }
        if (!json_is_object(child)) {
            json_decref(value);
            return -1;
        }
        node = child;
    }
    return json_object_set_new(node, path, value);
}

static json_t *time_value(const struct config_json_fields *f, int64_t ms)
{
    return json_integer(f->timestamp_in_seconds ? ms / 1000 : ms);
}

static json_t *consent_value(codec_consent_t consent)
{
    return consent == CODEC_CONSENT_UNKNOWN ? json_null() : json_boolean(consent == CODEC_CONSENT_GIVEN);
}

static int build_click(const struct config_json_fields *f, const codec_click_event_t *c, json_t *root)
{
    int config_action = config_action_of[c->action];
    const char *action = config_action >= 0 && f->action_values[config_action] && f->action_values[config_action][0]
                             ? f->action_values[config_action]
                             : codec_action_symbol(c->action);
    int rc = set_path(root, f->user_id, json_string(c->user_id));

    rc |= set_path(root, f->item_id, json_string(c->item_id));
    rc |= set_path(root, f->category_id, c->category_id ? json_string(c->category_id) : json_null());
    rc |= set_path(root, f->action, json_string(action ? action : "UNKNOWN"));
    rc |= set_path(root, f->timestamp, time_value(f, c->timestamp_ms));
    if (c->query)
        rc |= set_path(root, f->query, json_string(c->query));
    if (c->consent != CODEC_CONSENT_UNKNOWN)
        rc |= set_path(root, f->consent, consent_value(c->consent));
    return rc;
}

static int build_review(const struct config_json_fields *f, const codec_review_event_t *r, json_t *root)
{
    int rc = set_path(root, f->user_id, json_string(r->user_id));

    rc |= set_path(root, f->item_id, json_string(r->item_id));
    rc |= set_path(root, f->category_id, json_string(r->category_id));
    rc |= set_path(root, f->text, json_string(r->text));
    rc |= set_path(root, f->rating, r->has_rating ? json_integer(r->rating) : json_null());
    rc |= set_path(root, f->timestamp, time_value(f, r->timestamp_ms));
    if (r->consent != CODEC_CONSENT_UNKNOWN)
        rc |= set_path(root, f->consent, consent_value(r->consent));
    return rc;
}

static int encode_json(const struct intentd_config *cfg, const struct replay_event *e, uint8_t **buf, size_t *len,
                       char *error)
{
    const struct config_json_fields *f = &cfg->schemas.json;
    json_t *root = json_object();

    if (!root || (e->kind == REPLAY_CLICK ? build_click(f, &e->u.click, root) : build_review(f, &e->u.review, root))) {
        json_decref(root);
        snprintf(error, REPLAY_ERROR_SIZE, "cannot build the JSON record of user %.100s: the schemas.json paths "
                 "overlap (one path is a prefix of another) or memory ran out", replay_event_user(e));
        return -1;
    }
    char *text = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (!text) {
        snprintf(error, REPLAY_ERROR_SIZE, "out of memory encoding JSON");
        return -1;
    }
    *buf = (uint8_t *)text;
    *len = strlen(text);
    return 0;
}

int replay_output_encode(const struct intentd_config *cfg, const codec_t *codec, const struct replay_event *e,
                         uint8_t **buf, size_t *len, char *error)
{
    codec_error_t err;

    if (cfg->schemas.format == CONFIG_FORMAT_JSON)
        return encode_json(cfg, e, buf, len, error);

    int rc = e->kind == REPLAY_CLICK ? codec_encode_click(codec, &e->u.click, buf, len, &err)
                                     : codec_encode_review(codec, &e->u.review, buf, len, &err);
    if (rc != CODEC_OK) {
        snprintf(error, REPLAY_ERROR_SIZE, "encoding the %s of user %.100s failed: %.200s",
                 e->kind == REPLAY_CLICK ? "ClickEvent" : "ReviewEvent", replay_event_user(e), err.message);
        return -1;
    }
    return 0;
}

int replay_output_check_json(const struct intentd_config *cfg, enum replay_kind kind, char *error)
{
    const struct config_json_fields *f = &cfg->schemas.json;
    const char *missing = NULL;

    if (!f->user_id[0])
        missing = "user_id";
    else if (!f->item_id[0])
        missing = "item_id";
    else if (!f->timestamp[0])
        missing = "timestamp";
    if (!missing && kind == REPLAY_CLICK && !f->action[0])
        missing = "action";
    if (!missing && kind == REPLAY_REVIEW && !f->category_id[0])
        missing = "category_id";
    if (!missing && kind == REPLAY_REVIEW && !f->text[0])
        missing = "text";
    if (missing) {
        snprintf(error, REPLAY_ERROR_SIZE, "schemas.json.%s is empty, so JSON %s records would lack it; set a path "
                 "for it in the config", missing, kind == REPLAY_CLICK ? "clickstream" : "review");
        return -1;
    }
    return 0;
}
