/*
 * Avro records in the Confluent frame through a real Kafka broker. The test
 * creates a unique topic with the Admin API and produces one frame of each
 * record type plus several clicks. It consumes them back and checks that each
 * frame is byte-identical and decodes equal to what was sent. It needs
 * INTENTD_TEST_BOOTSTRAP (host:port) and fails when that is unset or the
 * broker does not respond.
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

#include "codec.h"
#include "codec_events.h"

#define CATALOGUE INTENTD_SCHEMA_DIR "/catalogue.json"
#define TIMEOUT_MS 30000
#define CLICK_COUNT 50

typedef struct fixture {
    const char *bootstrap;
    char topic[128];
    codec_t *codec;
} fixture_t;

static rd_kafka_conf_t *base_conf(const char *bootstrap)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char errstr[512];

    if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK)
        fail_msg("bootstrap.servers=%s rejected: %s", bootstrap, errstr);
    return conf;
}

static void create_topic(const char *bootstrap, const char *topic)
{
    char errstr[512];
    rd_kafka_t *admin = rd_kafka_new(RD_KAFKA_PRODUCER, base_conf(bootstrap), errstr, sizeof(errstr));
    assert_non_null(admin);
    rd_kafka_NewTopic_t *new_topic = rd_kafka_NewTopic_new(topic, 1, 1, errstr, sizeof(errstr));
    assert_non_null(new_topic);
    rd_kafka_queue_t *queue = rd_kafka_queue_new(admin);
    rd_kafka_AdminOptions_t *options = rd_kafka_AdminOptions_new(admin, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_request_timeout(options, TIMEOUT_MS, errstr, sizeof(errstr));
    rd_kafka_AdminOptions_set_operation_timeout(options, TIMEOUT_MS, errstr, sizeof(errstr));

    rd_kafka_CreateTopics(admin, &new_topic, 1, options, queue);
    rd_kafka_event_t *event = rd_kafka_queue_poll(queue, TIMEOUT_MS + 5000);
    if (event == NULL)
        fail_msg("CreateTopics %s on %s timed out after %d ms; is the broker running?", topic, bootstrap,
                 TIMEOUT_MS + 5000);
    if (rd_kafka_event_error(event) != RD_KAFKA_RESP_ERR_NO_ERROR)
        fail_msg("CreateTopics %s on %s failed: %s", topic, bootstrap, rd_kafka_event_error_string(event));
    size_t count;
    const rd_kafka_topic_result_t **results =
        rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(event), &count);
    assert_int_equal(count, 1);
    if (rd_kafka_topic_result_error(results[0]) != RD_KAFKA_RESP_ERR_NO_ERROR)
        fail_msg("creating topic %s failed: %s", topic, rd_kafka_topic_result_error_string(results[0]));

    rd_kafka_event_destroy(event);
    rd_kafka_AdminOptions_destroy(options);
    rd_kafka_NewTopic_destroy(new_topic);
    rd_kafka_queue_destroy(queue);
    rd_kafka_destroy(admin);
}

static int setup(void **state)
{
    static fixture_t fixture;
    codec_error_t err;

    fixture.bootstrap = getenv("INTENTD_TEST_BOOTSTRAP");
    if (fixture.bootstrap == NULL || *fixture.bootstrap == '\0') {
        print_error("INTENTD_TEST_BOOTSTRAP is not set; start a broker (deploy/kafka/broker.sh start) "
                    "and set it to host:port\n");
        return -1;
    }
    snprintf(fixture.topic, sizeof(fixture.topic), "intentd-test-avro-%ld-%ld", (long)getpid(),
             (long)time(NULL));
    if (codec_open(CATALOGUE, &fixture.codec, &err) != CODEC_OK) {
        print_error("codec_open: %s\n", err.message);
        return -1;
    }
    *state = &fixture;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;

    if (f != NULL)
        codec_close(f->codec);
    return 0;
}

typedef struct sent {
    uint8_t *frames[CLICK_COUNT + 3];
    size_t lengths[CLICK_COUNT + 3];
    size_t count;
} sent_t;

static void add_frame(sent_t *sent, uint8_t *buf, size_t len)
{
    sent->frames[sent->count] = buf;
    sent->lengths[sent->count] = len;
    sent->count++;
}

static codec_click_event_t click_number(int i, char *user, char *item)
{
    snprintf(user, 32, "user-%d", i % 7);
    snprintf(item, 32, "item-%d", i);
    codec_click_event_t e = {.user_id = user, .item_id = item, .category_id = "cat",
                             .action = (codec_action_t)(1 + i % 6), .timestamp_ms = 1700000000000 + i,
                             .consent = i % 2 ? CODEC_CONSENT_GIVEN : CODEC_CONSENT_UNKNOWN,
                             .query = i % 6 == 5 ? "搜索 query" : NULL};
    return e;
}

static void encode_all(fixture_t *f, sent_t *sent)
{
    codec_error_t err;
    uint8_t *buf;
    size_t len;
    char user[32], item[32];
    float embedding[3] = {0.5f, -1.0f, 2.0f};
    codec_scored_id_t scored[1] = {{"cat", 0.5f}};
    codec_source_offset_t offsets[1] = {{"clickstream", 0, 42}};
    char *items[2] = {"item-1", "item-2"};
    codec_review_event_t review = {.user_id = "user-1", .item_id = "item-1", .category_id = "书籍",
                                   .has_rating = true, .rating = 5, .text = "质量很好", .language = "zh",
                                   .timestamp_ms = 1700000000999};
    codec_user_intent_t intent = {.user_id = "user-1", .embedding = embedding, .embedding_len = 3,
                                  .purchase_propensity = 0.25f, .top_categories = scored,
                                  .top_category_count = 1, .top_items = scored, .top_item_count = 1,
                                  .model_version = "m1", .updated_at_ms = 5, .source_offsets = offsets,
                                  .source_offset_count = 1};
    codec_offer_t offer = {.offer_id = "o-1", .user_id = "user-1", .rule = "r", .items = items,
                           .item_count = 2, .message = "msg", .language = "en", .discount_percent = 10,
                           .created_at_ms = 1, .expires_at_ms = 2, .holdout = true, .model_version = "m1",
                           .source_offsets = offsets, .source_offset_count = 1};

    for (int i = 0; i < CLICK_COUNT; i++) {
        codec_click_event_t click = click_number(i, user, item);
        assert_int_equal(codec_encode_click(f->codec, &click, &buf, &len, &err), CODEC_OK);
        add_frame(sent, buf, len);
    }
    assert_int_equal(codec_encode_review(f->codec, &review, &buf, &len, &err), CODEC_OK);
    add_frame(sent, buf, len);
    assert_int_equal(codec_encode_intent(f->codec, &intent, &buf, &len, &err), CODEC_OK);
    add_frame(sent, buf, len);
    assert_int_equal(codec_encode_offer(f->codec, &offer, &buf, &len, &err), CODEC_OK);
    add_frame(sent, buf, len);
}

static void produce_all(fixture_t *f, const sent_t *sent)
{
    char errstr[512];
    rd_kafka_conf_t *conf = base_conf(f->bootstrap);
    rd_kafka_conf_set(conf, "enable.idempotence", "true", errstr, sizeof(errstr));
    rd_kafka_t *producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    assert_non_null(producer);

    for (size_t i = 0; i < sent->count; i++) {
        rd_kafka_resp_err_t rc = rd_kafka_producev(
            producer, RD_KAFKA_V_TOPIC(f->topic), RD_KAFKA_V_PARTITION(0),
            RD_KAFKA_V_VALUE(sent->frames[i], sent->lengths[i]), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_END);
        if (rc != RD_KAFKA_RESP_ERR_NO_ERROR)
            fail_msg("produce %zu to %s failed: %s", i, f->topic, rd_kafka_err2str(rc));
    }
    rd_kafka_resp_err_t rc = rd_kafka_flush(producer, TIMEOUT_MS);
    if (rc != RD_KAFKA_RESP_ERR_NO_ERROR)
        fail_msg("flush to %s failed: %s", f->topic, rd_kafka_err2str(rc));
    assert_int_equal(rd_kafka_outq_len(producer), 0);
    rd_kafka_destroy(producer);
}

/* Decodes a consumed frame by its record type and compares it with the sent
 * frame decoded the same way. */
