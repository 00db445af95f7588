/*
 * The input readers of `intentd train`: the CSV record reader, the Taobao,
 * review, sequence and JSON Lines readers, bad records with their file:line,
 * and strict mode, on small hand-written files.
 */
#include "test_model_util.h"

#include <avro.h>

#include "cmd_train_input.h"
#include "train_csv.h"
#include "train_input.h"

static char *write_file(const char *dir, const char *name, const char *content)
{
    char *path = malloc(strlen(dir) + strlen(name) + 2);
    assert_non_null(path);
    sprintf(path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(content, 1, strlen(content), f), strlen(content));
    fclose(f);
    return path;
}

static const char *event_text(const struct train_input_log *log, size_t i)
{
    return log->events[i].text ? log->events[i].text : "";
}

static void csv_quoted_fields(void **state)
{
    (void)state;
    const char text[] = "a,\"b,c\",\"say \"\"hi\"\"\"\r\n\"multi\nline\",x,\n";
    FILE *f = fmemopen((void *)text, sizeof text - 1, "rb");
    struct train_csv csv;
    char error[256];

    assert_non_null(f);
    train_csv_init(&csv, f, ',');
    assert_int_equal(train_csv_read(&csv, error, sizeof error), 1);
    assert_int_equal(csv.n_fields, 3);
    assert_string_equal(csv.fields[1], "b,c");
    assert_string_equal(csv.fields[2], "say \"hi\"");
    assert_int_equal(train_csv_read(&csv, error, sizeof error), 1);
    assert_int_equal(csv.record_line, 2);
    assert_string_equal(csv.fields[0], "multi\nline");
    assert_int_equal(csv.n_fields, 3);
    assert_string_equal(csv.fields[2], "");
    assert_int_equal(train_csv_read(&csv, error, sizeof error), 0);
    train_csv_free(&csv);
    fclose(f);
}

static void csv_bad_quote_recovers(void **state)
{
    (void)state;
    const char text[] = "\"ab\"c,d\nnext,row\n\"open\n";
    FILE *f = fmemopen((void *)text, sizeof text - 1, "rb");
    struct train_csv csv;
    char error[256];

    assert_non_null(f);
    train_csv_init(&csv, f, ',');
    assert_int_equal(train_csv_read(&csv, error, sizeof error), -1);
    assert_non_null(strstr(error, "after a closing quote"));
    assert_int_equal(train_csv_read(&csv, error, sizeof error), 1);
    assert_string_equal(csv.fields[0], "next");
    assert_int_equal(csv.record_line, 2);
    assert_int_equal(train_csv_read(&csv, error, sizeof error), -1);
    assert_non_null(strstr(error, "unterminated"));
    train_csv_free(&csv);
    fclose(f);
}

static void taobao_reads_and_skips(void **state)
{
    (void)state;
    char *dir = test_make_dir();
    char *path = write_file(dir, "ub.csv",
                            "1,100,7,pv,1511658000\n"
                            "1,101,7,buy,1511658060\n"
                            "2,100,7,jump,1511658000\n"
                            "2,100,7\n"
                            "3,102,8,cart,notatime\n"
                            "3,102,8,fav,1511658001\n");
    struct train_input_log log;
    struct train_input_stats stats = {0};
    char error[MODEL_ERROR_SIZE], expected[512];

    train_input_init(&log);
    assert_int_equal(train_input_read_taobao(&log, path, 0, &stats, error), 0);
    assert_int_equal(stats.records, 6);
    assert_int_equal(stats.events, 3);
    assert_int_equal(stats.bad, 3);
    snprintf(expected, sizeof expected, "%s:3: invalid behavior 'jump'", path);
    assert_non_null(strstr(stats.errors[0], expected));
    snprintf(expected, sizeof expected, "%s:4: expected 5 fields", path);
    assert_non_null(strstr(stats.errors[1], expected));
    snprintf(expected, sizeof expected, "%s:5: invalid timestamp", path);
    assert_non_null(strstr(stats.errors[2], expected));
    assert_int_equal(log.events[1].action, TOKENIZER_ACTION_PURCHASE);
    assert_int_equal(log.events[1].timestamp_ms, 1511658060000LL);
    assert_int_equal(log.events[2].action, TOKENIZER_ACTION_FAVOURITE);
    assert_int_equal(log.users.n, 2);
    train_input_free(&log);
    free(path);
    test_remove_dir(dir);
}

