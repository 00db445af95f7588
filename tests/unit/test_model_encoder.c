/* The batched encoder API: input checks, pooling, heads and arena reuse. */
#include "test_model_util.h"

#include <pthread.h>

#include "encoder.h"

#define VOCAB 45
#define SEQ 10
#define D 64

static void check_pooling(enum model_encoder_mode mode)
{
    struct model m;
    struct model_arena arena = {0};
    char error[MODEL_ERROR_SIZE];
    struct model_config c = test_config(VOCAB);
    c.encoder_mode = mode;
    int tokens[2 * SEQ], lengths[2] = {SEQ, 4};
    float hidden[2 * SEQ * D], pooled[2 * D];
    uint64_t rng = 3;

    test_random_model(&m, &c, 3);
    test_random_tokens(tokens, 2 * SEQ, VOCAB, &rng);
    assert_int_equal(model_encode(&m, &arena, tokens, lengths, 2, SEQ, hidden, pooled, error), 0);

    for (int b = 0; b < 2; b++) {
        for (int i = 0; i < D; i++) {
            double expected = 0.0;
            if (mode == MODEL_ENCODER_CAUSAL) {
                expected = hidden[((size_t)b * SEQ + lengths[b] - 1) * D + i];
            } else {
                for (int t = 0; t < lengths[b]; t++)
                    expected += hidden[((size_t)b * SEQ + t) * D + i];
                expected /= lengths[b];
            }
            assert_true(fabs(pooled[b * D + i] - expected) < 1e-6);
        }
    }
    model_arena_free(&arena);
    model_free(&m);
}

static void causal_pools_last_position(void **state)
{
    (void)state;
    check_pooling(MODEL_ENCODER_CAUSAL);
}

static void bidirectional_pools_masked_mean(void **state)
{
    (void)state;
    check_pooling(MODEL_ENCODER_BIDIRECTIONAL);
}

/* Padding values must not change valid positions. */
static void padding_is_ignored(void **state)
{
    (void)state;
    struct model m;
    struct model_arena arena = {0};
    char error[MODEL_ERROR_SIZE];
    struct model_config c = test_config(VOCAB);
    c.encoder_mode = MODEL_ENCODER_BIDIRECTIONAL;
    int tokens[SEQ] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, length = 5;
    float a[D], b[D];

    test_random_model(&m, &c, 4);
    assert_int_equal(model_encode(&m, &arena, tokens, &length, 1, SEQ, NULL, a, error), 0);
    for (int t = 5; t < SEQ; t++)
        tokens[t] = 999; /* not even a valid id */
    assert_int_equal(model_encode(&m, &arena, tokens, &length, 1, SEQ, NULL, b, error), 0);
    assert_memory_equal(a, b, sizeof a);
    model_arena_free(&arena);
    model_free(&m);
}

static void invalid_input_named(void **state)
{
    (void)state;
    struct model m;
    struct model_arena arena = {0};
    char error[MODEL_ERROR_SIZE];
    struct model_config c = test_config(VOCAB);
    int tokens[2 * SEQ] = {0}, lengths[2] = {SEQ, SEQ};
    float pooled[2 * D];

    test_random_model(&m, &c, 5);
    tokens[SEQ + 3] = VOCAB;
    assert_int_equal(model_encode(&m, &arena, tokens, lengths, 2, SEQ, NULL, pooled, error), -1);
    assert_non_null(strstr(error, "token id 45 at index 3"));
    assert_non_null(strstr(error, "sequence 1"));

    tokens[SEQ + 3] = 0;
    lengths[0] = SEQ + 1;
    assert_int_equal(model_encode(&m, &arena, tokens, lengths, 2, SEQ, NULL, pooled, error), -1);
    assert_non_null(strstr(error, "length 11 of sequence 0"));
    model_arena_free(&arena);
    model_free(&m);
}

static void heads_have_expected_ranges(void **state)
{
    (void)state;
    struct model m;
    struct model_arena arena = {0};
    char error[MODEL_ERROR_SIZE];
    struct model_config c = test_config(VOCAB);
    int tokens[SEQ] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, length = SEQ;
    float pooled[D], items[VOCAB], propensity;

    test_random_model(&m, &c, 6);
    assert_int_equal(model_encode(&m, &arena, tokens, &length, 1, SEQ, NULL, pooled, error), 0);
    struct model_head_outputs out = {.item_scores = items, .propensity = &propensity};
    model_heads(&m, pooled, 1, &out);

    assert_true(propensity > 0.0f && propensity < 1.0f);
    for (int i = 0; i < c.item_end - c.item_begin; i++) {
        double dot = 0.0;
        for (int k = 0; k < D; k++)
            dot += (double)pooled[k] * m.params.embedding[(size_t)(c.item_begin + i) * D + k];
        assert_true(fabs(items[i] - dot) < 1e-4);
    }
    model_arena_free(&arena);
    model_free(&m);
}

