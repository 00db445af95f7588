/*
 * The numbers the metrics and health endpoints serve, copied out of the
 * stream thread once per batch so the HTTP thread never reads live state.
 *
 * Threading: the stream thread fills a snapshot and calls
 * metrics_board_publish; the HTTP thread calls metrics_board_read. Both take
 * the board's mutex only for one struct copy, so neither waits on the other's
 * work.
 */
#ifndef INTENTD_METRICS_SNAPSHOT_H
#define INTENTD_METRICS_SNAPSHOT_H

#include <pthread.h>
#include <stdint.h>

#include "app_counters.h"
#include "app_registry.h"
#include "metrics_lag.h"
#include "model_bundle.h"
#include "state_store.h"
#include "stream_loop.h"

#define METRICS_NAME_SIZE 128

enum metrics_reload_result {
    METRICS_RELOAD_OK = 0,
    METRICS_RELOAD_FAILED = 1,
    METRICS_RELOAD_RESULT_COUNT = 2,
};

struct metrics_snapshot {
    int published;                 /* 0 until the stream thread published once */
    int running;                   /* 1 while the stream loop runs; 0 after it stopped or failed */
    double start_time_s;           /* process start, Unix seconds */
    struct app_counters counters;
    struct stream_loop_stats loop;
    struct state_store_stats store;
    char model_version[MODEL_BUNDLE_VERSION_SIZE];
    uint64_t reloads[METRICS_RELOAD_RESULT_COUNT];
    struct metrics_lag_table lag;  /* from the last statistics of the consumers */
    int has_registry;              /* 1 when input schemas come from a schema registry */
    struct app_registry_stats registry;

    /* Label values; names point into the config, which outlives the board. */
    const char *input_topics[3];   /* by enum app_input; NULL when the input is not configured */
    const char *rule_names[APP_MAX_RULES];
    int n_rules;
};

struct metrics_board {
    pthread_mutex_t lock;
    struct metrics_snapshot snapshot;
};

/* Returns 0, or -1 if the mutex could not be created. */
int metrics_board_init(struct metrics_board *board);
void metrics_board_destroy(struct metrics_board *board);

/* Replaces the board's snapshot with a copy of *snapshot. */
void metrics_board_publish(struct metrics_board *board, const struct metrics_snapshot *snapshot);

/* Copies the board's snapshot into *out. */
void metrics_board_read(struct metrics_board *board, struct metrics_snapshot *out);

#endif
