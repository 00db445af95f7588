/*
 * State of the stream loop shared by stream_loop.c (batches, transactions),
 * stream_rebalance.c (assignment, revocation) and stream_restore.c (changelog
 * restore). Not for use outside those files.
 */
#ifndef INTENTD_STREAM_LOOP_INTERNAL_H
#define INTENTD_STREAM_LOOP_INTERNAL_H

#include "stream_loop.h"
#include "stream_task.h"

struct stream_loop {
    rd_kafka_t *consumer;  /* group member, subscribed to the driver topic */
    rd_kafka_t *companion; /* companion topics, assigned by hand per task */
    rd_kafka_t *restorer;  /* changelog partitions of restoring tasks */
    rd_kafka_t *producer;  /* transactional */

    struct stream_loop_options options;
    struct stream_handlers handlers;
    struct stream_task_set tasks;

    /* Next offsets (last consumed + 1) of the open transaction, per input
     * topic-partition; sent to the transaction at commit. */
    rd_kafka_topic_partition_list_t *pending_offsets;
    int transaction_open;
    int batch_records;

    struct stream_loop_stats stats;
    int fatal;                        /* set once; the loop stops */
    int consumer_closed;              /* the group consumer has left the group */
    char fatal_message[STREAM_ERROR_SIZE];
};

/* Ends the open transaction: on_batch_end, offsets, commit. On an abortable
 * error it aborts and rewinds instead. Returns 0 when committed or when there
 * was nothing to commit, -1 when aborted or fatal (loop->fatal tells which). */
int stream_loop_commit_batch(struct stream_loop *loop);

/* Begins a transaction unless one is open. Returns 0, or -1 (fatal). */
int stream_loop_begin_batch(struct stream_loop *loop);

/* Records that the open transaction consumed topic/partition up to next_offset - 1. */
void stream_loop_note_offset(struct stream_loop *loop, const char *topic, int32_t partition, int64_t next_offset);

/* Drops a partition's pending offset (it was revoked). */
void stream_loop_forget_partition(struct stream_loop *loop, const char *topic, int32_t partition);

/* Aborts the open transaction, rolls back state and rewinds owned partitions. */
void stream_loop_abort_batch(struct stream_loop *loop, const char *reason);

/* Records a fatal error; the loop stops after the current step. */
void stream_loop_set_fatal(struct stream_loop *loop, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Rebalance callback of the group consumer (opaque: the loop). */
void stream_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *partitions,
                         void *opaque);

/* Starts restoring task p: pauses its inputs and assigns its changelog
 * partition; a task with an empty changelog becomes active at once. */
void stream_restore_begin(struct stream_loop *loop, int32_t partition);

/* Stops restoring task p (revoked while restoring). */
void stream_restore_cancel(struct stream_loop *loop, int32_t partition);

/* Reads restore records for up to timeout_ms and activates finished tasks. */
void stream_restore_poll(struct stream_loop *loop, int timeout_ms);

/* Pauses or resumes partition p of the driver and companion topics. */
void stream_loop_pause_task(struct stream_loop *loop, int32_t partition, int pause);

#endif
