/*
 * Intake of one input record: tombstones, consent records, events. Bad input
 * goes to the dead-letter topic; a good event is tokenized into its user's
 * state inside the open batch.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "app_dead_letter.h"
#include "log.h"
#include "tokenizer.h"

/* Text tokens kept per review or search query. The default model was trained
 * on up to 59 per review (0.921 sentiment accuracy, 0.884 at 16 tokens);
 * 48 keeps most of that while leaving room for history in a 64-token window. */
#define MAX_TEXT_TOKENS 48

int app_input_of(const struct app *app, const char *topic)
{
    const struct intentd_config *cfg = app->cfg;

    if (strcmp(topic, cfg->topics.clickstream) == 0)
        return APP_INPUT_CLICKSTREAM;
    if (strcmp(topic, cfg->topics.reviews) == 0)
        return APP_INPUT_REVIEWS;
    if (cfg->topics.consents[0] && strcmp(topic, cfg->topics.consents) == 0)
        return APP_INPUT_CONSENTS;
    return -1;
}

/* Returns the user's touch entry of this batch, saving its undo state and
 * marking it dirty on first touch. NULL with app->error set on failure. */
struct app_touch *app_touch_user(struct app *app, const char *id, size_t id_len, int32_t partition)
{
    int created = 0;
    char error[STATE_ERROR_SIZE];
    struct state_user *user = state_store_upsert(app->store, id, id_len, partition, &created, error);
    if (!user) {
        snprintf(app->error, sizeof app->error, "user state: %s", error);
        return NULL;
    }
    if (user->dirty_pos != STATE_NIL)
        return &app->touches[user->dirty_pos];

    if (app_undo_save(&app->undo, user, created) != 0 || state_store_mark_dirty(app->store, user) != 0) {
        snprintf(app->error, sizeof app->error, "out of memory tracking the batch");
        return NULL;
    }
    if (app->n_touches == app->touches_capacity) {
        size_t capacity = app->touches_capacity ? app->touches_capacity * 2 : 1024;
        struct app_touch *grown = realloc(app->touches, capacity * sizeof *grown);
        if (!grown) {
            snprintf(app->error, sizeof app->error, "out of memory tracking the batch");
            return NULL;
        }
        app->touches = grown;
        app->touches_capacity = capacity;
    }

    struct app_touch *touch = &app->touches[app->n_touches++];
    memset(touch, 0, sizeof *touch);
    touch->user = user;
    touch->top_category = -1;
    for (int i = 0; i < APP_INPUT_COUNT; i++)
        touch->offsets[i] = -1;
    return touch;
}

static enum tokenizer_action tokenizer_action_of(enum config_action action)
{
    /* config_action and tokenizer_action list the same actions in the same order. */
    return (enum tokenizer_action)action;
}

/* A consent record changes only the user's consent. */
static int apply_consent(struct app *app, int input, const rd_kafka_message_t *record, const struct app_event *e)
{
    struct app_touch *touch = app_touch_user(app, e->user_id, e->user_id_len, record->partition);
    if (!touch)
        return -1;
    touch->user->consent = e->consent ? STATE_CONSENT_GRANTED : STATE_CONSENT_DENIED;
    touch->offsets[input] = record->offset;
    return 0;
}

static int apply_event(struct app *app, int input, const rd_kafka_message_t *record, const struct app_event *e)
{
    if (e->kind == APP_EVENT_CONSENT)
        return apply_consent(app, input, record, e);
    if (input == APP_INPUT_CLICKSTREAM && app_triggers_advance(app, record->partition, e->timestamp_ms, record->offset) != 0)
        return -1;

    const struct tokenizer *tok = app->bundle->tokenizer;
    struct app_touch *touch = app_touch_user(app, e->user_id, e->user_id_len, record->partition);
    if (!touch)
        return -1;
    struct state_user *user = touch->user;

    struct tokenizer_event event = {
        .action = tokenizer_action_of(e->action),
        .category_id = e->category_id[0] ? e->category_id : NULL,
        .item_id = e->item_id[0] ? e->item_id : NULL,
        .rating = e->rating,
        .sentiment = -1,
        .text = e->text[0] ? e->text : NULL,
        .text_len = strlen(e->text),
    };
    int32_t tokens[TOKENIZER_EVENT_FIXED_TOKENS + MAX_TEXT_TOKENS];
    size_t n_tokens = 0;
    char error[MODEL_ERROR_SIZE];
    if (tokenizer_encode_event(tok, &event, MAX_TEXT_TOKENS, tokens, sizeof tokens / sizeof tokens[0], &n_tokens,
                               error) != 0) {
        snprintf(app->error, sizeof app->error, "tokenizing %s/%d@%lld failed: %s", rd_kafka_topic_name(record->rkt),
                 (int)record->partition, (long long)record->offset, error);
        return -1;
    }
    state_store_push_tokens(app->store, user, tokens, n_tokens);

    if (e->action == CONFIG_ACTION_PURCHASE && event.item_id)
        state_user_add_purchase(user, tokenizer_item_token(tok, event.item_id));
    if (e->consent >= 0)
        user->consent = e->consent ? STATE_CONSENT_GRANTED : STATE_CONSENT_DENIED;
    if (e->kind == APP_EVENT_REVIEW && e->rating > 0)
        user->sentiment = e->rating >= 4 ? 1 : (e->rating <= 2 ? 0 : user->sentiment);
    if (e->timestamp_ms > user->last_event_ms)
        user->last_event_ms = e->timestamp_ms;
    if (e->timestamp_ms > user->last_action_ms[e->action])
        user->last_action_ms[e->action] = e->timestamp_ms;

    touch->offsets[input] = record->offset;
    touch->actions |= 1u << e->action;
    if (e->timestamp_ms > touch->event_ms)
        touch->event_ms = e->timestamp_ms;
    if (e->rating > 0 && (touch->min_rating == 0 || e->rating < touch->min_rating))
        touch->min_rating = e->rating;
    if (e->timestamp_ms > app->stream_time_ms)
        app->stream_time_ms = e->timestamp_ms;
    return app_offer_on_event(app, (size_t)(touch - app->touches), e, input, record->offset);
}

