#include "stream_loop_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

void stream_loop_set_fatal(struct stream_loop *loop, const char *fmt, ...)
{
    if (loop->fatal)
        return;

    va_list args;
    va_start(args, fmt);
    vsnprintf(loop->fatal_message, sizeof loop->fatal_message, fmt, args);
    va_end(args);
    loop->fatal = 1;
    log_error("stream loop stopping: %s", loop->fatal_message);
}

static int set_conf(rd_kafka_conf_t *conf, const char *name, const char *value, char *error)
{
    char errstr[256];

    if (rd_kafka_conf_set(conf, name, value, errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
        snprintf(error, STREAM_ERROR_SIZE, "invalid Kafka property %s=%s: %s", name, value, errstr);
        return -1;
    }
    return 0;
}

/* Sets name=value unless the user changed it from librdkafka's default. */
static int default_conf(rd_kafka_conf_t *conf, const char *name, const char *librdkafka_default,
                        const char *value, char *error)
{
    char current[256];
    size_t size = sizeof current;

    if (rd_kafka_conf_get(conf, name, current, &size) == RD_KAFKA_CONF_OK &&
        strcmp(current, librdkafka_default) != 0)
        return 0;
    return set_conf(conf, name, value, error);
}

/* Settings exactly-once depends on; the user's properties cannot turn them off. */
static int prepare_consumer_conf(rd_kafka_conf_t *conf, char *error)
{
    if (set_conf(conf, "enable.auto.commit", "false", error) ||
        set_conf(conf, "enable.auto.offset.store", "false", error) ||
        set_conf(conf, "isolation.level", "read_committed", error) ||
        default_conf(conf, "partition.assignment.strategy", "range,roundrobin", "cooperative-sticky", error) ||
        default_conf(conf, "auto.offset.reset", "largest", "earliest", error) ||
        /* A member killed without leaving keeps its partitions until its
         * session times out; 10 s instead of librdkafka's 45 s bounds that
         * stall after a crash. kafka.properties may set another value. */
        default_conf(conf, "session.timeout.ms", "45000", "10000", error))
        return -1;
    return 0;
}

static rd_kafka_t *new_client(rd_kafka_type_t type, rd_kafka_conf_t *conf, const char *role, char *error)
{
    char errstr[256];
    rd_kafka_t *rk = rd_kafka_new(type, conf, errstr, sizeof errstr);

    if (!rk) {
        rd_kafka_conf_destroy(conf);
        snprintf(error, STREAM_ERROR_SIZE, "creating the %s failed: %s", role, errstr);
    }
    return rk;
}

/* librdkafka's statistics callback, run inside consumer polls on the stream
 * thread. Returns 0: librdkafka frees json. */
static int forward_stats(rd_kafka_t *rk, char *json, size_t len, void *opaque)
{
    struct stream_loop *loop = opaque;
    (void)rk;
    if (loop->handlers.on_stats)
        loop->handlers.on_stats(loop->handlers.ctx, json, len);
    return 0;
}

static int create_consumers(struct stream_loop *loop, rd_kafka_conf_t *consumer_conf, char *error)
{
    rd_kafka_conf_t *companion_conf = rd_kafka_conf_dup(consumer_conf);
    rd_kafka_conf_t *restorer_conf = rd_kafka_conf_dup(consumer_conf);

    /* The restorer learns that a changelog partition is fully read from the
     * end-of-partition event, which works for read_committed where the last
     * offsets are transaction markers that are never delivered. */
    if (set_conf(restorer_conf, "enable.partition.eof", "true", error)) {
        rd_kafka_conf_destroy(consumer_conf);
        rd_kafka_conf_destroy(companion_conf);
        rd_kafka_conf_destroy(restorer_conf);
        return -1;
    }

    rd_kafka_conf_set_opaque(consumer_conf, loop);
    rd_kafka_conf_set_rebalance_cb(consumer_conf, stream_rebalance_cb);
    rd_kafka_conf_set_opaque(companion_conf, loop);
    rd_kafka_conf_set_stats_cb(consumer_conf, forward_stats);
    rd_kafka_conf_set_stats_cb(companion_conf, forward_stats);

    loop->consumer = new_client(RD_KAFKA_CONSUMER, consumer_conf, "group consumer", error);
    loop->companion = new_client(RD_KAFKA_CONSUMER, companion_conf, "companion consumer", error);
    loop->restorer = new_client(RD_KAFKA_CONSUMER, restorer_conf, "changelog restore consumer", error);
    if (!loop->consumer || !loop->companion || !loop->restorer)
        return -1;

    rd_kafka_poll_set_consumer(loop->consumer);
    rd_kafka_poll_set_consumer(loop->companion);
    rd_kafka_poll_set_consumer(loop->restorer);
    return 0;
}

/* Back-off of the transactional producer's retries unless the config chose
 * one. After a commit the broker is still writing the transaction markers, so
 * the next transaction's AddPartitionsToTxn often gets CONCURRENT_TRANSACTIONS
 * and is retried after retry.backoff.ms; librdkafka's 100 ms default then
 * caps a backlog at about one transaction per 65 ms (3,200 events/s at 256
 * events per batch; 7,700 with 5 ms, tests/bench/RESULTS.md "e2e"). */
#define STREAM_RETRY_BACKOFF_MS "5"
#define LIBRDKAFKA_DEFAULT_RETRY_BACKOFF_MS "100"

static void default_retry_backoff(rd_kafka_conf_t *conf)
{
    char value[32], errstr[256];
    size_t size = sizeof value;
    if (rd_kafka_conf_get(conf, "retry.backoff.ms", value, &size) == RD_KAFKA_CONF_OK &&
        strcmp(value, LIBRDKAFKA_DEFAULT_RETRY_BACKOFF_MS) == 0)
        rd_kafka_conf_set(conf, "retry.backoff.ms", STREAM_RETRY_BACKOFF_MS, errstr, sizeof errstr);
}

static int create_producer(struct stream_loop *loop, rd_kafka_conf_t *producer_conf, char *error)
{
    default_retry_backoff(producer_conf);
    loop->producer = new_client(RD_KAFKA_PRODUCER, producer_conf, "transactional producer", error);
    if (!loop->producer)
        return -1;

    rd_kafka_error_t *err = rd_kafka_init_transactions(loop->producer, loop->options.transaction_timeout_ms);
    if (err) {
        snprintf(error, STREAM_ERROR_SIZE,
                 "initialising transactions failed: %s; check that transactional.id is set and that the "
                 "broker's transaction state log is available",
                 rd_kafka_error_string(err));
        rd_kafka_error_destroy(err);
        return -1;
    }
    return 0;
}

static int subscribe(struct stream_loop *loop, char *error)
{
    rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(topics, loop->options.driver_topic, RD_KAFKA_PARTITION_UA);

    rd_kafka_resp_err_t err = rd_kafka_subscribe(loop->consumer, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    if (err) {
        snprintf(error, STREAM_ERROR_SIZE, "subscribing to %s failed: %s", loop->options.driver_topic,
                 rd_kafka_err2str(err));
        return -1;
    }
    return 0;
}

int stream_loop_create(struct stream_loop **out, rd_kafka_conf_t *consumer_conf, rd_kafka_conf_t *producer_conf,
                       const struct stream_loop_options *options, const struct stream_handlers *handlers,
                       char *error)
{
    struct stream_loop *loop = calloc(1, sizeof *loop);
    *out = NULL;
    if (!loop || options->n_companions > STREAM_MAX_COMPANIONS) {
        snprintf(error, STREAM_ERROR_SIZE, loop ? "too many companion topics (max %d)" : "out of memory",
                 STREAM_MAX_COMPANIONS);
        free(loop);
        rd_kafka_conf_destroy(consumer_conf);
        rd_kafka_conf_destroy(producer_conf);
        return -1;
    }
    loop->options = *options;
    loop->handlers = *handlers;
    loop->pending_offsets = rd_kafka_topic_partition_list_new(16);

    if (prepare_consumer_conf(consumer_conf, error)) {
        rd_kafka_conf_destroy(consumer_conf);
        rd_kafka_conf_destroy(producer_conf);
        stream_loop_destroy(loop);
        return -1;
    }
    if (create_consumers(loop, consumer_conf, error)) {
        rd_kafka_conf_destroy(producer_conf);
        stream_loop_destroy(loop);
        return -1;
    }
    if (create_producer(loop, producer_conf, error) || subscribe(loop, error)) {
        stream_loop_destroy(loop);
        return -1;
    }

    *out = loop;
    return 0;
}

rd_kafka_t *stream_loop_producer(struct stream_loop *loop)
{
    return loop->producer;
}

void stream_loop_get_stats(const struct stream_loop *loop, struct stream_loop_stats *stats)
{
    *stats = loop->stats;
    stats->active_tasks = 0;
    stats->restoring_tasks = 0;
    for (int i = 0; i < loop->tasks.count; i++) {
        if (loop->tasks.tasks[i].state == STREAM_TASK_ACTIVE)
            stats->active_tasks++;
        else
            stats->restoring_tasks++;
    }
}

/* Handles one record of the group or companion consumer. Returns 0, or -1
 * when the batch must stop (abort or fatal). */
static int handle_record(struct stream_loop *loop, rd_kafka_t *client, rd_kafka_message_t *record)
{
    if (record->err) {
        if (record->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
            return 0;

        char reason[512];
        if (rd_kafka_fatal_error(client, reason, sizeof reason)) {
            stream_loop_set_fatal(loop, "consumer fatal error: %s", reason);
            return -1;
        }
        log_warn("consumer error: %s topic=%s partition=%d", rd_kafka_message_errstr(record),
                 record->rkt ? rd_kafka_topic_name(record->rkt) : "-", (int)record->partition);
        return 0;
    }

    if (stream_loop_begin_batch(loop) != 0)
        return -1;
    int handled = loop->handlers.on_record(loop->handlers.ctx, record);
    if (handled < 0) {
        stream_loop_abort_batch(loop, "the record handler failed");
        return -1;
    }
    if (handled > 0)
        return 0; /* left unprocessed: its offset must not be committed */

    stream_loop_note_offset(loop, rd_kafka_topic_name(record->rkt), record->partition, record->offset + 1);
    loop->batch_records++;
    loop->stats.records++;
    return 0;
}

/* Polls one client without blocking longer than timeout_ms. Returns 1 when a
 * record was handled, 0 when none came, -1 when the batch must stop. */
static int poll_one(struct stream_loop *loop, rd_kafka_t *client, int timeout_ms)
{
    rd_kafka_message_t *record = rd_kafka_consumer_poll(client, timeout_ms);
    if (!record)
        return 0;

    int result = handle_record(loop, client, record);
    rd_kafka_message_destroy(record);
    return result < 0 ? -1 : 1;
}

/* Fills one batch: up to batch_max_events records or batch_max_wait_ms after
 * its first record, alternating between the group and companion consumers so
 * neither starves. */
static void run_batch(struct stream_loop *loop, volatile sig_atomic_t *stop)
{
    double deadline = 0.0;

    while (!*stop && !loop->fatal && loop->batch_records < loop->options.batch_max_events) {
        if (loop->transaction_open && deadline == 0.0)
            deadline = stream_now() + loop->options.batch_max_wait_ms / 1000.0;
        if (deadline != 0.0 && stream_now() >= deadline)
            break;

        int got = poll_one(loop, loop->consumer, loop->transaction_open ? 0 : 20);
        if (got < 0)
            return;
        int got_companion = poll_one(loop, loop->companion, 0);
        if (got_companion < 0)
            return;

        if (got == 0 && got_companion == 0) {
            if (loop->tasks.count > 0)
                stream_restore_poll(loop, loop->transaction_open ? 1 : 5);
            if (!loop->transaction_open)
                return; /* idle: let the caller check the stop flag */
        }
    }
}

int stream_loop_warm_topics(struct stream_loop *loop, const char *const *topics, int n, char *error)
{
    for (int i = 0; i < n; i++) {
        if (!topics[i] || !topics[i][0])
            continue;
        rd_kafka_topic_t *topic = rd_kafka_topic_new(loop->producer, topics[i], NULL);
        const struct rd_kafka_metadata *metadata = NULL;
        rd_kafka_resp_err_t err =
            topic ? rd_kafka_metadata(loop->producer, 0, topic, &metadata, 10000) : rd_kafka_last_error();
        if (metadata)
            rd_kafka_metadata_destroy(metadata);
        if (topic)
            rd_kafka_topic_destroy(topic);
        if (err) {
            snprintf(error, STREAM_ERROR_SIZE, "reading the metadata of output topic %s failed: %s; check that the "
                     "broker is reachable and the topic exists ('intentd topics create')", topics[i],
                     rd_kafka_err2str(err));
            return -1;
        }
    }
    return 0;
}

/* Closes the group consumer. With the cooperative-sticky assignor,
 * librdkafka 2.0.2 fails an assertion and aborts when a consumer closes
 * after joining the group but before its first assignment, which a SIGTERM
 * right after start can hit. A consumer never assigned therefore first
 * serves its rebalance for up to 10 s. Records polled meanwhile are dropped
 * unprocessed and uncommitted, so the next owner of their partition reads
 * them. */
static void close_consumer(struct stream_loop *loop)
{
    for (int waited_ms = 0; loop->stats.assignments == 0 && waited_ms < 10000; waited_ms += 100) {
        rd_kafka_message_t *record = rd_kafka_consumer_poll(loop->consumer, 100);
        if (record)
            rd_kafka_message_destroy(record);
    }

    rd_kafka_consumer_close(loop->consumer);
    loop->consumer_closed = 1;
}

int stream_loop_run(struct stream_loop *loop, volatile sig_atomic_t *stop, char *error)
{
    log_info("stream loop started driver=%s changelog=%s batch_max_events=%d batch_max_wait_ms=%d",
             loop->options.driver_topic, loop->options.changelog_topic ? loop->options.changelog_topic : "-",
             loop->options.batch_max_events, loop->options.batch_max_wait_ms);

    while (!*stop && !loop->fatal) {
        stream_restore_poll(loop, 0);
        if (loop->handlers.on_idle)
            loop->handlers.on_idle(loop->handlers.ctx);
        run_batch(loop, stop);
        if (!loop->fatal)
            stream_loop_commit_batch(loop);
    }

    if (loop->fatal) {
        snprintf(error, STREAM_ERROR_SIZE, "%s", loop->fatal_message);
        return -1;
    }

    /* Closing the consumer revokes the assignment through the rebalance
     * callback, which commits nothing further because no transaction is open. */
    log_info("stream loop stopping: leaving the consumer group");
    close_consumer(loop);
    return 0;
}

void stream_loop_destroy(struct stream_loop *loop)
{
    if (!loop)
        return;

    /* A group consumer must leave the group before rd_kafka_destroy, which
     * otherwise waits for a rebalance that no poll serves. After a fatal
     * error the loop returned without closing it. It leaves first because
     * its revoke callback unassigns the restore and companion consumers,
     * so those must still exist. */
    if (loop->consumer && !loop->consumer_closed)
        close_consumer(loop);
    if (loop->restorer) {
        rd_kafka_consumer_close(loop->restorer);
        rd_kafka_destroy(loop->restorer);
    }
    if (loop->companion) {
        rd_kafka_consumer_close(loop->companion);
        rd_kafka_destroy(loop->companion);
    }
    if (loop->consumer)
        rd_kafka_destroy(loop->consumer);
    if (loop->producer)
        rd_kafka_destroy(loop->producer);
    if (loop->pending_offsets)
        rd_kafka_topic_partition_list_destroy(loop->pending_offsets);
    stream_task_set_free(&loop->tasks);
    free(loop);
}
