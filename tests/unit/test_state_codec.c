/* Unit tests of the changelog record codec: byte layout, round trip,
 * tombstones, the last emitted embedding, version 1 records and every kind
 * of corrupt record. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "state_codec.h"
#include "state_embedding.h"
#include "state_store.h"

#define EMBEDDING_DIM 8

static struct state_store *new_store_with_embedding(int max_len, int embedding_dim)
{
    struct state_store_options options;
    char error[STATE_ERROR_SIZE];

    state_store_options_defaults(&options);
    options.max_len = max_len;
    options.embedding_dim = embedding_dim;
    struct state_store *store = state_store_new(&options, error);
    assert_non_null(store);
    return store;
}

static struct state_store *new_store(int max_len)
{
    return new_store_with_embedding(max_len, 0);
}

static struct state_user *add_user(struct state_store *store, const char *id)
{
    char error[STATE_ERROR_SIZE];
    int created;
    struct state_user *user = state_store_upsert(store, id, strlen(id), 5, &created, error);

    assert_non_null(user);
    return user;
}

/* A user with a wrapped ring, purchases and every counter set. */
static struct state_user *sample_user(struct state_store *store, const char *id)
{
    struct state_user *user = add_user(store, id);

    for (int32_t t = 1; t <= 6; t++)
        state_store_push_tokens(store, user, &t, 1);
    state_user_add_purchase(user, 700);
    state_user_add_purchase(user, -3);
    user->consent = STATE_CONSENT_DENIED;
    user->sentiment = 1;
    user->last_event_ms = INT64_C(1700000000123);
    user->last_offer_ms = INT64_C(1699999999000);
    user->last_intent_ms = 42;
    user->last_propensity = 0.75f;
    user->last_top_category = 0x0A0B0C0D;
    user->last_action_ms[0] = 11;
    user->last_action_ms[STATE_ACTION_SLOTS - 1] = -2;
    struct state_rule_counters *rule = state_user_claim_rule(user, 0xCAFEF00D);
    rule->offers_in_window = 0x01020304;
    rule->last_offer_ms = INT64_C(1699999999000);
    rule->window_start_ms = -5;
    state_user_claim_rule(user, 7)->offers_in_window = 1;
    return user;
}

static size_t encode(struct state_store *store, struct state_user *user, unsigned char *buf,
                     size_t cap)
{
    char error[STATE_ERROR_SIZE];
    size_t len = 0;

    assert_int_equal(state_codec_encode(store, user, buf, cap, &len, error), STATE_CODEC_OK);
    return len;
}

static int64_t read_le64(const unsigned char *p)
{
    uint64_t v = 0;

    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return (int64_t)v;
}

static void test_layout_matches_diagram(void **state)
{
    (void)state;
    struct state_store *store = new_store(4);
    struct state_user *user = sample_user(store, "layout");
    unsigned char buf[256];

    /* Ring of 4 after tokens 1..6: 3 4 5 6. Two purchases, two rules. */
    size_t len = encode(store, user, buf, sizeof(buf));
    size_t actions = 44;
    size_t tokens = actions + 8 * STATE_ACTION_SLOTS;
    size_t purchases = tokens + 4 * 4;
    size_t rules = purchases + 4 * 2;
    assert_int_equal(len, rules + 24 * 2);

    assert_int_equal(buf[0], 0xD5);
    assert_int_equal(buf[1], 1); /* no embedding: readable by version 1 builds */
    assert_int_equal(buf[2], STATE_CONSENT_DENIED);
    assert_int_equal(buf[3], 1);
    assert_true(read_le64(buf + 4) == INT64_C(1700000000123));
    assert_true(read_le64(buf + 12) == INT64_C(1699999999000));
    assert_true(read_le64(buf + 20) == 42);
    /* 0.75f is 0x3F400000 in IEEE 754 binary32. */
    assert_int_equal(buf[28], 0x00);
    assert_int_equal(buf[30], 0x40);
    assert_int_equal(buf[31], 0x3F);
    assert_int_equal(buf[32], 0x0D);
    assert_int_equal(buf[35], 0x0A);
    assert_int_equal(buf[36], 4);
    assert_int_equal(buf[37], 0);
    assert_int_equal(buf[38], 2);
    assert_int_equal(buf[39], 2);
    assert_int_equal(buf[40], STATE_ACTION_SLOTS);
    assert_int_equal(buf[41] | buf[42] | buf[43], 0);

    assert_true(read_le64(buf + actions) == 11);
    assert_true(read_le64(buf + actions + 8 * (STATE_ACTION_SLOTS - 1)) == -2);
    assert_int_equal(buf[tokens], 3); /* oldest token first */
    assert_int_equal(buf[tokens + 12], 6);
    assert_int_equal(buf[purchases] | (buf[purchases + 1] << 8), 700);
    assert_int_equal(buf[purchases + 4], 0xFD); /* -3 little-endian */
    assert_int_equal(buf[purchases + 7], 0xFF);
    assert_int_equal(buf[rules], 0x0D); /* rule_hash 0xCAFEF00D */
    assert_int_equal(buf[rules + 3], 0xCA);
    assert_int_equal(buf[rules + 4], 0x04); /* offers_in_window */
    assert_true(read_le64(buf + rules + 8) == INT64_C(1699999999000));
    assert_true(read_le64(buf + rules + 16) == -5);
    assert_int_equal(buf[rules + 24], 7);
    state_store_free(store);
}

