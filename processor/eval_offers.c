/*
 * Offer simulation of `intentd eval`: the trigger rules of the config raise
 * candidates as app_triggers.c and app_offer.c do, the offer policy judges
 * them, and each FIRED or HOLDOUT offer (up to max_offers) gets its items
 * from the decoder. An offer hits when the user views, clicks, carts or buys
 * one of its items within hit_window_ms after it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "offer_setup.h"
#include "encoder.h"
#include "eval_internal.h"
#include "generate.h"


int eval_offers_open(struct eval_context *ctx, char *error)
{
    const struct intentd_config *cfg = ctx->options->cfg;
    struct offer_policy_options options;
    char message[OFFER_ERROR_SIZE];

    if (!cfg)
        return 0;
    if (cfg->n_triggers > EVAL_MAX_RULES) {
        snprintf(error, EVAL_ERROR_SIZE, "%zu trigger rules configured, at most %d are supported", cfg->n_triggers,
                 EVAL_MAX_RULES);
        return -1;
    }

    offer_setup_policy_options(cfg, &options);
    ctx->policy = offer_policy_new(&options, message);
    if (!ctx->policy) {
        snprintf(error, EVAL_ERROR_SIZE, "offer policy: %s", message);
        return -1;
    }

    ctx->result->n_rules = cfg->n_triggers;
    for (size_t r = 0; r < cfg->n_triggers; r++) {
        const struct config_trigger *t = &cfg->triggers[r];
        offer_setup_rule(t, &ctx->rules[r]);
        if (offer_rule_validate(&ctx->rules[r], message) != 0) {
            snprintf(error, EVAL_ERROR_SIZE, "trigger rule %s: %s", t->name, message);
            return -1;
        }
        snprintf(ctx->result->rules[r].name, EVAL_NAME_SIZE, "%s", t->name);
        if (t->when.kind == CONFIG_COND_PROPENSITY_ABOVE)
            ctx->has_propensity_rules = 1;
    }
    return 0;
}

void eval_offers_close(struct eval_context *ctx)
{
    offer_policy_free(ctx->policy);
    ctx->policy = NULL;
    app_timers_free(&ctx->timers);
}

int eval_encode_user(struct eval_context *ctx, const struct state_user *user, float *hidden, float *pooled,
                     char *error)
{
    const struct model *model = &ctx->bundle->model;
    int32_t sequence[STATE_MAX_LEN_LIMIT];
    char message[MODEL_ERROR_SIZE];

    int length = (int)state_store_copy_tokens(ctx->store, user, sequence, (size_t)ctx->max_len);
    if (length == 0)
        return 0;
    if (model_encode(model, &ctx->arena, sequence, &length, 1, length, hidden, pooled, message) != 0) {
        snprintf(error, EVAL_ERROR_SIZE, "encoding user %s failed: %s", user->id, message);
        return -1;
    }
    return length;
}

/* Generates the offer's items with the live job's offer_setup_items: beam
 * search over known items, no item the user bought, no repeats. Returns the
 * count, or -1. */
static int generate_items(struct eval_context *ctx, const struct state_user *user, const struct config_trigger *rule,
                          int32_t *items, char *error)
{
    const struct model *model = &ctx->bundle->model;
    const struct model_config *c = &model->config;
    const struct tokenizer *tok = ctx->bundle->tokenizer;
    char message[MODEL_ERROR_SIZE];

    if (!offer_setup_wants_items(rule, c, tok))
        return 0;
    float *hidden = malloc((size_t)ctx->max_len * (size_t)c->d_model * sizeof(float));
    if (!hidden) {
        snprintf(error, EVAL_ERROR_SIZE, "out of memory generating an offer");
        return -1;
    }
    int length = eval_encode_user(ctx, user, hidden, NULL, error);
    if (length <= 0) {
        free(hidden);
        return length;
    }

    int32_t purchases[STATE_PURCHASES_MAX];
    int n_purchases = (int)state_user_copy_purchases(user, purchases);
    int n_items = offer_setup_items(model, &ctx->arena, tok, rule, hidden, length, purchases, n_purchases, items,
                                    message);
    free(hidden);
    if (n_items < 0)
        snprintf(error, EVAL_ERROR_SIZE, "generating the offer of user %s failed: %s", user->id, message);
    return n_items;
}

