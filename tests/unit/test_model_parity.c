/*
 * Parity with PyTorch 1.13: tests/ref/torch_parity.py loads our safetensors
 * file into torch.nn.Transformer and the encoder outputs and decoder logits
 * must match ours within 1e-4. Needs /usr/bin/python3 with torch; the test
 * fails when it is missing.
 */
#include "test_model_util.h"

#include "decoder.h"
#include "encoder.h"

#define BATCH 4
#define SEQ 12
#define TGT 6
#define TOLERANCE 1e-4

static const int LENGTHS[BATCH] = {SEQ, 5, 1, 9};

static void check_against_torch(struct model_config c, uint64_t seed)
{
    struct model m;
    struct model_arena arena = {0};
    char error[MODEL_ERROR_SIZE];
    int tokens[BATCH * SEQ], tgt[BATCH * TGT];
    uint64_t state = seed;
    int d = c.d_model;

    test_random_model(&m, &c, seed);
    test_random_tokens(tokens, BATCH * SEQ, c.vocab_size, &state);
    test_random_tokens(tgt, BATCH * TGT, c.vocab_size, &state);

    char *dir = test_make_dir();
    test_write_case(dir, &m, tokens, LENGTHS, BATCH, SEQ, tgt, TGT);
    test_run_reference("torch_parity.py", dir);

    float *hidden = malloc(sizeof(float) * BATCH * SEQ * d);
    float *logits = malloc(sizeof(float) * BATCH * TGT * c.vocab_size);
    assert_non_null(hidden);
    assert_non_null(logits);
    assert_int_equal(model_encode(&m, &arena, tokens, LENGTHS, BATCH, SEQ, hidden, NULL, error), 0);
    assert_int_equal(model_decode(&m, &arena, hidden, LENGTHS, BATCH, SEQ, tgt, TGT, logits, error), 0);

    /* Padded positions hold meaningless values in both, so only valid rows count. */
    float *expected = test_read_f32(dir, "torch_encoder", (size_t)BATCH * SEQ * d);
    for (int b = 0; b < BATCH; b++) {
        size_t offset = (size_t)b * SEQ * d;
        double diff = test_max_diff(hidden + offset, expected + offset, (size_t)LENGTHS[b] * d);
        if (diff > TOLERANCE)
            fprintf(stderr, "encoder sequence %d differs from torch by %g\n", b, diff);
        assert_true(diff <= TOLERANCE);
    }
    free(expected);

    expected = test_read_f32(dir, "torch_logits", (size_t)BATCH * TGT * c.vocab_size);
    double diff = test_max_diff(logits, expected, (size_t)BATCH * TGT * c.vocab_size);
    if (diff > TOLERANCE)
        fprintf(stderr, "decoder logits differ from torch by %g\n", diff);
    assert_true(diff <= TOLERANCE);

    free(expected);
    free(hidden);
    free(logits);
    model_arena_free(&arena);
    model_free(&m);
    test_remove_dir(dir);
}

static void post_norm_relu_causal(void **state)
{
    (void)state;
    struct model_config c = test_config(97);
    check_against_torch(c, 1);
}

static void pre_norm_gelu_bidirectional(void **state)
{
    (void)state;
    struct model_config c = test_config(97);
    c.norm = MODEL_NORM_PRE;
    c.activation = MODEL_ACT_GELU;
    c.encoder_mode = MODEL_ENCODER_BIDIRECTIONAL;
    c.tie_output = 0;
    check_against_torch(c, 2);
}

static void post_norm_gelu_bidirectional(void **state)
{
    (void)state;
    struct model_config c = test_config(97);
    c.activation = MODEL_ACT_GELU;
    c.encoder_mode = MODEL_ENCODER_BIDIRECTIONAL;
    check_against_torch(c, 3);
}

static void pre_norm_relu_causal_untied(void **state)
{
    (void)state;
    struct model_config c = test_config(97);
    c.norm = MODEL_NORM_PRE;
    c.tie_output = 0;
    c.n_heads = 4;
    c.n_encoder_layers = 3;
    c.n_decoder_layers = 1;
    check_against_torch(c, 4);
}

/* Positions past max_len use the same sinusoid as torch_parity.py computes. */
static void positions_past_max_len(void **state)
{
    (void)state;
    struct model_config c = test_config(97);
    c.max_len = 4;
    check_against_torch(c, 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(post_norm_relu_causal),
        cmocka_unit_test(pre_norm_gelu_bidirectional),
        cmocka_unit_test(post_norm_gelu_bidirectional),
        cmocka_unit_test(pre_norm_relu_causal_untied),
        cmocka_unit_test(positions_past_max_len),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
