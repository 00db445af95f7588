/*
 * intentd run with schemas.source: registry against a schema registry the
 * test runs on 127.0.0.1 (tests/support/registry_server.h) and the suite's
 * broker.
 *
 *   1. Registry down from the start: every input partition is paused at its
 *      first record, nothing is dead-lettered, no intent is written and no
 *      offset is committed, also after a stop and a new start.
 *   2. Registry started: every record is processed, including ClickEvent
 *      version 1 records that resolve to the version 2 reader, and the
 *      dead-letter topic holds only the bad records (an unknown schema id and
 *      a writer schema that does not resolve).
 *   3. Registry down again with new records: partitions whose schema ids are
 *      cached keep flowing, the partition that needs an uncached id stops
 *      exactly at that record, and it catches up once the registry is back.
 */
#include "harness.h"

#include "../support/registry_server.h"

#define ID_CLICK_V1 1001
#define ID_CLICK_V2 1002
#define ID_CLICK_V2_AGAIN 1004 /* the same schema under another id, first used in step 3 */
#define ID_REVIEW 1010
#define ID_CLICK_STRING_TIME 1020
#define ID_MISSING 4242

#define CLICKS 270
#define V1_EVERY 9 /* every 9th click is written with ClickEvent version 1 */
#define REVIEWS 30
#define WAVE2_PER_PARTITION 5
#define SECRET "reg-test-secret"

static const char *const CLICK_STRING_TIME =
    "{\"type\":\"record\",\"name\":\"ClickEvent\",\"namespace\":\"io.intentd\",\"fields\":["
    "{\"name\":\"user_id\",\"type\":\"string\"},{\"name\":\"item_id\",\"type\":\"string\"},"
    "{\"name\":\"timestamp\",\"type\":\"string\"}]}";

/* A bad record and the dead-letter reason it must get. */
struct bad_record {
    const char *key;
    const char *reason;
};

static const struct bad_record BAD[] = {
    {"bad-unknown-1", "unknown_schema_id"},
    {"bad-unknown-2", "unknown_schema_id"},
    {"bad-unknown-3", "unknown_schema_id"},
    {"bad-string-time", "incompatible_schema"},
};
#define N_BAD (sizeof BAD / sizeof BAD[0])

static void write_config(struct harness *h, uint16_t port)
{
    FILE *f = fopen(h->config_path, "w");
    assert_non_null(f);
    fprintf(f,
            "kafka:\n  bootstrap_servers: \"%s\"\n  group_id: \"%s\"\n  transactional_id: \"txn-registry\"\n"
            "topics:\n  clickstream: \"%s\"\n  reviews: \"%s\"\n  consents: \"%s\"\n  intents: \"%s\"\n"
            "  offers: \"%s\"\n  changelog: \"%s\"\n  dead_letter: \"%s\"\n  partitions: %d\n"
            "schemas:\n  source: registry\n  registry_url: \"http://127.0.0.1:%u\"\n"
            "  registry_auth: \"intentd:" SECRET "\"\n  local_dir: \"%s/schemas\"\n  max_text_bytes: 64KiB\n"
            "model:\n  path: \"%s\"\n"
            "metrics:\n  port: 0\n",
            harness_bootstrap(), h->group, h->clickstream, h->reviews, h->consents, h->intents, h->offers,
            h->changelog, h->dead_letter, HARNESS_PARTITIONS, (unsigned)port, INTENTD_SOURCE_DIR,
            harness_model_path());
    fclose(f);
}

static void add_schemas(struct registry_server *server)
{
    assert_int_equal(registry_server_add_file(server, ID_CLICK_V1, INTENTD_SOURCE_DIR "/schemas/click_event_v1.avsc"), 0);
    assert_int_equal(registry_server_add_file(server, ID_CLICK_V2, INTENTD_SOURCE_DIR "/schemas/click_event.avsc"), 0);
    assert_int_equal(registry_server_add_file(server, ID_CLICK_V2_AGAIN, INTENTD_SOURCE_DIR "/schemas/click_event.avsc"),
                     0);
    assert_int_equal(registry_server_add_file(server, ID_REVIEW, INTENTD_SOURCE_DIR "/schemas/review_event.avsc"), 0);
    registry_server_add(server, ID_CLICK_STRING_TIME, CLICK_STRING_TIME, NULL);
}

/* ---- frames ---- */

struct frame {
    uint8_t data[256];
    size_t len;
};

static void put(struct frame *b, uint8_t byte)
{
    assert_true(b->len < sizeof b->data);
    b->data[b->len++] = byte;
}

static void put_long(struct frame *b, int64_t value)
{
    uint64_t z = ((uint64_t)value << 1) ^ (uint64_t)(value >> 63);
    for (; z >= 0x80; z >>= 7)
        put(b, (uint8_t)(z | 0x80));
    put(b, (uint8_t)z);
}

