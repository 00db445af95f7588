/*
 * Triggers and offers. For every touched user each rule is checked; a
 * candidate goes through the offer policy (consent, cooldown, cap, rate
 * limit, holdout), and a FIRED or HOLDOUT candidate gets its items from the
 * decoder by beam search and its message from the rule's template.
 *
 * Event and review rules raise candidates per event (app_triggers.c) with a
 * copy of the user's tokens and purchases of that moment, so neither their
 * decisions nor their contents depend on batching. Only the consent is read
 * at batch end, so that a withdrawal later in the batch stops the offer.
 * Propensity rules read the batch's intent and are judged once per touched
 * user, on the state at the end of the batch.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app.h"
#include "encoder.h"
#include "generate.h"
#include "head_quant.h"
#include "log.h"
#include "offer_setup.h"
#include "offer_template.h"
#include "tokenizer.h"

#define MESSAGE_BYTES 2048

/* A stable offer id: the same user, rule and event time always give the same
 * id, so a batch read again after an abort writes the same offer. */
static void offer_id(const struct state_user *user, const char *rule, int64_t event_ms, char out[32])
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < user->id_len; i++)
        h = (h ^ (unsigned char)user->id[i]) * 0x100000001b3ULL;
    h = (h ^ 0xff) * 0x100000001b3ULL;
    for (const char *p = rule; *p; p++)
        h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
    for (int i = 0; i < 8; i++)
        h = (h ^ (unsigned char)(event_ms >> (8 * i))) * 0x100000001b3ULL;
    snprintf(out, 32, "%016llx", (unsigned long long)h);
}

/* The best known category of an encoded window: the category head on its
 * pooled encoder output, hash buckets left out, as intents rank them.
 * Sets *category to its token, or -1. Returns 0, or -1 with app->error set. */
static int score_category(struct app *app, const float *hidden, int length, int32_t *category)
{
    const struct model *model = &app->bundle->model;
    const struct model_config *c = &model->config;
    const struct tokenizer *tok = app->bundle->tokenizer;
    int n_ranked = tok->layout.category_bucket_begin - tok->layout.category_begin;

    *category = -1;
    if (c->n_categories <= 0 || n_ranked <= 0)
        return 0;
    float lse = 0.0f;
    float *pooled = malloc(((size_t)c->d_model + (size_t)c->n_categories) * sizeof(float));
    int best = -1;
    if (!pooled) {
        snprintf(app->error, sizeof app->error, "out of memory scoring the category of an offer");
        return -1;
    }

    model_pool(c, hidden, length, pooled);
    model_category_logits_top(model, pooled, 1, pooled + c->d_model, &lse, 1, n_ranked, &best);
    free(pooled);
    if (best >= 0)
        *category = tok->layout.category_begin + best;
    return 0;
}

/* Encodes the basis window when the offer needs it: for the decoder's items
 * or for a category still to be scored. Sets *category and returns the
 * number of items written, or -1 with app->error set. Items come from beam
 * search over known items, never one the user bought, never a duplicate. */
static int build_contents(struct app *app, const struct state_user *user, const struct config_trigger *rule,
                          const struct app_offer_basis *basis, int32_t *items, int32_t *category)
{
    const struct model *model = &app->bundle->model;
    const struct model_config *c = &model->config;
    const struct tokenizer *tok = app->bundle->tokenizer;
    int want_items = offer_setup_wants_items(rule, c, tok);
    int want_category = basis->category == APP_CATEGORY_FROM_TOKENS;
    char error[MODEL_ERROR_SIZE];

    *category = want_category ? -1 : basis->category;
    int length = basis->n_tokens;
    if (length == 0 || (!want_items && !want_category))
        return 0;
    float *hidden = malloc((size_t)length * (size_t)c->d_model * sizeof(float));
    if (!hidden) {
        snprintf(app->error, sizeof app->error, "out of memory generating an offer");
        return -1;
    }
    if (model_encode(model, &app->arena, basis->tokens, &length, 1, length, hidden, NULL, error) != 0) {
        snprintf(app->error, sizeof app->error, "encoding user %s for an offer failed: %s", user->id, error);
        free(hidden);
        return -1;
    }
    if (want_category && score_category(app, hidden, length, category) != 0) {
        free(hidden);
        return -1;
    }
    if (!want_items) {
        free(hidden);
        return 0;
    }

    int n_items = offer_setup_items(model, &app->arena, tok, rule, hidden, length, basis->purchases,
                                    basis->n_purchases, items, error);
    free(hidden);
    if (n_items < 0)
        snprintf(app->error, sizeof app->error, "generating the offer of user %s failed: %s", user->id, error);
    return n_items;
}

