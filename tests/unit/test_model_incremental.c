/* The causal encoder's per-user key/value cache against full recomputes. */
#include "test_model_util.h"

#include "encoder.h"
#include "kv_cache.h"

#define TOLERANCE 1e-5

struct fixture {
    struct model model;
    struct model_arena arena;
    struct model_kv_cache *cache;
    int tokens[200];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    char error[MODEL_ERROR_SIZE];
    struct model_config c = test_config(53);
    uint64_t rng = 21;

    test_random_model(&f->model, &c, 21);
    test_random_tokens(f->tokens, 200, c.vocab_size, &rng);
    f->cache = model_kv_cache_create(&f->model, error);
    assert_non_null(f->cache);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    model_kv_cache_free(f->cache);
    model_arena_free(&f->arena);
    model_free(&f->model);
    free(f);
    return 0;
}

/* Pooled embedding of tokens[0 .. n) by a full encode. */
static void full_pooled(struct fixture *f, const int *tokens, int n, float *pooled)
{
    char error[MODEL_ERROR_SIZE];
    assert_int_equal(model_encode(&f->model, &f->arena, tokens, &n, 1, n, NULL, pooled, error), 0);
}

static void one_token_at_a_time_equals_full(void **state)
{
    struct fixture *f = *state;
    char error[MODEL_ERROR_SIZE];
    float inc[64], full[64];
    int max_len = f->model.config.max_len;

    /* Every length from 1 to max_len, the first and the last included. */
    for (int n = 1; n <= max_len; n++) {
        assert_int_equal(model_kv_cache_append(&f->model, f->cache, &f->arena, &f->tokens[n - 1], 1, inc, error), 0);
        full_pooled(f, f->tokens, n, full);
        assert_true(test_max_diff(inc, full, 64) < TOLERANCE);
    }
    assert_int_equal(f->cache->length, max_len);
}

static void chunked_append_equals_full(void **state)
{
    struct fixture *f = *state;
    char error[MODEL_ERROR_SIZE];
    float inc[64], full[64];

    assert_int_equal(model_kv_cache_append(&f->model, f->cache, &f->arena, f->tokens, 10, inc, error), 0);
    assert_int_equal(model_kv_cache_append(&f->model, f->cache, &f->arena, f->tokens + 10, 7, inc, error), 0);
    full_pooled(f, f->tokens, 17, full);
    assert_true(test_max_diff(inc, full, 64) < TOLERANCE);
}

/* Past max_len the window slides to the last max_len tokens. */
static void sliding_window_equals_full(void **state)
{
    struct fixture *f = *state;
    char error[MODEL_ERROR_SIZE];
    float inc[64], full[64];
    int max_len = f->model.config.max_len;

    for (int n = 1; n <= max_len + 5; n++)
        assert_int_equal(model_kv_cache_append(&f->model, f->cache, &f->arena, &f->tokens[n - 1], 1, inc, error), 0);
    full_pooled(f, f->tokens + 5, max_len, full);
    assert_true(test_max_diff(inc, full, 64) < TOLERANCE);
    assert_int_equal(f->cache->length, max_len);
}

static void serialize_roundtrip_continues(void **state)
{
    struct fixture *f = *state;
    char error[MODEL_ERROR_SIZE];
    float inc[64], full[64];

    assert_int_equal(model_kv_cache_append(&f->model, f->cache, &f->arena, f->tokens, 20, NULL, error), 0);
    size_t size = model_kv_cache_serialized_size(f->cache);
    unsigned char *bytes = malloc(size);
    assert_int_equal(model_kv_cache_serialize(f->cache, bytes, size), size);

    struct model_kv_cache *copy = model_kv_cache_create(&f->model, error);
    assert_non_null(copy);
    assert_int_equal(model_kv_cache_deserialize(copy, bytes, size, error), 0);
    assert_int_equal(model_kv_cache_deserialize(copy, bytes, size - 1, error), -1);
    assert_int_equal(model_kv_cache_append(&f->model, copy, &f->arena, f->tokens + 20, 1, inc, error), 0);
    full_pooled(f, f->tokens, 21, full);
    assert_true(test_max_diff(inc, full, 64) < TOLERANCE);
    assert_true(model_kv_cache_bytes(copy) >= 2 * 2 * 64 * 64 * sizeof(float));

    model_kv_cache_free(copy);
    free(bytes);
}

static void rebuild_equals_full(void **state)
{
    struct fixture *f = *state;
    char error[MODEL_ERROR_SIZE];
    float inc[64], full[64];

    assert_int_equal(model_kv_cache_rebuild(&f->model, f->cache, &f->arena, f->tokens, 30, inc, error), 0);
    full_pooled(f, f->tokens, 30, full);
    assert_true(test_max_diff(inc, full, 64) < TOLERANCE);
}

static void invalid_token_leaves_cache(void **state)
{
    struct fixture *f = *state;
    char error[MODEL_ERROR_SIZE];
    int bad = 53;

    assert_int_equal(model_kv_cache_append(&f->model, f->cache, &f->arena, f->tokens, 3, NULL, error), 0);
    assert_int_equal(model_kv_cache_append(&f->model, f->cache, &f->arena, &bad, 1, NULL, error), -1);
    assert_non_null(strstr(error, "53"));
    assert_int_equal(f->cache->length, 3);
}

static void bidirectional_has_no_cache(void **state)
{
    (void)state;
    struct model m;
    char error[MODEL_ERROR_SIZE];
    struct model_config c = test_config(53);
    c.encoder_mode = MODEL_ENCODER_BIDIRECTIONAL;
    assert_int_equal(model_create(&m, &c, 1, error), 0);
    assert_null(model_kv_cache_create(&m, error));
    assert_non_null(strstr(error, "causal"));
    model_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(one_token_at_a_time_equals_full, setup, teardown),
        cmocka_unit_test_setup_teardown(chunked_append_equals_full, setup, teardown),
        cmocka_unit_test_setup_teardown(sliding_window_equals_full, setup, teardown),
        cmocka_unit_test_setup_teardown(serialize_roundtrip_continues, setup, teardown),
        cmocka_unit_test_setup_teardown(rebuild_equals_full, setup, teardown),
        cmocka_unit_test_setup_teardown(invalid_token_leaves_cache, setup, teardown),
        cmocka_unit_test(bidirectional_has_no_cache),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