static void put_string(struct frame *b, const char *s)
{
    put_long(b, (int64_t)strlen(s));
    for (size_t i = 0; s[i]; i++)
        put(b, (uint8_t)s[i]);
}

/* A ClickEvent version 1 frame, written by hand from click_event_v1.avsc:
 * user_id, item_id, category_id (union branch 1), action as an index into
 * PURCHASE, ADD_TO_CART, FAVOURITE, CLICK, VIEW, timestamp. */
static struct frame click_v1_frame(const struct harness_click *c)
{
    static const codec_action_t v1_symbols[] = {CODEC_ACTION_PURCHASE, CODEC_ACTION_ADD_TO_CART,
                                                 CODEC_ACTION_FAVOURITE, CODEC_ACTION_CLICK, CODEC_ACTION_VIEW};
    struct frame b = {.len = CODEC_FRAME_HEADER_SIZE};
    codec_frame_write_header(ID_CLICK_V1, b.data);
    put_string(&b, c->user);
    put_string(&b, c->item);
    put_long(&b, 1);
    put_string(&b, c->category);
    int index = 0;
    while (v1_symbols[index] != c->action)
        index++;
    put_long(&b, index);
    put_long(&b, c->timestamp_ms);
    return b;
}

/* Produces value to topic; partition -1 lets the key choose. */
static void produce_to(struct harness *h, const char *topic, int32_t partition, const char *key, const void *value,
                       size_t len)
{
    rd_kafka_resp_err_t err = rd_kafka_producev(
        h->producer, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition < 0 ? RD_KAFKA_PARTITION_UA : partition),
        RD_KAFKA_V_KEY((void *)key, strlen(key)), RD_KAFKA_V_VALUE((void *)value, len),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    assert_int_equal(err, RD_KAFKA_RESP_ERR_NO_ERROR);
}

/* A version 2 click under registry schema id. */
static void produce_click_v2(struct harness *h, const struct harness_click *c, uint32_t id, int32_t partition)
{
    codec_click_event_t event = {
        .user_id = (char *)c->user,
        .item_id = (char *)c->item,
        .category_id = (char *)c->category,
        .action = c->action,
        .timestamp_ms = c->timestamp_ms,
        .consent = CODEC_CONSENT_GIVEN,
    };
    uint8_t *frame;
    size_t len;
    codec_error_t err;
    if (codec_encode_click(h->codec, &event, &frame, &len, &err) != CODEC_OK)
        fail_msg("encode click: %s", err.message);
    codec_frame_write_header(id, frame);
    produce_to(h, h->clickstream, partition, c->user, frame, len);
    free(frame);
}

static void produce_review(struct harness *h, const struct harness_click *c, const char *text, int rating)
{
    codec_review_event_t event = {
        .user_id = (char *)c->user,
        .item_id = (char *)c->item,
        .category_id = (char *)c->category,
        .has_rating = 1,
        .rating = rating,
        .text = (char *)text,
        .timestamp_ms = c->timestamp_ms + 1000,
        .consent = CODEC_CONSENT_GIVEN,
    };
    uint8_t *frame;
    size_t len;
    codec_error_t err;
    if (codec_encode_review(h->codec, &event, &frame, &len, &err) != CODEC_OK)
        fail_msg("encode review: %s", err.message);
    codec_frame_write_header(ID_REVIEW, frame);
    produce_to(h, h->reviews, -1, c->user, frame, len);
    free(frame);
}

static void produce_bad(struct harness *h, const struct harness_click *c)
{
    for (size_t i = 0; i < N_BAD; i++) {
        struct harness_click bad = *c;
        snprintf(bad.user, sizeof bad.user, "%s", BAD[i].key);
        if (strcmp(BAD[i].reason, "unknown_schema_id") == 0) {
            produce_click_v2(h, &bad, ID_MISSING, -1);
            continue;
        }
        struct frame b = {.len = CODEC_FRAME_HEADER_SIZE};
        codec_frame_write_header(ID_CLICK_STRING_TIME, b.data);
        put_string(&b, bad.user);
        put_string(&b, bad.item);
        put_string(&b, "2017-11-24T12:00:00Z");
        produce_to(h, h->clickstream, -1, bad.user, b.data, b.len);
    }
}

/* ---- observations ---- */