static void test_round_trip(void **state)
{
    (void)state;
    struct state_store *source = new_store(4);
    struct state_store *target = new_store(4);
    struct state_user *user = sample_user(source, "rt");
    unsigned char buf[256];
    char error[STATE_ERROR_SIZE];
    int32_t tokens[4];
    int32_t purchases[STATE_PURCHASES_MAX];

    size_t len = encode(source, user, buf, sizeof(buf));
    assert_int_equal(state_codec_restore(target, "rt", 2, buf, len, 9, error), STATE_CODEC_OK);

    struct state_user *copy = state_store_find(target, "rt", 2);
    assert_non_null(copy);
    assert_int_equal(copy->partition, 9);
    assert_int_equal(copy->consent, STATE_CONSENT_DENIED);
    assert_int_equal(copy->sentiment, 1);
    assert_true(copy->last_event_ms == user->last_event_ms);
    assert_true(copy->last_offer_ms == user->last_offer_ms);
    assert_true(copy->last_intent_ms == 42);
    assert_true(copy->last_propensity == 0.75f);
    assert_int_equal(copy->last_top_category, 0x0A0B0C0D);
    assert_true(copy->last_action_ms[0] == 11);
    assert_true(copy->last_action_ms[STATE_ACTION_SLOTS - 1] == -2);
    assert_int_equal(copy->rule_count, 2);
    struct state_rule_counters *rule = state_user_find_rule(copy, 0xCAFEF00D);
    assert_non_null(rule);
    assert_int_equal(rule->offers_in_window, 0x01020304);
    assert_true(rule->last_offer_ms == INT64_C(1699999999000));
    assert_true(rule->window_start_ms == -5);
    assert_non_null(state_user_find_rule(copy, 7));
    assert_int_equal(state_store_copy_tokens(target, copy, tokens, 4), 4);
    assert_int_equal(tokens[0], 3);
    assert_int_equal(tokens[3], 6);
    assert_int_equal(state_user_copy_purchases(copy, purchases), 2);
    assert_int_equal(purchases[0], 700);
    assert_int_equal(purchases[1], -3);
    assert_int_equal(state_store_dirty_count(target), 0);

    /* Encoding the restored user gives the same bytes. */
    unsigned char again[256];
    assert_int_equal(encode(target, copy, again, sizeof(again)), len);
    assert_memory_equal(again, buf, len);
    state_store_free(source);
    state_store_free(target);
}

static void test_empty_user_round_trip(void **state)
{
    (void)state;
    struct state_store *store = new_store(8);
    struct state_user *user = add_user(store, "empty");
    unsigned char buf[256];
    char error[STATE_ERROR_SIZE];

    size_t len = encode(store, user, buf, sizeof(buf));
    assert_int_equal(len, STATE_CODEC_HEADER_SIZE + 8 * STATE_ACTION_SLOTS);
    assert_int_equal(state_codec_restore(store, "empty", 5, buf, len, 0, error), STATE_CODEC_OK);
    assert_int_equal(user->token_count, 0);
    assert_int_equal(user->sentiment, STATE_SENTIMENT_NONE);
    state_store_free(store);
}

