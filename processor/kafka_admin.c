#include "kafka_admin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Extra time to wait for an Admin API result beyond the request's own
 * timeout, so librdkafka reports its timeout before we give up on it. */
#define KAFKA_ADMIN_GRACE_MS 5000

rd_kafka_t *kafka_admin_new(rd_kafka_conf_t *conf, char *error, size_t error_size)
{
    char reason[512];
    rd_kafka_t *admin = rd_kafka_new(RD_KAFKA_PRODUCER, conf, reason, sizeof reason);

    if (!admin) {
        /* rd_kafka_new takes over conf only on success. */
        rd_kafka_conf_destroy(conf);
        snprintf(error, error_size, "creating the Kafka admin client failed: %s", reason);
    }
    return admin;
}

static rd_kafka_AdminOptions_t *new_options(rd_kafka_t *admin, rd_kafka_admin_op_t op, int timeout_ms,
                                            char *error, size_t error_size)
{
    rd_kafka_AdminOptions_t *options = rd_kafka_AdminOptions_new(admin, op);
    char reason[256];

    if (rd_kafka_AdminOptions_set_request_timeout(options, timeout_ms, reason, sizeof reason) ||
        (op == RD_KAFKA_ADMIN_OP_CREATETOPICS &&
         rd_kafka_AdminOptions_set_operation_timeout(options, timeout_ms, reason, sizeof reason))) {
        snprintf(error, error_size, "invalid admin timeout %d ms: %s", timeout_ms, reason);
        rd_kafka_AdminOptions_destroy(options);
        return NULL;
    }
    return options;
}

/* Waits for the one result event on queue. Returns it (the caller destroys
 * it), or NULL with a message if it timed out or the whole request failed. */
static rd_kafka_event_t *wait_result(rd_kafka_queue_t *queue, const char *request, int timeout_ms,
                                     char *error, size_t error_size)
{
    rd_kafka_event_t *event = rd_kafka_queue_poll(queue, timeout_ms + KAFKA_ADMIN_GRACE_MS);

    if (!event) {
        snprintf(error, error_size, "%s timed out after %d ms; check that the broker is reachable",
                 request, timeout_ms + KAFKA_ADMIN_GRACE_MS);
        return NULL;
    }
    if (rd_kafka_event_error(event)) {
        snprintf(error, error_size, "%s failed: %s", request, rd_kafka_event_error_string(event));
        rd_kafka_event_destroy(event);
        return NULL;
    }
    return event;
}

static long find_name(const char *const *names, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(names[i], name) == 0)
            return (long)i;
    }
    return -1;
}

static void fill_create_results(const rd_kafka_CreateTopics_result_t *result, const struct kafka_topic_spec *specs,
                                size_t n, struct kafka_create_result *results)
{
    size_t count = 0;
    const rd_kafka_topic_result_t **topics = rd_kafka_CreateTopics_result_topics(result, &count);

    for (size_t i = 0; i < n; i++) {
        results[i].status = KAFKA_TOPIC_CREATE_FAILED;
        snprintf(results[i].message, sizeof results[i].message, "the broker returned no result for this topic");
    }
    for (size_t t = 0; t < count; t++) {
        const char *name = rd_kafka_topic_result_name(topics[t]);
        rd_kafka_resp_err_t err = rd_kafka_topic_result_error(topics[t]);

        for (size_t i = 0; i < n; i++) {
            if (strcmp(specs[i].name, name) != 0)
                continue;
            results[i].message[0] = '\0';
            if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
                results[i].status = KAFKA_TOPIC_CREATED;
            } else if (err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
                results[i].status = KAFKA_TOPIC_ALREADY_EXISTS;
            } else {
                const char *text = rd_kafka_topic_result_error_string(topics[t]);
                snprintf(results[i].message, sizeof results[i].message, "%s (%s)",
                         text ? text : rd_kafka_err2str(err), rd_kafka_err2name(err));
            }
        }
    }
}

int kafka_admin_create_topics(rd_kafka_t *admin, const struct kafka_topic_spec *specs, size_t n,
                              struct kafka_create_result *results, int timeout_ms,
                              char *error, size_t error_size)
{
    rd_kafka_NewTopic_t **topics = calloc(n ? n : 1, sizeof *topics);
    rd_kafka_AdminOptions_t *options = NULL;
    rd_kafka_queue_t *queue = NULL;
    rd_kafka_event_t *event = NULL;
    char reason[512];
    int status = -1;

    if (!topics) {
        snprintf(error, error_size, "out of memory creating %zu topics", n);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        topics[i] = rd_kafka_NewTopic_new(specs[i].name, specs[i].partitions, specs[i].replication_factor,
                                          reason, sizeof reason);
        if (!topics[i]) {
            snprintf(error, error_size, "invalid topic %s (%d partitions, replication factor %d): %s",
                     specs[i].name, specs[i].partitions, specs[i].replication_factor, reason);
            goto done;
        }
        if (specs[i].compacted && rd_kafka_NewTopic_set_config(topics[i], "cleanup.policy", "compact")) {
            snprintf(error, error_size, "setting cleanup.policy=compact on topic %s failed", specs[i].name);
            goto done;
        }
    }

    options = new_options(admin, RD_KAFKA_ADMIN_OP_CREATETOPICS, timeout_ms, error, error_size);
    if (!options)
        goto done;
    queue = rd_kafka_queue_new(admin);
    rd_kafka_CreateTopics(admin, topics, n, options, queue);
    event = wait_result(queue, "CreateTopics request", timeout_ms, error, error_size);
    if (!event)
        goto done;

    fill_create_results(rd_kafka_event_CreateTopics_result(event), specs, n, results);
    status = 0;

done:
    if (event)
        rd_kafka_event_destroy(event);
    if (queue)
        rd_kafka_queue_destroy(queue);
    if (options)
        rd_kafka_AdminOptions_destroy(options);
    for (size_t i = 0; i < n; i++) {
        if (topics[i])
            rd_kafka_NewTopic_destroy(topics[i]);
    }
    free(topics);
    return status;
}

