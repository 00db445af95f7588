/*
 * Byte-level BPE: training against a naive trainer that recounts every pair
 * before each merge, exact round trips, truncation at code point
 * boundaries, chunking rules and rejection of invalid merge tables.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bpe.h"
#include "utf8.h"

static const char *const corpus[] = {
    "aaaaaaaa aaaa aaa",
    "abababab abab ab",
    "the cat sat on the mat, the cat sat.",
    "\xE8\xBF\x99\xE4\xB8\xAA\xE4\xB8\x9C\xE8\xA5\xBF\xE5\xBE\x88\xE5\xA5\xBD\xEF\xBC\x8C\xE5\xBE\x88\xE5\xA5\xBD\xE7\x94\xA8", /* 这个东西很好，很好用 */
    "\xE5\xBE\x88\xE5\xA5\xBD\xE5\xBE\x88\xE5\xA5\xBD\xE5\xBE\x88\xE5\xA5\xBD\xEF\xBC\x81\xEF\xBC\x81", /* 很好很好很好！！ */
    "\xF0\x9F\x98\x80\xF0\x9F\x98\x80\xF0\x9F\x98\x80 \xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD",
    "iPhone 12 \xE5\xBE\x88\xE5\xA5\xBD 123456 12 12",
    "\xEF\xBB\xBF\xE4\xB9\xA6\xE5\xBE\x88\xE5\xA5\xBD \xE4\xB9\xA6\xE5\xBE\x88\xE5\xA5\xBD",
    "\xC0\xAF\xFF\xFE bad bytes \xED\xA0\x80 bad bytes",
    "xyxyxyxyxyxy zzzz zzzzzz",
};
#define N_CORPUS (sizeof corpus / sizeof corpus[0])

/* ---- naive trainer: full recount of every pair before each merge ---- */

struct naive_word {
    int32_t *symbols;
    size_t n;
};

static size_t naive_words(struct naive_word *words, size_t max_words)
{
    size_t n_words = 0;
    for (size_t t = 0; t < N_CORPUS; t++) {
        size_t len = strlen(corpus[t]);
        uint8_t *normal = malloc(UTF8_NORMALIZED_MAX(len) + 1);
        size_t normal_len = utf8_normalize((const uint8_t *)corpus[t], len, normal);
        for (size_t at = 0; at < normal_len;) {
            size_t chunk = bpe_chunk_length(normal + at, normal_len - at);
            assert_true(n_words < max_words);
            words[n_words].symbols = malloc(chunk * sizeof(int32_t));
            words[n_words].n = chunk;
            for (size_t i = 0; i < chunk; i++)
                words[n_words].symbols[i] = normal[at + i];
            n_words++;
            at += chunk;
        }
        free(normal);
    }
    return n_words;
}

/* Trains on the corpus chunks in words[0..n_words), leaving each word in
 * its final segmentation. Returns the number of merges. */
static int naive_train(struct naive_word *words, size_t n_words, int max_merges, int32_t *merges)
{
    size_t side = BPE_BYTE_TOKENS + (size_t)max_merges;
    int64_t *counts = malloc(side * side * sizeof(int64_t));
    int m;

    for (m = 0; m < max_merges; m++) {
        memset(counts, 0, side * side * sizeof(int64_t));
        for (size_t w = 0; w < n_words; w++)
            for (size_t i = 0; i + 1 < words[w].n; i++)
                counts[(size_t)words[w].symbols[i] * side + (size_t)words[w].symbols[i + 1]]++;

        /* Scanning in (left, right) order keeps the first maximum, which is
         * the smaller pair on a tie. */
        size_t best = 0;
        for (size_t p = 1; p < side * side; p++)
            if (counts[p] > counts[best])
                best = p;
        if (counts[best] < 2)
            break;

        int32_t left = (int32_t)(best / side), right = (int32_t)(best % side);
        merges[2 * m] = left;
        merges[2 * m + 1] = right;
        for (size_t w = 0; w < n_words; w++) {
            size_t out = 0;
            for (size_t i = 0; i < words[w].n; out++) {
                if (i + 1 < words[w].n && words[w].symbols[i] == left && words[w].symbols[i + 1] == right) {
                    words[w].symbols[out] = BPE_BYTE_TOKENS + m;
                    i += 2;
                } else {
                    words[w].symbols[out] = words[w].symbols[i++];
                }
            }
            words[w].n = out;
        }
    }
    free(counts);
    return m;
}

