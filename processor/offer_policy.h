/*
 * Offer policy: decides whether a trigger rule's candidate offer for one user
 * goes out, is held out as control, or is suppressed, and counts each outcome.
 *
 * Checks, in this order, the first failing one giving the outcome:
 *   1. consent: DENIED, or UNKNOWN while unknown_consent_grants is 0 -> NO_CONSENT
 *   2. cooldown: less than cooldown_ms since this rule's last offer to the
 *      user -> COOLDOWN
 *   3. frequency cap: max_offers of this rule already made to the user in the
 *      window -> CAPPED
 *   4. global rate limit: token bucket empty -> RATE_LIMITED
 *   5. holdout: the user's stable hash falls in the global or the rule's
 *      control share -> HOLDOUT, otherwise FIRED
 * Cooldown and cap count per user and rule (struct state_rule_counters), so
 * one rule's offers do not block another rule.
 * Holdout comes last and a held-out offer counts like a fired one (it takes a
 * rate-limit token, starts the cooldown and counts toward the cap). So control
 * and treatment users pass through identical gating and differ only in whether
 * the offer was delivered, which keeps the comparison between them unbiased.
 *
 * Times. Cooldown and cap use the event time of the triggering event, so a
 * replay of the same stream makes the same decisions. The rate limit uses
 * event time by default for the same reason. Its clock is the newest event
 * time seen, so with several partitions interleaved an older event refills
 * nothing. OFFER_CLOCK_WALL limits the real delivery rate instead, for example
 * while a replay runs faster than real time.
 *
 * Threads: a policy object is not thread-safe. One consumer thread owns it.
 */
#ifndef INTENTD_OFFER_POLICY_H
#define INTENTD_OFFER_POLICY_H

#include "state_store.h"

#include <stddef.h>
#include <stdint.h>

#define OFFER_ERROR_SIZE 256
#define OFFER_SALT_MAX 64 /* bytes of holdout salt */

enum offer_outcome {
    OFFER_FIRED = 0,
    OFFER_HOLDOUT = 1,       /* written to the offers topic with holdout=true */
    OFFER_COOLDOWN = 2,
    OFFER_CAPPED = 3,
    OFFER_RATE_LIMITED = 4,
    OFFER_NO_CONSENT = 5,
    OFFER_OUTCOME_COUNT = 6,
};

enum offer_clock {
    OFFER_CLOCK_EVENT = 0, /* the event_ms passed to offer_policy_decide */
    OFFER_CLOCK_WALL = 1,  /* CLOCK_MONOTONIC, or the clock set for tests */
};

/* Parameters of one trigger rule, copied from the config by the processor. */
struct offer_rule {
    const char *name;        /* hashed into the rule's holdout; not copied */
    int64_t cooldown_ms;     /* minimum time between two offers of this rule to one user */
    uint32_t max_offers;     /* offers of this rule per user per window; 0 disables the cap */
    int64_t window_ms;       /* length of the frequency-cap window */
    double holdout_percent;  /* 0 to 100: share of users held out of this rule */
};

struct offer_policy_options {
    double rate_per_s;       /* global offers per second; 0 disables the limit.
                                Resolution 0.001 offers/s */
    double burst;            /* bucket size in offers, at least 1 when limited */
    enum offer_clock rate_clock;
    double holdout_percent;  /* 0 to 100: share of users held out of every rule */
    char holdout_salt[OFFER_SALT_MAX + 1]; /* change to draw new holdout groups */
    int unknown_consent_grants; /* 1: no consent record means consent; default 0 */
};

struct offer_policy;

/* Fills in the defaults: no rate limit, event-time clock, no global holdout,
 * empty salt, unknown consent denies. */
void offer_policy_options_defaults(struct offer_policy_options *options);

/* Creates a policy. Returns NULL with a message in error[OFFER_ERROR_SIZE] if
 * an option is out of range or memory runs out. The caller frees it with
 * offer_policy_free(). */
struct offer_policy *offer_policy_new(const struct offer_policy_options *options, char *error);

void offer_policy_free(struct offer_policy *policy);

/* Checks a rule's parameters. Returns 0, or -1 with a message naming the rule
 * and the field. */
int offer_rule_validate(const struct offer_rule *rule, char *error);

/* Replaces CLOCK_MONOTONIC for OFFER_CLOCK_WALL; now_ms returns milliseconds. */
void offer_policy_set_wall_clock(struct offer_policy *policy, int64_t (*now_ms)(void *ctx),
                                 void *ctx);

/* Decides a candidate offer of the rule to the user at event time event_ms
 * (Unix ms) and counts the outcome. On FIRED and HOLDOUT it records the offer
 * in the user's last_offer_ms and in the rule's counters, and the caller must
 * then mark the user dirty. The rule must have passed offer_rule_validate(). */
enum offer_outcome offer_policy_decide(struct offer_policy *policy, const struct offer_rule *rule,
                                       struct state_user *user, int64_t event_ms);

/* Returns 1 if the user id is in the global holdout, 0 otherwise. Stable:
 * depends only on the salt, the id and the percentage. */
int offer_policy_in_global_holdout(const struct offer_policy *policy, const char *id,
                                   size_t id_len);

/* Returns 1 if the user id is in the rule's own holdout, 0 otherwise. The
 * rule name is part of the hash, so the rule's control group is drawn
 * independently of the global one and of other rules'. */
int offer_policy_in_rule_holdout(const struct offer_policy *policy, const struct offer_rule *rule,
                                 const char *id, size_t id_len);

/* Returns the number of decisions with each outcome since creation. */
uint64_t offer_policy_count(const struct offer_policy *policy, enum offer_outcome outcome);

/* Returns the outcome's lower-case name, for example "rate_limited". */
const char *offer_outcome_name(enum offer_outcome outcome);

/* Removes the items the user has already bought from items[count], keeping
 * the order of the rest. Returns the new count. */
size_t offer_filter_purchased(const struct state_user *user, int32_t *items, size_t count);

#endif