/* Fills exists, partitions and replication_factor from one Metadata request. */
static int describe_partitions(rd_kafka_t *admin, const char *const *names, size_t n,
                               struct kafka_topic_info *infos, int timeout_ms, char *error, size_t error_size)
{
    const struct rd_kafka_metadata *metadata = NULL;
    rd_kafka_resp_err_t err = rd_kafka_metadata(admin, 1, NULL, &metadata, timeout_ms);

    if (err) {
        snprintf(error, error_size, "Metadata request failed: %s; check that the broker is reachable",
                 rd_kafka_err2str(err));
        return -1;
    }

    for (int t = 0; t < metadata->topic_cnt; t++) {
        const struct rd_kafka_metadata_topic *topic = &metadata->topics[t];
        long i = find_name(names, n, topic->topic);

        if (i < 0 || topic->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
            continue;
        if (topic->err) {
            snprintf(error, error_size, "metadata of topic %s: %s", topic->topic, rd_kafka_err2str(topic->err));
            rd_kafka_metadata_destroy(metadata);
            return -1;
        }
        infos[i].exists = 1;
        infos[i].partitions = topic->partition_cnt;
        infos[i].replication_factor = topic->partition_cnt > 0 ? topic->partitions[0].replica_cnt : 0;
    }
    rd_kafka_metadata_destroy(metadata);
    return 0;
}

static void fill_cleanup_policy(const rd_kafka_ConfigResource_t *resource, struct kafka_topic_info *info)
{
    size_t count = 0;
    const rd_kafka_ConfigEntry_t **entries = rd_kafka_ConfigResource_configs(resource, &count);

    for (size_t e = 0; e < count; e++) {
        const char *value = rd_kafka_ConfigEntry_value(entries[e]);

        if (strcmp(rd_kafka_ConfigEntry_name(entries[e]), "cleanup.policy") != 0 || !value)
            continue;
        snprintf(info->cleanup_policy, sizeof info->cleanup_policy, "%s", value);
        info->compacted = strstr(value, "compact") != NULL;
    }
}

/* Fills cleanup_policy and compacted of the existing topics with one
 * DescribeConfigs request. */
static int describe_configs(rd_kafka_t *admin, const char *const *names, size_t n,
                            struct kafka_topic_info *infos, int timeout_ms, char *error, size_t error_size)
{
    rd_kafka_ConfigResource_t **resources = calloc(n ? n : 1, sizeof *resources);
    rd_kafka_AdminOptions_t *options = NULL;
    rd_kafka_queue_t *queue = NULL;
    rd_kafka_event_t *event = NULL;
    size_t n_existing = 0;
    int status = -1;

    if (!resources) {
        snprintf(error, error_size, "out of memory describing %zu topics", n);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (infos[i].exists)
            resources[n_existing++] = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, names[i]);
    }
    if (n_existing == 0) {
        status = 0;
        goto done;
    }

    options = new_options(admin, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS, timeout_ms, error, error_size);
    if (!options)
        goto done;
    queue = rd_kafka_queue_new(admin);
    rd_kafka_DescribeConfigs(admin, resources, n_existing, options, queue);
    event = wait_result(queue, "DescribeConfigs request", timeout_ms, error, error_size);
    if (!event)
        goto done;

    size_t count = 0;
    const rd_kafka_ConfigResource_t **described =
        rd_kafka_DescribeConfigs_result_resources(rd_kafka_event_DescribeConfigs_result(event), &count);
    for (size_t r = 0; r < count; r++) {
        const char *name = rd_kafka_ConfigResource_name(described[r]);
        long i = find_name(names, n, name);

        if (i < 0)
            continue;
        rd_kafka_resp_err_t err = rd_kafka_ConfigResource_error(described[r]);
        if (err) {
            const char *text = rd_kafka_ConfigResource_error_string(described[r]);
            snprintf(error, error_size, "DescribeConfigs of topic %s failed: %s", name,
                     text ? text : rd_kafka_err2str(err));
            goto done;
        }
        fill_cleanup_policy(described[r], &infos[i]);
    }
    status = 0;

done:
    if (event)
        rd_kafka_event_destroy(event);
    if (queue)
        rd_kafka_queue_destroy(queue);
    if (options)
        rd_kafka_AdminOptions_destroy(options);
    rd_kafka_ConfigResource_destroy_array(resources, n_existing);
    free(resources);
    return status;
}

int kafka_admin_describe_topics(rd_kafka_t *admin, const char *const *names, size_t n,
                                struct kafka_topic_info *infos, int timeout_ms,
                                char *error, size_t error_size)
{
    memset(infos, 0, n * sizeof *infos);
    if (describe_partitions(admin, names, n, infos, timeout_ms, error, error_size) != 0)
        return -1;
    return describe_configs(admin, names, n, infos, timeout_ms, error, error_size);
}
