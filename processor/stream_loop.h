/*
 * The exactly-once consume-transform-produce loop.
 *
 * Partition ownership: the consumer group subscribes to the driver topic
 * (clickstream) only, with cooperative-sticky assignment. Owning driver
 * partition p means owning "task p": partition p of every companion input
 * topic (reviews, consents) and of the state changelog. Companion partitions are
 * assigned by hand on a second consumer, because cooperative-sticky balances
 * each topic on its own and would split a co-partitioned user across members.
 * The companion offsets are committed through the same transaction, with the
 * group's metadata, so a fenced zombie cannot commit them either.
 *
 * Per batch: begin transaction, feed records to handlers.on_record, call
 * handlers.on_batch_end (which produces intents, offers, changelog and
 * dead-letter records through stream_loop_producer), send every consumed offset
 * to the transaction, commit. Errors follow librdkafka's classes: retriable
 * errors are retried, abortable ones abort the transaction, roll back state
 * (handlers.on_abort) and rewind every owned partition to its committed offset;
 * fatal ones (fencing) stop the loop with an error.
 *
 * Restore: a newly owned task is paused until its changelog partition has been
 * read up to the high watermark taken at assignment, through
 * handlers.on_restore_record; the group consumer keeps polling meanwhile.
 *
 * Threading: everything, handlers included, runs on the thread that calls
 * stream_loop_run.
 */
#ifndef INTENTD_STREAM_LOOP_H
#define INTENTD_STREAM_LOOP_H

#include <signal.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#define STREAM_MAX_COMPANIONS 4
#define STREAM_ERROR_SIZE 1024

struct stream_handlers {
    void *ctx;

    /* One input record inside the open transaction. Bad input must be
     * dead-lettered here, not returned as an error. Returns 0, 1 when the
     * record was left unprocessed (the handler paused its partition at it, so
     * its offset is not committed), or -1 to abort the transaction (for
     * example when a produce call failed). */
    int (*on_record)(void *ctx, const rd_kafka_message_t *record);

    /* End of a batch, before the offsets are committed: encode, emit outputs.
     * Returns 0, or -1 to abort the transaction. */
    int (*on_batch_end)(void *ctx);

    /* The transaction committed: drop the undo log of this batch. */
    void (*on_commit)(void *ctx);

    /* The transaction aborted: restore every state changed since the last
     * commit, because the input will be read again from the committed offsets. */
    void (*on_abort)(void *ctx);

    /* One changelog record of a task being restored (NULL value: tombstone). */
    void (*on_restore_record)(void *ctx, const rd_kafka_message_t *record);

    /* Task p became active (restored, from records changelog records, tombstones
     * included) or was given up; on revoke the caller drops the users of
     * partition p. */
    void (*on_task_ready)(void *ctx, int32_t partition, int64_t records, double seconds);
    void (*on_task_revoked)(void *ctx, int32_t partition);

    /* Optional: one librdkafka statistics document (JSON, len bytes, valid
     * during the call) of the group or the companion consumer; sent only when
     * the consumer configuration sets statistics.interval.ms. */
    void (*on_stats)(void *ctx, const char *json, size_t len);

    /* Optional: called between batches with no transaction open: after each
     * batch ends, and about every 20 ms while no records arrive. */
    void (*on_idle)(void *ctx);
};

struct stream_loop_options {
    const char *driver_topic;                            /* subscribed by the group */
    const char *companion_topics[STREAM_MAX_COMPANIONS]; /* co-partitioned inputs */
    int n_companions;
    const char *changelog_topic;                         /* NULL: no state restore */
    int batch_max_events;                                /* records per transaction */
    int batch_max_wait_ms;                               /* max time a batch stays open */
    int transaction_timeout_ms;                          /* commit/abort timeout */
};

struct stream_loop;

/* Creates the group consumer, the companion and restore consumers and the
 * transactional producer from the given configurations (taken over: the
 * caller must not use or destroy them after this call, whatever the result),
 * and initialises transactions, which fences an older producer with the same
 * transactional.id. Returns 0, or -1 with a message in error. */
int stream_loop_create(struct stream_loop **out, rd_kafka_conf_t *consumer_conf, rd_kafka_conf_t *producer_conf,
                       const struct stream_loop_options *options, const struct stream_handlers *handlers,
                       char *error);

/* Producer for the handlers' output records; valid until stream_loop_destroy. */
rd_kafka_t *stream_loop_producer(struct stream_loop *loop);

/* Runs batches until *stop becomes non-zero (the current batch is finished and
 * committed first) or a fatal error. Returns 0 after an orderly stop, -1 with a
 * message in error otherwise. */
/* Fetches the producer's metadata of topics[n], the output topics, so that
 * the first batch does not wait for it. librdkafka keeps records for a topic
 * whose partitions it does not know until a metadata refresh, which took
 * 0.93 s in a debug-logged run. Returns 0, or -1 with a message naming the topic. */
int stream_loop_warm_topics(struct stream_loop *loop, const char *const *topics, int n, char *error);

int stream_loop_run(struct stream_loop *loop, volatile sig_atomic_t *stop, char *error);

/* Counters since creation, for logs and metrics. */
struct stream_loop_stats {
    int64_t records;
    int64_t batches;
    int64_t transactions_committed;
    int64_t transactions_aborted;
    int64_t assignments; /* rebalance assignments received, empty ones included */
    int in_group;        /* 1 from an assignment until a lost assignment or an eager revoke */
    int active_tasks;
    int restoring_tasks;
};
void stream_loop_get_stats(const struct stream_loop *loop, struct stream_loop_stats *stats);

/* Leaves the group (committing nothing further) and frees everything. */
void stream_loop_destroy(struct stream_loop *loop);

#endif