static void test_restore_keeps_newest_tokens(void **state)
{
    (void)state;
    struct state_store *wide = new_store(8);
    struct state_store *narrow = new_store(3);
    struct state_user *user = add_user(wide, "shrink");
    unsigned char buf[256];
    char error[STATE_ERROR_SIZE];
    int32_t tokens[3];

    for (int32_t t = 10; t < 18; t++)
        state_store_push_tokens(wide, user, &t, 1);
    size_t len = encode(wide, user, buf, sizeof(buf));
    assert_int_equal(state_codec_restore(narrow, "shrink", 6, buf, len, 0, error), STATE_CODEC_OK);

    struct state_user *copy = state_store_find(narrow, "shrink", 6);
    assert_non_null(copy);
    assert_int_equal(state_store_copy_tokens(narrow, copy, tokens, 3), 3);
    assert_int_equal(tokens[0], 15);
    assert_int_equal(tokens[2], 17);

    /* Later pushes wrap correctly from the restored ring. */
    int32_t next = 18;
    state_store_push_tokens(narrow, copy, &next, 1);
    assert_int_equal(state_store_copy_tokens(narrow, copy, tokens, 3), 3);
    assert_int_equal(tokens[0], 16);
    assert_int_equal(tokens[2], 18);
    state_store_free(wide);
    state_store_free(narrow);
}

static void test_tombstone_removes_user(void **state)
{
    (void)state;
    struct state_store *store = new_store(4);
    char error[STATE_ERROR_SIZE];

    add_user(store, "gone");
    assert_int_equal(state_codec_restore(store, "gone", 4, NULL, 0, 5, error), STATE_CODEC_OK);
    assert_null(state_store_find(store, "gone", 4));
    /* A tombstone for an unknown user is not an error. */
    assert_int_equal(state_codec_restore(store, "never", 5, NULL, 0, 5, error), STATE_CODEC_OK);
    state_store_free(store);
}

static void test_encode_needs_space(void **state)
{
    (void)state;
    struct state_store *store = new_store(4);
    struct state_user *user = sample_user(store, "big");
    unsigned char buf[256];
    char error[STATE_ERROR_SIZE];
    size_t len = 0;

    size_t need = state_codec_encoded_size(store, user);
    assert_int_equal(state_codec_encode(store, user, buf, need - 1, &len, error),
                     STATE_CODEC_NO_SPACE);
    assert_int_equal(state_codec_encode(store, user, buf, need, &len, error), STATE_CODEC_OK);
    assert_int_equal(len, need);
    state_store_free(store);
}

/* Restores a corrupt record over an existing user and checks that the status
 * is the expected one and the user is unchanged. */
static void expect_corrupt(const unsigned char *data, size_t len, int expected)
{
    struct state_store *store = new_store(4);
    struct state_user *user = add_user(store, "victim");
    char error[STATE_ERROR_SIZE] = "";

    user->last_event_ms = 77;
    assert_int_equal(state_codec_restore(store, "victim", 6, data, len, 0, error), expected);
    assert_true(strlen(error) > 0);
    assert_ptr_equal(state_store_find(store, "victim", 6), user);
    assert_true(user->last_event_ms == 77);
    assert_int_equal(user->token_count, 0);
    state_store_free(store);
}

static void test_corrupt_short(void **state)
{
    (void)state;
    struct state_store *store = new_store(4);
    struct state_user *user = sample_user(store, "s");
    unsigned char buf[256];
    size_t len = encode(store, user, buf, sizeof(buf));

    for (size_t cut = 0; cut < STATE_CODEC_HEADER_SIZE; cut++)
        expect_corrupt(buf, cut, STATE_CODEC_SHORT);
    /* Every longer prefix ends inside the arrays. */
    for (size_t cut = STATE_CODEC_HEADER_SIZE; cut < len; cut++)
        expect_corrupt(buf, cut, STATE_CODEC_BAD_LENGTH);
    state_store_free(store);
}