static void check_equal(fixture_t *f, const uint8_t *got, size_t got_len, const uint8_t *want,
                        size_t want_len, int index)
{
    codec_error_t err;
    uint32_t id;
    const uint8_t *body;
    size_t body_len;

    assert_int_equal(codec_frame_parse(got, got_len, &id, &body, &body_len, &err), CODEC_OK);
    const char *record = codec_record_name(f->codec, id);
    assert_non_null(record);
    if (strcmp(record, CODEC_CLICK_EVENT) == 0) {
        char user[32], item[32];
        codec_click_event_t expected = click_number(index, user, item);
        codec_click_event_t e;
        assert_int_equal(codec_decode_click(f->codec, got, got_len, &e, &err), CODEC_OK);
        assert_string_equal(e.user_id, expected.user_id);
        assert_string_equal(e.item_id, expected.item_id);
        assert_int_equal(e.action, expected.action);
        assert_int_equal(e.timestamp_ms, expected.timestamp_ms);
        assert_int_equal(e.consent, expected.consent);
        if (expected.query != NULL)
            assert_string_equal(e.query, expected.query);
        else
            assert_null(e.query);
        codec_click_clear(&e);
    } else if (strcmp(record, CODEC_REVIEW_EVENT) == 0) {
        codec_review_event_t e;
        assert_int_equal(codec_decode_review(f->codec, got, got_len, &e, &err), CODEC_OK);
        assert_string_equal(e.text, "质量很好");
        assert_int_equal(e.rating, 5);
        codec_review_clear(&e);
    } else if (strcmp(record, CODEC_USER_INTENT) == 0) {
        codec_user_intent_t e;
        assert_int_equal(codec_decode_intent(f->codec, got, got_len, &e, &err), CODEC_OK);
        assert_int_equal(e.embedding_len, 3);
        assert_true(e.embedding[2] == 2.0f);
        assert_int_equal(e.source_offsets[0].offset, 42);
        codec_intent_clear(&e);
    } else {
        codec_offer_t e;
        assert_int_equal(codec_decode_offer(f->codec, got, got_len, &e, &err), CODEC_OK);
        assert_int_equal(e.item_count, 2);
        assert_string_equal(e.items[1], "item-2");
        assert_true(e.holdout);
        codec_offer_clear(&e);
    }
    /* The broker must hand back the exact bytes. */
    assert_int_equal(got_len, want_len);
    assert_memory_equal(got, want, want_len);
}