/* A tombstone keyed by a user id on an event topic erases that user (the
 * usual meaning of a tombstone, and how a deletion request reaches intentd);
 * on the consent topic it clears the consent record. */
static int apply_tombstone(struct app *app, int input, const rd_kafka_message_t *record)
{
    app->counters.tombstones[input]++;
    if (!record->key || record->key_len == 0 || record->key_len > STATE_USER_ID_MAX) {
        log_warn("tombstone without a usable key skipped topic=%s partition=%d offset=%lld",
                 rd_kafka_topic_name(record->rkt), (int)record->partition, (long long)record->offset);
        return 0;
    }

    struct app_touch *touch = app_touch_user(app, record->key, record->key_len, record->partition);
    if (!touch)
        return -1;
    struct state_user *user = touch->user;
    if (input == APP_INPUT_CONSENTS) {
        user->consent = STATE_CONSENT_UNKNOWN;
    } else {
        /* Keep the record until the batch commits; the changelog step writes
         * its tombstone and then removes it. */
        user->token_count = 0;
        user->purchase_count = 0;
        touch->erase = 1;
    }
    touch->offsets[input] = record->offset;
    return 0;
}

static int dead_letter(struct app *app, const rd_kafka_message_t *record, enum app_dead_letter_reason reason,
                       const char *detail)
{
    app->counters.dead_letters[reason]++;
    log_debug("dead-lettered record reason=%s topic=%s partition=%d offset=%lld detail=\"%s\"",
              app_dead_letter_reason_name(reason), rd_kafka_topic_name(record->rkt), (int)record->partition,
              (long long)record->offset, detail);
    return app_dead_letter_produce(stream_loop_producer(app->loop), app->cfg->topics.dead_letter, record, reason,
                                   detail, app->error, sizeof app->error);
}

int app_on_record(void *ctx, const rd_kafka_message_t *record)
{
    struct app *app = ctx;
    int input = app_input_of(app, rd_kafka_topic_name(record->rkt));
    if (input < 0) {
        snprintf(app->error, sizeof app->error, "record from unexpected topic %s", rd_kafka_topic_name(record->rkt));
        return -1;
    }

    /* With a schema registry, a record whose schema cannot be fetched yet
     * stays unprocessed, and so does the rest of its partition. */
    const codec_t *codec = app->codec;
    char detail[512];
    enum app_dead_letter_reason reason = APP_DLQ_NONE;
    if (app->registry) {
        enum app_registry_admission admission =
            app_registry_admit(app->registry, app->loop, record, &codec, &reason, detail, sizeof detail);
        if (admission == APP_REGISTRY_DEFER)
            return 1;
        if (admission == APP_REGISTRY_DEAD_LETTER) {
            app->counters.records[input]++;
            return dead_letter(app, record, reason, detail);
        }
    }
    app->counters.records[input]++;

    if (record->payload == NULL)
        return apply_tombstone(app, input, record);

    static const enum app_event_kind kinds[APP_INPUT_COUNT] = {APP_EVENT_CLICK, APP_EVENT_REVIEW, APP_EVENT_CONSENT};
    struct app_decoded_event decoded;
    reason = app_decode_event(app->cfg, codec, kinds[input], record, &decoded, detail, sizeof detail);
    if (reason != APP_DLQ_NONE)
        return dead_letter(app, record, reason, detail);

    int result = apply_event(app, input, record, &decoded.event);
    app_decoded_event_clear(&decoded);
    return result;
}
