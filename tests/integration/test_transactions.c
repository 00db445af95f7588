/*
 * Kafka transactions and consumer-group offsets on a real broker, as intentd's
 * exactly-once loop relies on them: aborted records are invisible to
 * read_committed consumers but visible to read_uncommitted ones, and a group
 * member resumes from the offsets an earlier member committed.
 *
 * Needs INTENTD_TEST_BOOTSTRAP=HOST:PORT (tests/run sets it) and fails when
 * it is unset or the broker does not respond. Topic, group and transactional
 * ids carry the pid and time, so reruns against one broker do not collide.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <librdkafka/rdkafka.h>

#include "kafka_admin.h"

#define TIMEOUT_MS 30000
#define MAX_RECORDS 64

struct received {
    char payloads[MAX_RECORDS][64];
    int64_t offsets[MAX_RECORDS];
    int count;
};

static char run_suffix[64];

static const char *bootstrap(void)
{
    const char *servers = getenv("INTENTD_TEST_BOOTSTRAP");

    if (!servers || !servers[0])
        fail_msg("INTENTD_TEST_BOOTSTRAP is not set: start a broker (deploy/kafka/broker.sh start) "
                 "and export INTENTD_TEST_BOOTSTRAP=127.0.0.1:PORT, or run tests/run");
    return servers;
}

static void unique_name(char *out, size_t size, const char *prefix)
{
    if (!run_suffix[0])
        snprintf(run_suffix, sizeof run_suffix, "%ld-%ld", (long)getpid(), (long)time(NULL));
    snprintf(out, size, "%s-%s", prefix, run_suffix);
}

static rd_kafka_conf_t *new_conf(void)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char error[512];

    if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap(), error, sizeof error) != RD_KAFKA_CONF_OK)
        fail_msg("bootstrap.servers: %s", error);
    return conf;
}

static void set(rd_kafka_conf_t *conf, const char *key, const char *value)
{
    char error[512];

    if (rd_kafka_conf_set(conf, key, value, error, sizeof error) != RD_KAFKA_CONF_OK)
        fail_msg("%s=%s: %s", key, value, error);
}

static void fail_on_error(rd_kafka_error_t *error, const char *call)
{
    if (error) {
        char text[512];
        snprintf(text, sizeof text, "%s", rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
        fail_msg("%s failed: %s", call, text);
    }
}

/* Creates a one-partition topic and waits until the metadata lists it. */
static void create_topic(const char *name)
{
    char error[1024];
    rd_kafka_t *admin = kafka_admin_new(new_conf(), error, sizeof error);
    struct kafka_topic_spec spec = {.name = name, .partitions = 1, .replication_factor = 1};
    struct kafka_create_result result;
    struct kafka_topic_info info = {0};

    if (!admin)
        fail_msg("%s", error);
    if (kafka_admin_create_topics(admin, &spec, 1, &result, TIMEOUT_MS, error, sizeof error) != 0)
        fail_msg("broker at %s did not create topic %s: %s", bootstrap(), name, error);
    assert_int_equal(result.status, KAFKA_TOPIC_CREATED);
    for (int attempt = 0; attempt < 40 && !info.exists; attempt++) {
        if (kafka_admin_describe_topics(admin, &name, 1, &info, TIMEOUT_MS, error, sizeof error) != 0)
            fail_msg("%s", error);
        if (!info.exists)
            usleep(250 * 1000);
    }
    assert_true(info.exists);
    rd_kafka_destroy(admin);
}

