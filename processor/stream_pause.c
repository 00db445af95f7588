/* Pause, seek and resume of one input topic-partition; see stream_pause.h. */
#include "stream_pause.h"

#include <stdio.h>
#include <string.h>

#include "stream_loop_internal.h"

/* The driver topic is read by the group consumer, the others by the companion consumer. */
static rd_kafka_t *client_of(struct stream_loop *loop, const char *topic)
{
    return strcmp(topic, loop->options.driver_topic) == 0 ? loop->consumer : loop->companion;
}

int stream_pause_partition(struct stream_loop *loop, const char *topic, int32_t partition, int pause, char *error,
                           size_t error_size)
{
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(list, topic, partition);

    rd_kafka_t *client = client_of(loop, topic);
    rd_kafka_resp_err_t err = pause ? rd_kafka_pause_partitions(client, list) : rd_kafka_resume_partitions(client, list);
    if (!err)
        err = list->elems[0].err;
    rd_kafka_topic_partition_list_destroy(list);
    if (err) {
        snprintf(error, error_size, "%s %s partition %d failed: %s", pause ? "pausing" : "resuming", topic,
                 (int)partition, rd_kafka_err2str(err));
        return -1;
    }
    return 0;
}

int stream_pause_seek(struct stream_loop *loop, const char *topic, int32_t partition, int64_t offset, char *error,
                      size_t error_size)
{
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(list, topic, partition)->offset = offset;

    rd_kafka_error_t *seek_error =
        rd_kafka_seek_partitions(client_of(loop, topic), list, loop->options.transaction_timeout_ms);
    int status = 0;
    if (seek_error) {
        snprintf(error, error_size, "seeking %s partition %d to offset %lld failed: %s", topic, (int)partition,
                 (long long)offset, rd_kafka_error_string(seek_error));
        rd_kafka_error_destroy(seek_error);
        status = -1;
    } else if (list->elems[0].err) {
        snprintf(error, error_size, "seeking %s partition %d to offset %lld failed: %s", topic, (int)partition,
                 (long long)offset, rd_kafka_err2str(list->elems[0].err));
        status = -1;
    }
    rd_kafka_topic_partition_list_destroy(list);
    return status;
}

int64_t stream_pause_log_start(struct stream_loop *loop, const char *topic, int32_t partition)
{
    int64_t low = -1, high = -1;
    if (rd_kafka_get_watermark_offsets(client_of(loop, topic), topic, partition, &low, &high) !=
        RD_KAFKA_RESP_ERR_NO_ERROR)
        return -1;
    return low;
}

void stream_pause_fail(struct stream_loop *loop, const char *message)
{
    stream_loop_set_fatal(loop, "%s", message);
}
