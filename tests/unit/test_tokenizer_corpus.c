/*
 * BPE on the 62,774 Chinese product reviews of online_shopping_10_cats.csv
 * (header cat,label,review; RFC 4180 quoting; the first review starts with
 * a byte-order mark). A BPE trained on the even-numbered reviews must
 * round-trip every review exactly and truncate each one at code point
 * boundaries.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "bpe.h"
#include "utf8.h"

#define CSV_NAME "online_shopping_10_cats.csv"
#define N_REVIEWS 62774
#define N_MERGES 4000

struct reviews {
    char *buffer;    /* the file, unquoted in place */
    char **text;     /* [n] pointers into buffer */
    size_t *length;  /* [n] */
    size_t n;
};

static struct reviews corpus;
static struct bpe *trained;
static double train_seconds;

/* Reads one field starting at *at, removing RFC 4180 quoting in place.
 * Returns the field start and stores its length. *at moves past the field
 * and its delimiter, and *end_of_record is set to 1 after the last field. */
static char *read_field(char **at, char *end, size_t *length, int *end_of_record)
{
    char *p = *at, *start = p, *out = p;

    if (p < end && *p == '"') {
        for (p++; p < end; p++) {
            if (*p == '"' && p + 1 < end && p[1] == '"')
                *out++ = *p++;
            else if (*p == '"')
                break;
            else
                *out++ = *p;
        }
        p++; /* closing quote */
    } else {
        while (p < end && *p != ',' && *p != '\n' && *p != '\r')
            *out++ = *p++;
    }
    *length = (size_t)(out - start);
    *end_of_record = p >= end || *p != ',';
    if (p < end && *p == '\r')
        p++;
    if (p < end)
        p++;
    *at = p;
    return start;
}

static int load_reviews(void **state)
{
    (void)state;
    /* The environment variable overrides the folder compiled in. */
    const char *folder = getenv("INTENTD_DATA_DIR") ? getenv("INTENTD_DATA_DIR") : INTENTD_DATA_DIR;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", folder, CSV_NAME);
    FILE *file = fopen(path, "rb");
    if (!file) {
        print_message("cannot open %s: set INTENTD_DATA_DIR to the folder with the review CSV\n", path);
        return -1;
    }
    fseek(file, 0, SEEK_END);
    long size = ftell(file);
    fseek(file, 0, SEEK_SET);
    corpus.buffer = malloc((size_t)size + 1);
    corpus.text = malloc(sizeof(char *) * (N_REVIEWS + 1));
    corpus.length = malloc(sizeof(size_t) * (N_REVIEWS + 1));
    if (!corpus.buffer || !corpus.text || !corpus.length || fread(corpus.buffer, 1, (size_t)size, file) != (size_t)size) {
        fclose(file);
        return -1;
    }
    fclose(file);

    char *at = memchr(corpus.buffer, '\n', (size_t)size) + 1, *end = corpus.buffer + size;
    while (at < end && corpus.n <= N_REVIEWS) {
        size_t length;
        int last = 0;
        char *field = NULL;
        for (int column = 0; !last; column++) {
            field = read_field(&at, end, &length, &last);
            if (column == 2) {
                corpus.text[corpus.n] = field;
                corpus.length[corpus.n] = length;
            }
        }
        corpus.n++;
    }

    struct bpe_train_options options;
    char error[MODEL_ERROR_SIZE];
    const char **half = malloc(sizeof(char *) * (corpus.n / 2 + 1));
    size_t *half_length = malloc(sizeof(size_t) * (corpus.n / 2 + 1));
    size_t n_half = 0;
    for (size_t i = 0; i < corpus.n; i += 2) {
        half[n_half] = corpus.text[i];
        half_length[n_half++] = corpus.length[i];
    }
    bpe_train_options_defaults(&options);
    options.n_merges = N_MERGES;

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int status = bpe_train(&options, half, half_length, n_half, &trained, error);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    train_seconds = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    free(half);
    free(half_length);
    if (status != 0)
        print_message("BPE training failed: %s\n", error);
    return status;
}

