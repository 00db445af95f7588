/*
 * Transactions of the stream loop: begin on the first record of a batch,
 * commit outputs and offsets together, abort and rewind on abortable errors.
 */
#include "stream_loop_internal.h"

#include <stdio.h>
#include <string.h>

#include "log.h"

#define COMMIT_RETRIES 5

/* Text appended to fatal transactional errors, because fencing by a newer
 * instance is their likely cause. */
#define FENCED_HINT \
    "another instance with the same transactional.id has probably taken over (fenced), so this one exits"

/* Classifies a transactional API error. Returns 1 for retriable, 0 for
 * abortable, and records a fatal error (returns -1) otherwise. */
static int classify(struct stream_loop *loop, rd_kafka_error_t *error, const char *operation)
{
    int result;

    if (rd_kafka_error_is_fatal(error)) {
        stream_loop_set_fatal(loop, "%s failed with a fatal error: %s; " FENCED_HINT, operation,
                              rd_kafka_error_string(error));
        result = -1;
    } else if (rd_kafka_error_is_retriable(error)) {
        log_warn("%s failed, retrying: %s", operation, rd_kafka_error_string(error));
        result = 1;
    } else if (rd_kafka_error_txn_requires_abort(error)) {
        log_warn("%s failed, aborting the transaction: %s", operation, rd_kafka_error_string(error));
        result = 0;
    } else {
        log_warn("%s failed: %s; treating it as abortable", operation, rd_kafka_error_string(error));
        result = 0;
    }
    rd_kafka_error_destroy(error);
    return result;
}

/* Rewinds every owned input partition to its committed offset (the start when
 * nothing is committed), so the aborted batch is read again. */
static void rewind_client(struct stream_loop *loop, rd_kafka_t *client, const char *role)
{
    rd_kafka_topic_partition_list_t *assigned = NULL;

    if (rd_kafka_assignment(client, &assigned) != RD_KAFKA_RESP_ERR_NO_ERROR || !assigned)
        return;
    if (assigned->cnt == 0) {
        rd_kafka_topic_partition_list_destroy(assigned);
        return;
    }

    rd_kafka_resp_err_t err = rd_kafka_committed(client, assigned, loop->options.transaction_timeout_ms);
    if (err) {
        stream_loop_set_fatal(loop, "reading committed offsets for the %s failed after an abort: %s", role,
                              rd_kafka_err2str(err));
        rd_kafka_topic_partition_list_destroy(assigned);
        return;
    }
    for (int i = 0; i < assigned->cnt; i++) {
        if (assigned->elems[i].offset < 0)
            assigned->elems[i].offset = RD_KAFKA_OFFSET_BEGINNING;
    }

    rd_kafka_error_t *seek_error = rd_kafka_seek_partitions(client, assigned, loop->options.transaction_timeout_ms);
    if (seek_error) {
        stream_loop_set_fatal(loop, "rewinding the %s after an abort failed: %s", role,
                              rd_kafka_error_string(seek_error));
        rd_kafka_error_destroy(seek_error);
    }
    rd_kafka_topic_partition_list_destroy(assigned);
}

static void clear_batch(struct stream_loop *loop)
{
    rd_kafka_topic_partition_list_destroy(loop->pending_offsets);
    loop->pending_offsets = rd_kafka_topic_partition_list_new(16);
    loop->transaction_open = 0;
    loop->batch_records = 0;
}

void stream_loop_abort_batch(struct stream_loop *loop, const char *reason)
{
    if (!loop->transaction_open)
        return;

    log_warn("aborting transaction: %s records=%d", reason, loop->batch_records);

    /* NOTE: librdkafka 2.0.2 against a Kafka 3.9 broker turns an abort into a
     * fatal INVALID_TXN_STATE when produce requests of the transaction are
     * still in flight, so the outstanding records are delivered first. */
    rd_kafka_flush(loop->producer, loop->options.transaction_timeout_ms);

    rd_kafka_error_t *error = rd_kafka_abort_transaction(loop->producer, loop->options.transaction_timeout_ms);
    if (error && rd_kafka_error_is_fatal(error))
        stream_loop_set_fatal(loop, "aborting the transaction failed with a fatal error: %s; " FENCED_HINT,
                              rd_kafka_error_string(error));
    else if (error)
        log_warn("aborting the transaction returned: %s", rd_kafka_error_string(error));
    if (error)
        rd_kafka_error_destroy(error);

    loop->stats.transactions_aborted++;
    clear_batch(loop);
    if (loop->handlers.on_abort)
        loop->handlers.on_abort(loop->handlers.ctx);
    rewind_client(loop, loop->consumer, "group consumer");
    rewind_client(loop, loop->companion, "companion consumer");
}

static int send_offsets(struct stream_loop *loop)
{
    if (loop->pending_offsets->cnt == 0)
        return 0;

    rd_kafka_consumer_group_metadata_t *group = rd_kafka_consumer_group_metadata(loop->consumer);
    for (int attempt = 0;; attempt++) {
        rd_kafka_error_t *error = rd_kafka_send_offsets_to_transaction(loop->producer, loop->pending_offsets, group,
                                                                       loop->options.transaction_timeout_ms);
        if (!error)
            break;
        int kind = classify(loop, error, "sending offsets to the transaction");
        if (kind != 1 || attempt + 1 >= COMMIT_RETRIES) {
            rd_kafka_consumer_group_metadata_destroy(group);
            return -1;
        }
    }
    rd_kafka_consumer_group_metadata_destroy(group);
    return 0;
}

static int commit(struct stream_loop *loop)
{
    for (int attempt = 0;; attempt++) {
        rd_kafka_error_t *error = rd_kafka_commit_transaction(loop->producer, loop->options.transaction_timeout_ms);
        if (!error)
            return 0;
        int kind = classify(loop, error, "committing the transaction");
        if (kind != 1 || attempt + 1 >= COMMIT_RETRIES)
            return -1;
    }
}

int stream_loop_begin_batch(struct stream_loop *loop)
{
    if (loop->transaction_open)
        return 0;

    rd_kafka_error_t *error = rd_kafka_begin_transaction(loop->producer);
    if (error) {
        stream_loop_set_fatal(loop, "beginning a transaction failed: %s", rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
        return -1;
    }
    loop->transaction_open = 1;
    return 0;
}

int stream_loop_commit_batch(struct stream_loop *loop)
{
    if (!loop->transaction_open)
        return 0;

    if (loop->handlers.on_batch_end && loop->handlers.on_batch_end(loop->handlers.ctx) != 0) {
        stream_loop_abort_batch(loop, "the batch handler failed");
        return -1;
    }
    if (send_offsets(loop) != 0 || commit(loop) != 0) {
        if (!loop->fatal)
            stream_loop_abort_batch(loop, "the commit failed");
        return -1;
    }

    loop->stats.transactions_committed++;
    loop->stats.batches++;
    clear_batch(loop);
    if (loop->handlers.on_commit)
        loop->handlers.on_commit(loop->handlers.ctx);
    return 0;
}

void stream_loop_note_offset(struct stream_loop *loop, const char *topic, int32_t partition, int64_t next_offset)
{
    rd_kafka_topic_partition_t *entry = rd_kafka_topic_partition_list_find(loop->pending_offsets, topic, partition);
    if (!entry)
        entry = rd_kafka_topic_partition_list_add(loop->pending_offsets, topic, partition);
    entry->offset = next_offset;
}

void stream_loop_forget_partition(struct stream_loop *loop, const char *topic, int32_t partition)
{
    rd_kafka_topic_partition_list_del(loop->pending_offsets, topic, partition);
}