static void test_corrupt_magic_and_version(void **state)
{
    (void)state;
    struct state_store *store = new_store(4);
    struct state_user *user = sample_user(store, "v");
    unsigned char buf[256];
    size_t len = encode(store, user, buf, sizeof(buf));

    buf[0] = 0x00; /* a Confluent-framed Avro value, say */
    expect_corrupt(buf, len, STATE_CODEC_BAD_MAGIC);
    buf[0] = STATE_CODEC_MAGIC;
    buf[1] = 3;
    expect_corrupt(buf, len, STATE_CODEC_BAD_VERSION);
    buf[1] = 0;
    expect_corrupt(buf, len, STATE_CODEC_BAD_VERSION);
    state_store_free(store);
}

static void test_corrupt_fields(void **state)
{
    (void)state;
    struct state_store *store = new_store(4);
    struct state_user *user = sample_user(store, "f");
    unsigned char good[256];
    unsigned char buf[256];
    size_t len = encode(store, user, good, sizeof(good));
    const struct {
        size_t offset;
        size_t size;
        unsigned char bytes[4];
    } cases[] = {
        {2, 1, {3}},                       /* consent past DENIED */
        {3, 1, {0xFE}},                    /* sentiment -2 */
        {28, 4, {0x00, 0x00, 0xC0, 0x7F}}, /* propensity NaN */
        {28, 4, {0x00, 0x00, 0x80, 0x7F}}, /* propensity +infinity */
        {32, 4, {0xFE, 0xFF, 0xFF, 0xFF}}, /* top category -2 */
        {38, 1, {17}},                     /* purchase_count over 16 */
        {39, 1, {9}},                      /* rule_count over 8 */
        {40, 1, {9}},                      /* action_count over 8 */
        {41, 1, {1}},                      /* reserved byte set */
        {41, 1, {0x80}},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memcpy(buf, good, len);
        memcpy(buf + cases[i].offset, cases[i].bytes, cases[i].size);
        expect_corrupt(buf, len, STATE_CODEC_BAD_FIELD);
    }
    state_store_free(store);
}

static void test_corrupt_lengths(void **state)
{
    (void)state;
    struct state_store *store = new_store(4);
    struct state_user *user = sample_user(store, "l");
    unsigned char good[512];
    unsigned char buf[512];
    size_t len = encode(store, user, good, sizeof(good));
    const struct {
        size_t offset;
        unsigned char value;
    } cases[] = {
        {36, 5},    /* token_count one over the bytes left */
        {37, 0xFF}, /* token_count near the 16-bit maximum */
        {36, 3},    /* token_count one under: bytes left over */
        {38, 3},    /* purchase_count over the bytes left */
        {39, 3},    /* rule_count over the bytes left */
        {40, 7},    /* action_count one under */
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memcpy(buf, good, len);
        buf[cases[i].offset] = cases[i].value;
        expect_corrupt(buf, len, STATE_CODEC_BAD_LENGTH);
    }
    /* Trailing bytes after the arrays. */
    memcpy(buf, good, len);
    buf[len] = 0;
    expect_corrupt(buf, len + 1, STATE_CODEC_BAD_LENGTH);
    state_store_free(store);
}

static void test_fewer_actions_read_as_zero(void **state)
{
    (void)state;
    struct state_store *store = new_store(4);
    struct state_user *user = sample_user(store, "old");
    unsigned char full[256];
    unsigned char shorter[256];
    char error[STATE_ERROR_SIZE];
    size_t len = encode(store, user, full, sizeof(full));

    /* The same record with only the first two action kinds. */
    size_t dropped = 8 * (STATE_ACTION_SLOTS - 2);
    size_t kept_end = STATE_CODEC_HEADER_SIZE + 16;
    memcpy(shorter, full, kept_end);
    memcpy(shorter + kept_end, full + kept_end + dropped, len - kept_end - dropped);
    shorter[40] = 2;

    struct state_store *target = new_store(4);
    assert_int_equal(state_codec_restore(target, "old", 3, shorter, len - dropped, 0, error),
                     STATE_CODEC_OK);
    struct state_user *copy = state_store_find(target, "old", 3);
    assert_non_null(copy);
    assert_true(copy->last_action_ms[0] == 11);
    assert_true(copy->last_action_ms[STATE_ACTION_SLOTS - 1] == 0);
    assert_int_equal(copy->rule_count, 2);
    state_store_free(store);
    state_store_free(target);
}