static void taobao_strict_stops(void **state)
{
    (void)state;
    char *dir = test_make_dir();
    char *path = write_file(dir, "ub.csv", "1,100,7,pv,1511658000\n1,100,7,pv\n1,101,7,pv,1511658001\n");
    struct train_input_log log;
    struct train_input_stats stats = {0};
    char error[MODEL_ERROR_SIZE], expected[512];

    train_input_init(&log);
    assert_int_equal(train_input_read_taobao(&log, path, 1, &stats, error), -1);
    snprintf(expected, sizeof expected, "%s:2: ", path);
    assert_non_null(strstr(error, expected));
    assert_int_equal(log.n_events, 1);
    train_input_free(&log);
    free(path);
    test_remove_dir(dir);
}

static void reviews_bom_quotes_lines(void **state)
{
    (void)state;
    char *dir = test_make_dir();
    char *path = write_file(dir, "reviews.csv",
                            "cat,label,review\n"
                            "书籍,1,\xEF\xBB\xBF很好看\n"
                            "水果,0,\"不新鲜, 有点烂\"\n"
                            "书籍,2,label out of range\n"
                            "酒店,1,\"第一行\n第二行\"\n"
                            "酒店,0,\n"
                            "酒店,1,\"unterminated\n");
    struct train_input_log log;
    struct train_input_stats stats = {0};
    char error[MODEL_ERROR_SIZE], expected[512];

    train_input_init(&log);
    assert_int_equal(train_input_read_reviews(&log, path, 0, &stats, error), 0);
    assert_int_equal(stats.events, 3);
    assert_int_equal(stats.bad, 3);
    assert_string_equal(event_text(&log, 0), "很好看");
    assert_string_equal(event_text(&log, 1), "不新鲜, 有点烂");
    assert_string_equal(event_text(&log, 2), "第一行\n第二行");
    assert_int_equal(log.events[0].label, 1);
    assert_int_equal(log.events[1].label, 0);
    assert_int_equal(log.events[0].action, TOKENIZER_ACTION_REVIEW);
    assert_string_equal(log.categories.ids[log.events[1].category], "水果");
    snprintf(expected, sizeof expected, "%s:4: invalid label '2'", path);
    assert_non_null(strstr(stats.errors[0], expected));
    snprintf(expected, sizeof expected, "%s:7: empty review text", path);
    assert_non_null(strstr(stats.errors[1], expected));
    snprintf(expected, sizeof expected, "%s:8: unterminated", path);
    assert_non_null(strstr(stats.errors[2], expected));
    assert_int_equal(log.users.n, 3); /* no user_id column: each review is its own user */
    train_input_free(&log);
    free(path);
    test_remove_dir(dir);
}

static void reviews_user_columns(void **state)
{
    (void)state;
    char *dir = test_make_dir();
    char *path = write_file(dir, "reviews.csv",
                            "user_id,item_id,label,review,rating\n"
                            "u1,i9,1,great,5\n"
                            "u1,i8,0,bad,\n"
                            "u2,i9,1,fine,9\n");
    char *no_header = write_file(dir, "bad.csv", "cat,text\nx,y\n");
    struct train_input_log log;
    struct train_input_stats stats = {0};
    char error[MODEL_ERROR_SIZE];

    train_input_init(&log);
    assert_int_equal(train_input_read_reviews(&log, path, 0, &stats, error), 0);
    assert_int_equal(stats.events, 2);
    assert_int_equal(log.users.n, 1);
    assert_int_equal(log.events[0].rating, 5);
    assert_int_equal(log.events[1].rating, 0);
    assert_string_equal(log.items.ids[log.events[1].item], "i8");
    assert_non_null(strstr(stats.errors[0], ":4: invalid rating '9'"));
    assert_int_equal(train_input_read_reviews(&log, no_header, 0, &stats, error), -1);
    assert_non_null(strstr(error, ":1: invalid header"));
    train_input_free(&log);
    free(path);
    free(no_header);
    test_remove_dir(dir);
}

