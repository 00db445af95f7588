/*
 * Admission of input records through the schema registry. Writer schemas
 * fetched by id resolve to the reader schema. Ids the registry does not have,
 * schemas that are not Avro records and schemas that do not resolve become
 * dead letters with their own reasons. The registry is a test server
 * on 127.0.0.1. The unavailable-registry path pauses a Kafka partition and is
 * tested in tests/integration/test_run_registry.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../support/registry_server.h"
#include "app_registry.h"
#include "metrics_render.h"
#include "metrics_snapshot.h"

#define SCHEMA_DIR INTENTD_SOURCE_DIR "/schemas"

/* ClickEvent with a string timestamp: cannot resolve to the reader's long. */
static const char *const CLICK_STRING_TIME =
    "{\"type\":\"record\",\"name\":\"ClickEvent\",\"namespace\":\"io.intentd\",\"fields\":["
    "{\"name\":\"user_id\",\"type\":\"string\"},{\"name\":\"item_id\",\"type\":\"string\"},"
    "{\"name\":\"timestamp\",\"type\":\"string\"}]}";

struct fixture {
    struct registry_server server;
    struct intentd_config cfg;
    struct app_registry *registry;
    rd_kafka_t *rk;
    rd_kafka_topic_t *topic;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    char error[512], url[64];

    registry_server_init(&f->server);
    registry_server_add_file(&f->server, 101, SCHEMA_DIR "/click_event_v1.avsc");
    registry_server_add_file(&f->server, 102, SCHEMA_DIR "/click_event.avsc");
    registry_server_add_file(&f->server, 110, SCHEMA_DIR "/review_event.avsc");
    registry_server_add(&f->server, 120, CLICK_STRING_TIME, NULL);
    registry_server_add(&f->server, 121, "\"string\"", NULL);
    registry_server_add(&f->server, 122, "syntax = \"proto3\";", "PROTOBUF");
    registry_server_add_file(&f->server, 140, SCHEMA_DIR "/consent.avsc");
    if (registry_server_start(&f->server, 0) != 0)
        return -1;
    snprintf(url, sizeof url, "http://127.0.0.1:%u", (unsigned)f->server.port);

    f->cfg.schemas.local_dir = SCHEMA_DIR;
    f->cfg.schemas.format = CONFIG_FORMAT_AVRO;
    f->cfg.schemas.max_text_bytes = 4096;
    struct schema_registry_options options;
    schema_registry_options_defaults(&options, url, NULL);
    f->registry = app_registry_new(&f->cfg, &options, error, sizeof error);
    if (!f->registry) {
        print_error("app_registry_new: %s\n", error);
        return -1;
    }

    /* A client handle only to name the record's topic; it never connects. */
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "0", error, sizeof error);
    f->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof error);
    f->topic = f->rk ? rd_kafka_topic_new(f->rk, "clicks", NULL) : NULL;
    *state = f;
    return f->topic ? 0 : -1;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    rd_kafka_topic_destroy(f->topic);
    rd_kafka_destroy(f->rk);
    app_registry_free(f->registry);
    registry_server_free(&f->server);
    free(f);
    return 0;
}

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

static struct frame frame_start(uint32_t id)
{
    struct frame b = {.len = 0};
    put(&b, 0);
    put(&b, (uint8_t)(id >> 24));
    put(&b, (uint8_t)(id >> 16));
    put(&b, (uint8_t)(id >> 8));
    put(&b, (uint8_t)id);
    return b;
}

/* A ClickEvent version 1 body: user_id, item_id, category_id (union branch
 * 1, string), action (index into PURCHASE, ADD_TO_CART, FAVOURITE, CLICK,
 * VIEW), timestamp. */
static struct frame click_v1(uint32_t id, const char *user, int action_index)
{
    struct frame b = frame_start(id);
    put_string(&b, user);
    put_string(&b, "i9");
    put_long(&b, 1);
    put_string(&b, "c3");
    put_long(&b, action_index);
    put_long(&b, 1511544070000);
    return b;
}

static rd_kafka_message_t record_of(struct fixture *f, const struct frame *b, const char *key)
{
    return (rd_kafka_message_t){
        .rkt = f->topic,
        .partition = 0,
        .offset = 5,
        .payload = (void *)b->data,
        .len = b->len,
        .key = (void *)key,
        .key_len = key ? strlen(key) : 0,
    };
}