/* Flips random bytes and cuts or extends the valid record good[len] many
 * times and restores each result into target. Every result must be a known
 * status, and a sanitizer build checks that no read leaves the buffer.
 * Returns how many damaged records were still well-formed. */
static int damage_and_restore(struct state_store *target, const unsigned char *good, size_t len)
{
    unsigned char *buf = NULL;
    char error[STATE_ERROR_SIZE];
    uint64_t seed = 0x9E3779B97F4A7C15u;
    int accepted = 0;

    for (int round = 0; round < 20000; round++) {
        seed = seed * 6364136223846793005u + 1442695040888963407u;
        size_t size = (size_t)(seed >> 33) % (len + 16);
        buf = realloc(buf, size ? size : 1);
        assert_non_null(buf);
        memcpy(buf, good, size < len ? size : len);
        for (size_t i = len; i < size; i++)
            buf[i] = (unsigned char)(seed >> (i % 56));
        for (int flips = 0; flips < 3 && size > 0; flips++) {
            seed = seed * 6364136223846793005u + 1442695040888963407u;
            buf[(seed >> 33) % size] ^= (unsigned char)(seed >> 20);
        }
        int status = state_codec_restore(target, "fuzz", 4, buf, size, 0, error);
        assert_true(status <= STATE_CODEC_OK && status >= STATE_CODEC_BAD_LENGTH);
        accepted += status == STATE_CODEC_OK;
    }
    free(buf);
    return accepted;
}

static void test_random_damage_safe(void **state)
{
    (void)state;
    struct state_store *source = new_store(4);
    struct state_store *target = new_store(4);
    unsigned char good[256];
    size_t len = encode(source, sample_user(source, "fuzz"), good, sizeof(good));

    int accepted = damage_and_restore(target, good, len);
    printf("codec damage: %d of 20000 damaged records were still well-formed\n", accepted);
    state_store_free(source);
    state_store_free(target);
}

static void test_decode_null_data(void **state)
{
    (void)state;
    struct state_codec_view view;
    char error[STATE_ERROR_SIZE];

    assert_int_equal(state_codec_decode(NULL, 40, &view, error), STATE_CODEC_SHORT);
}

/* ---- the last emitted embedding (version 2) and version 1 records ---- */

/* Stores an embedding with components 1, -2, 3, ... for the user. */
static void give_embedding(struct state_store *store, struct state_user *user)
{
    float v[EMBEDDING_DIM];

    for (int i = 0; i < EMBEDDING_DIM; i++)
        v[i] = (float)((i % 2 ? -1 : 1) * (i + 1));
    state_embedding_store(state_store_embedding(store, user), v, EMBEDDING_DIM);
    assert_true(state_embedding_present(state_store_embedding(store, user)));
}

/* A record with an embedding of EMBEDDING_DIM components, in buf. */
static size_t embedding_record(unsigned char *buf, size_t cap)
{
    struct state_store *store = new_store_with_embedding(4, EMBEDDING_DIM);
    struct state_user *user = sample_user(store, "emb");

    give_embedding(store, user);
    size_t len = encode(store, user, buf, cap);
    state_store_free(store);
    return len;
}

static void test_embedding_layout(void **state)
{
    (void)state;
    struct state_store *store = new_store_with_embedding(4, EMBEDDING_DIM);
    struct state_user *user = sample_user(store, "layout");
    unsigned char without[256];
    unsigned char buf[256];

    /* Before the first intent there is no vector, so none is written. */
    size_t len_without = encode(store, user, without, sizeof(without));
    assert_int_equal(without[1], 1);
    assert_int_equal(without[42] | without[43], 0);

    give_embedding(store, user);
    size_t len = encode(store, user, buf, sizeof(buf));
    assert_int_equal(len, len_without + 4 + EMBEDDING_DIM);
    assert_int_equal(len, state_codec_encoded_size(store, user));
    assert_int_equal(buf[1], 2);
    assert_int_equal(buf[41], 0);
    assert_int_equal(buf[42] | (buf[43] << 8), EMBEDDING_DIM);
    assert_int_equal(buf[0], without[0]);
    assert_memory_equal(buf + 2, without + 2, 40); /* the rest of the header is unchanged */
    assert_memory_equal(buf + 44, without + 44, len_without - 44);

    /* Largest component 8 maps to 127, so the scale is 8 / 127. */
    const struct state_embedding *slot = state_store_embedding(store, user);
    float scale;
    memcpy(&scale, buf + len_without, 4); /* little-endian host, as the layout */
    assert_true(scale == slot->scale);
    assert_float_equal(scale, 8.0 / 127.0, 1e-7);
    assert_memory_equal(buf + len_without + 4, slot->values, EMBEDDING_DIM);
    assert_int_equal((int8_t)buf[len - 1], -127);
    state_store_free(store);
}

