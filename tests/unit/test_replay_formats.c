/* intentd replay: Avro container input and the output encoders. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "codec_json.h"
#include "replay_input.h"
#include "replay_output.h"

#define CATALOGUE INTENTD_SOURCE_DIR "/schemas/catalogue.json"

/* Writes two ClickEvents and checks that the Avro reader decodes them. */
static void avro_container_clicks(void **state)
{
    codec_t *codec;
    codec_error_t err;
    avro_value_t value;
    uint32_t id;
    char path[64], error[REPLAY_ERROR_SIZE];

    (void)state;
    assert_int_equal(codec_open(CATALOGUE, &codec, &err), CODEC_OK);
    assert_int_equal(codec_new_value(codec, CODEC_CLICK_EVENT, &value, &id, &err), CODEC_OK);
    strcpy(path, "/tmp/test_replay_XXXXXX.avro");
    int fd = mkstemps(path, 5);
    assert_true(fd >= 0);
    close(fd);
    unlink(path);

    avro_file_writer_t writer;
    avro_schema_t schema = avro_value_get_schema(&value);
    assert_int_equal(avro_file_writer_create(path, schema, &writer), 0);
    for (int i = 0; i < 2; i++) {
        avro_value_t field, branch;
        avro_value_reset(&value);
        avro_value_get_by_name(&value, "user_id", &field, NULL);
        avro_value_set_string(&field, i ? "u2" : "u1");
        avro_value_get_by_name(&value, "item_id", &field, NULL);
        avro_value_set_string(&field, "i9");
        avro_value_get_by_name(&value, "category_id", &field, NULL);
        avro_value_set_branch(&field, 0, &branch);
        avro_value_set_null(&branch);
        avro_value_get_by_name(&value, "action", &field, NULL);
        avro_value_set_enum(&field, 5); /* PURCHASE */
        avro_value_get_by_name(&value, "query", &field, NULL);
        avro_value_set_branch(&field, 0, &branch);
        avro_value_set_null(&branch);
        avro_value_get_by_name(&value, "timestamp", &field, NULL);
        avro_value_set_long(&field, 1234 + i);
        static const char *const nullable[] = {"consent", "session_id", "attributes"};
        for (int n = 0; n < 3; n++) {
            avro_value_get_by_name(&value, nullable[n], &field, NULL);
            avro_value_set_branch(&field, 0, &branch);
            avro_value_set_null(&branch);
        }
        assert_int_equal(avro_file_writer_append_value(writer, &value), 0);
    }
    assert_int_equal(avro_file_writer_close(writer), 0);
    avro_value_decref(&value);

    struct replay_bad_lines bad = {0};
    struct replay_events events = {0};
    struct replay_load load = {.events = &events, .bad = &bad};
    assert_int_equal(replay_read_avro(&load, path, codec, error), 0);
    assert_int_equal(events.count, 2);
    assert_int_equal(events.items[0].kind, REPLAY_CLICK);
    assert_string_equal(events.items[1].u.click.user_id, "u2");
    assert_int_equal(events.items[1].u.click.action, CODEC_ACTION_PURCHASE);
    assert_int_equal(events.items[1].u.click.timestamp_ms, 1235);
    assert_null(events.items[0].u.click.category_id);
    replay_events_free(&events);
    codec_close(codec);
    unlink(path);
}

/* Reads the text of a schema file of the catalogue folder into a new schema. */
static avro_schema_t load_schema(const char *name)
{
    char path[512], text[8192];
    avro_schema_t schema;

    snprintf(path, sizeof path, "%s/schemas/%s", INTENTD_SOURCE_DIR, name);
    FILE *file = fopen(path, "r");
    assert_non_null(file);
    size_t len = fread(text, 1, sizeof text - 1, file);
    fclose(file);
    text[len] = '\0';
    assert_int_equal(avro_schema_from_json_length(text, len, &schema), 0);
    return schema;
}

/* A file written with the older ClickEvent v1 schema, whose Action enum
 * lists its symbols in another order, is resolved to the reader schema by
 * symbol name. */
static void avro_container_old_version(void **state)
{
    codec_t *codec;
    codec_error_t err;
    avro_file_writer_t writer;
    avro_value_t value, field, branch;
    char path[64], error[REPLAY_ERROR_SIZE];

    (void)state;
    assert_int_equal(codec_open(CATALOGUE, &codec, &err), CODEC_OK);
    avro_schema_t schema = load_schema("click_event_v1.avsc");
    avro_value_iface_t *iface = avro_generic_class_from_schema(schema);
    assert_non_null(iface);
    assert_int_equal(avro_generic_value_new(iface, &value), 0);
    strcpy(path, "/tmp/test_replay_XXXXXX.avro");
    int fd = mkstemps(path, 5);
    assert_true(fd >= 0);
    close(fd);
    unlink(path);
    assert_int_equal(avro_file_writer_create(path, schema, &writer), 0);

    avro_value_get_by_name(&value, "user_id", &field, NULL);
    avro_value_set_string(&field, "old-user");
    avro_value_get_by_name(&value, "item_id", &field, NULL);
    avro_value_set_string(&field, "old-item");
    avro_value_get_by_name(&value, "category_id", &field, NULL);
    avro_value_set_branch(&field, 1, &branch);
    avro_value_set_string(&branch, "c7");
    avro_value_get_by_name(&value, "action", &field, NULL);
    avro_value_set_enum(&field, 4); /* VIEW is symbol 4 in v1, 1 in the reader schema */
    avro_value_get_by_name(&value, "timestamp", &field, NULL);
    avro_value_set_long(&field, 99);
    assert_int_equal(avro_file_writer_append_value(writer, &value), 0);
    assert_int_equal(avro_file_writer_close(writer), 0);
    avro_value_decref(&value);
    avro_value_iface_decref(iface);
    avro_schema_decref(schema);

    struct replay_bad_lines bad = {0};
    struct replay_events events = {0};
    struct replay_load load = {.events = &events, .bad = &bad};
    assert_int_equal(replay_read_avro(&load, path, codec, error), 0);
    assert_int_equal(events.count, 1);
    assert_string_equal(events.items[0].u.click.user_id, "old-user");
    assert_string_equal(events.items[0].u.click.category_id, "c7");
    assert_int_equal(events.items[0].u.click.action, CODEC_ACTION_VIEW);
    assert_int_equal(events.items[0].u.click.timestamp_ms, 99);
    assert_null(events.items[0].u.click.query);
    replay_events_free(&events);
    codec_close(codec);
    unlink(path);
}

