#include "offer_policy.h"

#include "state_hash.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The token bucket counts micro-offers so that refills stay exact integers. */
#define MICRO 1000000LL

struct offer_policy {
    struct offer_policy_options options;
    size_t salt_len;

    int rate_limited;          /* 0 when rate_per_s is 0 */
    int64_t refill_per_ms;     /* micro-offers added per millisecond */
    int64_t bucket_capacity;   /* micro-offers */
    int64_t bucket_level;      /* micro-offers */
    int64_t bucket_time_ms;    /* clock value of the last refill */
    int bucket_started;        /* 0 until the first rate-limited decision */

    int64_t (*wall_now_ms)(void *ctx);
    void *wall_ctx;

    uint64_t counts[OFFER_OUTCOME_COUNT];
};

static int64_t monotonic_now_ms(void *ctx)
{
    struct timespec ts;

    (void)ctx;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void offer_policy_options_defaults(struct offer_policy_options *options)
{
    memset(options, 0, sizeof(*options));
    options->burst = 1.0;
    options->rate_clock = OFFER_CLOCK_EVENT;
}

static int percent_valid(double percent)
{
    return percent >= 0.0 && percent <= 100.0;
}

struct offer_policy *offer_policy_new(const struct offer_policy_options *options, char *error)
{
    if (!(options->rate_per_s >= 0.0) || options->rate_per_s > 1e9 ||
        (options->rate_per_s > 0.0 && options->rate_per_s < 0.001)) {
        snprintf(error, OFFER_ERROR_SIZE,
                 "invalid offer rate_per_s %g: expected 0 (no limit) or 0.001 to 1e9 offers per "
                 "second", options->rate_per_s);
        return NULL;
    }
    if (options->rate_per_s > 0.0 && (!(options->burst >= 1.0) || options->burst > 1e9)) {
        snprintf(error, OFFER_ERROR_SIZE,
                 "invalid offer burst %g: expected 1 to 1e9 offers", options->burst);
        return NULL;
    }
    if (options->rate_clock != OFFER_CLOCK_EVENT && options->rate_clock != OFFER_CLOCK_WALL) {
        snprintf(error, OFFER_ERROR_SIZE,
                 "invalid offer rate clock %d: expected 0 (event time) or 1 (wall time)",
                 (int)options->rate_clock);
        return NULL;
    }
    if (!percent_valid(options->holdout_percent)) {
        snprintf(error, OFFER_ERROR_SIZE,
                 "invalid global holdout_percent %g: expected 0 to 100", options->holdout_percent);
        return NULL;
    }
    size_t salt_len = strnlen(options->holdout_salt, sizeof(options->holdout_salt));
    if (salt_len > OFFER_SALT_MAX) {
        snprintf(error, OFFER_ERROR_SIZE,
                 "holdout salt is not NUL-terminated within %d bytes", OFFER_SALT_MAX);
        return NULL;
    }

    struct offer_policy *policy = calloc(1, sizeof(*policy));
    if (policy == NULL) {
        snprintf(error, OFFER_ERROR_SIZE, "out of memory creating the offer policy");
        return NULL;
    }
    policy->options = *options;
    policy->salt_len = salt_len;
    policy->rate_limited = options->rate_per_s > 0.0;
    policy->refill_per_ms = llround(options->rate_per_s * 1000.0);
    policy->bucket_capacity = llround(options->burst * MICRO);
    policy->bucket_level = policy->bucket_capacity;
    policy->wall_now_ms = monotonic_now_ms;
    return policy;
}

void offer_policy_free(struct offer_policy *policy)
{
    free(policy);
}

int offer_rule_validate(const struct offer_rule *rule, char *error)
{
    const char *name = rule->name ? rule->name : "(unnamed)";

    if (rule->name == NULL || rule->name[0] == '\0') {
        snprintf(error, OFFER_ERROR_SIZE, "offer rule has no name; give every trigger rule a name");
        return -1;
    }
    if (rule->cooldown_ms < 0) {
        snprintf(error, OFFER_ERROR_SIZE,
                 "invalid cooldown_ms %lld in rule %s: expected 0 or more", (long long)rule->cooldown_ms,
                 name);
        return -1;
    }
    if (rule->max_offers > 0 && rule->window_ms <= 0) {
        snprintf(error, OFFER_ERROR_SIZE,
                 "invalid window_ms %lld in rule %s: expected a positive length when max_offers "
                 "is %u", (long long)rule->window_ms, name, rule->max_offers);
        return -1;
    }
    if (!percent_valid(rule->holdout_percent)) {
        snprintf(error, OFFER_ERROR_SIZE,
                 "invalid holdout_percent %g in rule %s: expected 0 to 100", rule->holdout_percent,
                 name);
        return -1;
    }
    return 0;
}

void offer_policy_set_wall_clock(struct offer_policy *policy, int64_t (*now_ms)(void *ctx),
                                 void *ctx)
{
    policy->wall_now_ms = now_ms;
    policy->wall_ctx = ctx;
}

/* ---- holdout ---- */

/* Maps a 64-bit hash to [0, 100) and compares it with the percentage. The top
 * 53 bits make an exact double in [0, 1). */
static int hash_below_percent(uint64_t hash, double percent)
{
    double unit = (double)(hash >> 11) * (1.0 / 9007199254740992.0);

    return unit * 100.0 < percent;
}

/* Hashes salt, 0x00, scope, 0x00, id. The scope is "G" for the global
 * holdout and "R" + rule name for a rule, so no two scopes share input bytes. */
static uint64_t holdout_hash(const struct offer_policy *policy, const char *scope,
                             const char *rule_name, const char *id, size_t id_len)
{
    static const unsigned char zero = 0;
    uint64_t h = STATE_HASH_FNV_OFFSET;

    h = state_hash_fnv1a64(h, policy->options.holdout_salt, policy->salt_len);
    h = state_hash_fnv1a64(h, &zero, 1);
    h = state_hash_fnv1a64(h, scope, 1);
    if (rule_name != NULL)
        h = state_hash_fnv1a64(h, rule_name, strlen(rule_name));
    h = state_hash_fnv1a64(h, &zero, 1);
    h = state_hash_fnv1a64(h, id, id_len);
    return state_hash_mix64(h);
}

int offer_policy_in_global_holdout(const struct offer_policy *policy, const char *id,
                                   size_t id_len)
{
    if (policy->options.holdout_percent <= 0.0)
        return 0;
    return hash_below_percent(holdout_hash(policy, "G", NULL, id, id_len),
                              policy->options.holdout_percent);
}

int offer_policy_in_rule_holdout(const struct offer_policy *policy, const struct offer_rule *rule,
                                 const char *id, size_t id_len)
{
    if (rule->holdout_percent <= 0.0)
        return 0;
    return hash_below_percent(holdout_hash(policy, "R", rule->name, id, id_len),
                              rule->holdout_percent);
}

/* ---- gating ---- */

static int consent_allows(const struct offer_policy *policy, const struct state_user *user)
{
    if (user->consent == STATE_CONSENT_GRANTED)
        return 1;
    if (user->consent == STATE_CONSENT_UNKNOWN)
        return policy->options.unknown_consent_grants != 0;
    return 0;
}

/* Returns now - then, saturated to the int64 range, because restored state
 * or a bad event time may hold any value. */
static int64_t elapsed_ms(int64_t now, int64_t then)
{
    int64_t difference;

    if (__builtin_sub_overflow(now, then, &difference))
        return now > then ? INT64_MAX : INT64_MIN;
    return difference;
}

static uint32_t rule_hash(const struct offer_rule *rule)
{
    return (uint32_t)state_hash_bytes(rule->name, strlen(rule->name));
}

static int in_cooldown(const struct offer_rule *rule, const struct state_rule_counters *counters,
                       int64_t event_ms)
{
    if (counters == NULL || rule->cooldown_ms == 0)
        return 0;
    return elapsed_ms(event_ms, counters->last_offer_ms) < rule->cooldown_ms;
}

/* The window starts at the first offer and ends window_ms later. The next
 * offer after that starts a new window. */
static int window_expired(const struct offer_rule *rule, const struct state_rule_counters *counters,
                          int64_t event_ms)
{
    return counters->offers_in_window == 0 ||
           elapsed_ms(event_ms, counters->window_start_ms) >= rule->window_ms;
}

static int is_capped(const struct offer_rule *rule, const struct state_rule_counters *counters,
                     int64_t event_ms)
{
    if (counters == NULL || rule->max_offers == 0 || window_expired(rule, counters, event_ms))
        return 0;
    return counters->offers_in_window >= rule->max_offers;
}

/* Refills the bucket up to now and takes one offer from it. Returns 1 if an
 * offer was available. The bucket clock only moves forward, so an event older
 * than the newest one seen refills nothing. */
static int bucket_take(struct offer_policy *policy, int64_t event_ms)
{
    int64_t now = policy->options.rate_clock == OFFER_CLOCK_WALL
                      ? policy->wall_now_ms(policy->wall_ctx)
                      : event_ms;

    if (!policy->bucket_started) {
        policy->bucket_started = 1;
        policy->bucket_time_ms = now;
    }
    if (now > policy->bucket_time_ms) {
        int64_t elapsed = elapsed_ms(now, policy->bucket_time_ms);
        int64_t room = policy->bucket_capacity - policy->bucket_level;
        /* Compare by division first so that elapsed * rate cannot overflow. */
        if (policy->refill_per_ms == 0 || elapsed < room / policy->refill_per_ms + 1) {
            int64_t add = elapsed * policy->refill_per_ms;
            policy->bucket_level = add < room ? policy->bucket_level + add : policy->bucket_capacity;
        } else {
            policy->bucket_level = policy->bucket_capacity;
        }
        policy->bucket_time_ms = now;
    }
    if (policy->bucket_level < MICRO)
        return 0;
    policy->bucket_level -= MICRO;
    return 1;
}

static void record_offer(const struct offer_rule *rule, uint32_t hash, struct state_user *user,
                         int64_t event_ms)
{
    struct state_rule_counters *counters = state_user_claim_rule(user, hash);

    user->last_offer_ms = event_ms;
    counters->last_offer_ms = event_ms;
    if (window_expired(rule, counters, event_ms)) {
        counters->window_start_ms = event_ms;
        counters->offers_in_window = 0;
    }
    counters->offers_in_window++;
}

static enum offer_outcome gate(struct offer_policy *policy, const struct offer_rule *rule,
                               struct state_user *user, int64_t event_ms)
{
    uint32_t hash = rule_hash(rule);
    const struct state_rule_counters *counters = state_user_find_rule(user, hash);

    if (!consent_allows(policy, user))
        return OFFER_NO_CONSENT;
    if (in_cooldown(rule, counters, event_ms))
        return OFFER_COOLDOWN;
    if (is_capped(rule, counters, event_ms))
        return OFFER_CAPPED;
    if (policy->rate_limited && !bucket_take(policy, event_ms))
        return OFFER_RATE_LIMITED;

    record_offer(rule, hash, user, event_ms);
    if (offer_policy_in_global_holdout(policy, user->id, user->id_len) ||
        offer_policy_in_rule_holdout(policy, rule, user->id, user->id_len))
        return OFFER_HOLDOUT;
    return OFFER_FIRED;
}

enum offer_outcome offer_policy_decide(struct offer_policy *policy, const struct offer_rule *rule,
                                       struct state_user *user, int64_t event_ms)
{
    enum offer_outcome outcome = gate(policy, rule, user, event_ms);

    policy->counts[outcome]++;
    return outcome;
}

uint64_t offer_policy_count(const struct offer_policy *policy, enum offer_outcome outcome)
{
    if ((unsigned)outcome >= OFFER_OUTCOME_COUNT)
        return 0;
    return policy->counts[outcome];
}

const char *offer_outcome_name(enum offer_outcome outcome)
{
    static const char *const names[OFFER_OUTCOME_COUNT] = {
        "fired", "holdout", "cooldown", "capped", "rate_limited", "no_consent",
    };

    if ((unsigned)outcome >= OFFER_OUTCOME_COUNT)
        return "unknown";
    return names[outcome];
}

size_t offer_filter_purchased(const struct state_user *user, int32_t *items, size_t count)
{
    size_t kept = 0;

    for (size_t i = 0; i < count; i++) {
        if (!state_user_has_purchased(user, items[i]))
            items[kept++] = items[i];
    }
    return kept;
}
