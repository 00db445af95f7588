/*
 * Shared helpers of the processor integration tests. Each test gets unique
 * topics and its own config. Real events from the Taobao and review files are
 * produced in the Confluent Avro frame, the intentd binary runs as a child
 * process, and outputs are read back with read_committed.
 *
 * Included by one test file each (static functions), because every
 * tests/integration/test_*.c is its own executable.
 */
#ifndef INTENTD_TEST_HARNESS_H
#define INTENTD_TEST_HARNESS_H

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>
#include <cmocka.h>
#include <librdkafka/rdkafka.h>

#include "codec_events.h"

#define HARNESS_PARTITIONS 3

struct harness {
    char suffix[32];
    char dir[256];           /* scratch folder: config, logs */
    char config_path[300];
    char clickstream[64], reviews[64], consents[64], intents[64], offers[64], changelog[64], dead_letter[64];
    char group[64];
    codec_t *codec;
    rd_kafka_t *producer;
};

/* One record read back from a topic. */
struct harness_record {
    char *key;
    size_t key_len;
    void *value; /* NULL for a tombstone */
    size_t len;
    int32_t partition;
    int64_t offset;
    rd_kafka_headers_t *headers; /* owned copy, or NULL */
};

struct harness_records {
    struct harness_record *items;
    size_t count, capacity;
};

static inline const char *harness_bootstrap(void)
{
    const char *servers = getenv("INTENTD_TEST_BOOTSTRAP");
    if (!servers || !*servers)
        fail_msg("INTENTD_TEST_BOOTSTRAP is not set: this test needs the Kafka broker that tests/run starts "
                 "(or start one with deploy/kafka/broker.sh and export INTENTD_TEST_BOOTSTRAP=127.0.0.1:PORT)");
    return servers;
}

/* The model the processor tests serve: the shipped default model unless
 * INTENTD_TEST_MODEL names another file. */
static inline const char *harness_model_path(void)
{
    const char *path = getenv("INTENTD_TEST_MODEL");
    return path && *path ? path : INTENTD_SOURCE_DIR "/model/default/intentd-default.safetensors";
}

static inline rd_kafka_conf_t *harness_conf(void)
{
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", harness_bootstrap(), errstr, sizeof errstr) != RD_KAFKA_CONF_OK)
        fail_msg("bootstrap.servers: %s", errstr);
    return conf;
}

static inline void harness_conf_set(rd_kafka_conf_t *conf, const char *name, const char *value)
{
    char errstr[256];
    if (rd_kafka_conf_set(conf, name, value, errstr, sizeof errstr) != RD_KAFKA_CONF_OK)
        fail_msg("%s=%s: %s", name, value, errstr);
}

/* Creates topics names[count] with partitions[count] partitions, replication 1. */
static inline void harness_create_topics(const char **names, const int *partitions, int count)
{
    char errstr[256];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, harness_conf(), errstr, sizeof errstr);
    assert_non_null(rk);

    rd_kafka_NewTopic_t *topics[8];
    for (int i = 0; i < count; i++)
        topics[i] = rd_kafka_NewTopic_new(names[i], partitions[i], 1, errstr, sizeof errstr);

    rd_kafka_queue_t *queue = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, topics, (size_t)count, NULL, queue);
    rd_kafka_event_t *event = rd_kafka_queue_poll(queue, 30000);
    assert_non_null(event);
    assert_int_equal(rd_kafka_event_error(event), RD_KAFKA_RESP_ERR_NO_ERROR);

    size_t n = 0;
    const rd_kafka_topic_result_t **results =
        rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(event), &n);
    for (size_t i = 0; i < n; i++) {
        if (rd_kafka_topic_result_error(results[i]))
            fail_msg("creating topic %s failed: %s", rd_kafka_topic_result_name(results[i]),
                     rd_kafka_topic_result_error_string(results[i]));
    }

    rd_kafka_event_destroy(event);
    rd_kafka_queue_destroy(queue);
    for (int i = 0; i < count; i++)
        rd_kafka_NewTopic_destroy(topics[i]);
    rd_kafka_destroy(rk);
}