static const char *template_text(const struct app *app, const struct config_trigger *rule, const char **language)
{
    for (size_t i = 0; i < rule->n_templates; i++) {
        if (strcmp(rule->templates[i].language, app->cfg->offers.language) == 0) {
            *language = rule->templates[i].language;
            return rule->templates[i].text;
        }
    }
    *language = rule->n_templates ? rule->templates[0].language : app->cfg->offers.language;
    return rule->n_templates ? rule->templates[0].text : "";
}

static int render_message(struct app *app, const struct config_trigger *rule, const struct state_user *user,
                          const char *const *item_ids, int n_items, const char *category, int64_t event_ms,
                          char *message, const char **language)
{
    struct offer_template tpl;
    char error[OFFER_TEMPLATE_ERROR_SIZE];
    char discount[32];
    size_t len = 0;

    snprintf(discount, sizeof discount, "%g", rule->discount_percent); /* templates write "{discount}%" */
    char expiry[32];
    time_t expires = (time_t)((event_ms + rule->expiry_ms) / 1000);
    struct tm expires_utc;
    gmtime_r(&expires, &expires_utc);
    strftime(expiry, sizeof expiry, "%Y-%m-%d %H:%M UTC", &expires_utc);
    if (offer_template_compile(&tpl, template_text(app, rule, language), error) != 0) {
        snprintf(app->error, sizeof app->error, "template of rule %s is invalid: %s", rule->name, error);
        return -1;
    }
    struct offer_template_values values = {
        .items = item_ids,
        .item_count = (size_t)n_items,
        .item_separator = NULL,
        .category = category,
        .discount = discount,
        .user = user->id,
        .expiry = expiry,
        .rule = rule->name,
    };
    if (offer_template_render(&tpl, &values, message, MESSAGE_BYTES, &len, error) < 0) {
        snprintf(app->error, sizeof app->error, "rendering rule %s failed: %s", rule->name, error);
        return -1;
    }
    return 0;
}

static int produce_offer(struct app *app, int r, struct app_touch *touch, int64_t event_ms, int holdout,
                         const struct app_offer_basis *basis)
{
    const struct config_trigger *rule = &app->cfg->triggers[r];
    const struct tokenizer *tok = app->bundle->tokenizer;
    struct state_user *user = touch->user;
    int32_t item_tokens[OFFER_MAX_ITEMS];
    const char *item_ids[OFFER_MAX_ITEMS];
    int32_t category_token = -1;

    int n_items = build_contents(app, user, rule, basis, item_tokens, &category_token);
    if (n_items < 0)
        return -1;
    for (int i = 0; i < n_items; i++)
        item_ids[i] = tokenizer_token_id(tok, item_tokens[i]);

    const char *category = category_token >= 0 ? tokenizer_token_id(tok, category_token) : NULL;
    char message[MESSAGE_BYTES];
    const char *language = NULL;
    if (render_message(app, rule, user, item_ids, n_items, category ? category : "", event_ms, message, &language) !=
        0)
        return -1;

    char id[32];
    offer_id(user, rule->name, event_ms, id);
    codec_source_offset_t offsets[APP_INPUT_COUNT];
    size_t n_offsets = 0;
    const char *topics[APP_INPUT_COUNT] = {app->cfg->topics.clickstream, app->cfg->topics.reviews,
                                           app->cfg->topics.consents};
    for (int i = 0; i < APP_INPUT_COUNT; i++) {
        if (basis->offsets[i] >= 0)
            offsets[n_offsets++] = (codec_source_offset_t){(char *)topics[i], user->partition, basis->offsets[i]};
    }

    codec_offer_t offer = {
        .offer_id = id,
        .user_id = user->id,
        .rule = rule->name,
        .items = (char **)item_ids,
        .item_count = (size_t)n_items,
        .offer_category = (char *)category,
        .message = message,
        .language = (char *)language,
        .discount_percent = (float)rule->discount_percent,
        .created_at_ms = event_ms,
        .expires_at_ms = event_ms + rule->expiry_ms,
        .holdout = holdout,
        .model_version = app->bundle->version,
        .source_offsets = offsets,
        .source_offset_count = n_offsets,
    };
    uint8_t *frame = NULL;
    size_t frame_len = 0;
    codec_error_t err;
    if (codec_encode_offer(app->codec, &offer, &frame, &frame_len, &err) != CODEC_OK) {
        snprintf(app->error, sizeof app->error, "encoding the offer of user %s failed: %s", user->id, err.message);
        return -1;
    }
    int result = app_produce(app, app->cfg->topics.offers, -1, user->id, user->id_len, frame, frame_len);
    free(frame);
    return result;
}