static void test_embedding_round_trip(void **state)
{
    (void)state;
    struct state_store *target = new_store_with_embedding(4, EMBEDDING_DIM);
    unsigned char buf[256];
    unsigned char again[256];
    char error[STATE_ERROR_SIZE];
    size_t len = embedding_record(buf, sizeof(buf));

    assert_int_equal(state_codec_restore(target, "emb", 3, buf, len, 0, error), STATE_CODEC_OK);
    struct state_user *copy = state_store_find(target, "emb", 3);
    assert_non_null(copy);
    const struct state_embedding *slot = state_store_embedding(target, copy);
    assert_true(state_embedding_present(slot));
    assert_float_equal(slot->scale, 8.0 / 127.0, 1e-7);
    assert_int_equal(slot->values[0], 16);  /* 1 * 127 / 8 = 15.9 */
    assert_int_equal(slot->values[7], -127);
    assert_true(copy->last_intent_ms == 42);

    /* Encoding the restored user gives the same bytes. */
    assert_int_equal(encode(target, copy, again, sizeof(again)), len);
    assert_memory_equal(again, buf, len);
    state_store_free(target);
}

/* A store of another embedding_dim, or one that keeps none, drops the vector
 * and restores everything else. */
static void test_embedding_dropped_on_other_dim(void **state)
{
    (void)state;
    unsigned char buf[256];
    unsigned char again[256];
    char error[STATE_ERROR_SIZE];
    size_t len = embedding_record(buf, sizeof(buf));
    const int other_dims[] = {0, EMBEDDING_DIM / 2, EMBEDDING_DIM * 2};

    for (size_t i = 0; i < sizeof(other_dims) / sizeof(other_dims[0]); i++) {
        struct state_store *target = new_store_with_embedding(4, other_dims[i]);
        struct state_user *user = add_user(target, "emb");
        if (other_dims[i] > 0) {
            float v[EMBEDDING_DIM * 2] = {1.0f};
            state_embedding_store(state_store_embedding(target, user), v, other_dims[i]);
        }

        assert_int_equal(state_codec_restore(target, "emb", 3, buf, len, 0, error), STATE_CODEC_OK);
        assert_true(user->last_intent_ms == 42);
        assert_int_equal(user->rule_count, 2);
        const struct state_embedding *slot = state_store_embedding(target, user);
        if (other_dims[i] > 0)
            assert_false(state_embedding_present(slot));
        else
            assert_null(slot);
        assert_int_equal(encode(target, user, again, sizeof(again)), len - 4 - EMBEDDING_DIM);
        assert_int_equal(again[42] | again[43], 0);
        state_store_free(target);
    }
}

/* A record without an embedding clears the one the user had. */
static void test_record_without_embedding_clears(void **state)
{
    (void)state;
    struct state_store *store = new_store_with_embedding(4, EMBEDDING_DIM);
    struct state_store *plain = new_store(4);
    struct state_user *user = sample_user(store, "u");
    unsigned char buf[256];
    char error[STATE_ERROR_SIZE];

    size_t len = encode(plain, sample_user(plain, "u"), buf, sizeof(buf));
    give_embedding(store, user);
    assert_int_equal(state_codec_restore(store, "u", 1, buf, len, 0, error), STATE_CODEC_OK);
    assert_false(state_embedding_present(state_store_embedding(store, user)));
    state_store_free(store);
    state_store_free(plain);
}

/* A version 1 record: the version 2 layout without an embedding, version
 * byte 1 and bytes 41 to 43 zero, as a store without embeddings writes it. */
