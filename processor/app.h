/*
 * The intentd streaming job: the handlers the stream loop calls, and the
 * state they share. Records are decoded, validated (or dead-lettered) and
 * tokenized into the user's state; at the end of each batch the updated users
 * are encoded together, intents and offers are produced, and every updated
 * user's state goes to the changelog, all inside the batch's transaction.
 *
 * Threading: one thread, the stream loop's, runs every function here.
 */
#ifndef INTENTD_APP_H
#define INTENTD_APP_H

#include <stdint.h>
#include <time.h>

#include "app_counters.h"
#include "app_event.h"
#include "app_registry.h"
#include "app_timers.h"
#include "app_undo.h"
#include "arena.h"
#include "codec.h"
#include "config.h"
#include "model_bundle.h"
#include "offer_policy.h"
#include "state_store.h"
#include "stream_loop.h"

#define APP_ERROR_SIZE 1024

enum app_input {
    APP_INPUT_CLICKSTREAM = 0,
    APP_INPUT_REVIEWS = 1,
    APP_INPUT_CONSENTS = 2,
    APP_INPUT_COUNT = 3,
};

/* Changes of one batch to one user. Index i matches the i-th dirty user. */
struct app_touch {
    struct state_user *user;
    int64_t offsets[APP_INPUT_COUNT]; /* newest source offset per input, -1 if none */
    int64_t event_ms;                 /* newest event time in this batch */
    uint32_t actions;                 /* bit per enum config_action seen in this batch */
    int min_rating;                   /* lowest review rating in this batch, 0 if none */
    int erase;                        /* a tombstone erased the user: write a changelog tombstone */
    int encoded;                      /* 1 once propensity and top_category are set */
    float propensity;                 /* purchase propensity after this batch, 0..1 */
    int32_t top_category;             /* most likely category token, -1 if none */
};

/* Event time and pending rule timers of one input partition. */
struct app_partition_clock {
    int64_t stream_time_ms;           /* newest clickstream event time of the partition */
    int64_t committed_stream_time_ms; /* its value at the last commit, restored on abort */
    struct app_timers timers;
};

/* An offer candidate raised by one event or timer: judged at batch end, at
 * the event's own time, so the decision does not depend on how records were
 * batched. It keeps a copy of what its offer is built from (the token
 * window and purchases of that moment), so the offer's items and category do
 * not see the user's later events of the batch either. Its source offset is
 * the record that raised it: the event that matched the rule or, for a
 * timer, the clickstream record whose event time passed the deadline. */
struct app_candidate {
    size_t touch;         /* index into app->touches */
    int32_t rule;
    int64_t event_ms;
    size_t tokens_at;     /* the window starts at app->candidate_tokens[tokens_at] */
    int n_tokens;
    int n_purchases;
    int32_t purchases[STATE_PURCHASES_MAX];
    int64_t offsets[APP_INPUT_COUNT]; /* the record that raised it, -1 for the other inputs */
};

/* Category of an offer basis still to be scored from its tokens. */
#define APP_CATEGORY_FROM_TOKENS (-2)

/* Inputs of one offer's contents, copied when its rule fired (see struct
 * app_candidate). */
struct app_offer_basis {
    const int32_t *tokens;            /* the user's token window, oldest first */
    int n_tokens;
    const int32_t *purchases;         /* remembered purchases, excluded from the items */
    int n_purchases;
    const int64_t *offsets;           /* [APP_INPUT_COUNT] source offset per input named by the offer, -1 for none */
    int32_t category;                 /* top category token, -1 if none, or APP_CATEGORY_FROM_TOKENS */
};

struct app {
    const struct intentd_config *cfg;
    codec_t *codec;
    struct app_registry *registry; /* schemas.source registry with Avro input, else NULL */
    struct model_bundle *bundle;   /* current model; swapped only between batches */
    unsigned model_generation;     /* incremented by every swap of bundle */
    struct model_arena arena;
    struct state_store *store;
    struct offer_policy *policy;
    struct offer_rule *rules;      /* cfg->triggers as policy rules */
    struct stream_loop *loop;
    struct app_undo undo;
    struct app_partition_clock *clocks; /* indexed by partition */
    size_t n_clocks;
    struct app_counters counters;
    struct app_counters committed_counters; /* counters at the last commit; an abort returns to them */

