/*
 * Assignment and revocation of tasks. Runs inside rd_kafka_consumer_poll of the
 * group consumer, on the loop's thread.
 */
#include "stream_loop_internal.h"

#include <stdio.h>
#include <string.h>

#include "log.h"

/* Builds the list of partition p of every companion topic. */
static rd_kafka_topic_partition_list_t *companion_partitions(const struct stream_loop *loop,
                                                             const rd_kafka_topic_partition_list_t *driver)
{
    rd_kafka_topic_partition_list_t *list =
        rd_kafka_topic_partition_list_new(driver->cnt * (loop->options.n_companions + 1));

    for (int i = 0; i < driver->cnt; i++) {
        for (int c = 0; c < loop->options.n_companions; c++)
            rd_kafka_topic_partition_list_add(list, loop->options.companion_topics[c], driver->elems[i].partition);
    }
    return list;
}

void stream_loop_pause_task(struct stream_loop *loop, int32_t partition, int pause)
{
    rd_kafka_topic_partition_list_t *driver = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(driver, loop->options.driver_topic, partition);
    rd_kafka_topic_partition_list_t *companions = companion_partitions(loop, driver);

    if (pause) {
        rd_kafka_pause_partitions(loop->consumer, driver);
        rd_kafka_pause_partitions(loop->companion, companions);
    } else {
        rd_kafka_resume_partitions(loop->consumer, driver);
        rd_kafka_resume_partitions(loop->companion, companions);
    }
    rd_kafka_topic_partition_list_destroy(driver);
    rd_kafka_topic_partition_list_destroy(companions);
}

/* Assigns the companion partitions of newly owned tasks at the group's
 * committed offsets, which the previous owner committed transactionally. */
static void assign_companions(struct stream_loop *loop, const rd_kafka_topic_partition_list_t *driver)
{
    if (loop->options.n_companions == 0)
        return;

    rd_kafka_topic_partition_list_t *list = companion_partitions(loop, driver);
    rd_kafka_resp_err_t err = rd_kafka_committed(loop->companion, list, loop->options.transaction_timeout_ms);
    if (err) {
        stream_loop_set_fatal(loop, "reading committed offsets of the companion topics failed: %s",
                              rd_kafka_err2str(err));
        rd_kafka_topic_partition_list_destroy(list);
        return;
    }
    for (int i = 0; i < list->cnt; i++) {
        if (list->elems[i].offset < 0)
            list->elems[i].offset = RD_KAFKA_OFFSET_BEGINNING;
    }

    rd_kafka_error_t *error = rd_kafka_incremental_assign(loop->companion, list);
    if (error) {
        stream_loop_set_fatal(loop, "assigning the companion partitions failed: %s", rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
    }
    rd_kafka_topic_partition_list_destroy(list);
}

static void unassign_companions(struct stream_loop *loop, const rd_kafka_topic_partition_list_t *driver)
{
    if (loop->options.n_companions == 0)
        return;

    rd_kafka_topic_partition_list_t *list = companion_partitions(loop, driver);
    rd_kafka_error_t *error = rd_kafka_incremental_unassign(loop->companion, list);
    if (error) {
        log_warn("unassigning the companion partitions failed: %s", rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
    }
    rd_kafka_topic_partition_list_destroy(list);
}

static int is_cooperative(rd_kafka_t *rk)
{
    return strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
}

/* Applies an assignment change with the call the protocol requires: an eager
 * strategy set by the user revokes and assigns everything at once. */
static const char *apply_assignment(rd_kafka_t *rk, rd_kafka_topic_partition_list_t *partitions, int assign)
{
    static __thread char message[256];

    if (!is_cooperative(rk)) {
        rd_kafka_resp_err_t err = rd_kafka_assign(rk, assign ? partitions : NULL);
        return err ? rd_kafka_err2str(err) : NULL;
    }

    rd_kafka_error_t *error = assign ? rd_kafka_incremental_assign(rk, partitions)
                                     : rd_kafka_incremental_unassign(rk, partitions);
    if (!error)
        return NULL;
    snprintf(message, sizeof message, "%s", rd_kafka_error_string(error));
    rd_kafka_error_destroy(error);
    return message;
}

static void on_assign(struct stream_loop *loop, rd_kafka_t *rk, rd_kafka_topic_partition_list_t *partitions)
{
    const char *failure = apply_assignment(rk, partitions, 1);
    if (failure) {
        stream_loop_set_fatal(loop, "assigning partitions failed: %s", failure);
        return;
    }
    assign_companions(loop, partitions);
    loop->stats.assignments++;
    loop->stats.in_group = 1;
    /* Cooperative rebalancing hands every member a delta, often empty: only
     * a member that owns nothing afterwards is a standby. */
    if (partitions->cnt == 0 && loop->tasks.count == 0)
        log_info("no partitions assigned topic=%s: this member stands by (normal while a rebalance moves "
                 "partitions, and for good when members outnumber partitions)", loop->options.driver_topic);

    for (int i = 0; i < partitions->cnt; i++) {
        int32_t p = partitions->elems[i].partition;
        log_info("partition assigned topic=%s partition=%d", loop->options.driver_topic, (int)p);
        if (!stream_task_add(&loop->tasks, p, stream_now())) {
            stream_loop_set_fatal(loop, "out of memory adding task %d", (int)p);
            return;
        }
        stream_loop_pause_task(loop, p, 1);
        stream_restore_begin(loop, p);
    }
}

static void on_revoke(struct stream_loop *loop, rd_kafka_t *rk, rd_kafka_topic_partition_list_t *partitions)
{
    /* An orderly revoke commits the open transaction before the partitions
     * are given up; a lost assignment may already belong to another member,
     * so its work is aborted instead. */
    if (loop->transaction_open && !loop->fatal) {
        if (rd_kafka_assignment_lost(rk))
            stream_loop_abort_batch(loop, "the assignment was lost");
        else
            stream_loop_commit_batch(loop);
    }

    /* A cooperative revoke leaves the member in the group with what it
     * keeps; a lost assignment or an eager revoke of everything does not. */
    if (rd_kafka_assignment_lost(rk) || !is_cooperative(rk))
        loop->stats.in_group = 0;

    unassign_companions(loop, partitions);
    for (int i = 0; i < partitions->cnt; i++) {
        int32_t p = partitions->elems[i].partition;
        log_info("partition revoked topic=%s partition=%d lost=%d", loop->options.driver_topic, (int)p,
                 rd_kafka_assignment_lost(rk));
        stream_restore_cancel(loop, p);
        stream_task_remove(&loop->tasks, p);
        if (loop->handlers.on_task_revoked)
            loop->handlers.on_task_revoked(loop->handlers.ctx, p);
    }

    const char *failure = apply_assignment(rk, partitions, 0);
    if (failure)
        log_warn("unassigning partitions failed: %s", failure);
}

void stream_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *partitions,
                         void *opaque)
{
    struct stream_loop *loop = opaque;

    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS)
        on_assign(loop, rk, partitions);
    else if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS)
        on_revoke(loop, rk, partitions);
    else
        stream_loop_set_fatal(loop, "unexpected rebalance event: %s", rd_kafka_err2str(err));
}