/* Runs a command line through /bin/sh; returns its exit status. */
static inline int harness_system(const char *fmt, ...)
{
    char command[4096];
    va_list args;
    va_start(args, fmt);
    vsnprintf(command, sizeof command, fmt, args);
    va_end(args);
    int status = system(command);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Writes the test config: extra is appended YAML (triggers, offers ...). */
static inline void harness_write_config(struct harness *h, const char *transactional_id, const char *extra)
{
    FILE *f = fopen(h->config_path, "w");
    assert_non_null(f);
    fprintf(f,
            "kafka:\n"
            "  bootstrap_servers: \"%s\"\n"
            "  group_id: \"%s\"\n"
            "  transactional_id: \"%s\"\n"
            "topics:\n"
            "  clickstream: \"%s\"\n  reviews: \"%s\"\n  consents: \"%s\"\n  intents: \"%s\"\n"
            "  offers: \"%s\"\n  changelog: \"%s\"\n  dead_letter: \"%s\"\n"
            "  partitions: %d\n"
            "schemas:\n  local_dir: \"%s/schemas\"\n  max_text_bytes: 64KiB\n"
            "model:\n  path: \"%s\"\n"
            "metrics:\n  port: 0\n"
            "%s",
            harness_bootstrap(), h->group, transactional_id, h->clickstream, h->reviews, h->consents, h->intents,
            h->offers, h->changelog, h->dead_letter, HARNESS_PARTITIONS, INTENTD_SOURCE_DIR, harness_model_path(),
            extra ? extra : "");
    fclose(f);
}

/* Names unique topics and a scratch folder for this test run, creates the
 * topics with 'intentd topics create' and opens a producer. */
static inline void harness_init(struct harness *h, const char *name, const char *extra_config)
{
    memset(h, 0, sizeof *h);
    snprintf(h->suffix, sizeof h->suffix, "%s-%ld-%d", name, (long)time(NULL), (int)getpid());
    snprintf(h->dir, sizeof h->dir, "%s/intentd-test-%s", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", h->suffix);
    mkdir(h->dir, 0700);
    snprintf(h->config_path, sizeof h->config_path, "%s/intentd.yaml", h->dir);
    snprintf(h->clickstream, sizeof h->clickstream, "click-%s", h->suffix);
    snprintf(h->reviews, sizeof h->reviews, "reviews-%s", h->suffix);
    snprintf(h->consents, sizeof h->consents, "consents-%s", h->suffix);
    snprintf(h->intents, sizeof h->intents, "intents-%s", h->suffix);
    snprintf(h->offers, sizeof h->offers, "offers-%s", h->suffix);
    snprintf(h->changelog, sizeof h->changelog, "changelog-%s", h->suffix);
    snprintf(h->dead_letter, sizeof h->dead_letter, "dlq-%s", h->suffix);
    snprintf(h->group, sizeof h->group, "group-%s", h->suffix);
    harness_write_config(h, "txn-a", extra_config);

    int status = harness_system("%s topics create --config %s > %s/topics.log 2>&1", INTENTD_BINARY, h->config_path,
                                h->dir);
    if (status != 0)
        fail_msg("intentd topics create failed with status %d; see %s/topics.log", status, h->dir);

    codec_error_t err;
    if (codec_open(INTENTD_SOURCE_DIR "/schemas/catalogue.json", &h->codec, &err) != CODEC_OK)
        fail_msg("codec_open: %s", err.message);

    char errstr[256];
    rd_kafka_conf_t *conf = harness_conf();
    harness_conf_set(conf, "enable.idempotence", "true");
    harness_conf_set(conf, "message.max.bytes", "4194304");
    harness_conf_set(conf, "partitioner", "murmur2_random"); /* as Java producers and intentd replay */
    h->producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    assert_non_null(h->producer);
}

/* Closes the producer and removes the scratch folder. A failing assertion
 * leaves the test before this point, so the folder and its logs remain for
 * debugging the failure. */
static inline void harness_free(struct harness *h)
{
    if (h->producer) {
        rd_kafka_flush(h->producer, 30000);
        rd_kafka_destroy(h->producer);
    }
    if (h->codec)
        codec_close(h->codec);
    if (h->dir[0] && harness_system("rm -rf '%s'", h->dir) != 0)
        print_error("cannot remove the scratch folder %s\n", h->dir);
}

/* Sets one topic config through the Admin API (AlterConfigs). */
static inline void harness_set_topic_config(const char *topic, const char *name, const char *value)
{
    char errstr[256];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, harness_conf(), errstr, sizeof errstr);
    assert_non_null(rk);
    rd_kafka_ConfigResource_t *resource = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic);
    assert_int_equal(rd_kafka_ConfigResource_set_config(resource, name, value), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_queue_t *queue = rd_kafka_queue_new(rk);
    rd_kafka_AlterConfigs(rk, &resource, 1, NULL, queue);
    rd_kafka_event_t *event = rd_kafka_queue_poll(queue, 30000);
    assert_non_null(event);
    if (rd_kafka_event_error(event))
        fail_msg("AlterConfigs %s %s=%s: %s", topic, name, value, rd_kafka_event_error_string(event));
    size_t n = 0;
    const rd_kafka_ConfigResource_t **results =
        rd_kafka_AlterConfigs_result_resources(rd_kafka_event_AlterConfigs_result(event), &n);
    for (size_t i = 0; i < n; i++) {
        if (rd_kafka_ConfigResource_error(results[i]))
            fail_msg("AlterConfigs %s: %s", topic, rd_kafka_ConfigResource_error_string(results[i]));
    }
    rd_kafka_event_destroy(event);
    rd_kafka_queue_destroy(queue);
    rd_kafka_ConfigResource_destroy(resource);
    rd_kafka_destroy(rk);
}

static inline void harness_produce(struct harness *h, const char *topic, const void *key, size_t key_len, const void *value,
                            size_t len)
{
    rd_kafka_resp_err_t err;
    while ((err = rd_kafka_producev(h->producer, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY((void *)key, key_len),
                                    RD_KAFKA_V_VALUE((void *)value, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                    RD_KAFKA_V_END)) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
        rd_kafka_poll(h->producer, 10);
    assert_int_equal(err, RD_KAFKA_RESP_ERR_NO_ERROR);
}

static inline void harness_flush(struct harness *h)
{
    assert_int_equal(rd_kafka_flush(h->producer, 60000), RD_KAFKA_RESP_ERR_NO_ERROR);
}

/* One Taobao UserBehavior line. */
struct harness_click {
    char user[32], item[32], category[32];
    codec_action_t action;
    int64_t timestamp_ms;
};

/* Reads the first n lines of the Taobao sample. Returns the count. */
static inline size_t harness_read_taobao(struct harness_click *out, size_t n)
{
    FILE *f = fopen(INTENTD_DATA_DIR "/taobao_user_behavior_sample.csv", "r");
    if (!f)
        fail_msg("cannot open %s/taobao_user_behavior_sample.csv", INTENTD_DATA_DIR);
    char line[256];
    size_t count = 0;
    while (count < n && fgets(line, sizeof line, f)) {
        char behavior[16];
        long long ts;
        struct harness_click *c = &out[count];
        if (sscanf(line, "%31[^,],%31[^,],%31[^,],%15[^,],%lld", c->user, c->item, c->category, behavior, &ts) != 5)
            continue;
        c->action = !strcmp(behavior, "pv")     ? CODEC_ACTION_VIEW
                    : !strcmp(behavior, "fav")  ? CODEC_ACTION_FAVOURITE
                    : !strcmp(behavior, "cart") ? CODEC_ACTION_ADD_TO_CART
                                                : CODEC_ACTION_PURCHASE;
        c->timestamp_ms = ts * 1000;
        count++;
    }
    fclose(f);
    return count;
}

/* Reads up to n review texts and labels from the Chinese review file. */
static inline size_t harness_read_reviews(char **texts, int *labels, size_t n)
{
    FILE *f = fopen(INTENTD_DATA_DIR "/online_shopping_10_cats.csv", "r");
    if (!f)
        fail_msg("cannot open %s/online_shopping_10_cats.csv", INTENTD_DATA_DIR);
    char line[65536];
    size_t count = 0;
    if (!fgets(line, sizeof line, f)) {
        fclose(f);
        return 0;
    }
    while (count < n && fgets(line, sizeof line, f)) {
        char *first = strchr(line, ',');
        char *second = first ? strchr(first + 1, ',') : NULL;
        if (!second || second - first != 2 || (first[1] != '0' && first[1] != '1'))
            continue; /* quoted multi-line reviews are skipped by this simple reader */
        labels[count] = first[1] - '0';
        char *text = second + 1;
        text[strcspn(text, "\r\n")] = '\0';
        if (!*text)
            continue;
        texts[count++] = strdup(text);
    }
    fclose(f);
    return count;
}

/* Consent the tests give a user: about one in five declines. */
static inline int harness_user_consents(const char *user)
{
    unsigned h = 0;
    for (const char *p = user; *p; p++)
        h = h * 31u + (unsigned char)*p;
    return h % 5 != 0;
}

static inline void harness_produce_click(struct harness *h, const struct harness_click *c)
{
    codec_click_event_t event = {
        .user_id = (char *)c->user,
        .item_id = (char *)c->item,
        .category_id = (char *)c->category,
        .action = c->action,
        .timestamp_ms = c->timestamp_ms,
        .consent = harness_user_consents(c->user) ? CODEC_CONSENT_GIVEN : CODEC_CONSENT_DENIED,
    };
    uint8_t *frame;
    size_t len;
    codec_error_t err;
    if (codec_encode_click(h->codec, &event, &frame, &len, &err) != CODEC_OK)
        fail_msg("encode click: %s", err.message);
    harness_produce(h, h->clickstream, c->user, strlen(c->user), frame, len);
    free(frame);
}

static inline void harness_produce_review(struct harness *h, const char *user, const char *item, const char *category,
                                   int rating, const char *text, int64_t timestamp_ms)
{
    codec_review_event_t event = {
        .user_id = (char *)user,
        .item_id = (char *)item,
        .category_id = (char *)category,
        .has_rating = 1,
        .rating = rating,
        .text = (char *)text,
        .timestamp_ms = timestamp_ms,
        .consent = harness_user_consents(user) ? CODEC_CONSENT_GIVEN : CODEC_CONSENT_DENIED,
    };
    uint8_t *frame;
    size_t len;
    codec_error_t err;
    if (codec_encode_review(h->codec, &event, &frame, &len, &err) != CODEC_OK)
        fail_msg("encode review: %s", err.message);
    harness_produce(h, h->reviews, user, strlen(user), frame, len);
    free(frame);
}

/* Children still running when the test process exits, for example after a
 * failed assert jumped out of a test, are killed at exit so that no intentd
 * outlives its test. */
#define HARNESS_MAX_CHILDREN 16
static pid_t harness_children[HARNESS_MAX_CHILDREN];

static inline void harness_kill_children(void)
{
    for (int i = 0; i < HARNESS_MAX_CHILDREN; i++) {
        if (harness_children[i] > 0) {
            kill(harness_children[i], SIGKILL);
            waitpid(harness_children[i], NULL, 0);
            harness_children[i] = 0;
        }
    }
}

static inline void harness_track_child(pid_t pid, int add)
{
    static int registered;
    if (!registered) {
        atexit(harness_kill_children);
        registered = 1;
    }
    for (int i = 0; i < HARNESS_MAX_CHILDREN; i++) {
        if (add && harness_children[i] == 0) {
            harness_children[i] = pid;
            return;
        }
        if (!add && harness_children[i] == pid) {
            harness_children[i] = 0;
            return;
        }
    }
}

/* Starts 'intentd run' with the harness config (or config_path) and returns
 * its pid; output goes to DIR/NAME.log. */
static inline pid_t harness_start(struct harness *h, const char *config_path, const char *name)
{
    char log_path[512];
    snprintf(log_path, sizeof log_path, "%s/%s.log", h->dir, name);

    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execl(INTENTD_BINARY, INTENTD_BINARY, "run", "--config", config_path ? config_path : h->config_path,
              (char *)NULL);
        _exit(127);
    }
    harness_track_child(pid, 1);
    return pid;
}

/* Waits up to timeout_s for the child to exit; returns its exit status
 * (or 128 + signal), or -1 if it is still running. */
static inline int harness_wait_exit(pid_t pid, int timeout_s)
{
    for (int i = 0; i < timeout_s * 10; i++) {
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            harness_track_child(pid, 0);
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
        usleep(100000);
    }
    return -1;
}

/* Sends SIGTERM and waits; returns the exit status (or 128 + signal). */
static inline int harness_stop(pid_t pid, int timeout_s)
{
    kill(pid, SIGTERM);
    int status = harness_wait_exit(pid, timeout_s);
    if (status >= 0)
        return status;

    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    harness_track_child(pid, 0);
    fail_msg("intentd (pid %d) did not stop within %d s of SIGTERM", (int)pid, timeout_s);
    return -1;
}

static inline void harness_kill9(pid_t pid)
{
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    harness_track_child(pid, 0);
}

/* Fails the test if the child has exited. */
static inline void harness_assert_running(struct harness *h, pid_t pid, const char *name)
{
    int status;
    if (waitpid(pid, &status, WNOHANG) == pid) {
        harness_track_child(pid, 0);
        fail_msg("intentd %s exited early with status %d; see %s/%s.log", name,
                 WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), h->dir, name);
    }
}

/* A consumer handle of the test's group for repeated lag queries, which
 * then skip the connection set-up of a new client. Not subscribed. */
static inline rd_kafka_t *harness_lag_client(struct harness *h)
{
    char errstr[256];
    rd_kafka_conf_t *conf = harness_conf();
    harness_conf_set(conf, "group.id", h->group);
    harness_conf_set(conf, "isolation.level", "read_committed");
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    assert_non_null(rk);
    return rk;
}

/* Sum over partitions of (end offset - committed offset of the group), or
 * -1 when a query to the broker fails. */
static inline int64_t harness_group_lag_with(rd_kafka_t *rk, const char *topic)
{
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(HARNESS_PARTITIONS);
    for (int p = 0; p < HARNESS_PARTITIONS; p++)
        rd_kafka_topic_partition_list_add(list, topic, p);
    int64_t lag = -1;
    if (rd_kafka_committed(rk, list, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        lag = 0;
        for (int p = 0; p < HARNESS_PARTITIONS; p++) {
            int64_t low, high;
            if (rd_kafka_query_watermark_offsets(rk, topic, p, &low, &high, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
                lag = -1;
                break;
            }
            int64_t committed = list->elems[p].offset >= 0 ? list->elems[p].offset : low;
            lag += high - committed;
        }
    }
    rd_kafka_topic_partition_list_destroy(list);
    return lag;
}

/* harness_group_lag_with through a new client, for a single query. */
static inline int64_t harness_group_lag(struct harness *h, const char *topic)
{
    rd_kafka_t *rk = harness_lag_client(h);
    int64_t lag = harness_group_lag_with(rk, topic);
    rd_kafka_destroy(rk);
    return lag;
}

/* Waits until the group has committed every input record; the child must
 * stay alive meanwhile. */
static inline void harness_wait_caught_up(struct harness *h, pid_t pid, const char *name, int timeout_s)
{
    time_t started = time(NULL);
    while (time(NULL) - started < timeout_s) {
        harness_assert_running(h, pid, name);
        if (harness_group_lag(h, h->clickstream) == 0 && harness_group_lag(h, h->reviews) == 0)
            return;
        sleep(1);
    }
    fail_msg("intentd %s did not consume every input within %d s; see %s/%s.log", name, timeout_s, h->dir, name);
}

static inline void harness_records_add(struct harness_records *r, const rd_kafka_message_t *m)
{
    if (r->count == r->capacity) {
        r->capacity = r->capacity ? r->capacity * 2 : 1024;
        r->items = realloc(r->items, r->capacity * sizeof *r->items);
        assert_non_null(r->items);
    }
    struct harness_record *rec = &r->items[r->count++];
    memset(rec, 0, sizeof *rec);
    rec->key = calloc(1, m->key_len + 1);
    memcpy(rec->key, m->key, m->key_len);
    rec->key_len = m->key_len;
    if (m->payload) {
        rec->value = malloc(m->len ? m->len : 1);
        memcpy(rec->value, m->payload, m->len);
    }
    rec->len = m->len;
    rec->partition = m->partition;
    rec->offset = m->offset;
    rd_kafka_headers_t *headers = NULL;
    if (rd_kafka_message_headers(m, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR && headers)
        rec->headers = rd_kafka_headers_copy(headers);
}

static inline void harness_records_free(struct harness_records *r)
{
    for (size_t i = 0; i < r->count; i++) {
        free(r->items[i].key);
        free(r->items[i].value);
        if (r->items[i].headers)
            rd_kafka_headers_destroy(r->items[i].headers);
    }
    free(r->items);
    memset(r, 0, sizeof *r);
}

/* Reads every committed record of topic (all partitions, offset order within
 * a partition) with a read_committed consumer. */
static inline void harness_read_topic(const char *topic, struct harness_records *out)
{
    char errstr[256];
    rd_kafka_conf_t *conf = harness_conf();
    harness_conf_set(conf, "group.id", "intentd-test-reader");
    harness_conf_set(conf, "isolation.level", "read_committed");
    harness_conf_set(conf, "enable.partition.eof", "true");
    harness_conf_set(conf, "enable.auto.commit", "false");
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    assert_non_null(rk);
    rd_kafka_poll_set_consumer(rk);

    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(HARNESS_PARTITIONS);
    for (int p = 0; p < HARNESS_PARTITIONS; p++)
        rd_kafka_topic_partition_list_add(list, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    assert_int_equal(rd_kafka_assign(rk, list), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_topic_partition_list_destroy(list);

    int eof = 0;
    time_t started = time(NULL);
    while (eof < HARNESS_PARTITIONS && time(NULL) - started < 120) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 500);
        if (!m)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
            eof++;
        else if (m->err)
            fail_msg("reading %s failed: %s", topic, rd_kafka_message_errstr(m));
        else
            harness_records_add(out, m);
        rd_kafka_message_destroy(m);
    }
    if (eof < HARNESS_PARTITIONS)
        fail_msg("reading %s did not reach the end of every partition within 120 s", topic);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
}

/* Reads partition 0 of a stream-loop test's output topic with read_committed
 * until its end, and fails after 60 s without it. After header_bytes of
 * framing, each value is "d<index>" for a driver record (index below
 * n_driver) or "c<index>" for a companion record (below n_companion). Counts
 * them into driver_seen[index] and companion_seen[index] and returns the
 * record count. */
static inline int harness_count_output(const char *topic, size_t header_bytes, int *driver_seen, int n_driver,
                                       int *companion_seen, int n_companion)
{
    char errstr[256];
    rd_kafka_conf_t *conf = harness_conf();
    harness_conf_set(conf, "group.id", "verify");
    harness_conf_set(conf, "isolation.level", "read_committed");
    harness_conf_set(conf, "enable.partition.eof", "true");
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    assert_non_null(rk);
    rd_kafka_poll_set_consumer(rk);

    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(list, topic, 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
    assert_int_equal(rd_kafka_assign(rk, list), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_topic_partition_list_destroy(list);

    int total = 0, at_end = 0;
    time_t started = time(NULL);
    while (!at_end && time(NULL) - started < 60) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 500);
        if (!m)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            rd_kafka_message_destroy(m);
            at_end = 1;
            continue;
        }
        assert_int_equal(m->err, RD_KAFKA_RESP_ERR_NO_ERROR);
        assert_true(m->len >= header_bytes);
        char value[32];
        snprintf(value, sizeof value, "%.*s", (int)(m->len - header_bytes), (const char *)m->payload + header_bytes);
        int index = atoi(value + 1);
        if (value[0] == 'd') {
            assert_in_range(index, 0, n_driver - 1);
            driver_seen[index]++;
        } else {
            assert_int_equal(value[0], 'c');
            assert_in_range(index, 0, n_companion - 1);
            companion_seen[index]++;
        }
        total++;
        rd_kafka_message_destroy(m);
    }
    if (!at_end)
        fail_msg("reading %s did not reach its end within 60 s (%d records read)", topic, total);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return total;
}

/* Value of header name as a NUL-terminated copy in out, or "" when absent. */
static inline const char *harness_header(const struct harness_record *r, const char *name, char *out, size_t size)
{
    const void *value = NULL;
    size_t len = 0;
    out[0] = '\0';
    if (r->headers && rd_kafka_header_get_last(r->headers, name, &value, &len) == RD_KAFKA_RESP_ERR_NO_ERROR &&
        value) {
        snprintf(out, size, "%.*s", (int)len, (const char *)value);
    }
    return out;
}

#endif
