/*
 * Topic-range copy for backfills: records of a source topic are copied
 * with their key, value, headers and timestamp to the same partition number
 * of a destination topic. The range of each partition is fixed at start. It
 * starts at --from-offset, or at the first record at or after
 * --from-timestamp, else at the earliest offset. It ends before
 * --to-offset, or before the first record at or after --to-timestamp, else
 * at the end offset read at start. Records written while the copy runs are
 * therefore not copied.
 *
 * The source is read with isolation.level=read_committed, so records of
 * aborted transactions are not copied.
 */
#ifndef INTENTD_REPLAY_COPY_H
#define INTENTD_REPLAY_COPY_H

#include <stdint.h>

#include "config.h"
#include "replay_event.h"

#define REPLAY_COPY_NONE INT64_MIN

struct replay_copy_options {
    const char *source;
    const char *destination;
    const char *bootstrap;  /* replaces kafka.bootstrap_servers if not NULL or empty */
    int64_t from_offset;    /* REPLAY_COPY_NONE when not given */
    int64_t from_time_ms;
    int64_t to_offset;
    int64_t to_time_ms;
    int dry_run;            /* 1: read and count, produce nothing */
    int timeout_ms;         /* Kafka request timeout */
};

struct replay_copy_result {
    int partitions;
    uint64_t planned;  /* records in the ranges (offsets, control records included) */
    uint64_t copied;
};

/* Runs the copy, logging progress through log.h. Returns 0, or -1 with a
 * message in error (REPLAY_ERROR_SIZE bytes). */
int replay_copy_run(const struct intentd_config *cfg, const struct replay_copy_options *options,
                    struct replay_copy_result *result, char *error);

#endif
