/*
 * The idempotent producer of `intentd replay` (enable.idempotence=true,
 * acks=all). Retries within one run therefore neither duplicate nor reorder
 * the records of a partition; running the command again sends everything
 * again. Records with the same key go to the same partition through
 * librdkafka's murmur2_random partitioner, which hashes keys as the Java
 * client's default partitioner does. That keeps each user's events in order.
 *
 * Thread: one thread calls every function. Delivery reports are served by
 * rd_kafka_poll() inside these functions.
 */
#ifndef INTENTD_REPLAY_PRODUCER_H
#define INTENTD_REPLAY_PRODUCER_H

#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "config.h"
#include "replay_event.h"

struct replay_producer {
    rd_kafka_t *rk;
    uint64_t delivered;
    uint64_t failed;
    char first_failure[REPLAY_ERROR_SIZE]; /* the first delivery error, "" if none */
};

/* Creates the producer from the config's kafka section; bootstrap, if not
 * NULL or empty, replaces kafka.bootstrap_servers. Returns 0, or -1 with a
 * message in error. */
int replay_producer_open(struct replay_producer *p, const struct intentd_config *cfg, const char *bootstrap,
                         char *error);

/* Queues one record. partition -1 lets the partitioner choose by key.
 * timestamp_ms 0 stamps the record with the send time. headers, if not
 * NULL, is taken over on success. Waits while the local queue is full.
 * Returns 0, or -1 with a message (also when a delivery has failed, because
 * later records could overtake a failed one). */
int replay_producer_send(struct replay_producer *p, const char *topic, int32_t partition, const void *key,
                         size_t key_len, const void *value, size_t value_len, int64_t timestamp_ms,
                         rd_kafka_headers_t *headers, char *error);

/* Serves delivery reports for up to timeout_ms. */
void replay_producer_poll(struct replay_producer *p, int timeout_ms);

/* Waits up to timeout_ms for every queued record. Returns 0 when all were
 * delivered, or -1 with a message. */
int replay_producer_flush(struct replay_producer *p, int timeout_ms, char *error);

void replay_producer_close(struct replay_producer *p);

/* Reads the partition count of topic with a Metadata request through any
 * client rk. Returns it, or -1 with a message in error (also when the
 * topic does not exist). */
int replay_topic_partitions(rd_kafka_t *rk, const char *topic, int timeout_ms, char *error);

#endif
