/*
 * Counters of the streaming job since start, for logs and the metrics
 * endpoint. Written by the stream thread only; the metrics endpoint serves a
 * copy published after each batch (metrics_snapshot.h), never these. They
 * count committed work: an aborted batch's counts are rolled back
 * (app_batch.c), so they match what the output topics hold.
 */
#ifndef INTENTD_APP_COUNTERS_H
#define INTENTD_APP_COUNTERS_H

#include <stdint.h>

#include "app_event.h"
#include "offer_policy.h"

#define APP_MAX_RULES 32
#define APP_LATENCY_BUCKETS 12

/* Cumulative histogram in the Prometheus sense: counts[i] is the number of observations
 * <= app_latency_bounds[i]; count and sum cover all observations. */
struct app_histogram {
    uint64_t counts[APP_LATENCY_BUCKETS];
    uint64_t count;
    double sum;
};

extern const double app_latency_bounds[APP_LATENCY_BUCKETS]; /* seconds */
extern const double app_batch_size_bounds[APP_LATENCY_BUCKETS]; /* records or users */

struct app_counters {
    uint64_t records[3];          /* by enum app_input */
    uint64_t tombstones[3];
    uint64_t dead_letters[APP_DLQ_REASON_COUNT];
    uint64_t intents;
    uint64_t intents_suppressed;  /* not emitted because of intents.emit */
    uint64_t kv_cache_hits;       /* users encoded incrementally from their key/value cache */
    uint64_t kv_cache_builds;     /* key/value caches built for returning users */
    uint64_t offers[APP_MAX_RULES][OFFER_OUTCOME_COUNT];
    uint64_t changelog_records;
    uint64_t changelog_tombstones;
    uint64_t users_expired;
    uint64_t batches;
    uint64_t aborted_batches;
    uint64_t restored_users;
    double restore_seconds;
    struct app_histogram batch_records;  /* input records per committed batch */
    struct app_histogram batch_users;    /* users updated per committed batch */
    struct app_histogram model_seconds;
    struct app_histogram end_to_end_seconds; /* event time to intent produce */
};

/* Adds one observation. */
void app_histogram_observe(struct app_histogram *histogram, const double *bounds, double value);

#endif
