/* intentd replay: synthetic review linkage, Avro container input and the
 * output encoders. */
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
#include "replay_linkage.h"
#include "replay_output.h"

#define CATALOGUE INTENTD_SOURCE_DIR "/schemas/catalogue.json"

static const char COMPANION[] = "7,70,700,pv,1000\n"
                                "5,50,500,pv,2000\n"
                                "7,71,701,cart,1500\n"
                                "9,90,900,buy,3000\n"
                                "5,51,501,fav,2600\n"
                                "bad line\n";

static void write_file(char *path, const char *text)
{
    strcpy(path, "/tmp/test_replay_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

/* Returns 1 if a line of the companion file starts with user,item,category. */
static int companion_has(const char *user, const char *item, const char *category)
{
    char line[64];

    snprintf(line, sizeof line, "%s,%s,%s,", user, item, category);
    return strstr(COMPANION, line) != NULL;
}

static void linkage_groups_users(void **state)
{
    struct replay_linkage linkage;
    struct replay_bad_lines bad = {0};
    char path[64], error[REPLAY_ERROR_SIZE];

    (void)state;
    write_file(path, COMPANION);
    assert_int_equal(replay_linkage_load(&linkage, path, &bad, error), 0);
    assert_int_equal(linkage.n_users, 3);
    assert_int_equal(linkage.n_interactions, 5);
    assert_int_equal(bad.count, 1);
    assert_string_equal(linkage.users[0].user_id, "5");
    assert_string_equal(linkage.users[1].user_id, "7");
    assert_int_equal(linkage.users[1].count, 2);
    assert_int_equal(linkage.users[1].min_ms, 1000000);
    assert_int_equal(linkage.users[1].max_ms, 1500000);
    replay_linkage_free(&linkage);
    unlink(path);
}

/* Every pick names a real user with one of that user's own items and a
 * time inside that user's activity. */
static void linkage_picks_real_interactions(void **state)
{
    struct replay_linkage linkage;
    struct replay_bad_lines bad = {0};
    char path[64], error[REPLAY_ERROR_SIZE];
    int seen[3] = {0};

    (void)state;
    write_file(path, COMPANION);
    assert_int_equal(replay_linkage_load(&linkage, path, &bad, error), 0);
    for (uint64_t i = 0; i < 300; i++) {
        struct replay_linkage_pick pick;
        replay_linkage_pick(&linkage, i, &pick);
        assert_true(companion_has(pick.user_id, pick.item_id, pick.category_id));
        const struct replay_linkage_user *user = NULL;
        for (size_t u = 0; u < linkage.n_users; u++)
            if (strcmp(linkage.users[u].user_id, pick.user_id) == 0) {
                user = &linkage.users[u];
                seen[u] = 1;
            }
        assert_non_null(user);
        assert_true(pick.timestamp_ms >= user->min_ms);
        assert_true(pick.timestamp_ms <= user->max_ms);
    }
    /* 300 picks among 3 users reach every user */
    assert_int_equal(seen[0] + seen[1] + seen[2], 3);
    replay_linkage_free(&linkage);
    unlink(path);
}

/* The same file and index give the same pick, whatever order the file's
 * users come in. */
static void linkage_is_deterministic(void **state)
{
    struct replay_linkage a, b;
    struct replay_bad_lines bad = {0};
    char path_a[64], path_b[64], error[REPLAY_ERROR_SIZE];

    (void)state;
    write_file(path_a, COMPANION);
    write_file(path_b, "9,90,900,buy,3000\n5,50,500,pv,2000\n5,51,501,fav,2600\n7,70,700,pv,1000\n"
                       "7,71,701,cart,1500\n");
    assert_int_equal(replay_linkage_load(&a, path_a, &bad, error), 0);
    assert_int_equal(replay_linkage_load(&b, path_b, &bad, error), 0);
    for (uint64_t i = 0; i < 100; i++) {
        struct replay_linkage_pick pa, pb;
        replay_linkage_pick(&a, i, &pa);
        replay_linkage_pick(&b, i, &pb);
        assert_string_equal(pa.user_id, pb.user_id);
        assert_string_equal(pa.item_id, pb.item_id);
        assert_int_equal(pa.timestamp_ms, pb.timestamp_ms);
    }
    replay_linkage_free(&a);
    replay_linkage_free(&b);
    unlink(path_a);
    unlink(path_b);
}

static void linkage_mix_spreads(void **state)
{
    (void)state;
    assert_true(replay_linkage_mix(0, 1) != replay_linkage_mix(0, 2));
    assert_true(replay_linkage_mix(1, 1) != replay_linkage_mix(0, 1));
    assert_true(replay_linkage_mix(5, 3) == replay_linkage_mix(5, 3));
}

/* Reviews without user ids take their owner from the companion file. */
static void reviews_use_linkage(void **state)
{
    struct replay_linkage linkage;
    struct replay_bad_lines bad = {0};
    struct replay_events events = {0};
    struct replay_load load = {.events = &events, .bad = &bad};
    char companion[64], reviews[64], error[REPLAY_ERROR_SIZE];

    (void)state;
    write_file(companion, COMPANION);
    write_file(reviews, "cat,label,review\n书籍,1,好\n水果,0,\"差, 很差\"\n");
    assert_int_equal(replay_linkage_load(&linkage, companion, &bad, error), 0);
    assert_int_equal(replay_read_reviews(&load, reviews, &linkage, error), 0);
    assert_int_equal(events.count, 2);
    for (size_t i = 0; i < events.count; i++) {
        const codec_review_event_t *r = &events.items[i].u.review;
        struct replay_linkage_pick pick;
        replay_linkage_pick(&linkage, i, &pick);
        assert_string_equal(r->user_id, pick.user_id);
        assert_string_equal(r->item_id, pick.item_id);
        assert_string_equal(r->category_id, pick.category_id);
        assert_int_equal(r->timestamp_ms, pick.timestamp_ms);
        assert_true(companion_has(r->user_id, r->item_id, r->category_id));
    }
    assert_int_equal(events.items[1].u.review.rating, 1);
    replay_events_free(&events);
    replay_linkage_free(&linkage);
    unlink(companion);
    unlink(reviews);
}

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
        cmocka_unit_test(linkage_groups_users),  cmocka_unit_test(linkage_picks_real_interactions),
        cmocka_unit_test(linkage_is_deterministic), cmocka_unit_test(linkage_mix_spreads),
        cmocka_unit_test(reviews_use_linkage),   cmocka_unit_test(avro_container_clicks),
        cmocka_unit_test(avro_container_old_version),
        cmocka_unit_test(output_json_roundtrip), cmocka_unit_test(output_avro_frame),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
