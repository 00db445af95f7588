/*
 * Changelog restore: a newly owned task reads its changelog partition from the
 * beginning to the end (read_committed) before its inputs are resumed. The
 * restore consumer is polled between batches, so the group consumer keeps
 * polling and keeps its membership during a long restore.
 */
#include "stream_loop_internal.h"

#include <unistd.h>

#include "log.h"

static void set_restore_assignment(struct stream_loop *loop, int32_t partition, int assign)
{
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_t *entry = rd_kafka_topic_partition_list_add(list, loop->options.changelog_topic,
                                                                          partition);
    entry->offset = RD_KAFKA_OFFSET_BEGINNING;

    rd_kafka_error_t *error = assign ? rd_kafka_incremental_assign(loop->restorer, list)
                                     : rd_kafka_incremental_unassign(loop->restorer, list);
    if (error) {
        stream_loop_set_fatal(loop, "%s changelog partition %s/%d failed: %s", assign ? "assigning" : "unassigning",
                              loop->options.changelog_topic, (int)partition, rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
    }
    rd_kafka_topic_partition_list_destroy(list);
}

static void activate(struct stream_loop *loop, struct stream_task *task)
{
    double seconds = stream_now() - task->restore_started;

    task->state = STREAM_TASK_ACTIVE;
    stream_loop_pause_task(loop, task->partition, 0);
    log_info("task restored partition=%d records=%lld seconds=%.3f", (int)task->partition,
             (long long)task->records_restored, seconds);
    if (loop->handlers.on_task_ready)
        loop->handlers.on_task_ready(loop->handlers.ctx, task->partition, task->records_restored, seconds);
}

void stream_restore_begin(struct stream_loop *loop, int32_t partition)
{
    struct stream_task *task = stream_task_find(&loop->tasks, partition);
    if (!task)
        return;
    if (!loop->options.changelog_topic) {
        activate(loop, task);
        return;
    }

    /* Right after the topics were created, or during a leader election, the
     * partition may have no leader yet: that is retriable for a while. */
    int64_t low = 0, high = 0;
    rd_kafka_resp_err_t err;
    for (int attempt = 0;; attempt++) {
        err = rd_kafka_query_watermark_offsets(loop->restorer, loop->options.changelog_topic, partition, &low,
                                               &high, loop->options.transaction_timeout_ms);
        int retriable = err == RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION ||
                        err == RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE ||
                        err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART || err == RD_KAFKA_RESP_ERR__TRANSPORT ||
                        err == RD_KAFKA_RESP_ERR__TIMED_OUT;
        if (!err || !retriable || attempt >= 60)
            break;
        log_warn("reading the end of changelog partition %s/%d failed, retrying in 500 ms: %s",
                 loop->options.changelog_topic, (int)partition, rd_kafka_err2str(err));
        usleep(500 * 1000);
    }
    if (err) {
        stream_loop_set_fatal(loop, "reading the end of changelog partition %s/%d failed: %s; check that the "
                              "topic exists and has as many partitions as %s",
                              loop->options.changelog_topic, (int)partition, rd_kafka_err2str(err),
                              loop->options.driver_topic);
        return;
    }
    if (high <= low) {
        activate(loop, task);
        return;
    }

    task->restore_end = high;
    log_info("restoring partition=%d changelog=%s records_up_to=%lld", (int)partition,
             loop->options.changelog_topic, (long long)(high - low));
    set_restore_assignment(loop, partition, 1);
}

void stream_restore_cancel(struct stream_loop *loop, int32_t partition)
{
    struct stream_task *task = stream_task_find(&loop->tasks, partition);
    if (task && task->state == STREAM_TASK_RESTORING && loop->options.changelog_topic)
        set_restore_assignment(loop, partition, 0);
}

void stream_restore_poll(struct stream_loop *loop, int timeout_ms)
{
    int restoring = 0;
    for (int i = 0; i < loop->tasks.count; i++)
        restoring += loop->tasks.tasks[i].state == STREAM_TASK_RESTORING;
    if (restoring == 0 || !loop->options.changelog_topic)
        return;

    /* Bounded so that a large restore does not starve the group consumer. */
    for (int n = 0; n < 10000; n++) {
        rd_kafka_message_t *record = rd_kafka_consumer_poll(loop->restorer, n == 0 ? timeout_ms : 0);
        if (!record)
            return;

        struct stream_task *task = stream_task_find(&loop->tasks, record->partition);
        if (record->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            /* read_committed stops at the last stable offset, which trails
             * the high watermark until the markers of a just-committed
             * transaction are written: the previous owner's last batch may
             * not be readable yet, so wait for the watermark seen at start. */
            if (task && task->state == STREAM_TASK_RESTORING && record->offset >= task->restore_end) {
                set_restore_assignment(loop, record->partition, 0);
                activate(loop, task);
            }
        } else if (record->err) {
            log_warn("changelog restore error: %s partition=%d", rd_kafka_message_errstr(record),
                     (int)record->partition);
        } else if (task && task->state == STREAM_TASK_RESTORING) {
            loop->handlers.on_restore_record(loop->handlers.ctx, record);
            task->records_restored++;
        }
        rd_kafka_message_destroy(record);
    }
}