/* After the first batch of a shape the arena is reused, not reallocated. */
static void arena_reused_across_batches(void **state)
{
    (void)state;
    struct model m;
    struct model_arena arena = {0};
    char error[MODEL_ERROR_SIZE];
    struct model_config c = test_config(VOCAB);
    int tokens[4 * SEQ] = {0}, lengths[4] = {SEQ, 3, 7, 1};
    float pooled[4 * D];

    test_random_model(&m, &c, 7);
    assert_int_equal(model_encode(&m, &arena, tokens, lengths, 4, SEQ, NULL, pooled, error), 0);
    char *base = arena.base;
    size_t size = arena.size;
    for (int i = 0; i < 5; i++)
        assert_int_equal(model_encode(&m, &arena, tokens, lengths, 4, SEQ, NULL, pooled, error), 0);
    assert_ptr_equal(arena.base, base);
    assert_int_equal(arena.size, size);
    /* A smaller batch fits in the same block. */
    assert_int_equal(model_encode(&m, &arena, tokens, lengths, 2, SEQ, NULL, pooled, error), 0);
    assert_ptr_equal(arena.base, base);
    model_arena_free(&arena);
    model_free(&m);
}

/* Batches of more than 4096 token rows run in chunks; the result must not change. */
static void chunked_batch_equals_single(void **state)
{
    (void)state;
    enum { LONG = 700, BATCH = 7 };
    struct model m;
    struct model_arena arena = {0};
    char error[MODEL_ERROR_SIZE];
    struct model_config c = test_config(VOCAB);
    int *tokens = malloc(sizeof(int) * BATCH * LONG), lengths[BATCH];
    float batched[BATCH * D], single[D];
    uint64_t rng = 8;

    test_random_model(&m, &c, 8);
    test_random_tokens(tokens, (size_t)BATCH * LONG, VOCAB, &rng);
    for (int b = 0; b < BATCH; b++)
        lengths[b] = LONG - 37 * b;
    assert_int_equal(model_encode(&m, &arena, tokens, lengths, BATCH, LONG, NULL, batched, error), 0);
    for (int b = 0; b < BATCH; b++) {
        assert_int_equal(model_encode(&m, &arena, tokens + b * LONG, &lengths[b], 1, LONG, NULL, single, error), 0);
        assert_true(test_max_diff(batched + b * D, single, D) < 1e-5);
    }
    free(tokens);
    model_arena_free(&arena);
    model_free(&m);
}

struct encode_job {
    const struct model *model;
    const int *tokens;
    int lengths[4];
    float pooled[4 * D];
    int status;
};

static void *encode_repeatedly(void *arg)
{
    struct encode_job *job = arg;
    struct model_arena arena = {0};
    char error[MODEL_ERROR_SIZE];
    for (int i = 0; i < 20 && job->status == 0; i++)
        job->status = model_encode(job->model, &arena, job->tokens, job->lengths, 4, SEQ, NULL, job->pooled, error);
    model_arena_free(&arena);
    return NULL;
}

/* Two threads share one model, each with its own arena. */
static void threads_share_model(void **state)
{
    (void)state;
    struct model m;
    struct model_arena arena = {0};
    char error[MODEL_ERROR_SIZE];
    struct model_config c = test_config(VOCAB);
    int tokens[4 * SEQ];
    float expected[4 * D];
    uint64_t rng = 9;
    struct encode_job jobs[2] = {{.lengths = {SEQ, 2, 9, 5}}, {.lengths = {SEQ, 2, 9, 5}}};
    pthread_t threads[2];

    test_random_model(&m, &c, 9);
    test_random_tokens(tokens, 4 * SEQ, VOCAB, &rng);
    assert_int_equal(model_encode(&m, &arena, tokens, jobs[0].lengths, 4, SEQ, NULL, expected, error), 0);
    for (int i = 0; i < 2; i++) {
        jobs[i].model = &m;
        jobs[i].tokens = tokens;
        assert_int_equal(pthread_create(&threads[i], NULL, encode_repeatedly, &jobs[i]), 0);
    }
    for (int i = 0; i < 2; i++) {
        assert_int_equal(pthread_join(threads[i], NULL), 0);
        assert_int_equal(jobs[i].status, 0);
        assert_memory_equal(jobs[i].pooled, expected, sizeof expected);
    }
    model_arena_free(&arena);
    model_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(causal_pools_last_position),
        cmocka_unit_test(bidirectional_pools_masked_mean),
        cmocka_unit_test(padding_is_ignored),
        cmocka_unit_test(invalid_input_named),
        cmocka_unit_test(heads_have_expected_ranges),
        cmocka_unit_test(arena_reused_across_batches),
        cmocka_unit_test(chunked_batch_equals_single),
        cmocka_unit_test(threads_share_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
