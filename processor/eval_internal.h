/*
 * State shared by the parts of one eval run (eval_run.c, eval_offers.c).
 */
#ifndef INTENTD_EVAL_INTERNAL_H
#define INTENTD_EVAL_INTERNAL_H

#include "app_timers.h"
#include "arena.h"
#include "eval_run.h"
#include "state_store.h"

struct eval_context {
    const struct model_bundle *bundle;
    const struct replay_events *events;
    const struct eval_options *options;
    struct eval_result *result;
    struct eval_stream stream;
    struct state_store *store;
    struct model_arena arena;
    int max_len;
    int has_propensity_rules;
    uint32_t *slot_user;    /* stream user index of each state-store slot */
    size_t n_slots;

    /* Offer simulation. */
    struct offer_policy *policy;
    struct offer_rule rules[EVAL_MAX_RULES];
    struct app_timers timers;
    int64_t stream_time_ms;
    uint64_t offers_made;   /* FIRED and HOLDOUT offers so far */

    /* Propensity of each scored event. */
    float *propensity;
    uint8_t *labels;
    size_t n_propensity;
};

/* Records that the store's slot holds stream user u. Returns 0, or -1. */
int eval_map_slot(struct eval_context *ctx, uint32_t slot, uint32_t u);

/* Sets up the policy and the rules from options->cfg. */
int eval_offers_open(struct eval_context *ctx, char *error);
void eval_offers_close(struct eval_context *ctx);

/* Fires due "no Y within T" timers before the event at index i is applied. */
int eval_offers_advance(struct eval_context *ctx, size_t i, char *error);

/* Raises and judges the candidates of the event at index i, applied to user. */
int eval_offers_on_event(struct eval_context *ctx, size_t i, struct state_user *user, char *error);

/* Encodes user's ring into pooled [d] (and hidden [length, d] when not
 * NULL). Returns the length, 0 for an empty ring, or -1. */
int eval_encode_user(struct eval_context *ctx, const struct state_user *user, float *hidden, float *pooled,
                     char *error);

#endif