/* Returns 1 if the user views, clicks, carts or buys one of items within
 * (offer_ms, offer_ms + hit_window_ms]. */
static int offer_hit(const struct eval_context *ctx, uint32_t u, int64_t offer_ms, const int32_t *items, int n_items)
{
    const struct eval_stream *s = &ctx->stream;

    for (size_t j = s->user_begin[u]; j < s->user_begin[u + 1]; j++) {
        size_t i = s->order[j];
        int64_t t = replay_event_time_ms(&ctx->events->items[i]);
        if (t <= offer_ms)
            continue;
        if (t > offer_ms + ctx->options->hit_window_ms)
            break;
        int a = s->action[i];
        if (a != TOKENIZER_ACTION_VIEW && a != TOKENIZER_ACTION_CLICK && a != TOKENIZER_ACTION_ADD_TO_CART &&
            a != TOKENIZER_ACTION_PURCHASE)
            continue;
        for (int k = 0; k < n_items; k++) {
            if (items[k] == s->item[i])
                return 1;
        }
    }
    return 0;
}

/* Runs one candidate through the policy; a FIRED or HOLDOUT offer gets its
 * items and its hit is looked up. u is the user's stream index. */
static int judge(struct eval_context *ctx, int r, struct state_user *user, uint32_t u, int64_t event_ms, char *error)
{
    struct eval_rule_result *rr = &ctx->result->rules[r];
    int32_t items[OFFER_MAX_ITEMS];

    rr->candidates++;
    enum offer_outcome outcome = offer_policy_decide(ctx->policy, &ctx->rules[r], user, event_ms);
    rr->outcomes[outcome]++;
    if (outcome != OFFER_FIRED && outcome != OFFER_HOLDOUT)
        return 0;
    if (++ctx->offers_made > ctx->options->max_offers) {
        ctx->result->offers_skipped++;
        return 0;
    }
    int n_items = generate_items(ctx, user, &ctx->options->cfg->triggers[r], items, error);
    if (n_items < 0)
        return -1;
    int group = outcome == OFFER_HOLDOUT;
    rr->generated[group]++;
    rr->hits[group] += (uint64_t)offer_hit(ctx, u, event_ms, items, n_items);
    return 0;
}

int eval_offers_advance(struct eval_context *ctx, size_t i, char *error)
{
    int64_t now = replay_event_time_ms(&ctx->events->items[i]);
    struct app_timer timer;

    if (!ctx->policy || now <= ctx->stream_time_ms)
        return 0;
    ctx->stream_time_ms = now;

    /* Strictly before now, as app_triggers.c: an absent action at exactly
     * the deadline still counts as inside the window. */
    while (app_timers_pop_due(&ctx->timers, now - 1, &timer)) {
        const struct config_condition *when = &ctx->options->cfg->triggers[timer.rule].when;
        struct state_user *user = state_store_find(ctx->store, timer.id, timer.id_len);
        if (!user)
            continue;
        int64_t started = user->last_action_ms[when->event];
        if (started <= 0 || started + when->within_ms != timer.deadline_ms ||
            user->last_action_ms[when->absent] >= started)
            continue;

        uint32_t u = user->slot < ctx->n_slots ? ctx->slot_user[user->slot] : UINT32_MAX;
        if (u != UINT32_MAX && judge(ctx, timer.rule, user, u, timer.deadline_ms, error) != 0)
            return -1;
    }
    return 0;
}