/* Admits and, when admitted, decodes record as a click. Returns the final reason. */
static enum app_dead_letter_reason admit_and_decode(struct fixture *f, const rd_kafka_message_t *record,
                                                    struct app_decoded_event *decoded, char *detail, size_t size)
{
    const codec_t *codec = NULL;
    enum app_dead_letter_reason reason = APP_DLQ_NONE;
    enum app_registry_admission admission =
        app_registry_admit(f->registry, NULL, record, &codec, &reason, detail, size);
    assert_int_not_equal(admission, APP_REGISTRY_DEFER);
    if (admission == APP_REGISTRY_DEAD_LETTER)
        return reason;
    assert_non_null(codec);
    return app_decode_event(&f->cfg, codec, APP_EVENT_CLICK, record, decoded, detail, size);
}

static void older_writer_resolves(void **state)
{
    struct fixture *f = *state;
    struct frame b = click_v1(101, "u1", 3);
    rd_kafka_message_t record = record_of(f, &b, "u1");
    struct app_decoded_event decoded;
    char detail[512];

    assert_int_equal(admit_and_decode(f, &record, &decoded, detail, sizeof detail), APP_DLQ_NONE);
    assert_string_equal(decoded.event.user_id, "u1");
    assert_string_equal(decoded.event.category_id, "c3");
    assert_int_equal(decoded.event.action, CONFIG_ACTION_CLICK);
    assert_int_equal(decoded.event.timestamp_ms, 1511544070000);
    assert_int_equal(decoded.event.consent, -1); /* the v1 writer has no consent field */
    app_decoded_event_clear(&decoded);
}

static void cached_id_sends_no_request(void **state)
{
    struct fixture *f = *state;
    struct frame b = click_v1(101, "u2", 0);
    rd_kafka_message_t record = record_of(f, &b, "u2");
    struct app_decoded_event decoded;
    char detail[512];

    assert_int_equal(admit_and_decode(f, &record, &decoded, detail, sizeof detail), APP_DLQ_NONE);
    app_decoded_event_clear(&decoded);
    unsigned before = registry_server_requests(&f->server);
    assert_int_equal(admit_and_decode(f, &record, &decoded, detail, sizeof detail), APP_DLQ_NONE);
    assert_int_equal(decoded.event.action, CONFIG_ACTION_PURCHASE);
    app_decoded_event_clear(&decoded);
    assert_int_equal(registry_server_requests(&f->server), before);
}

static void consent_record_resolves(void **state)
{
    struct fixture *f = *state;
    struct frame b = frame_start(140);
    put_string(&b, "u7");
    put(&b, 1);                 /* marketing_consent true */
    put(&b, 0);                 /* personalised_opt_out false */
    put_long(&b, 1511544070000); /* updated_at */
    rd_kafka_message_t record = record_of(f, &b, "u7");
    const codec_t *codec = NULL;
    enum app_dead_letter_reason reason = APP_DLQ_NONE;
    struct app_decoded_event decoded;
    char detail[512];

    assert_int_equal(app_registry_admit(f->registry, NULL, &record, &codec, &reason, detail, sizeof detail),
                     APP_REGISTRY_DECODE);
    assert_int_equal(app_decode_event(&f->cfg, codec, APP_EVENT_CONSENT, &record, &decoded, detail, sizeof detail),
                     APP_DLQ_NONE);
    assert_string_equal(decoded.event.user_id, "u7");
    assert_int_equal(decoded.event.consent, 1);
    app_decoded_event_clear(&decoded);
}

static void unknown_id_dead_lettered(void **state)
{
    struct fixture *f = *state;
    struct frame b = click_v1(4242, "u1", 3);
    rd_kafka_message_t record = record_of(f, &b, "u1");
    struct app_decoded_event decoded;
    char detail[512];

    assert_int_equal(admit_and_decode(f, &record, &decoded, detail, sizeof detail), APP_DLQ_UNKNOWN_SCHEMA);
    assert_non_null(strstr(detail, "4242"));
}

static void reader_id_range_rejected(void **state)
{
    struct fixture *f = *state;
    struct frame b = click_v1(APP_REGISTRY_READER_ID_BASE, "u1", 3);
    rd_kafka_message_t record = record_of(f, &b, "u1");
    struct app_decoded_event decoded;
    char detail[512];

    assert_int_equal(admit_and_decode(f, &record, &decoded, detail, sizeof detail), APP_DLQ_UNKNOWN_SCHEMA);
}