static struct bpe *train_corpus(int n_merges)
{
    size_t lengths[N_CORPUS];
    struct bpe_train_options options;
    struct bpe *bpe = NULL;
    char error[MODEL_ERROR_SIZE];

    for (size_t i = 0; i < N_CORPUS; i++)
        lengths[i] = strlen(corpus[i]);
    bpe_train_options_defaults(&options);
    options.n_merges = n_merges;
    assert_int_equal(bpe_train(&options, corpus, lengths, N_CORPUS, &bpe, error), 0);
    assert_non_null(bpe);
    return bpe;
}

static void train_matches_naive(void **state)
{
    (void)state;
    struct naive_word words[512];
    size_t n_words = naive_words(words, 512);
    int32_t expected[2 * 400];
    int n_expected = naive_train(words, n_words, 400, expected);
    struct bpe *bpe = train_corpus(400);

    assert_true(n_expected > 20);
    assert_int_equal(bpe_n_merges(bpe), n_expected);
    assert_memory_equal(bpe_merges(bpe), expected, 2 * (size_t)n_expected * sizeof(int32_t));

    /* Encoding each training chunk by merge rank must give the segmentation
     * that training ended with. */
    for (size_t w = 0; w < n_words; w++) {
        uint8_t bytes[BPE_MAX_CHUNK_BYTES];
        int32_t tokens[BPE_MAX_CHUNK_BYTES];
        size_t len = 0;
        for (size_t i = 0; i < words[w].n; i++) {
            size_t token_len;
            const uint8_t *token = bpe_token_bytes(bpe, words[w].symbols[i], &token_len);
            assert_non_null(token);
            assert_true(len + token_len <= sizeof bytes);
            memcpy(bytes + len, token, token_len);
            len += token_len;
        }
        size_t n = bpe_encode(bpe, bytes, len, tokens, BPE_MAX_CHUNK_BYTES, NULL);
        assert_int_equal(n, words[w].n);
        assert_memory_equal(tokens, words[w].symbols, n * sizeof(int32_t));
        free(words[w].symbols);
    }
    bpe_free(bpe);
}

static void train_stops_when_pairs_run_out(void **state)
{
    (void)state;
    const char *texts[] = {"ab", "ab", "cd"};
    size_t lengths[] = {2, 2, 2};
    struct bpe_train_options options;
    struct bpe *bpe;
    char error[MODEL_ERROR_SIZE];

    bpe_train_options_defaults(&options);
    options.n_merges = 50;
    assert_int_equal(bpe_train(&options, texts, lengths, 3, &bpe, error), 0);
    /* Only (a, b) occurs twice; (c, d) once is below min_pair_count 2. */
    assert_int_equal(bpe_n_merges(bpe), 1);
    assert_int_equal(bpe_merges(bpe)[0], 'a');
    assert_int_equal(bpe_merges(bpe)[1], 'b');
    bpe_free(bpe);
}

/* Normalises, encodes with no budget, decodes, and compares. */
static void check_round_trip(const struct bpe *bpe, const char *text, size_t len)
{
    uint8_t *normal = malloc(UTF8_NORMALIZED_MAX(len) + 1);
    size_t normal_len = utf8_normalize((const uint8_t *)text, len, normal);
    int32_t *tokens = malloc((normal_len + 1) * sizeof(int32_t));
    uint8_t *decoded = malloc(normal_len + 1);
    size_t consumed, decoded_len;
    char error[MODEL_ERROR_SIZE];

    size_t n = bpe_encode(bpe, normal, normal_len, tokens, normal_len + 1, &consumed);
    assert_int_equal(consumed, normal_len);
    assert_int_equal(bpe_decode(bpe, tokens, n, decoded, normal_len + 1, &decoded_len, error), 0);
    assert_int_equal(decoded_len, normal_len);
    assert_memory_equal(decoded, normal, normal_len);
    free(normal);
    free(tokens);
    free(decoded);
}

