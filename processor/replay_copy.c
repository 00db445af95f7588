#include "replay_copy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "kafka_conf.h"
#include "log.h"
#include "replay_producer.h"
#include "replay_progress.h"

/* The offsets of one partition to copy: [start, end). */
struct copy_range {
    int64_t start;
    int64_t end;
    int done;
};

struct copy_run {
    const struct replay_copy_options *options;
    rd_kafka_t *consumer;
    struct replay_producer producer;
    struct copy_range *ranges;
    int partitions;
};

static rd_kafka_t *open_consumer(const struct intentd_config *cfg, const char *bootstrap, char *error)
{
    static const char *const settings[][2] = {
        {"group.id", "intentd-replay-copy"},  {"enable.auto.commit", "false"},
        {"enable.auto.offset.store", "false"}, {"enable.partition.eof", "true"},
        {"isolation.level", "read_committed"}, {"auto.offset.reset", "earliest"},
    };
    rd_kafka_conf_t *conf;
    char message[512];

    if (kafka_conf_build(cfg, bootstrap, &conf, message, sizeof message) != 0) {
        snprintf(error, REPLAY_ERROR_SIZE, "%s", message);
        return NULL;
    }
    for (size_t i = 0; i < sizeof settings / sizeof settings[0]; i++) {
        if (kafka_conf_set(conf, settings[i][0], settings[i][1], message, sizeof message) != 0) {
            rd_kafka_conf_destroy(conf);
            snprintf(error, REPLAY_ERROR_SIZE, "%s", message);
            return NULL;
        }
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, message, sizeof message);
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        snprintf(error, REPLAY_ERROR_SIZE, "creating the Kafka consumer failed: %s", message);
    }
    return rk;
}

/* Sets each range's start (is_end 0) or end (is_end 1) to the first offset
 * at or after time_ms, or to the end offset when no record is that new. */
static int apply_time(struct copy_run *run, int64_t time_ms, int is_end, const int64_t *high, char *error)
{
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(run->partitions);

    for (int p = 0; p < run->partitions; p++)
        rd_kafka_topic_partition_list_add(list, run->options->source, p)->offset = time_ms;
    rd_kafka_resp_err_t err = rd_kafka_offsets_for_times(run->consumer, list, run->options->timeout_ms);
    for (int p = 0; !err && p < run->partitions; p++) {
        const rd_kafka_topic_partition_t *tp = &list->elems[p];
        int64_t offset = tp->err || tp->offset < 0 ? high[tp->partition] : tp->offset;
        if (!is_end)
            run->ranges[tp->partition].start = offset;
        else
            run->ranges[tp->partition].end = offset;
    }
    rd_kafka_topic_partition_list_destroy(list);
    if (err)
        snprintf(error, REPLAY_ERROR_SIZE, "looking up offsets by timestamp in %.200s failed: %s",
                 run->options->source, rd_kafka_err2str(err));
    return err ? -1 : 0;
}

/* Fixes [start, end) of every partition from the options and the
 * watermarks read now. */
static int resolve_ranges(struct copy_run *run, char *error)
{
    const struct replay_copy_options *o = run->options;
    int64_t *high = calloc((size_t)run->partitions, sizeof *high);
    int result = 0;

    for (int p = 0; high && p < run->partitions && result == 0; p++) {
        int64_t low;
        rd_kafka_resp_err_t err =
            rd_kafka_query_watermark_offsets(run->consumer, o->source, p, &low, &high[p], o->timeout_ms);
        if (err) {
            snprintf(error, REPLAY_ERROR_SIZE, "reading the offsets of %.200s [%d] failed: %s", o->source, p,
                     rd_kafka_err2str(err));
            result = -1;
            break;
        }
        run->ranges[p].start = o->from_offset == REPLAY_COPY_NONE ? low : o->from_offset;
        run->ranges[p].start = run->ranges[p].start < low ? low : run->ranges[p].start;
        run->ranges[p].end = o->to_offset == REPLAY_COPY_NONE || o->to_offset > high[p] ? high[p] : o->to_offset;
    }
    if (!high) {
        snprintf(error, REPLAY_ERROR_SIZE, "out of memory");
        return -1;
    }
    if (result == 0 && o->from_time_ms != REPLAY_COPY_NONE)
        result = apply_time(run, o->from_time_ms, 0, high, error);
    if (result == 0 && o->to_time_ms != REPLAY_COPY_NONE)
        result = apply_time(run, o->to_time_ms, 1, high, error);
    for (int p = 0; result == 0 && p < run->partitions; p++) {
        if (run->ranges[p].start > high[p])
            run->ranges[p].start = high[p];
        if (run->ranges[p].end < run->ranges[p].start)
            run->ranges[p].end = run->ranges[p].start;
        run->ranges[p].done = run->ranges[p].start >= run->ranges[p].end;
        log_info("replay copy range topic=%s partition=%d from_offset=%lld to_offset=%lld", o->source, p,
                 (long long)run->ranges[p].start, (long long)run->ranges[p].end);
    }
    free(high);
    return result;
}

static int assign_ranges(struct copy_run *run, char *error)
{
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(run->partitions);

    for (int p = 0; p < run->partitions; p++)
        if (!run->ranges[p].done)
            rd_kafka_topic_partition_list_add(list, run->options->source, p)->offset = run->ranges[p].start;
    rd_kafka_resp_err_t err = list->cnt ? rd_kafka_assign(run->consumer, list) : RD_KAFKA_RESP_ERR_NO_ERROR;
    rd_kafka_topic_partition_list_destroy(list);
    if (err)
        snprintf(error, REPLAY_ERROR_SIZE, "assigning the partitions of %.200s failed: %s", run->options->source,
                 rd_kafka_err2str(err));
    return err ? -1 : 0;
}

