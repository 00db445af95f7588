/*
 * Consumer lag per input partition, from librdkafka's statistics JSON:
 * records between the consumer's position and the end of the partition
 * (topics.<name>.partitions.<id>: ls_offset minus app_offset; see
 * partition_lag in metrics_lag.c for the fallbacks and why librdkafka's own
 * consumer_lag field does not fit a transactional processor).
 *
 * Threading: the stream thread updates the table (the statistics callback
 * runs inside its consumer polls); the metrics snapshot carries a copy.
 */
#ifndef INTENTD_METRICS_LAG_H
#define INTENTD_METRICS_LAG_H

#include <stddef.h>
#include <stdint.h>

#define METRICS_MAX_LAG 512 /* partitions over all input topics */

struct metrics_lag {
    const char *topic; /* one of the topics given to metrics_lag_update */
    int32_t partition;
    int64_t lag;
};

struct metrics_lag_table {
    struct metrics_lag entries[METRICS_MAX_LAG];
    int count;
};

/* Reads the statistics document json[len] and, for each of topics[n_topics]
 * it reports, replaces the table's entries of that topic by the partitions
 * with a known lag (>= 0). Returns 0, or -1 if json does not parse (the table
 * is then unchanged). Entries past METRICS_MAX_LAG are dropped. */
int metrics_lag_update(struct metrics_lag_table *table, const char *json, size_t len, const char *const *topics,
                       int n_topics);

#endif
