/*
 * Event-driven trigger rules. Each event may raise offer candidates (judged
 * at batch end in record order) and arm timers of "did X and no Y within T"
 * rules.
 *
 * Timers run on event time per partition: a partition's clock is the newest
 * clickstream event time seen on it, and before a clickstream record is
 * applied, every timer of its partition with a deadline before the record's
 * time fires. Clickstream records of a partition always arrive in the same
 * order, so a restart or a different batching fires the same timers at the
 * same point of the stream and the offers are the same.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app.h"
#include "log.h"

/* Makes room for count more tokens in app->candidate_tokens. */
static int reserve_candidate_tokens(struct app *app, size_t count)
{
    size_t needed = app->n_candidate_tokens + count;

    if (needed <= app->candidate_tokens_capacity)
        return 0;
    size_t capacity = app->candidate_tokens_capacity ? app->candidate_tokens_capacity : 4096;
    while (capacity < needed)
        capacity *= 2;
    int32_t *grown = realloc(app->candidate_tokens, capacity * sizeof *grown);
    if (!grown)
        return -1;
    app->candidate_tokens = grown;
    app->candidate_tokens_capacity = capacity;
    return 0;
}

/* Records a candidate with a copy of the user's state of this moment (the
 * token window the model reads and the purchases) and the record at offset
 * of input that raised it. */
static int add_candidate(struct app *app, size_t touch, int32_t rule, int64_t event_ms, int input, int64_t offset)
{
    const struct app_touch *t = &app->touches[touch];
    size_t window = (size_t)app->bundle->model.config.max_len;

    /* app_emit_offers ignores candidates when offers are off, so the per-event
     * copy of the tokens is skipped too. */
    if (!app->cfg->offers.enabled)
        return 0;
    if (app->n_candidates == app->candidates_capacity) {
        size_t capacity = app->candidates_capacity ? app->candidates_capacity * 2 : 256;
        struct app_candidate *grown = realloc(app->candidates, capacity * sizeof *grown);
        if (!grown) {
            snprintf(app->error, sizeof app->error, "out of memory recording an offer candidate");
            return -1;
        }
        app->candidates = grown;
        app->candidates_capacity = capacity;
    }
    if (reserve_candidate_tokens(app, window) != 0) {
        snprintf(app->error, sizeof app->error, "out of memory copying the tokens of an offer candidate");
        return -1;
    }

    struct app_candidate *c = &app->candidates[app->n_candidates++];
    c->touch = touch;
    c->rule = rule;
    c->event_ms = event_ms;
    c->tokens_at = app->n_candidate_tokens;
    c->n_tokens = (int)state_store_copy_tokens(app->store, t->user, app->candidate_tokens + c->tokens_at, window);
    app->n_candidate_tokens += (size_t)c->n_tokens;
    c->n_purchases = (int)state_user_copy_purchases(t->user, c->purchases);
    for (int i = 0; i < APP_INPUT_COUNT; i++)
        c->offsets[i] = i == input ? offset : -1;
    return 0;
}

/* Returns the clock of partition p, growing the table as needed. */
static struct app_partition_clock *clock_of(struct app *app, int32_t partition)
{
    if (partition < 0)
        return NULL;
    if ((size_t)partition >= app->n_clocks) {
        size_t n = (size_t)partition + 1;
        struct app_partition_clock *grown = realloc(app->clocks, n * sizeof *grown);
        if (!grown)
            return NULL;
        memset(grown + app->n_clocks, 0, (n - app->n_clocks) * sizeof *grown);
        app->clocks = grown;
        app->n_clocks = n;
    }
    return &app->clocks[partition];
}

/* A timer is still due when X was not repeated since it was armed (the newer
 * X armed its own timer) and Y did not happen at or after X. */
static int timer_still_due(const struct config_condition *when, const struct state_user *user,
                           const struct app_timer *timer)
{
    int64_t started = user->last_action_ms[when->event];
    return started > 0 && started + when->within_ms == timer->deadline_ms &&
           user->last_action_ms[when->absent] < started;
}

int app_triggers_advance(struct app *app, int32_t partition, int64_t event_ms, int64_t offset)
{
    struct app_partition_clock *clock = clock_of(app, partition);
    struct app_timer timer;

    if (!clock) {
        snprintf(app->error, sizeof app->error, "out of memory tracking partition %d", (int)partition);
        return -1;
    }
    if (event_ms <= clock->stream_time_ms)
        return 0;
    clock->stream_time_ms = event_ms;

    /* Strictly before the new time: an absent action at exactly the
     * deadline still counts as inside the window. */
    while (app_timers_pop_due(&clock->timers, event_ms - 1, &timer)) {
        if ((size_t)timer.rule >= app->cfg->n_triggers)
            continue;
        const struct config_condition *when = &app->cfg->triggers[timer.rule].when;
        struct state_user *user = state_store_find(app->store, timer.id, timer.id_len);
        if (!user || !timer_still_due(when, user, &timer))
            continue;

        struct app_touch *touch = app_touch_user(app, timer.id, timer.id_len, partition);
        if (!touch || add_candidate(app, (size_t)(touch - app->touches), timer.rule, timer.deadline_ms,
                                    APP_INPUT_CLICKSTREAM, offset) != 0)
            return -1;
    }
    return 0;
}