static void reviews_holdout_every_tenth(void **state)
{
    (void)state;
    struct train_input_log log;
    char error[MODEL_ERROR_SIZE];
    int held = 0;

    train_input_init(&log);
    for (int i = 0; i < 30; i++) {
        char user[16];
        snprintf(user, sizeof user, "u%d", i);
        struct train_input_fields f = {.user_id = user, .action = TOKENIZER_ACTION_REVIEW, .label = i % 2,
                                       .text = "t", .text_len = 1};
        assert_int_equal(train_input_add(&log, &f, error), 0);
    }
    for (size_t i = 0; i < log.n_events; i++)
        held += log.events[i].holdout;
    assert_int_equal(held, 3);
    assert_int_equal(log.events[9].holdout, 1);
    train_input_free(&log);
}

static void sequences_reads(void **state)
{
    (void)state;
    char *dir = test_make_dir();
    char *path = write_file(dir, "seq.txt", "1 5\n1 6\n\n2 5\nonlyone\n2 7 extra\n");
    struct train_input_log log;
    struct train_input_stats stats = {0};
    char error[MODEL_ERROR_SIZE], expected[512];

    train_input_init(&log);
    assert_int_equal(train_input_read_sequences(&log, path, 0, &stats, error), 0);
    assert_int_equal(stats.events, 3);
    assert_int_equal(stats.bad, 2);
    snprintf(expected, sizeof expected, "%s:5: expected 'user item'", path);
    assert_non_null(strstr(stats.errors[0], expected));
    snprintf(expected, sizeof expected, "%s:6: ", path);
    assert_non_null(strstr(stats.errors[1], expected));
    assert_true(log.events[0].order < log.events[1].order);
    assert_int_equal(train_input_read_sequences(&log, path, 1, &stats, error), -1);
    train_input_free(&log);
    free(path);
    test_remove_dir(dir);
}

static void json_lines_reads(void **state)
{
    (void)state;
    char *dir = test_make_dir();
    char *path = write_file(dir, "events.jsonl",
                            "{\"user_id\":\"u1\",\"item_id\":\"i1\",\"category_id\":\"c1\",\"action\":\"PURCHASE\","
                            "\"timestamp\":1000}\n"
                            "{\"user_id\":\"u1\",\"item_id\":\"i1\",\"category_id\":\"c1\",\"rating\":5,"
                            "\"text\":\"很好\",\"timestamp\":2000}\n"
                            "{\"user_id\":\"u1\",\"item_id\":\"i2\",\"action\":\"SEARCH\",\"query\":\"shoes\","
                            "\"timestamp\":3000}\n"
                            "not json\n"
                            "{\"user_id\":\"u2\",\"item_id\":\"i1\",\"action\":\"DANCE\",\"timestamp\":1}\n");
    struct train_input_log log;
    struct train_input_stats stats = {0};
    char error[MODEL_ERROR_SIZE], expected[512];

    train_input_init(&log);
    assert_int_equal(cmd_train_read_json_lines(&log, path, 0, &stats, error), 0);
    assert_int_equal(stats.events, 3);
    assert_int_equal(stats.bad, 2);
    assert_int_equal(log.events[0].action, TOKENIZER_ACTION_PURCHASE);
    assert_int_equal(log.events[1].action, TOKENIZER_ACTION_REVIEW);
    assert_int_equal(log.events[1].label, 1);
    assert_string_equal(event_text(&log, 1), "很好");
    assert_int_equal(log.events[2].action, TOKENIZER_ACTION_SEARCH);
    assert_string_equal(event_text(&log, 2), "shoes");
    snprintf(expected, sizeof expected, "%s:4: ", path);
    assert_non_null(strstr(stats.errors[0], expected));
    snprintf(expected, sizeof expected, "%s:5: ", path);
    assert_non_null(strstr(stats.errors[1], expected));
    train_input_free(&log);
    free(path);
    test_remove_dir(dir);
}