/* Purchase propensity and top known category of user after its event. */
static int intent_of(struct eval_context *ctx, const struct state_user *user, float *propensity, int32_t *category,
                     char *error)
{
    const struct model_config *c = &ctx->bundle->model.config;
    const struct tokenizer *tok = ctx->bundle->tokenizer;
    float *pooled = malloc((size_t)c->d_model * sizeof(float));
    float *categories = malloc((size_t)(c->n_categories > 0 ? c->n_categories : 1) * sizeof(float));
    int rc = -1;

    if (!pooled || !categories) {
        snprintf(error, EVAL_ERROR_SIZE, "out of memory scoring a propensity rule");
        goto done;
    }
    if (eval_encode_user(ctx, user, NULL, pooled, error) < 0)
        goto done;
    struct model_head_outputs out = {.category_logits = categories, .propensity = propensity};
    model_heads(&ctx->bundle->model, pooled, 1, &out);
    int n_known = tok->layout.category_bucket_begin - tok->layout.category_begin;
    *category = -1;
    for (int k = 0; k < n_known && k < c->n_categories; k++) {
        if (*category < 0 || categories[k] > categories[*category - tok->layout.category_begin])
            *category = tok->layout.category_begin + k;
    }
    rc = 0;
done:
    free(pooled);
    free(categories);
    return rc;
}

/* NOTE: the processor judges propensity rules once per user per batch, on
 * the batch's last event of that user; here they are judged after every
 * event, which equals the processor with batches of one event. */
static int check_propensity_rules(struct eval_context *ctx, struct state_user *user, uint32_t u, int64_t event_ms,
                                  char *error)
{
    const struct intentd_config *cfg = ctx->options->cfg;
    float propensity = 0.0f;
    int32_t category = -1;

    if (intent_of(ctx, user, &propensity, &category, error) != 0)
        return -1;
    for (size_t r = 0; r < cfg->n_triggers; r++) {
        const struct config_condition *when = &cfg->triggers[r].when;
        if (when->kind != CONFIG_COND_PROPENSITY_ABOVE || propensity <= when->propensity)
            continue;
        const char *id = category >= 0 ? tokenizer_token_id(ctx->bundle->tokenizer, category) : NULL;
        if (when->category[0] && !(id && strcmp(id, when->category) == 0))
            continue;
        if (judge(ctx, (int)r, user, u, event_ms, error) != 0)
            return -1;
    }
    return 0;
}

int eval_offers_on_event(struct eval_context *ctx, size_t i, struct state_user *user, char *error)
{
    const struct intentd_config *cfg = ctx->options->cfg;
    const struct replay_event *e = &ctx->events->items[i];
    int64_t time_ms = replay_event_time_ms(e);
    enum tokenizer_action action = eval_event_action(e);
    uint32_t u = ctx->stream.user[i];

    if (!ctx->policy)
        return 0;
    for (size_t r = 0; r < cfg->n_triggers; r++) {
        const struct config_condition *when = &cfg->triggers[r].when;
        if (when->kind == CONFIG_COND_EVENT && (int)when->event == (int)action) {
            if (!when->has_absent) {
                if (judge(ctx, (int)r, user, u, time_ms, error) != 0)
                    return -1;
            } else if (app_timers_push(&ctx->timers, time_ms + when->within_ms, (int32_t)r, user->id, user->id_len) !=
                       0) {
                snprintf(error, EVAL_ERROR_SIZE, "out of memory arming a timer");
                return -1;
            }
        } else if (when->kind == CONFIG_COND_REVIEW_RATING_AT_MOST && e->kind == REPLAY_REVIEW &&
                   e->u.review.has_rating && e->u.review.rating <= when->rating) {
            if (judge(ctx, (int)r, user, u, time_ms, error) != 0)
                return -1;
        }
    }
    return ctx->has_propensity_rules ? check_propensity_rules(ctx, user, u, time_ms, error) : 0;
}