static void round_trip_adversarial(void **state)
{
    (void)state;
    static const char *const extra[] = {
        "",
        "\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91\xA7",
        "\xEF\xBC\xA1\xEF\xBC\xA2 \xE3\x80\x80 \xEF\xBB\xBF mid \xEF\xBB\xBF",
        "\xE0\x80\xAF\xF0\x9F\x98\xF4\x90\x80\x80\x80\x80\x80",
        "\xE5\xBE\x88\xE5\xA5\xBD\xE5\xBE\x88\xE5\xA5\xBD\xE5\xBE\x88\xE5\xA5\xBD\xE5\xBE\x88\xE5\xA5\xBD"
        "\xE5\xBE\x88\xE5\xA5\xBD\xE5\xBE\x88\xE5\xA5\xBD\xE5\xBE\x88\xE5\xA5\xBD\xE5\xBE\x88\xE5\xA5\xBD"
        "\xE5\xBE\x88\xE5\xA5\xBD\xE5\xBE\x88\xE5\xA5\xBD\xE5\xBE\x88\xE5\xA5\xBD\xE5\xBE\x88\xE5\xA5\xBD",
        "\t\n\r   \x7F\x01 \xC2\xA0\xC2\xA0 end",
    };
    struct bpe *bpe = train_corpus(300);

    for (size_t i = 0; i < N_CORPUS; i++)
        check_round_trip(bpe, corpus[i], strlen(corpus[i]));
    for (size_t i = 0; i < sizeof extra / sizeof extra[0]; i++)
        check_round_trip(bpe, extra[i], strlen(extra[i]));

    /* Every single byte value and every 2-byte string starting with one. */
    for (int a = 0; a < 256; a++) {
        for (int b = 0; b < 256; b += 17) {
            char pair[2] = {(char)a, (char)b};
            check_round_trip(bpe, pair, 2);
        }
    }
    bpe_free(bpe);
}

static void truncate_at_code_points(void **state)
{
    (void)state;
    struct bpe *bpe = train_corpus(300);
    char error[MODEL_ERROR_SIZE];

    for (size_t t = 0; t < N_CORPUS; t++) {
        size_t len = strlen(corpus[t]);
        uint8_t *normal = malloc(UTF8_NORMALIZED_MAX(len) + 1);
        size_t normal_len = utf8_normalize((const uint8_t *)corpus[t], len, normal);
        int32_t *tokens = malloc((normal_len + 1) * sizeof(int32_t));
        uint8_t *decoded = malloc(normal_len + 1);
        size_t full = bpe_encode(bpe, normal, normal_len, tokens, normal_len + 1, NULL);
        size_t previous = 0;

        for (size_t budget = 0; budget <= full; budget++) {
            size_t consumed, decoded_len;
            size_t n = bpe_encode(bpe, normal, normal_len, tokens, budget, &consumed);
            assert_true(n <= budget);
            assert_int_equal(bpe_decode(bpe, tokens, n, decoded, normal_len + 1, &decoded_len, error), 0);
            assert_int_equal(decoded_len, consumed);
            assert_memory_equal(decoded, normal, decoded_len);
            assert_true(utf8_is_valid(decoded, decoded_len));
            assert_true(utf8_is_boundary(normal, normal_len, decoded_len));
            assert_true(decoded_len >= previous);
            previous = decoded_len;
        }
        assert_int_equal(previous, normal_len);
        free(normal);
        free(tokens);
        free(decoded);
    }
    bpe_free(bpe);
}

static void truncate_inside_merged_token(void **state)
{
    (void)state;
    /* 中 is E4 B8 AD. Merge 0 (AD, E4) -> 256 joins the end of the first
     * character to the start of the second, and merge 1 (E4, B8) -> 257. */
    const int32_t merges[] = {0xAD, 0xE4, 0xE4, 0xB8};
    const uint8_t text[] = {0xE4, 0xB8, 0xAD, 0xE4, 0xB8, 0xAD};
    struct bpe *bpe;
    int32_t tokens[8];
    size_t consumed;
    char error[MODEL_ERROR_SIZE];

    assert_int_equal(bpe_create(merges, 2, &bpe, error), 0);
    size_t n = bpe_encode(bpe, text, sizeof text, tokens, 8, &consumed);
    /* Rank 0 (AD, E4) first: E4 B8 [AD E4] B8 AD, then rank 1 (E4, B8). */
    assert_int_equal(n, 4);
    assert_int_equal(tokens[0], 257);
    assert_int_equal(tokens[1], 256);
    assert_int_equal(tokens[2], 0xB8);
    assert_int_equal(tokens[3], 0xAD);

    /* Tokens 257, 256 and B8 all end inside a character: no cut there. */
    for (size_t budget = 1; budget <= 3; budget++) {
        n = bpe_encode(bpe, text, sizeof text, tokens, budget, &consumed);
        assert_int_equal(n, 0);
        assert_int_equal(consumed, 0);
    }
    n = bpe_encode(bpe, text, sizeof text, tokens, 4, &consumed);
    assert_int_equal(n, 4);
    assert_int_equal(consumed, 6);
    bpe_free(bpe);
}