static avro_schema_t load_schema(const char *name)
{
    char path[512], json[8192];
    snprintf(path, sizeof path, "%s/schemas/%s", INTENTD_SOURCE_DIR, name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    size_t n = fread(json, 1, sizeof json - 1, f);
    fclose(f);
    json[n] = '\0';
    avro_schema_t schema;
    assert_int_equal(avro_schema_from_json_length(json, n, &schema), 0);
    return schema;
}

static void set_branch(avro_value_t *record, const char *name, int branch, const char *text)
{
    avro_value_t field, value;
    assert_int_equal(avro_value_get_by_name(record, name, &field, NULL), 0);
    assert_int_equal(avro_value_set_branch(&field, branch, &value), 0);
    if (text)
        assert_int_equal(avro_value_set_string(&value, text), 0);
    else
        assert_int_equal(avro_value_set_null(&value), 0);
}

/* Writes clicks (user, item, action index in the Action enum, time). */
static void write_clicks(const char *path, const int *actions, int n)
{
    avro_schema_t schema = load_schema("click_event.avsc");
    avro_file_writer_t writer;
    avro_value_iface_t *iface = avro_generic_class_from_schema(schema);
    avro_value_t record, field;

    assert_int_equal(avro_file_writer_create(path, schema, &writer), 0);
    assert_int_equal(avro_generic_value_new(iface, &record), 0);
    for (int i = 0; i < n; i++) {
        avro_value_reset(&record);
        assert_int_equal(avro_value_get_by_name(&record, "user_id", &field, NULL), 0);
        assert_int_equal(avro_value_set_string(&field, "u1"), 0);
        assert_int_equal(avro_value_get_by_name(&record, "item_id", &field, NULL), 0);
        assert_int_equal(avro_value_set_string(&field, i % 2 ? "i2" : "i1"), 0);
        set_branch(&record, "category_id", 1, "c1");
        assert_int_equal(avro_value_get_by_name(&record, "action", &field, NULL), 0);
        assert_int_equal(avro_value_set_enum(&field, actions[i]), 0);
        set_branch(&record, "query", actions[i] == 6 ? 1 : 0, actions[i] == 6 ? "红色 shoes" : NULL);
        assert_int_equal(avro_value_get_by_name(&record, "timestamp", &field, NULL), 0);
        assert_int_equal(avro_value_set_long(&field, 1000 + i), 0);
        set_branch(&record, "consent", 0, NULL);
        set_branch(&record, "session_id", 0, NULL);
        set_branch(&record, "attributes", 0, NULL);
        assert_int_equal(avro_file_writer_append_value(writer, &record), 0);
    }
    avro_file_writer_close(writer);
    avro_value_decref(&record);
    avro_value_iface_decref(iface);
    avro_schema_decref(schema);
}

static void avro_clicks_read(void **state)
{
    (void)state;
    char *dir = test_make_dir();
    char path[512], error[MODEL_ERROR_SIZE];
    const int actions[] = {1, 6, 0, 5}; /* VIEW, SEARCH, UNKNOWN (bad), PURCHASE */
    struct train_input_log log;
    struct train_input_stats stats = {0};

    snprintf(path, sizeof path, "%s/clicks.avro", dir);
    write_clicks(path, actions, 4);
    train_input_init(&log);
    assert_int_equal(cmd_train_read_events(&log, path, 0, &stats, error), 0);
    assert_int_equal(stats.records, 4);
    assert_int_equal(stats.events, 3);
    assert_int_equal(stats.bad, 1);
    assert_non_null(strstr(stats.errors[0], "record 3: invalid action UNKNOWN"));
    assert_int_equal(log.events[0].action, TOKENIZER_ACTION_VIEW);
    assert_int_equal(log.events[1].action, TOKENIZER_ACTION_SEARCH);
    assert_string_equal(event_text(&log, 1), "红色 shoes");
    assert_int_equal(log.events[2].action, TOKENIZER_ACTION_PURCHASE);
    assert_int_equal(log.events[2].timestamp_ms, 1003);
    assert_string_equal(log.categories.ids[log.events[2].category], "c1");
    assert_int_equal(cmd_train_read_events(&log, path, 1, &stats, error), -1);
    assert_non_null(strstr(error, "invalid action"));
    train_input_free(&log);
    test_remove_dir(dir);
}

/* Writes reviews of user u9 with the given ratings. */
static void write_reviews(const char *path, const int *ratings, int n)
{
    avro_schema_t schema = load_schema("review_event.avsc");
    avro_file_writer_t writer;
    avro_value_iface_t *iface = avro_generic_class_from_schema(schema);
    avro_value_t record, field, branch;

    assert_int_equal(avro_file_writer_create(path, schema, &writer), 0);
    assert_int_equal(avro_generic_value_new(iface, &record), 0);
    for (int i = 0; i < n; i++) {
        avro_value_reset(&record);
        assert_int_equal(avro_value_get_by_name(&record, "user_id", &field, NULL), 0);
        assert_int_equal(avro_value_set_string(&field, "u9"), 0);
        assert_int_equal(avro_value_get_by_name(&record, "item_id", &field, NULL), 0);
        assert_int_equal(avro_value_set_string(&field, "i9"), 0);
        assert_int_equal(avro_value_get_by_name(&record, "category_id", &field, NULL), 0);
        assert_int_equal(avro_value_set_string(&field, "c9"), 0);
        assert_int_equal(avro_value_get_by_name(&record, "rating", &field, NULL), 0);
        assert_int_equal(avro_value_set_branch(&field, ratings[i] > 0, &branch), 0);
        if (ratings[i] > 0)
            assert_int_equal(avro_value_set_int(&branch, ratings[i]), 0);
        else
            assert_int_equal(avro_value_set_null(&branch), 0);
        assert_int_equal(avro_value_get_by_name(&record, "text", &field, NULL), 0);
        assert_int_equal(avro_value_set_string(&field, "质量很好"), 0);
        set_branch(&record, "language", 0, NULL);
        assert_int_equal(avro_value_get_by_name(&record, "timestamp", &field, NULL), 0);
        assert_int_equal(avro_value_set_long(&field, 5000 + i), 0);
        set_branch(&record, "consent", 0, NULL);
        assert_int_equal(avro_file_writer_append_value(writer, &record), 0);
    }
    avro_file_writer_close(writer);
    avro_value_decref(&record);
    avro_value_iface_decref(iface);
    avro_schema_decref(schema);
}

static void avro_reviews_read(void **state)
{
    (void)state;
    char *dir = test_make_dir();
    char path[512], error[MODEL_ERROR_SIZE];
    const int ratings[] = {5, 1, 3, 0};
    struct train_input_log log;
    struct train_input_stats stats = {0};

    snprintf(path, sizeof path, "%s/reviews.avro", dir);
    write_reviews(path, ratings, 4);
    train_input_init(&log);
    assert_int_equal(cmd_train_read_events(&log, path, 1, &stats, error), 0);
    assert_int_equal(stats.events, 4);
    assert_int_equal(log.events[0].action, TOKENIZER_ACTION_REVIEW);
    assert_int_equal(log.events[0].rating, 5);
    assert_int_equal(log.events[0].label, 1);
    assert_int_equal(log.events[1].label, 0);
    assert_int_equal(log.events[2].label, -1);
    assert_int_equal(log.events[3].rating, 0);
    assert_int_equal(log.events[3].label, -1);
    assert_string_equal(event_text(&log, 0), "质量很好");
    assert_int_equal(log.events[3].timestamp_ms, 5003);
    train_input_free(&log);
    test_remove_dir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(csv_quoted_fields),
        cmocka_unit_test(csv_bad_quote_recovers),
        cmocka_unit_test(taobao_reads_and_skips),
        cmocka_unit_test(taobao_strict_stops),
        cmocka_unit_test(reviews_bom_quotes_lines),
        cmocka_unit_test(reviews_user_columns),
        cmocka_unit_test(reviews_holdout_every_tenth),
        cmocka_unit_test(sequences_reads),
        cmocka_unit_test(json_lines_reads),
        cmocka_unit_test(avro_clicks_read),
        cmocka_unit_test(avro_reviews_read),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