static void consume_and_check(fixture_t *f, const sent_t *sent)
{
    char errstr[512];
    char group[160];
    rd_kafka_conf_t *conf = base_conf(f->bootstrap);
    snprintf(group, sizeof(group), "%s-group", f->topic);
    rd_kafka_conf_set(conf, "group.id", group, errstr, sizeof(errstr));
    rd_kafka_conf_set(conf, "enable.auto.commit", "false", errstr, sizeof(errstr));
    rd_kafka_t *consumer = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
    assert_non_null(consumer);
    rd_kafka_poll_set_consumer(consumer);
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(parts, f->topic, 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
    assert_int_equal(rd_kafka_assign(consumer, parts), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_topic_partition_list_destroy(parts);

    size_t received = 0;
    time_t deadline = time(NULL) + TIMEOUT_MS / 1000;
    while (received < sent->count && time(NULL) < deadline) {
        rd_kafka_message_t *msg = rd_kafka_consumer_poll(consumer, 500);
        if (msg == NULL)
            continue;
        if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            rd_kafka_message_destroy(msg);
            continue;
        }
        if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR)
            fail_msg("consume from %s failed: %s", f->topic, rd_kafka_message_errstr(msg));
        assert_int_equal(msg->offset, (int64_t)received);
        check_equal(f, msg->payload, msg->len, sent->frames[received], sent->lengths[received],
                    (int)received);
        received++;
        rd_kafka_message_destroy(msg);
    }
    if (received != sent->count)
        fail_msg("received %zu of %zu records from %s within %d ms", received, sent->count, f->topic,
                 TIMEOUT_MS);
    rd_kafka_consumer_close(consumer);
    rd_kafka_destroy(consumer);
}

static void avro_frames_round_trip(void **state)
{
    fixture_t *f = *state;
    sent_t sent = {.count = 0};

    create_topic(f->bootstrap, f->topic);
    encode_all(f, &sent);
    produce_all(f, &sent);
    consume_and_check(f, &sent);
    for (size_t i = 0; i < sent.count; i++)
        free(sent.frames[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(avro_frames_round_trip),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
