/*
 * Tokenizer serialisation: a loaded copy encodes exactly like the original,
 * and damaged JSON is rejected with a message naming the problem.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "tokenizer.h"

static const char *const texts[] = {
    "\xE8\xBF\x99\xE4\xB8\xAA\xE4\xB8\x9C\xE8\xA5\xBF\xE5\xBE\x88\xE5\xA5\xBD\xEF\xBC\x8C\xE5\xBE\x88\xE5\xA5\xBD\xE7\x94\xA8",
    "\xE5\xBE\x88\xE5\xA5\xBD\xE5\xBE\x88\xE5\xA5\xBD\xEF\xBC\x81 good good very good",
    "\xF0\x9F\x98\x80\xF0\x9F\x98\x80 delivery was fast, fast and fine \xF0\x9F\x98\x80",
};

static struct tokenizer *sample_tokenizer(void)
{
    size_t lengths[3];
    struct bpe_train_options options;
    struct bpe *bpe;
    struct tokenizer *t;
    char error[MODEL_ERROR_SIZE];
    const char *categories[] = {"\xE4\xB9\xA6\xE7\xB1\x8D", "phones"};
    const char *items[] = {"2268318", "item \"quoted\" \\ slash", "\xE6\x89\x8B\xE6\x9C\xBA-1"};

    for (int i = 0; i < 3; i++)
        lengths[i] = strlen(texts[i]);
    bpe_train_options_defaults(&options);
    options.n_merges = 40;
    assert_int_equal(bpe_train(&options, texts, lengths, 3, &bpe, error), 0);
    assert_true(bpe_n_merges(bpe) > 10);
    assert_int_equal(tokenizer_create(categories, 2, 8, items, 3, 32, bpe, &t, error), 0);
    return t;
}

static char *to_json(const struct tokenizer *t)
{
    char *json;
    char error[MODEL_ERROR_SIZE];
    assert_int_equal(tokenizer_to_json(t, &json, error), 0);
    return json;
}

static void encode_all(const struct tokenizer *t, int32_t *tokens, size_t *n)
{
    const char *ids[] = {"2268318", "unseen-77", "\xE6\x89\x8B\xE6\x9C\xBA-1", "item \"quoted\" \\ slash"};
    const char *categories[] = {"phones", "unseen"};
    char error[MODEL_ERROR_SIZE];
    size_t at = 0;

    for (int i = 0; i < 4; i++) {
        struct tokenizer_event event = {
            .action = TOKENIZER_ACTION_REVIEW,
            .category_id = categories[i % 2],
            .item_id = ids[i],
            .rating = 1 + i,
            .sentiment = i % 2,
            .text = texts[i % 3],
            .text_len = strlen(texts[i % 3]),
        };
        size_t count;
        assert_int_equal(tokenizer_encode_event(t, &event, 64, tokens + at, 69, &count, error), 0);
        at += count;
    }
    *n = at;
}

static void round_trip_same_encodings(void **state)
{
    (void)state;
    struct tokenizer *t = sample_tokenizer(), *loaded;
    char *json = to_json(t), error[MODEL_ERROR_SIZE];
    int32_t expected[4 * 69], actual[4 * 69];
    size_t n_expected, n_actual;

    assert_int_equal(tokenizer_from_json(json, strlen(json), &loaded, error), 0);
    assert_memory_equal(&loaded->layout, &t->layout, sizeof t->layout);
    assert_int_equal(bpe_n_merges(loaded->bpe), bpe_n_merges(t->bpe));

    encode_all(t, expected, &n_expected);
    encode_all(loaded, actual, &n_actual);
    assert_int_equal(n_actual, n_expected);
    assert_memory_equal(actual, expected, n_expected * sizeof(int32_t));

    char *again = to_json(loaded);
    assert_string_equal(again, json);
    assert_string_equal(tokenizer_token_id(loaded, loaded->layout.item_begin + 1), "item \"quoted\" \\ slash");

    free(again);
    free(json);
    tokenizer_free(t);
    tokenizer_free(loaded);
}

static void expect_rejected(const char *json, size_t len, const char *fragment)
{
    struct tokenizer *t = (struct tokenizer *)&t; /* any non-NULL value */
    char error[MODEL_ERROR_SIZE] = "";

    assert_int_equal(tokenizer_from_json(json, len, &t, error), -1);
    assert_null(t);
    if (!strstr(error, fragment))
        print_message("error \"%s\" lacks \"%s\"\n", error, fragment);
    assert_non_null(strstr(error, fragment));
}

