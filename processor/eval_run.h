/*
 * `intentd eval`: runs one model over recorded events in event time, with
 * no broker. Before each event it predicts from the user's history, then
 * applies the event to the user's token ring as the processor does, and it
 * simulates the trigger rules and the offer policy on the way.
 *
 * Threads: single-threaded. The events and the bundle are read-only.
 */
#ifndef INTENTD_EVAL_RUN_H
#define INTENTD_EVAL_RUN_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "eval_metrics.h"
#include "model_bundle.h"
#include "offer_policy.h"
#include "replay_event.h"
#include "tokenizer.h"

#define EVAL_ERROR_SIZE 512
#define EVAL_MAX_RULES 32
#define EVAL_NAME_SIZE 96

/* Text tokens kept per review or search query. Must equal MAX_TEXT_TOKENS
 * in app_intake.c so the eval sees the same token rings as the processor. */
#define EVAL_MAX_TEXT_TOKENS 48

struct eval_options {
    const struct intentd_config *cfg; /* borrowed: trigger rules, offers, state.max_len */
    int propensity_horizon;   /* label: a purchase among the user's next N events (default 5) */
    int64_t hit_window_ms;    /* an offer hits when an offered item is viewed, clicked, carted or
                                 bought within this time after the offer (default 24 h) */
    uint64_t max_offers;      /* offers whose items are generated; later offers are counted
                                 by the policy but get no items (default 2000) */
    int sampled_negatives;    /* negatives of the sampled protocol (default 100) */
    uint64_t seed;            /* seed of the negative sampling (default 42) */
    int batch;                /* events predicted per encoder call (default 64) */
    int progress;             /* 1: print progress to stderr */
};

void eval_options_defaults(struct eval_options *options);

/* Outcome counts and hits of one trigger rule. Index 0 of the pairs is
 * treatment (FIRED), index 1 holdout. */
struct eval_rule_result {
    char name[EVAL_NAME_SIZE];
    uint64_t candidates;
    uint64_t outcomes[OFFER_OUTCOME_COUNT];
    uint64_t generated[2];   /* offers whose items were generated */
    uint64_t hits[2];        /* generated offers with a hit in the window */
};

struct eval_result {
    char model[EVAL_NAME_SIZE];  /* model version label */
    uint64_t events;
    uint64_t users;
    uint64_t scored;             /* events whose user had a prior event */
    uint64_t unknown_targets;    /* scored events whose item is not a known item: not ranked */
    struct eval_ranking full;    /* rank among all known items */
    struct eval_ranking sampled; /* rank among sampled_negatives + 1 items */
    uint64_t action_correct;
    uint64_t action_counts[TOKENIZER_N_ACTIONS]; /* true next actions of the scored events */
    double action_accuracy;
    double majority_accuracy;    /* always predicting the most frequent true action */
    int majority_action;
    double auc;                  /* -1 when only one class occurred */
    uint64_t propensity_positives;
    struct eval_calibration_bin calibration[EVAL_CALIBRATION_BINS];
    size_t n_rules;
    struct eval_rule_result rules[EVAL_MAX_RULES];
    uint64_t offers_skipped;     /* FIRED or HOLDOUT offers past max_offers: no items */
    double seconds;
    double events_per_s;
    struct eval_options options; /* as run; cfg is not kept valid */
};

/* Runs bundle over events, which must be sorted by event time
 * (replay_events_sort). Fills *result. Returns 0, or -1 with a message in
 * error[EVAL_ERROR_SIZE]. */
int eval_run(const struct model_bundle *bundle, const struct replay_events *events,
             const struct eval_options *options, struct eval_result *result, char *error);

/* Per-event facts that need the whole stream (eval_stream.c). */
struct eval_stream {
    size_t n_events;
    size_t n_users;
    uint32_t *user;          /* [n_events]: dense user index */
    uint32_t *position;      /* [n_events]: index of the event among its user's events */
    int32_t *item;           /* [n_events]: item token, or -1 */
    uint8_t *action;         /* [n_events]: enum tokenizer_action */
    uint8_t *purchase_soon;  /* [n_events]: a purchase among this and the next horizon - 1 events of the user */
    size_t *order;           /* [n_events]: events grouped by user, each user's in time order */
    size_t *user_begin;      /* [n_users + 1]: the user's slice of order */
    int32_t *items;          /* each user's distinct item tokens, sorted */
    size_t *items_begin;     /* [n_users + 1]: the user's slice of items */
};

/* Action of a replay event as the tokenizer names it. */
enum tokenizer_action eval_event_action(const struct replay_event *e);

/* Builds *stream. Returns 0, or -1 with a message. */
int eval_stream_build(struct eval_stream *stream, const struct replay_events *events, const struct tokenizer *tok,
                      int horizon, char *error);
void eval_stream_free(struct eval_stream *stream);

/* Returns 1 if the user interacted with item anywhere in the stream. */
int eval_stream_user_has_item(const struct eval_stream *stream, uint32_t user, int32_t item);

#endif