/* Runs a candidate through the policy and produces the offer if it passes. */
int app_offer_consider(struct app *app, int r, struct app_touch *touch, int64_t event_ms,
                       const struct app_offer_basis *basis)
{
    enum offer_outcome outcome = offer_policy_decide(app->policy, &app->rules[r], touch->user, event_ms);

    if (r < APP_MAX_RULES)
        app->counters.offers[r][outcome]++;
    if (outcome != OFFER_FIRED && outcome != OFFER_HOLDOUT)
        return 0;
    return produce_offer(app, r, touch, event_ms, outcome == OFFER_HOLDOUT, basis);
}

static int category_matches(const struct app *app, const struct config_condition *when, int32_t top_category)
{
    if (!when->category[0])
        return 1;
    const char *id = top_category >= 0 ? tokenizer_token_id(app->bundle->tokenizer, top_category) : NULL;
    return id && strcmp(id, when->category) == 0;
}

/* Propensity rules read the intent of this batch, so they are judged once
 * per touched user at the user's newest event time, and their offers are
 * built from the user's state at the end of the batch. */
static int check_propensity_rules(struct app *app, struct app_touch *touch)
{
    int32_t tokens[STATE_MAX_LEN_LIMIT];
    int32_t purchases[STATE_PURCHASES_MAX];
    struct app_offer_basis basis = {.tokens = tokens, .purchases = purchases, .offsets = touch->offsets,
                                    .category = touch->top_category};
    int have_basis = 0;

    for (size_t r = 0; r < app->cfg->n_triggers; r++) {
        const struct config_condition *when = &app->cfg->triggers[r].when;

        if (when->kind != CONFIG_COND_PROPENSITY_ABOVE || !touch->encoded)
            continue;
        if (touch->propensity <= when->propensity || !category_matches(app, when, touch->top_category))
            continue;
        if (!have_basis) {
            size_t window = (size_t)app->bundle->model.config.max_len;
            basis.n_tokens = (int)state_store_copy_tokens(app->store, touch->user, tokens, window);
            basis.n_purchases = (int)state_user_copy_purchases(touch->user, purchases);
            have_basis = 1;
        }
        if (app_offer_consider(app, (int)r, touch, touch->event_ms, &basis) != 0)
            return -1;
    }
    return 0;
}

int app_emit_offers(struct app *app)
{
    if (!app->cfg->offers.enabled)
        return 0;

    for (size_t i = 0; i < app->n_candidates; i++) {
        const struct app_candidate *c = &app->candidates[i];
        struct app_touch *touch = &app->touches[c->touch];
        struct app_offer_basis basis = {
            .tokens = app->candidate_tokens + c->tokens_at,
            .n_tokens = c->n_tokens,
            .purchases = c->purchases,
            .n_purchases = c->n_purchases,
            .offsets = c->offsets,
            .category = APP_CATEGORY_FROM_TOKENS,
        };
        if (!touch->erase && app_offer_consider(app, c->rule, touch, c->event_ms, &basis) != 0)
            return -1;
    }

    for (size_t i = 0; i < app->n_touches; i++) {
        if (!app->touches[i].erase && check_propensity_rules(app, &app->touches[i]) != 0)
            return -1;
    }
    return 0;
}