static size_t version1_record(unsigned char *buf, size_t cap)
{
    struct state_store *store = new_store(4);
    size_t len = encode(store, sample_user(store, "old"), buf, cap);

    assert_int_equal(buf[1], 1);
    state_store_free(store);
    return len;
}

static void test_version1_still_decodes(void **state)
{
    (void)state;
    struct state_store *target = new_store_with_embedding(4, EMBEDDING_DIM);
    unsigned char buf[256];
    unsigned char again[256];
    char error[STATE_ERROR_SIZE];
    int32_t tokens[4];
    struct state_codec_view view;
    size_t len = version1_record(buf, sizeof(buf));

    assert_int_equal(state_codec_decode(buf, len, &view, error), STATE_CODEC_OK);
    assert_int_equal(view.version, 1);
    assert_int_equal(view.embedding_dim, 0);
    assert_null(view.embedding);

    assert_int_equal(state_codec_restore(target, "old", 3, buf, len, 7, error), STATE_CODEC_OK);
    struct state_user *copy = state_store_find(target, "old", 3);
    assert_non_null(copy);
    assert_int_equal(copy->partition, 7);
    assert_true(copy->last_intent_ms == 42);
    assert_true(copy->last_propensity == 0.75f);
    assert_int_equal(copy->rule_count, 2);
    assert_int_equal(state_store_copy_tokens(target, copy, tokens, 4), 4);
    assert_int_equal(tokens[0], 3);
    assert_false(state_embedding_present(state_store_embedding(target, copy)));

    /* Still without an embedding, it is written back as the same version 1
     * record. */
    assert_int_equal(encode(target, copy, again, sizeof(again)), len);
    assert_memory_equal(again, buf, len);
    state_store_free(target);
}

/* Version 1 had no embedding_dim, so its bytes 42 and 43 must stay 0. */
static void test_version1_reserved_bytes(void **state)
{
    (void)state;
    unsigned char buf[256];
    size_t len = version1_record(buf, sizeof(buf));

    buf[42] = EMBEDDING_DIM;
    expect_corrupt(buf, len, STATE_CODEC_BAD_FIELD);
    buf[42] = 0;
    buf[43] = 1;
    expect_corrupt(buf, len, STATE_CODEC_BAD_FIELD);
}

/* Restores a corrupt record over a user with an embedding, checks the status
 * and that the message names the embedding, and that the user is unchanged. */
static void expect_corrupt_embedding(const unsigned char *data, size_t len, int expected)
{
    struct state_store *store = new_store_with_embedding(4, EMBEDDING_DIM);
    struct state_user *user = add_user(store, "victim");
    char error[STATE_ERROR_SIZE] = "";

    give_embedding(store, user);
    struct state_embedding *slot = state_store_embedding(store, user);
    float scale = slot->scale;
    int8_t first = slot->values[0];
    assert_int_equal(state_codec_restore(store, "victim", 6, data, len, 0, error), expected);
    if (strstr(error, "embedding") == NULL)
        fail_msg("the message does not name the embedding: %s", error);
    assert_true(slot->scale == scale);
    assert_int_equal(slot->values[0], first);
    assert_int_equal(user->token_count, 0);
    state_store_free(store);
}

static void test_embedding_short_rejected(void **state)
{
    (void)state;
    unsigned char buf[256];
    size_t len = embedding_record(buf, sizeof(buf));

    /* Every cut inside the scale or the values. */
    for (size_t cut = 1; cut <= 4 + EMBEDDING_DIM; cut++)
        expect_corrupt_embedding(buf, len - cut, STATE_CODEC_BAD_LENGTH);
    /* embedding_dim one more or one less than the values present. */
    buf[42] = EMBEDDING_DIM + 1;
    expect_corrupt_embedding(buf, len, STATE_CODEC_BAD_LENGTH);
    buf[42] = EMBEDDING_DIM - 1;
    expect_corrupt_embedding(buf, len, STATE_CODEC_BAD_LENGTH);
    /* embedding_dim near the 16-bit maximum. */
    buf[42] = EMBEDDING_DIM;
    buf[43] = 0xFF;
    expect_corrupt_embedding(buf, len, STATE_CODEC_BAD_LENGTH);
}