static void unresolvable_writer_dead_lettered(void **state)
{
    struct fixture *f = *state;
    struct frame b = frame_start(120);
    put_string(&b, "u1");
    put_string(&b, "i9");
    put_string(&b, "2017-11-24");
    rd_kafka_message_t record = record_of(f, &b, "u1");
    struct app_decoded_event decoded;
    char detail[512];

    assert_int_equal(admit_and_decode(f, &record, &decoded, detail, sizeof detail), APP_DLQ_INCOMPATIBLE_SCHEMA);
}

static void non_record_schema_dead_lettered(void **state)
{
    struct fixture *f = *state;
    struct frame b = frame_start(121);
    put_string(&b, "u1");
    rd_kafka_message_t record = record_of(f, &b, "u1");
    struct app_decoded_event decoded;
    char detail[512];

    assert_int_equal(admit_and_decode(f, &record, &decoded, detail, sizeof detail), APP_DLQ_INCOMPATIBLE_SCHEMA);
    assert_non_null(strstr(detail, "121"));
}

static void protobuf_schema_dead_lettered(void **state)
{
    struct fixture *f = *state;
    struct frame b = frame_start(122);
    put(&b, 0x0a);
    rd_kafka_message_t record = record_of(f, &b, "u1");
    struct app_decoded_event decoded;
    char detail[512];

    assert_int_equal(admit_and_decode(f, &record, &decoded, detail, sizeof detail), APP_DLQ_INCOMPATIBLE_SCHEMA);
    assert_non_null(strstr(detail, "PROTOBUF"));
}

static void other_record_dead_lettered(void **state)
{
    struct fixture *f = *state;
    struct frame b = frame_start(110); /* a ReviewEvent id on the clickstream */
    put_string(&b, "u1");
    rd_kafka_message_t record = record_of(f, &b, "u1");
    struct app_decoded_event decoded;
    char detail[512];

    assert_int_equal(admit_and_decode(f, &record, &decoded, detail, sizeof detail), APP_DLQ_WRONG_RECORD);
}

static void invalid_frame_left_to_decoder(void **state)
{
    struct fixture *f = *state;
    struct frame b = click_v1(102, "u1", 3);
    b.data[0] = 1; /* not the magic byte */
    rd_kafka_message_t record = record_of(f, &b, "u1");
    struct app_decoded_event decoded;
    char detail[512];
    unsigned before = registry_server_requests(&f->server);

    assert_int_equal(admit_and_decode(f, &record, &decoded, detail, sizeof detail), APP_DLQ_FRAME);
    assert_int_equal(registry_server_requests(&f->server), before);
}

static void pause_metrics_rendered(void **state)
{
    (void)state;
    struct metrics_snapshot *snapshot = calloc(1, sizeof *snapshot);
    char *text = NULL;
    size_t len = 0;

    assert_int_equal(metrics_render(snapshot, &text, &len), 0);
    assert_null(strstr(text, "intentd_schema_registry"));
    free(text);

    snapshot->has_registry = 1;
    snapshot->registry = (struct app_registry_stats){.pauses = 3, .retries = 5, .paused_partitions = 2};
    assert_int_equal(metrics_render(snapshot, &text, &len), 0);
    assert_non_null(strstr(text, "\nintentd_schema_registry_pauses_total 3\n"));
    assert_non_null(strstr(text, "\nintentd_schema_registry_retries_total 5\n"));
    assert_non_null(strstr(text, "\nintentd_schema_registry_paused_partitions 2\n"));
    free(text);
    free(snapshot);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(older_writer_resolves),
        cmocka_unit_test(cached_id_sends_no_request),
        cmocka_unit_test(consent_record_resolves),
        cmocka_unit_test(unknown_id_dead_lettered),
        cmocka_unit_test(reader_id_range_rejected),
        cmocka_unit_test(unresolvable_writer_dead_lettered),
        cmocka_unit_test(non_record_schema_dead_lettered),
        cmocka_unit_test(protobuf_schema_dead_lettered),
        cmocka_unit_test(other_record_dead_lettered),
        cmocka_unit_test(invalid_frame_left_to_decoder),
        cmocka_unit_test(pause_metrics_rendered),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
