/*
 * Golden values from tests/ref/numpy_transformer.py, an independent float64
 * NumPy implementation written from the equations. Covers what PyTorch cannot
 * compare: an all-padding sequence (PyTorch returns NaN there), pooling, the
 * heads, and decoder attention to an empty memory.
 */
#include "test_model_util.h"

#include "decoder.h"
#include "encoder.h"

#define TOLERANCE 1e-4

struct golden_case {
    int batch, seq_len, tgt_len;
    const int *lengths;
};

static void check_sequence_rows(const float *got, const float *expected, int rows, int d, const char *output_name, int b)
{
    double diff = test_max_diff(got, expected, (size_t)rows * d);
    if (diff > TOLERANCE)
        fprintf(stderr, "%s of sequence %d differs from NumPy by %g\n", output_name, b, diff);
    assert_true(diff <= TOLERANCE);
}

static void check_output(const char *dir, const char *name, const float *got, size_t count)
{
    float *expected = test_read_f32(dir, name, count);
    double diff = test_max_diff(got, expected, count);
    if (diff > TOLERANCE)
        fprintf(stderr, "%s differs from NumPy by %g\n", name, diff);
    assert_true(diff <= TOLERANCE);
    free(expected);
}

static void check_against_numpy(struct model_config c, const struct golden_case *g, uint64_t seed)
{
    struct model m;
    struct model_arena arena = {0};
    char error[MODEL_ERROR_SIZE];
    int B = g->batch, T = g->seq_len, d = c.d_model, items = c.item_end - c.item_begin;
    int *tokens = malloc(sizeof(int) * B * T), *tgt = malloc(sizeof(int) * B * g->tgt_len);
    uint64_t state = seed;

    test_random_model(&m, &c, seed);
    test_random_tokens(tokens, (size_t)B * T, c.vocab_size, &state);
    test_random_tokens(tgt, (size_t)B * g->tgt_len, c.vocab_size, &state);
    char *dir = test_make_dir();
    test_write_case(dir, &m, tokens, g->lengths, B, T, tgt, g->tgt_len);
    test_run_reference("numpy_transformer.py", dir);

    float *hidden = malloc(sizeof(float) * B * T * d), *pooled = malloc(sizeof(float) * B * d);
    float *logits = malloc(sizeof(float) * B * g->tgt_len * c.vocab_size);
    float *item_scores = malloc(sizeof(float) * B * items), *actions = malloc(sizeof(float) * B * c.n_actions);
    float *categories = malloc(sizeof(float) * B * c.n_categories);
    float *sentiments = malloc(sizeof(float) * B * c.n_sentiments), *propensity = malloc(sizeof(float) * B);
    assert_int_equal(model_encode(&m, &arena, tokens, g->lengths, B, T, hidden, pooled, error), 0);
    assert_int_equal(model_decode(&m, &arena, hidden, g->lengths, B, T, tgt, g->tgt_len, logits, error), 0);
    struct model_head_outputs heads = {item_scores, actions, categories, sentiments, propensity};
    model_heads(&m, pooled, B, &heads);

    float *expected = test_read_f32(dir, "numpy_encoder", (size_t)B * T * d);
    for (int b = 0; b < B; b++)
        check_sequence_rows(hidden + (size_t)b * T * d, expected + (size_t)b * T * d, g->lengths[b], d, "encoder", b);
    free(expected);
    check_output(dir, "numpy_pooled", pooled, (size_t)B * d);
    check_output(dir, "numpy_logits", logits, (size_t)B * g->tgt_len * c.vocab_size);
    check_output(dir, "numpy_items", item_scores, (size_t)B * items);
    check_output(dir, "numpy_action", actions, (size_t)B * c.n_actions);
    check_output(dir, "numpy_category", categories, (size_t)B * c.n_categories);
    check_output(dir, "numpy_sentiment", sentiments, (size_t)B * c.n_sentiments);
    check_output(dir, "numpy_propensity", propensity, (size_t)B);

    free(tokens);
    free(tgt);
    free(hidden);
    free(pooled);
    free(logits);
    free(item_scores);
    free(actions);
    free(categories);
    free(sentiments);
    free(propensity);
    model_arena_free(&arena);
    model_free(&m);
    test_remove_dir(dir);
}

/* Lengths 0 (all padding), 1 and max_len in one batch. */
static void causal_edge_lengths(void **state)
{
    (void)state;
    struct model_config c = test_config(61);
    c.max_len = 16;
    static const int lengths[] = {0, 1, 16, 7};
    struct golden_case g = {4, 16, 5, lengths};
    check_against_numpy(c, &g, 11);
}

static void bidirectional_pre_norm_gelu(void **state)
{
    (void)state;
    struct model_config c = test_config(61);
    c.max_len = 16;
    c.norm = MODEL_NORM_PRE;
    c.activation = MODEL_ACT_GELU;
    c.encoder_mode = MODEL_ENCODER_BIDIRECTIONAL;
    c.tie_output = 0;
    static const int lengths[] = {16, 0, 3};
    struct golden_case g = {3, 16, 4, lengths};
    check_against_numpy(c, &g, 12);
}

/* Sequences of 40 tokens for a model trained at max_len 8. */
static void positions_past_training_length(void **state)
{
    (void)state;
    struct model_config c = test_config(61);
    c.max_len = 8;
    static const int lengths[] = {40, 33};
    struct golden_case g = {2, 40, 3, lengths};
    check_against_numpy(c, &g, 13);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(causal_edge_lengths),
        cmocka_unit_test(bidirectional_pre_norm_gelu),
        cmocka_unit_test(positions_past_training_length),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