/* A JSON record written through a Taobao-style mapping decodes back with
 * the same mapping, as `intentd run` reads it. */
static void output_json_roundtrip(void **state)
{
    struct intentd_config cfg;
    struct config_error config_error;
    char error[REPLAY_ERROR_SIZE];
    static const char yaml[] = "schemas:\n  format: json\n  json:\n    user_id: user.id\n    action: behavior\n"
                               "    timestamp: ts\n    timestamp_unit: s\n    action_values:\n      view: pv\n"
                               "      cart: cart\n";
    struct replay_event e = {.kind = REPLAY_CLICK};
    uint8_t *buf;
    size_t len;

    (void)state;
    assert_int_equal(config_load_buffer(yaml, strlen(yaml), "test.yaml", &cfg, &config_error), 0);
    e.u.click = (codec_click_event_t){.user_id = "u1", .item_id = "i1", .category_id = "c1",
                                      .action = CODEC_ACTION_ADD_TO_CART, .timestamp_ms = 1511658000000LL,
                                      .consent = CODEC_CONSENT_UNKNOWN};
    assert_int_equal(replay_output_encode(&cfg, NULL, &e, &buf, &len, error), 0);
    assert_non_null(strstr((char *)buf, "\"user\":{\"id\":\"u1\"}"));
    assert_non_null(strstr((char *)buf, "\"behavior\":\"cart\""));
    assert_non_null(strstr((char *)buf, "\"ts\":1511658000"));

    codec_json_alias_t aliases[] = {{"pv", CODEC_ACTION_VIEW}, {"cart", CODEC_ACTION_ADD_TO_CART}};
    codec_json_mapping_t mapping;
    codec_json_mapping_default(&mapping);
    mapping.user_id = "user.id";
    mapping.action = "behavior";
    mapping.timestamp = "ts";
    mapping.timestamp_unit = CODEC_TIME_SECONDS;
    mapping.action_aliases = aliases;
    mapping.action_alias_count = 2;
    codec_click_event_t back = {0};
    codec_error_t err;
    assert_int_equal(codec_json_decode_click(&mapping, buf, len, &back, &err), CODEC_OK);
    assert_string_equal(back.user_id, "u1");
    assert_int_equal(back.action, CODEC_ACTION_ADD_TO_CART);
    assert_int_equal(back.timestamp_ms, 1511658000000LL);
    codec_click_clear(&back);
    free(buf);
    config_free(&cfg);
}

static void output_avro_frame(void **state)
{
    struct intentd_config cfg;
    struct config_error config_error;
    codec_t *codec;
    codec_error_t err;
    uint32_t reader_id;
    char error[REPLAY_ERROR_SIZE];
    struct replay_event e = {.kind = REPLAY_REVIEW};
    uint8_t *buf;
    size_t len;

    (void)state;
    assert_int_equal(config_defaults(&cfg, &config_error), 0);
    assert_int_equal(codec_open(CATALOGUE, &codec, &err), CODEC_OK);
    assert_int_equal(codec_reader_id(codec, CODEC_REVIEW_EVENT, &reader_id, &err), CODEC_OK);
    e.u.review = (codec_review_event_t){.user_id = "u1", .item_id = "i1", .category_id = "书籍", .has_rating = true,
                                        .rating = 5, .text = "很好", .timestamp_ms = 7, .consent = CODEC_CONSENT_UNKNOWN};
    assert_int_equal(replay_output_encode(&cfg, codec, &e, &buf, &len, error), 0);
    assert_int_equal(buf[0], 0);
    uint32_t id = (uint32_t)buf[1] << 24 | (uint32_t)buf[2] << 16 | (uint32_t)buf[3] << 8 | buf[4];
    assert_int_equal(id, reader_id);
    codec_review_event_t back = {0};
    assert_int_equal(codec_decode_review(codec, buf, len, &back, &err), CODEC_OK);
    assert_string_equal(back.text, "很好");
    assert_int_equal(back.rating, 5);
    codec_review_clear(&back);
    free(buf);
    codec_close(codec);
    config_free(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(avro_container_clicks), cmocka_unit_test(avro_container_old_version),
        cmocka_unit_test(output_json_roundtrip), cmocka_unit_test(output_avro_frame),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