static size_t chunk(const char *text)
{
    return bpe_chunk_length((const uint8_t *)text, strlen(text));
}

static void chunk_rules(void **state)
{
    (void)state;
    assert_int_equal(chunk("hello world"), 5);
    assert_int_equal(chunk(" world!"), 6);
    assert_int_equal(chunk("   word"), 2);
    assert_int_equal(chunk("123abc"), 3);
    assert_int_equal(chunk("abc123"), 3);
    assert_int_equal(chunk("!!?x"), 3);
    assert_int_equal(chunk("\xE5\xBE\x88\xE5\xA5\xBD,"), 6);          /* 很好 */
    assert_int_equal(chunk("\xE5\xBE\x88\xE3\x80\x82"), 3);           /* 很。 */
    assert_int_equal(chunk("\xF0\x9F\x98\x80\xF0\x9F\x98\x80" "a"), 8); /* two emoji */
    assert_int_equal(chunk("iPhone\xE5\xBE\x88"), 6);
    assert_int_equal(chunk(""), 0);

    /* 30 CJK characters (90 bytes): the chunk stops at 21 characters. */
    char long_run[91];
    for (int i = 0; i < 30; i++)
        memcpy(long_run + 3 * i, "\xE5\xBE\x88", 3);
    long_run[90] = '\0';
    assert_int_equal(chunk(long_run), 63);
}

static void create_rejects_bad_merges(void **state)
{
    (void)state;
    struct bpe *bpe = NULL;
    char error[MODEL_ERROR_SIZE];

    const int32_t undefined[] = {'a', 256};
    assert_int_equal(bpe_create(undefined, 1, &bpe, error), -1);
    assert_null(bpe);
    assert_non_null(strstr(error, "not defined"));

    const int32_t repeated[] = {'a', 'b', 'a', 'b'};
    assert_int_equal(bpe_create(repeated, 2, &bpe, error), -1);
    assert_non_null(strstr(error, "repeats"));

    const int32_t negative[] = {-1, 'b'};
    assert_int_equal(bpe_create(negative, 1, &bpe, error), -1);

    /* Each merge doubles the token: 2, 4, ..., 64 bytes, then 128 is too long. */
    const int32_t doubling[] = {'a', 'a', 256, 256, 257, 257, 258, 258, 259, 259, 260, 260, 261, 261};
    assert_int_equal(bpe_create(doubling, 6, &bpe, error), 0);
    bpe_free(bpe);
    assert_int_equal(bpe_create(doubling, 7, &bpe, error), -1);
    assert_non_null(strstr(error, "bytes"));

    assert_int_equal(bpe_create(NULL, -1, &bpe, error), -1);
}

static void decode_rejects_bad_input(void **state)
{
    (void)state;
    struct bpe *bpe;
    uint8_t out[4];
    size_t len;
    char error[MODEL_ERROR_SIZE];
    const int32_t merges[] = {'a', 'b'};

    assert_int_equal(bpe_create(merges, 1, &bpe, error), 0);

    const int32_t out_of_range[] = {'x', 257};
    assert_int_equal(bpe_decode(bpe, out_of_range, 2, out, sizeof out, &len, error), -1);
    assert_non_null(strstr(error, "257"));

    const int32_t too_long[] = {256, 256, 256};
    assert_int_equal(bpe_decode(bpe, too_long, 3, out, sizeof out, &len, error), -1);

    const int32_t fits[] = {256, 256};
    assert_int_equal(bpe_decode(bpe, fits, 2, out, sizeof out, &len, error), 0);
    assert_int_equal(len, 4);
    assert_memory_equal(out, "abab", 4);
    bpe_free(bpe);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(train_matches_naive),
        cmocka_unit_test(train_stops_when_pairs_run_out),
        cmocka_unit_test(round_trip_adversarial),
        cmocka_unit_test(truncate_at_code_points),
        cmocka_unit_test(truncate_inside_merged_token),
        cmocka_unit_test(chunk_rules),
        cmocka_unit_test(create_rejects_bad_merges),
        cmocka_unit_test(decode_rejects_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