/* Committed offsets of the group per partition of topic (negative: none). */
static void committed_offsets(struct harness *h, const char *topic, int64_t *out)
{
    char errstr[256];
    rd_kafka_conf_t *conf = harness_conf();
    harness_conf_set(conf, "group.id", h->group);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    assert_non_null(rk);
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(HARNESS_PARTITIONS);
    for (int p = 0; p < HARNESS_PARTITIONS; p++)
        rd_kafka_topic_partition_list_add(list, topic, p);
    assert_int_equal(rd_kafka_committed(rk, list, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
    for (int p = 0; p < HARNESS_PARTITIONS; p++)
        out[p] = list->elems[p].offset;
    rd_kafka_topic_partition_list_destroy(list);
    rd_kafka_destroy(rk);
}

static void end_offsets(const char *topic, int64_t *out)
{
    char errstr[256];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, harness_conf(), errstr, sizeof errstr);
    assert_non_null(rk);
    for (int p = 0; p < HARNESS_PARTITIONS; p++) {
        int64_t low;
        assert_int_equal(rd_kafka_query_watermark_offsets(rk, topic, p, &low, &out[p], 10000),
                         RD_KAFKA_RESP_ERR_NO_ERROR);
    }
    rd_kafka_destroy(rk);
}

/* Name of the log of the intentd run the checks read: DIR/NAME.log. */
static const char *run_log = "run";

/* Returns the text of log DIR/name.log (malloc'ed), "" before the child created it. */
static char *read_log(struct harness *h, const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s.log", h->dir, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        return calloc(1, 1); /* the child has not opened it yet */
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = calloc(1, (size_t)size + 1);
    assert_non_null(text);
    size_t got = fread(text, 1, (size_t)size, f);
    text[got] = '\0';
    fclose(f);
    return text;
}

static int log_contains(struct harness *h, const char *needle)
{
    char *text = read_log(h, run_log);
    int found = strstr(text, needle) != NULL;
    free(text);
    return found;
}

/* Waits until the run log contains needle. */
static void wait_for_log(struct harness *h, pid_t pid, const char *needle, int timeout_s)
{
    for (int i = 0; i < timeout_s * 10; i++) {
        harness_assert_running(h, pid, run_log);
        if (log_contains(h, needle))
            return;
        usleep(100000);
    }
    fail_msg("the run log %s/%s.log has no line with \"%s\" after %d s", h->dir, run_log, needle, timeout_s);
}

static size_t count_topic(const char *topic)
{
    struct harness_records records = {0};
    harness_read_topic(topic, &records);
    size_t n = records.count;
    harness_records_free(&records);
    return n;
}

/* Fails unless every user in users[n] has an intent. */
static void check_intents_for(struct harness *h, const struct harness_click *users, size_t n)
{
    struct harness_records intents = {0};
    harness_read_topic(h->intents, &intents);
    for (size_t i = 0; i < n; i++) {
        size_t j;
        for (j = 0; j < intents.count; j++) {
            if (strcmp(intents.items[j].key, users[i].user) == 0)
                break;
        }
        if (j == intents.count)
            fail_msg("user %s has events but no intent", users[i].user);
    }
    harness_records_free(&intents);
}

static void check_dead_letters(struct harness *h)
{
    struct harness_records dlq = {0};
    harness_read_topic(h->dead_letter, &dlq);
    assert_int_equal(dlq.count, N_BAD);
    for (size_t i = 0; i < N_BAD; i++) {
        const struct harness_record *dead = NULL;
        for (size_t j = 0; j < dlq.count; j++) {
            if (strcmp(dlq.items[j].key, BAD[i].key) == 0)
                dead = &dlq.items[j];
        }
        if (!dead)
            fail_msg("bad record %s is not in the dead-letter topic", BAD[i].key);
        char value[128];
        assert_string_equal(harness_header(dead, "intentd.reason", value, sizeof value), BAD[i].reason);
    }
    harness_records_free(&dlq);
}

/* ---- steps ---- */

/* Step 1: the registry is down; every partition with records pauses at offset 0. */
static void check_paused_at_start(struct harness *h, pid_t pid, uint16_t port)
{
    char needle[256];
    for (int p = 0; p < HARNESS_PARTITIONS; p++) {
        snprintf(needle, sizeof needle, "topic=%s partition=%d offset=0 schema_id=", h->clickstream, p);
        wait_for_log(h, pid, needle, 120);
    }
    snprintf(needle, sizeof needle, "registry=http://127.0.0.1:%u", (unsigned)port);
    assert_true(log_contains(h, needle));
    wait_for_log(h, pid, "schema registry still unavailable", 30);
    sleep(2); /* time for a wrong commit or dead letter to show */

    assert_int_equal(count_topic(h->dead_letter), 0);
    assert_int_equal(count_topic(h->intents), 0);
    int64_t committed[HARNESS_PARTITIONS];
    committed_offsets(h, h->clickstream, committed);
    for (int p = 0; p < HARNESS_PARTITIONS; p++)
        assert_true(committed[p] <= 0);
    committed_offsets(h, h->reviews, committed);
    for (int p = 0; p < HARNESS_PARTITIONS; p++)
        assert_true(committed[p] <= 0);
    printf("registry down: every partition paused at offset 0, nothing committed or dead-lettered\n");
}

/* Step 3: only partition 0 needs a schema id the client has not cached. */
static void check_partial_outage(struct harness *h, pid_t pid, struct registry_server *server,
                                 const struct harness_click *clicks)
{
    int64_t before[HARNESS_PARTITIONS], after[HARNESS_PARTITIONS], committed[HARNESS_PARTITIONS];
    end_offsets(h->clickstream, before);

    registry_server_stop(server);
    struct harness_click wave[HARNESS_PARTITIONS * WAVE2_PER_PARTITION];
    for (int p = 0; p < HARNESS_PARTITIONS; p++) {
        for (int i = 0; i < WAVE2_PER_PARTITION; i++) {
            struct harness_click *c = &wave[p * WAVE2_PER_PARTITION + i];
            *c = clicks[p * WAVE2_PER_PARTITION + i];
            snprintf(c->user, sizeof c->user, "wave2-p%d-%d", p, i);
            produce_click_v2(h, c, p == 0 ? ID_CLICK_V2_AGAIN : ID_CLICK_V2, p);
        }
    }
    harness_flush(h);
    end_offsets(h->clickstream, after);

    char needle[256];
    snprintf(needle, sizeof needle, "topic=%s partition=0 offset=%lld schema_id=%d", h->clickstream,
             (long long)before[0], ID_CLICK_V2_AGAIN);
    wait_for_log(h, pid, needle, 60);
    for (int i = 0; i < 600; i++) {
        committed_offsets(h, h->clickstream, committed);
        if (committed[1] == after[1] && committed[2] == after[2])
            break;
        usleep(100000);
    }
    assert_int_equal(committed[1], after[1]);
    assert_int_equal(committed[2], after[2]);
    sleep(2);
    committed_offsets(h, h->clickstream, committed);
    assert_int_equal(committed[0], before[0]);
    assert_int_equal(count_topic(h->dead_letter), N_BAD);
    printf("partial outage: partitions 1 and 2 flowed, partition 0 stopped at offset %lld\n", (long long)before[0]);

    assert_int_equal(registry_server_start(server, server->port), 0);
    harness_wait_caught_up(h, pid, run_log, 120);
    check_intents_for(h, wave, HARNESS_PARTITIONS * WAVE2_PER_PARTITION);
}

static void registry_outage_pauses_partitions(void **state)
{
    (void)state;
    struct harness h;
    harness_init(&h, "registry", NULL);
    struct registry_server server;
    registry_server_init(&server);
    add_schemas(&server);
    uint16_t port = registry_server_free_port();
    assert_true(port > 0);
    write_config(&h, port);

    struct harness_click *clicks = calloc(CLICKS, sizeof *clicks);
    assert_int_equal(harness_read_taobao(clicks, CLICKS), CLICKS);
    for (size_t i = 0; i < CLICKS; i++) {
        if (i % V1_EVERY == 0 && clicks[i].action != CODEC_ACTION_SEARCH) {
            struct frame b = click_v1_frame(&clicks[i]);
            produce_to(&h, h.clickstream, -1, clicks[i].user, b.data, b.len);
        } else {
            produce_click_v2(&h, &clicks[i], ID_CLICK_V2, -1);
        }
    }
    for (size_t i = 0; i < REVIEWS; i++)
        produce_review(&h, &clicks[i * 7], i % 2 ? "质量很好，物流也快" : "用了两天就坏了", i % 2 ? 5 : 1);
    produce_bad(&h, &clicks[0]);
    harness_flush(&h);

    pid_t pid = harness_start(&h, NULL, run_log);
    check_paused_at_start(&h, pid, port);

    /* A stop during the outage commits nothing past the paused records, and
     * a new process pauses at the same offsets. */
    assert_int_equal(harness_stop(pid, 60), 0);
    run_log = "restart";
    pid = harness_start(&h, NULL, run_log);
    check_paused_at_start(&h, pid, port);

    /* Step 2: the registry comes up. */
    assert_int_equal(registry_server_start(&server, port), 0);
    harness_wait_caught_up(&h, pid, run_log, 240);
    assert_true(log_contains(&h, "schema registry responded, resuming partition"));
    check_dead_letters(&h);
    check_intents_for(&h, clicks, CLICKS);
    pthread_mutex_lock(&server.lock);
    assert_string_equal(server.last_user, "intentd");
    pthread_mutex_unlock(&server.lock);
    printf("registry up: %d clicks (every %dth in version 1) and %d reviews processed, %zu dead letters\n", CLICKS,
           V1_EVERY, REVIEWS, N_BAD);

    check_partial_outage(&h, pid, &server, clicks);
    assert_int_equal(harness_stop(pid, 60), 0);
    assert_false(log_contains(&h, SECRET));
    run_log = "run";
    assert_false(log_contains(&h, SECRET));

    registry_server_free(&server);
    free(clicks);
    harness_free(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(registry_outage_pauses_partitions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