static int free_reviews(void **state)
{
    (void)state;
    bpe_free(trained);
    free(corpus.buffer);
    free(corpus.text);
    free(corpus.length);
    return 0;
}

static void csv_has_every_review(void **state)
{
    (void)state;
    assert_int_equal(corpus.n, N_REVIEWS);
    /* The first review starts with a byte-order mark, which normalisation drops. */
    assert_memory_equal(corpus.text[0], "\xEF\xBB\xBF", 3);
    assert_int_equal(bpe_n_merges(trained), N_MERGES);
    print_message("trained %d merges on %zu reviews in %.2f s\n", N_MERGES, (corpus.n + 1) / 2, train_seconds);
}

static void round_trip_every_review(void **state)
{
    (void)state;
    size_t capacity = 1 << 16, total_bytes = 0, total_tokens = 0, held_out_bytes = 0, held_out_tokens = 0;
    uint8_t *normal = malloc(capacity), *decoded = malloc(capacity);
    int32_t *tokens = malloc(capacity * sizeof(int32_t));
    char error[MODEL_ERROR_SIZE];

    for (size_t i = 0; i < corpus.n; i++) {
        size_t len = corpus.length[i], consumed, decoded_len;
        assert_true(UTF8_NORMALIZED_MAX(len) <= capacity);

        size_t normal_len = utf8_normalize((const uint8_t *)corpus.text[i], len, normal);
        size_t n = bpe_encode(trained, normal, normal_len, tokens, capacity, &consumed);
        assert_int_equal(consumed, normal_len);
        assert_int_equal(bpe_decode(trained, tokens, n, decoded, capacity, &decoded_len, error), 0);
        assert_int_equal(decoded_len, normal_len);
        assert_memory_equal(decoded, normal, normal_len);

        total_bytes += normal_len;
        total_tokens += n;
        if (i % 2 == 1) {
            held_out_bytes += normal_len;
            held_out_tokens += n;
        }
    }
    print_message("all reviews: %zu bytes, %zu tokens, %.3f bytes per token; held-out half: %.3f\n", total_bytes,
                  total_tokens, (double)total_bytes / (double)total_tokens,
                  (double)held_out_bytes / (double)held_out_tokens);
    /* Bytes alone give 1 byte per token and a CJK character is 3 bytes, so
     * anything below 3 would mean the merges barely work. */
    assert_true((double)held_out_bytes / (double)held_out_tokens > 3.0);
    free(normal);
    free(decoded);
    free(tokens);
}

static void truncate_every_review(void **state)
{
    (void)state;
    static const size_t budgets[] = {1, 7, 32, 64};
    size_t capacity = 1 << 16;
    uint8_t *normal = malloc(capacity), *decoded = malloc(capacity);
    int32_t tokens[64];
    char error[MODEL_ERROR_SIZE];

    for (size_t i = 0; i < corpus.n; i++) {
        size_t normal_len = utf8_normalize((const uint8_t *)corpus.text[i], corpus.length[i], normal);
        for (size_t b = 0; b < sizeof budgets / sizeof budgets[0]; b++) {
            size_t consumed, decoded_len;
            size_t n = bpe_encode(trained, normal, normal_len, tokens, budgets[b], &consumed);
            assert_true(n <= budgets[b]);
            assert_int_equal(bpe_decode(trained, tokens, n, decoded, capacity, &decoded_len, error), 0);
            assert_int_equal(decoded_len, consumed);
            assert_memory_equal(decoded, normal, decoded_len);
            assert_true(utf8_is_valid(decoded, decoded_len));
        }
    }
    free(normal);
    free(decoded);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(csv_has_every_review),
        cmocka_unit_test(round_trip_every_review),
        cmocka_unit_test(truncate_every_review),
    };
    return cmocka_run_group_tests(tests, load_reviews, free_reviews);
}