/* Loads the sample's JSON, applies edit, and expects rejection. */
static void expect_edit_rejected(void (*edit)(json_t *root), const char *fragment)
{
    struct tokenizer *t = sample_tokenizer();
    char *json = to_json(t);
    json_t *root = json_loads(json, 0, NULL);
    assert_non_null(root);

    edit(root);
    char *edited = json_dumps(root, JSON_COMPACT);
    expect_rejected(edited, strlen(edited), fragment);

    free(edited);
    json_decref(root);
    free(json);
    tokenizer_free(t);
}

static void set_version_2(json_t *root) { json_object_set_new(root, "version", json_integer(2)); }
static void set_format(json_t *root) { json_object_set_new(root, "format", json_string("other")); }
static void set_hash(json_t *root) { json_object_set_new(root, "hash", json_string("xxhash64")); }
static void add_field(json_t *root) { json_object_set_new(root, "extra", json_true()); }
static void drop_items(json_t *root) { json_object_del(root, "items"); }
static void number_item(json_t *root) { json_array_append_new(json_object_get(root, "items"), json_integer(7)); }
static void repeat_item(json_t *root) { json_array_append_new(json_object_get(root, "items"), json_string("2268318")); }
static void empty_item(json_t *root) { json_array_append_new(json_object_get(root, "items"), json_string("")); }
static void odd_merges(json_t *root) { json_array_remove(json_object_get(root, "bpe_merges"), 0); }
static void negative_buckets(json_t *root) { json_object_set_new(root, "item_buckets", json_integer(-1)); }

static void undefined_merge(json_t *root)
{
    json_array_set_new(json_object_get(root, "bpe_merges"), 0, json_integer(BPE_BYTE_TOKENS + 5));
}

static void repeated_merge(json_t *root)
{
    json_t *merges = json_object_get(root, "bpe_merges");
    json_array_append(merges, json_array_get(merges, 0));
    json_array_append(merges, json_array_get(merges, 1));
}

static void wrong_vocab_size(json_t *root)
{
    json_t *layout = json_object_get(root, "layout");
    json_int_t size = json_integer_value(json_object_get(layout, "vocab_size"));
    json_object_set_new(layout, "vocab_size", json_integer(size + 1));
}

static void missing_bucket_count(json_t *root)
{
    /* The layout still records 32 item buckets, so the counts disagree. */
    json_object_set_new(root, "item_buckets", json_integer(31));
}

static void corrupt_fields_rejected(void **state)
{
    (void)state;
    expect_edit_rejected(set_version_2, "\"version\" is 2");
    expect_edit_rejected(set_format, "\"format\"");
    expect_edit_rejected(set_hash, "\"hash\"");
    expect_edit_rejected(add_field, "\"extra\"");
    expect_edit_rejected(drop_items, "\"items\" is missing");
    expect_edit_rejected(number_item, "items[3] is not a string");
    expect_edit_rejected(repeat_item, "twice");
    expect_edit_rejected(empty_item, "empty");
    expect_edit_rejected(odd_merges, "bpe_merges");
    expect_edit_rejected(negative_buckets, "\"item_buckets\" is -1");
    expect_edit_rejected(undefined_merge, "not defined");
    expect_edit_rejected(repeated_merge, "repeats");
    expect_edit_rejected(wrong_vocab_size, "\"vocab_size\"");
    expect_edit_rejected(missing_bucket_count, "\"item_end\"");
}

static void damaged_text_rejected(void **state)
{
    (void)state;
    struct tokenizer *t = sample_tokenizer();
    char *json = to_json(t);
    size_t len = strlen(json);

    expect_rejected("", 0, "invalid tokenizer JSON");
    expect_rejected("not json", 8, "invalid tokenizer JSON");
    expect_rejected("[1, 2]", 6, "not an object");
    expect_rejected("{\"format\": 1, \"format\": 2}", 26, "duplicate");

    /* Every cut of the text is invalid JSON or misses fields. */
    for (size_t cut = 0; cut < len; cut += 7)
        expect_rejected(json, cut, "invalid tokenizer JSON");

    /* Invalid UTF-8 inside a string. */
    char *bad = strdup(json);
    char *id = strstr(bad, "2268318");
    assert_non_null(id);
    id[0] = (char)0xC0;
    expect_rejected(bad, len, "invalid tokenizer JSON");

    free(bad);
    free(json);
    tokenizer_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip_same_encodings),
        cmocka_unit_test(corrupt_fields_rejected),
        cmocka_unit_test(damaged_text_rejected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