/* Produces one source record to the same partition of the destination. */
static int copy_record(struct copy_run *run, const rd_kafka_message_t *m, char *error)
{
    rd_kafka_headers_t *source_headers = NULL, *headers = NULL;
    rd_kafka_timestamp_type_t type;
    int64_t timestamp = rd_kafka_message_timestamp(m, &type);

    if (rd_kafka_message_headers(m, &source_headers) == RD_KAFKA_RESP_ERR_NO_ERROR)
        headers = rd_kafka_headers_copy(source_headers);
    int rc = replay_producer_send(&run->producer, run->options->destination, m->partition, m->key, m->key_len,
                                  m->payload, m->len, timestamp > 0 ? timestamp : 0, headers, error);
    if (rc != 0 && headers)
        rd_kafka_headers_destroy(headers);
    return rc;
}

/* Marks the partition done and stops fetching it. */
static void finish_partition(struct copy_run *run, int32_t partition)
{
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);

    run->ranges[partition].done = 1;
    rd_kafka_topic_partition_list_add(list, run->options->source, partition);
    rd_kafka_pause_partitions(run->consumer, list);
    rd_kafka_topic_partition_list_destroy(list);
}

static int all_done(const struct copy_run *run)
{
    for (int p = 0; p < run->partitions; p++)
        if (!run->ranges[p].done)
            return 0;
    return 1;
}

/* Handles one polled message. Returns 0, or -1 with a message. */
static int handle_message(struct copy_run *run, const rd_kafka_message_t *m, struct replay_copy_result *result,
                          char *error)
{
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        /* With read_committed the end is the last stable offset, which stays
         * behind the high watermark until the commit markers of a transaction
         * that just ended are written. So a partition is done only when the
         * end it reached is the end offset taken at start. */
        if (m->partition >= 0 && m->partition < run->partitions && m->offset >= run->ranges[m->partition].end)
            finish_partition(run, m->partition);
        return 0;
    }
    if (m->err) {
        if (m->err == RD_KAFKA_RESP_ERR__TRANSPORT || m->err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
            log_warn("replay copy consumer error, retrying error=\"%s\"", rd_kafka_message_errstr(m));
            return 0;
        }
        snprintf(error, REPLAY_ERROR_SIZE, "reading %.200s failed: %s", run->options->source,
                 rd_kafka_message_errstr(m));
        return -1;
    }
    struct copy_range *range = &run->ranges[m->partition];
    if (range->done)
        return 0;
    if (m->offset >= range->end) {
        finish_partition(run, m->partition);
        return 0;
    }
    if (!run->options->dry_run && copy_record(run, m, error) != 0)
        return -1;
    result->copied++;
    if (m->offset + 1 >= range->end)
        finish_partition(run, m->partition);
    return 0;
}

static int consume_ranges(struct copy_run *run, struct replay_copy_result *result, char *error)
{
    struct replay_progress progress;

    replay_progress_start(&progress, stderr, result->planned);
    while (!all_done(run)) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(run->consumer, 200);
        if (m) {
            int rc = handle_message(run, m, result, error);
            rd_kafka_message_destroy(m);
            if (rc != 0)
                return -1;
        }
        if (!run->options->dry_run)
            replay_producer_poll(&run->producer, 0);
        replay_progress_update(&progress, result->copied);
    }
    replay_progress_finish(&progress, result->copied);
    return run->options->dry_run ? 0 : replay_producer_flush(&run->producer, 60000, error);
}

/* Checks the partition counts and fixes the ranges. */
static int plan_copy(struct copy_run *run, struct replay_copy_result *result, char *error)
{
    run->partitions = replay_topic_partitions(run->consumer, run->options->source, run->options->timeout_ms, error);
    if (run->partitions < 0)
        return -1;
    int destination =
        replay_topic_partitions(run->consumer, run->options->destination, run->options->timeout_ms, error);
    if (destination < 0)
        return -1;
    if (destination < run->partitions) {
        snprintf(error, REPLAY_ERROR_SIZE, "topic %.200s has %d partitions but %.200s has %d; partition p is copied "
                 "to partition p, so the destination needs at least as many", run->options->destination,
                 destination, run->options->source, run->partitions);
        return -1;
    }
    run->ranges = calloc((size_t)run->partitions, sizeof *run->ranges);
    if (!run->ranges) {
        snprintf(error, REPLAY_ERROR_SIZE, "out of memory");
        return -1;
    }
    if (resolve_ranges(run, error) != 0)
        return -1;
    result->partitions = run->partitions;
    for (int p = 0; p < run->partitions; p++)
        result->planned += (uint64_t)(run->ranges[p].end - run->ranges[p].start);
    return 0;
}

int replay_copy_run(const struct intentd_config *cfg, const struct replay_copy_options *options,
                    struct replay_copy_result *result, char *error)
{
    struct copy_run run = {.options = options};
    int rc = -1;

    memset(result, 0, sizeof *result);
    run.consumer = open_consumer(cfg, options->bootstrap, error);
    if (!run.consumer)
        return -1;
    if (plan_copy(&run, result, error) != 0)
        goto done;
    if (!options->dry_run && replay_producer_open(&run.producer, cfg, options->bootstrap, error) != 0)
        goto done;
    if (assign_ranges(&run, error) == 0)
        rc = consume_ranges(&run, result, error);

done:
    replay_producer_close(&run.producer);
    rd_kafka_consumer_close(run.consumer);
    rd_kafka_destroy(run.consumer);
    free(run.ranges);
    return rc;
}