    struct app_touch *touches;
    size_t n_touches, touches_capacity;
    struct app_candidate *candidates; /* event-triggered offers of the open batch, in record order */
    size_t n_candidates, candidates_capacity;
    int32_t *candidate_tokens;        /* the candidates' token windows, back to back */
    size_t n_candidate_tokens, candidate_tokens_capacity;

    int64_t stream_time_ms;        /* newest event time seen on any partition: the clock of expiry */
    int64_t last_expiry_scan_ms;
    time_t last_rule_report;       /* wall time of the last rule outcome log line */
    char error[APP_ERROR_SIZE];    /* message of the last failed handler */
};

/* Sets up everything but the stream loop. Returns 0, or -1 with a message. */
int app_init(struct app *app, const struct intentd_config *cfg, struct model_bundle *bundle, char *error);

void app_free(struct app *app);

/* Handlers for stream_loop_create; ctx is the app. */
void app_handlers(struct app *app, struct stream_handlers *handlers);

/* Returns the input an input record came from, or -1. */
int app_input_of(const struct app *app, const char *topic);

/* Records the offer candidates and timers an event raises; the event is the
 * record at offset of input, already applied to the user's state. Returns 0,
 * or -1 with app->error set. app_triggers.c */
int app_offer_on_event(struct app *app, size_t touch, const struct app_event *event, int input, int64_t offset);

/* Returns the user's touch entry of the open batch, creating the user in
 * partition if new; on its first touch in the batch the user's state is saved
 * for rollback and marked dirty. NULL with app->error set on failure.
 * app_intake.c */
struct app_touch *app_touch_user(struct app *app, const char *id, size_t id_len, int32_t partition);

/* Handlers, in the files that implement them. */
int app_on_record(void *ctx, const rd_kafka_message_t *record);      /* app_intake.c */
int app_on_batch_end(void *ctx);                                     /* app_batch.c */
void app_on_commit(void *ctx);                                       /* app_batch.c */
void app_on_abort(void *ctx);                                        /* app_batch.c */
void app_on_restore_record(void *ctx, const rd_kafka_message_t *rec); /* app_changelog.c */
void app_on_task_ready(void *ctx, int32_t partition, int64_t records, double seconds); /* app_changelog.c */
void app_on_task_revoked(void *ctx, int32_t partition);              /* app_changelog.c */
void app_on_idle(void *ctx);                                         /* app.c */

/* Produces value to topic/partition with key inside the open transaction,
 * waiting while the local queue is full. Returns 0, or -1 with a message in
 * app->error. value may be NULL (a tombstone). */
int app_produce(struct app *app, const char *topic, int32_t partition, const void *key, size_t key_len,
                const void *value, size_t value_len);

/* Writes the state of every touched user to the changelog. */
int app_write_changelog(struct app *app);

/* Encodes the touched users and emits intents and offers. app_intent.c */
int app_emit_intents(struct app *app);

/* Evaluates the trigger rules for the touched users and due timers and
 * produces the offers. app_offer.c */
int app_emit_offers(struct app *app);

/* Runs a candidate through the offer policy and produces the offer, built
 * from basis, if it passes. app_offer.c */
int app_offer_consider(struct app *app, int rule, struct app_touch *touch, int64_t event_ms,
                       const struct app_offer_basis *basis);

/* Advances partition p's event-time clock to event_ms, the time of the
 * clickstream record at offset, first raising the candidates of timers due
 * before it. Call before applying that record. Returns 0, or -1 with
 * app->error set. app_triggers.c */
int app_triggers_advance(struct app *app, int32_t partition, int64_t event_ms, int64_t offset);

/* Batch end bookkeeping of candidates, clocks and timers. app_triggers.c */
void app_offer_commit(struct app *app);
void app_offer_rollback(struct app *app);

/* Re-creates the pending timers of a restored partition from its users'
 * last action times. app_triggers.c */
void app_offer_rebuild_timers(struct app *app, int32_t partition);

#endif