static void produce(rd_kafka_t *producer, const char *topic, const char *payload)
{
    rd_kafka_resp_err_t err = rd_kafka_producev(producer, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(0),
                                                RD_KAFKA_V_KEY("user-1", 6),
                                                RD_KAFKA_V_VALUE((void *)payload, strlen(payload)),
                                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    if (err)
        fail_msg("producing to %s failed: %s", topic, rd_kafka_err2str(err));
}

/* Reads partition 0 of topic from the start to its end (the last stable
 * offset for read_committed) with a consumer of the given isolation level. */
static void read_partition(const char *topic, const char *isolation, struct received *out)
{
    rd_kafka_conf_t *conf = new_conf();
    char error[512];
    char group[160];

    unique_name(group, sizeof group, "intentd-test-reader");
    set(conf, "group.id", group);
    set(conf, "isolation.level", isolation);
    set(conf, "enable.partition.eof", "true");
    set(conf, "enable.auto.commit", "false");
    rd_kafka_t *consumer = rd_kafka_new(RD_KAFKA_CONSUMER, conf, error, sizeof error);
    if (!consumer)
        fail_msg("creating consumer failed: %s", error);

    rd_kafka_topic_partition_list_t *assignment = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(assignment, topic, 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
    assert_int_equal(rd_kafka_assign(consumer, assignment), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_topic_partition_list_destroy(assignment);

    out->count = 0;
    int at_end = 0;
    for (int polls = 0; polls < TIMEOUT_MS / 200 && !at_end; polls++) {
        rd_kafka_message_t *message = rd_kafka_consumer_poll(consumer, 200);
        if (!message)
            continue;
        if (message->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            at_end = 1;
        } else if (message->err) {
            fail_msg("consuming %s failed: %s", topic, rd_kafka_message_errstr(message));
        } else {
            assert_true(out->count < MAX_RECORDS);
            snprintf(out->payloads[out->count], sizeof out->payloads[0], "%.*s", (int)message->len,
                     (const char *)message->payload);
            out->offsets[out->count] = message->offset;
            out->count++;
        }
        rd_kafka_message_destroy(message);
    }
    assert_true(at_end);
    rd_kafka_consumer_close(consumer);
    rd_kafka_destroy(consumer);
}

static void test_broker_reachable(void **state)
{
    (void)state;
    char error[512];
    rd_kafka_t *admin = kafka_admin_new(new_conf(), error, sizeof error);
    const struct rd_kafka_metadata *metadata = NULL;

    if (!admin)
        fail_msg("%s", error);
    rd_kafka_resp_err_t err = rd_kafka_metadata(admin, 1, NULL, &metadata, 10000);
    if (err)
        fail_msg("broker at %s did not respond to a Metadata request within 10 s: %s; "
                 "start it with deploy/kafka/broker.sh start", bootstrap(), rd_kafka_err2str(err));
    assert_true(metadata->broker_cnt >= 1);
    rd_kafka_metadata_destroy(metadata);
    rd_kafka_destroy(admin);
}

static void test_aborted_hidden_from_read_committed(void **state)
{
    (void)state;
    char topic[160];
    char transactional_id[160];
    char error[512];

    unique_name(topic, sizeof topic, "intentd-test-txn");
    unique_name(transactional_id, sizeof transactional_id, "intentd-test-producer");
    create_topic(topic);

    rd_kafka_conf_t *conf = new_conf();
    set(conf, "transactional.id", transactional_id);
    rd_kafka_t *producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof error);
    if (!producer)
        fail_msg("creating transactional producer failed: %s", error);
    fail_on_error(rd_kafka_init_transactions(producer, TIMEOUT_MS), "init_transactions");

    /* Flushed before the abort, so the aborted records reach the log and a
     * read_uncommitted consumer can see them. */
    fail_on_error(rd_kafka_begin_transaction(producer), "begin_transaction (first)");
    produce(producer, topic, "aborted-0");
    produce(producer, topic, "aborted-1");
    produce(producer, topic, "aborted-2");
    assert_int_equal(rd_kafka_flush(producer, TIMEOUT_MS), RD_KAFKA_RESP_ERR_NO_ERROR);
    fail_on_error(rd_kafka_abort_transaction(producer, TIMEOUT_MS), "abort_transaction");

    fail_on_error(rd_kafka_begin_transaction(producer), "begin_transaction (second)");
    produce(producer, topic, "committed-0");
    produce(producer, topic, "committed-1");
    fail_on_error(rd_kafka_commit_transaction(producer, TIMEOUT_MS), "commit_transaction");
    rd_kafka_destroy(producer);

    struct received *committed = calloc(1, sizeof *committed);
    struct received *uncommitted = calloc(1, sizeof *uncommitted);
    assert_non_null(committed);
    assert_non_null(uncommitted);

    read_partition(topic, "read_committed", committed);
    assert_int_equal(committed->count, 2);
    assert_string_equal(committed->payloads[0], "committed-0");
    assert_string_equal(committed->payloads[1], "committed-1");

    read_partition(topic, "read_uncommitted", uncommitted);
    assert_int_equal(uncommitted->count, 5);
    assert_string_equal(uncommitted->payloads[0], "aborted-0");
    assert_string_equal(uncommitted->payloads[2], "aborted-2");
    assert_string_equal(uncommitted->payloads[3], "committed-0");
    assert_string_equal(uncommitted->payloads[4], "committed-1");
    /* The abort marker takes an offset between the two transactions. */
    assert_true(uncommitted->offsets[3] > uncommitted->offsets[2] + 1);

    free(committed);
    free(uncommitted);
}

static rd_kafka_t *new_group_member(const char *group, const char *topic)
{
    rd_kafka_conf_t *conf = new_conf();
    char error[512];

    set(conf, "group.id", group);
    set(conf, "auto.offset.reset", "earliest");
    set(conf, "enable.auto.commit", "false");
    rd_kafka_t *consumer = rd_kafka_new(RD_KAFKA_CONSUMER, conf, error, sizeof error);
    if (!consumer)
        fail_msg("creating consumer in group %s failed: %s", group, error);
    rd_kafka_poll_set_consumer(consumer);

    rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(topics, topic, RD_KAFKA_PARTITION_UA);
    assert_int_equal(rd_kafka_subscribe(consumer, topics), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_topic_partition_list_destroy(topics);
    return consumer;
}

/* Polls until one record arrives. Fails after TIMEOUT_MS. */
static rd_kafka_message_t *next_record(rd_kafka_t *consumer)
{
    for (int polls = 0; polls < TIMEOUT_MS / 200; polls++) {
        rd_kafka_message_t *message = rd_kafka_consumer_poll(consumer, 200);
        if (!message)
            continue;
        if (!message->err)
            return message;
        if (message->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
            fail_msg("consuming failed: %s", rd_kafka_message_errstr(message));
        rd_kafka_message_destroy(message);
    }
    fail_msg("no record within %d ms", TIMEOUT_MS);
    return NULL;
}

static void test_group_resumes_from_commit(void **state)
{
    (void)state;
    char topic[160];
    char group[160];
    char error[512];
    char payload[32];

    unique_name(topic, sizeof topic, "intentd-test-group");
    unique_name(group, sizeof group, "intentd-test-group");
    create_topic(topic);

    rd_kafka_t *producer = rd_kafka_new(RD_KAFKA_PRODUCER, new_conf(), error, sizeof error);
    if (!producer)
        fail_msg("creating producer failed: %s", error);
    for (int i = 0; i < 10; i++) {
        snprintf(payload, sizeof payload, "record-%d", i);
        produce(producer, topic, payload);
    }
    assert_int_equal(rd_kafka_flush(producer, TIMEOUT_MS), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_destroy(producer);

    /* The first member reads 4 records and commits the offset after the 4th. */
    rd_kafka_t *first = new_group_member(group, topic);
    int64_t last_offset = -1;
    for (int i = 0; i < 4; i++) {
        rd_kafka_message_t *message = next_record(first);
        snprintf(payload, sizeof payload, "record-%d", i);
        assert_int_equal(message->len, strlen(payload));
        assert_memory_equal(message->payload, payload, message->len);
        last_offset = message->offset;
        rd_kafka_message_destroy(message);
    }
    rd_kafka_topic_partition_list_t *offsets = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(offsets, topic, 0)->offset = last_offset + 1;
    assert_int_equal(rd_kafka_commit(first, offsets, 0), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_topic_partition_list_destroy(offsets);
    assert_int_equal(rd_kafka_consumer_close(first), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_destroy(first);

    /* The second member starts at the committed offset and reads the other 6. */
    rd_kafka_t *second = new_group_member(group, topic);
    rd_kafka_topic_partition_list_t *committed = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(committed, topic, 0);
    assert_int_equal(rd_kafka_committed(second, committed, TIMEOUT_MS), RD_KAFKA_RESP_ERR_NO_ERROR);
    assert_int_equal(committed->elems[0].offset, last_offset + 1);
    rd_kafka_topic_partition_list_destroy(committed);

    for (int i = 4; i < 10; i++) {
        rd_kafka_message_t *message = next_record(second);
        snprintf(payload, sizeof payload, "record-%d", i);
        assert_int_equal(message->len, strlen(payload));
        assert_memory_equal(message->payload, payload, message->len);
        rd_kafka_message_destroy(message);
    }
    assert_int_equal(rd_kafka_consumer_close(second), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_destroy(second);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_broker_reachable),
        cmocka_unit_test(test_aborted_hidden_from_read_committed),
        cmocka_unit_test(test_group_resumes_from_commit),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