int app_offer_on_event(struct app *app, size_t touch, const struct app_event *e, int input, int64_t offset)
{
    const struct state_user *user = app->touches[touch].user;

    for (size_t r = 0; r < app->cfg->n_triggers; r++) {
        const struct config_condition *when = &app->cfg->triggers[r].when;

        if (when->kind == CONFIG_COND_EVENT && when->event == e->action) {
            if (!when->has_absent) {
                if (add_candidate(app, touch, (int32_t)r, e->timestamp_ms, input, offset) != 0)
                    return -1;
                continue;
            }
            struct app_partition_clock *clock = clock_of(app, user->partition);
            if (!clock || app_timers_push(&clock->timers, e->timestamp_ms + when->within_ms, (int32_t)r, user->id,
                                          user->id_len) != 0) {
                snprintf(app->error, sizeof app->error, "out of memory arming a timer");
                return -1;
            }
        } else if (when->kind == CONFIG_COND_REVIEW_RATING_AT_MOST && e->kind == APP_EVENT_REVIEW &&
                   e->rating > 0 && e->rating <= when->rating) {
            if (add_candidate(app, touch, (int32_t)r, e->timestamp_ms, input, offset) != 0)
                return -1;
        }
    }
    return 0;
}

struct rebuild_context {
    struct app *app;
    int32_t partition; /* -1: every partition */
};

static void rebuild_user(void *ctx, struct state_user *user)
{
    struct rebuild_context *rc = ctx;
    const struct intentd_config *cfg = rc->app->cfg;

    if (rc->partition >= 0 && user->partition != rc->partition)
        return;
    struct app_partition_clock *clock = clock_of(rc->app, user->partition);
    if (!clock)
        return;

    for (size_t r = 0; r < cfg->n_triggers; r++) {
        const struct config_condition *when = &cfg->triggers[r].when;
        if (when->kind != CONFIG_COND_EVENT || !when->has_absent)
            continue;
        int64_t started = user->last_action_ms[when->event];
        if (started > 0 && user->last_action_ms[when->absent] < started)
            app_timers_push(&clock->timers, started + when->within_ms, (int32_t)r, user->id, user->id_len);
    }
}

/* A timer whose offer was already decided is harmless when rebuilt: its
 * candidate meets the rule's cooldown or the same offer id again. */
void app_offer_rebuild_timers(struct app *app, int32_t partition)
{
    struct rebuild_context rc = {app, partition};
    struct app_partition_clock *clock = clock_of(app, partition);

    if (clock) {
        clock->timers.count = 0;
        clock->stream_time_ms = 0;
        clock->committed_stream_time_ms = 0;
    }
    state_store_foreach(app->store, rebuild_user, &rc);
    log_debug("rule timers rebuilt partition=%d pending=%zu", (int)partition, clock ? clock->timers.count : 0);
}

/* Seconds between two log lines of rule outcome counts. */
#define RULE_REPORT_INTERVAL_S 60

/* Logs, once per interval, each rule's offer outcomes since start. */
static void report_rule_counts(struct app *app)
{
    time_t now = time(NULL);

    if (app->last_rule_report == 0)
        app->last_rule_report = now;
    if (now - app->last_rule_report < RULE_REPORT_INTERVAL_S)
        return;
    app->last_rule_report = now;

    for (size_t r = 0; r < app->cfg->n_triggers && r < APP_MAX_RULES; r++) {
        const uint64_t *n = app->counters.offers[r];
        log_info("rule outcomes rule=%s fired=%llu holdout=%llu cooldown=%llu capped=%llu rate_limited=%llu "
                 "no_consent=%llu",
                 app->cfg->triggers[r].name, (unsigned long long)n[OFFER_FIRED], (unsigned long long)n[OFFER_HOLDOUT],
                 (unsigned long long)n[OFFER_COOLDOWN], (unsigned long long)n[OFFER_CAPPED],
                 (unsigned long long)n[OFFER_RATE_LIMITED], (unsigned long long)n[OFFER_NO_CONSENT]);
    }
}

void app_offer_commit(struct app *app)
{
    app->n_candidates = 0;
    app->n_candidate_tokens = 0;
    for (size_t p = 0; p < app->n_clocks; p++)
        app->clocks[p].committed_stream_time_ms = app->clocks[p].stream_time_ms;
    report_rule_counts(app);
}

/* After an abort the state is back at the last commit and the records are
 * read again, so every clock goes back to its committed time and the timers
 * are rebuilt from the restored state. */
void app_offer_rollback(struct app *app)
{
    struct rebuild_context rc = {app, -1};

    app->n_candidates = 0;
    app->n_candidate_tokens = 0;
    for (size_t p = 0; p < app->n_clocks; p++) {
        app->clocks[p].stream_time_ms = app->clocks[p].committed_stream_time_ms;
        app->clocks[p].timers.count = 0;
    }
    state_store_foreach(app->store, rebuild_user, &rc);
}
