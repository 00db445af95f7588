/*
 * Topic administration through librdkafka's Admin API: create topics and read
 * back what exists (partition count, replication factor, cleanup.policy).
 *
 * Every function blocks the calling thread for at most about timeout_ms and
 * returns 0, or -1 with a message in error (error_size bytes) when the
 * request as a whole failed (broker unreachable, timed out). Per-topic
 * outcomes are reported in the result arrays, not as -1.
 */
#ifndef INTENTD_KAFKA_ADMIN_H
#define INTENTD_KAFKA_ADMIN_H

#include <stddef.h>

#include <librdkafka/rdkafka.h>

/* A topic to create. */
struct kafka_topic_spec {
    const char *name;
    int partitions;
    int replication_factor;
    int compacted; /* 1: cleanup.policy=compact, 0: the broker's default */
};

enum kafka_create_status {
    KAFKA_TOPIC_CREATED = 0,
    KAFKA_TOPIC_ALREADY_EXISTS = 1,
    KAFKA_TOPIC_CREATE_FAILED = 2,
};

struct kafka_create_result {
    enum kafka_create_status status;
    char message[512]; /* broker's error text when CREATE_FAILED, else "" */
};

/* The state of one topic in the cluster. */
struct kafka_topic_info {
    int exists;
    int partitions;
    int replication_factor;  /* replicas of partition 0 */
    char cleanup_policy[64]; /* "delete", "compact" or "compact,delete"; "" if unknown */
    int compacted;           /* 1 if cleanup_policy contains "compact" */
};

/* Creates an admin client from conf, which it takes over (also on failure).
 * Returns the client, or NULL with a message in error. */
rd_kafka_t *kafka_admin_new(rd_kafka_conf_t *conf, char *error, size_t error_size);

/* Creates the n topics in specs with one CreateTopics request and fills
 * results[i] for specs[i]. A topic that already exists is
 * KAFKA_TOPIC_ALREADY_EXISTS, and its settings are left as they are. */
int kafka_admin_create_topics(rd_kafka_t *admin, const struct kafka_topic_spec *specs, size_t n,
                              struct kafka_create_result *results, int timeout_ms,
                              char *error, size_t error_size);

/* Fills infos[i] for names[i] from a Metadata request for all topics and a
 * DescribeConfigs request for the topics that exist. */
int kafka_admin_describe_topics(rd_kafka_t *admin, const char *const *names, size_t n,
                                struct kafka_topic_info *infos, int timeout_ms,
                                char *error, size_t error_size);

#endif