static void test_embedding_bad_scale_rejected(void **state)
{
    (void)state;
    unsigned char good[256];
    unsigned char buf[256];
    size_t len = embedding_record(good, sizeof(good));
    size_t scale_at = len - EMBEDDING_DIM - 4;
    const unsigned char scales[][4] = {
        {0x00, 0x00, 0x00, 0x00}, /* 0: a record with a vector must not say "none" */
        {0x00, 0x00, 0x80, 0x80}, /* -0 */
        {0x00, 0x00, 0x80, 0xBF}, /* -1 */
        {0x00, 0x00, 0xC0, 0x7F}, /* NaN */
        {0x00, 0x00, 0x80, 0x7F}, /* +infinity */
    };

    for (size_t i = 0; i < sizeof(scales) / sizeof(scales[0]); i++) {
        memcpy(buf, good, len);
        memcpy(buf + scale_at, scales[i], 4);
        expect_corrupt_embedding(buf, len, STATE_CODEC_BAD_FIELD);
    }
}

static void test_random_damage_embedding_safe(void **state)
{
    (void)state;
    struct state_store *target = new_store_with_embedding(4, EMBEDDING_DIM);
    unsigned char good[256];
    size_t len = embedding_record(good, sizeof(good));

    int accepted = damage_and_restore(target, good, len);
    printf("codec damage with an embedding: %d of 20000 damaged records were still well-formed\n", accepted);
    state_store_free(target);
}

static void test_max_size_fits_largest_record(void **state)
{
    (void)state;
    struct state_store *store = new_store_with_embedding(STATE_MAX_LEN_LIMIT, STATE_EMBEDDING_DIM_MAX);
    struct state_user *user = add_user(store, "big");
    char error[STATE_ERROR_SIZE];
    unsigned char *buf = malloc(STATE_CODEC_MAX_SIZE);
    float *v = calloc(STATE_EMBEDDING_DIM_MAX, sizeof(float));
    size_t len = 0;

    assert_non_null(buf);
    assert_non_null(v);
    for (int32_t t = 0; t < STATE_MAX_LEN_LIMIT; t++)
        state_store_push_tokens(store, user, &t, 1);
    for (int32_t p = 0; p < STATE_PURCHASES_MAX; p++)
        state_user_add_purchase(user, p);
    for (uint32_t r = 0; r < STATE_RULE_SLOTS; r++)
        state_user_claim_rule(user, r + 1);
    v[0] = 1.0f;
    state_embedding_store(state_store_embedding(store, user), v, STATE_EMBEDDING_DIM_MAX);

    assert_int_equal(state_codec_encoded_size(store, user), STATE_CODEC_MAX_SIZE);
    assert_int_equal(state_codec_encode(store, user, buf, STATE_CODEC_MAX_SIZE, &len, error), STATE_CODEC_OK);
    assert_int_equal(len, STATE_CODEC_MAX_SIZE);
    free(buf);
    free(v);
    state_store_free(store);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout_matches_diagram),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_empty_user_round_trip),
        cmocka_unit_test(test_restore_keeps_newest_tokens),
        cmocka_unit_test(test_tombstone_removes_user),
        cmocka_unit_test(test_encode_needs_space),
        cmocka_unit_test(test_corrupt_short),
        cmocka_unit_test(test_corrupt_magic_and_version),
        cmocka_unit_test(test_corrupt_fields),
        cmocka_unit_test(test_corrupt_lengths),
        cmocka_unit_test(test_fewer_actions_read_as_zero),
        cmocka_unit_test(test_random_damage_safe),
        cmocka_unit_test(test_decode_null_data),
        cmocka_unit_test(test_embedding_layout),
        cmocka_unit_test(test_embedding_round_trip),
        cmocka_unit_test(test_embedding_dropped_on_other_dim),
        cmocka_unit_test(test_record_without_embedding_clears),
        cmocka_unit_test(test_version1_still_decodes),
        cmocka_unit_test(test_version1_reserved_bytes),
        cmocka_unit_test(test_embedding_short_rejected),
        cmocka_unit_test(test_embedding_bad_scale_rejected),
        cmocka_unit_test(test_random_damage_embedding_safe),
        cmocka_unit_test(test_max_size_fits_largest_record),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
