/*
 * Finite-difference checks of the whole training graph at tiny sizes
 * (d_model 8, 2 heads, vocabulary 20): encoder, decoder, every head and
 * every loss together, post-norm and pre-norm, with dropout on (the dropout
 * generator is reset before each evaluation, so every evaluation draws the
 * same masks).
 *
 * Two checks per tensor, both with central differences in float:
 *  - the directional derivative along a random direction over the whole
 *    tensor against grad . direction: eps 1e-2 and
 *    |fd - analytic| <= 2e-3 + 2e-2 |fd| for GELU models;
 *  - up to 8 single coordinates: |fd - analytic| <= 3e-3 + 5e-2 |fd|.
 * A ReLU model is piecewise linear and a step of 1e-2 along a whole tensor
 * moves some hidden units across the kink, so it gets the directional check
 * only, with eps 2e-4 and atol 5e-3 (float rounding of the loss, about 1e-6,
 * becomes up to 5e-3 of noise at that eps; eps 1e-3 still crossed a kink).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "train_layers.h"
#include "train_model.h"

enum { B = 3, T = 5, TD = 4, V = 20 };

static const int tokens[B * T] = {5, 9, 4, 17, 12, 3, 19, 8, 0, 0, 11, 0, 0, 0, 0};
static const int lengths[B] = {5, 3, 1};
static const int item_targets[B * T] = {9, 4, 17, 12, 6, 19, 8, -1, -1, -1, 13, -1, -1, -1, -1};
static const int dec_tokens[B * TD] = {1, 7, 7, 2, 1, 15, 0, 0, 1, 4, 9, 0};
static const int dec_lengths[B] = {4, 2, 3};
static const int dec_targets[B * TD] = {7, 7, 2, 0, 15, 2, -1, -1, 4, 9, 2, -1};
static const int action_labels[B] = {2, 0, -1};
static const int category_labels[B] = {1, 3, 0};
static const int sentiment_labels[B] = {-1, 1, 0};
static const float propensity_labels[B] = {1.0f, 0.0f, 1.0f};

struct fixture {
    struct train_model m;
    struct train_batch batch;
    uint64_t rng0;
};

static void make_model(struct fixture *f, enum model_norm_placement norm, enum model_activation act,
                       enum model_encoder_mode mode, int n_decoder)
{
    struct model_config c;
    char error[MODEL_ERROR_SIZE];

    model_config_defaults(&c);
    c.vocab_size = V;
    c.d_model = 8;
    c.n_heads = 2;
    c.n_encoder_layers = 2;
    c.n_decoder_layers = n_decoder;
    c.d_ff = 16;
    c.max_len = T;
    c.norm = norm;
    c.activation = act;
    c.encoder_mode = mode;
    c.item_begin = 4;
    c.item_end = V;
    c.n_actions = 3;
    c.n_categories = 4;
    c.n_sentiments = 2;

    memset(f, 0, sizeof *f);
    assert_int_equal(train_model_create(&f->m, &c, B, T, TD, 7, error), 0);
    f->m.dropout = 0.1f;
    f->rng0 = f->m.rng;

    /* Perturb the zero-initialised biases and unit norms so that every
     * parameter has a non-trivial gradient. */
    uint64_t rng = 3;
    for (size_t i = 0; i < f->m.params.count; i++)
        f->m.params.data[i] += (float)(train_random_uniform(&rng) - 0.5) * 0.2f;

    f->batch = (struct train_batch){
        .B = B,
        .T = T,
        .tokens = tokens,
        .lengths = lengths,
        .item_targets = item_targets,
        .T_dec = n_decoder > 0 ? TD : 0,
        .dec_tokens = dec_tokens,
        .dec_lengths = dec_lengths,
        .dec_targets = dec_targets,
        .action_labels = action_labels,
        .category_labels = category_labels,
        .sentiment_labels = sentiment_labels,
        .propensity_labels = propensity_labels,
    };
}

static double loss_at(struct fixture *f)
{
    f->m.rng = f->rng0;
    return train_model_forward(&f->m, &f->batch, 1);
}

/* Runs forward and backward once; returns a malloc'ed copy of the gradient. */
static float *analytic_gradient(struct fixture *f)
{
    float *g = malloc(f->m.grads.count * sizeof(float));

    assert_non_null(g);
    train_model_zero_grad(&f->m);
    loss_at(f);
    train_model_backward(&f->m, &f->batch);
    memcpy(g, f->m.grads.data, f->m.grads.count * sizeof(float));
    return g;
}

static int check_tensor(struct fixture *f, const struct model_tensor_info *t, const float *g, int coordinates,
                        float eps, double atol)
{
    float *p = f->m.params.data + t->offset;
    const float *gt = g + t->offset;
    int failures = 0;
    uint64_t rng = 11 + t->offset;

    /* directional derivative over the whole tensor */
    float *dir = malloc(t->count * sizeof(float));
    float *saved = malloc(t->count * sizeof(float));
    assert_non_null(dir);
    assert_non_null(saved);
    double analytic = 0.0;
    for (size_t i = 0; i < t->count; i++) {
        dir[i] = (float)(train_random_uniform(&rng) * 2.0 - 1.0);
        analytic += (double)dir[i] * gt[i];
    }
    memcpy(saved, p, t->count * sizeof(float));
    for (size_t i = 0; i < t->count; i++)
        p[i] = saved[i] + eps * dir[i];
    double plus = loss_at(f);
    for (size_t i = 0; i < t->count; i++)
        p[i] = saved[i] - eps * dir[i];
    double minus = loss_at(f);
    memcpy(p, saved, t->count * sizeof(float));
    double fd = (plus - minus) / (2.0 * eps);
    if (fabs(fd - analytic) > atol + 2e-2 * fabs(fd)) {
        print_error("%s: directional finite difference %.6g, analytic %.6g\n", t->name, fd, analytic);
        failures++;
    }
    free(dir);
    free(saved);

    /* single coordinates */
    for (int k = 0; k < coordinates && (size_t)k < t->count; k++) {
        size_t i = (size_t)(train_random_next(&rng) % t->count);
        float keep = p[i];
        p[i] = keep + eps;
        double up = loss_at(f);
        p[i] = keep - eps;
        double down = loss_at(f);
        p[i] = keep;
        double fdi = (up - down) / (2.0 * eps);
        if (fabs(fdi - gt[i]) > 3e-3 + 5e-2 * fabs(fdi)) {
            print_error("%s[%zu]: finite difference %.6g, analytic %.6g\n", t->name, i, fdi, (double)gt[i]);
            failures++;
        }
    }
    return failures;
}

static void check_model(enum model_norm_placement norm, enum model_activation act, enum model_encoder_mode mode,
                        int n_decoder)
{
    static struct fixture f;
    make_model(&f, norm, act, mode, n_decoder);
    float *g = analytic_gradient(&f);
    int gelu = act == MODEL_ACT_GELU;
    int failures = 0;

    /* every part of the loss is present */
    assert_true(f.m.losses.item > 0.0f);
    assert_true(f.m.losses.action > 0.0f);
    assert_true(f.m.losses.category > 0.0f);
    assert_true(f.m.losses.sentiment > 0.0f);
    assert_true(f.m.losses.propensity > 0.0f);
    if (n_decoder > 0)
        assert_true(f.m.losses.token > 0.0f);

    for (int i = 0; i < f.m.params.n_tensors; i++)
        failures += check_tensor(&f, &f.m.params.tensors[i], g, gelu ? 8 : 0, gelu ? 1e-2f : 2e-4f, gelu ? 2e-3 : 5e-3);
    assert_int_equal(failures, 0);

    free(g);
    train_model_free(&f.m);
}

static void post_norm_gelu_full_model(void **state)
{
    (void)state;
    check_model(MODEL_NORM_POST, MODEL_ACT_GELU, MODEL_ENCODER_CAUSAL, 1);
}

static void pre_norm_gelu_full_model(void **state)
{
    (void)state;
    check_model(MODEL_NORM_PRE, MODEL_ACT_GELU, MODEL_ENCODER_CAUSAL, 2);
}

static void post_norm_relu_full_model(void **state)
{
    (void)state;
    check_model(MODEL_NORM_POST, MODEL_ACT_RELU, MODEL_ENCODER_CAUSAL, 1);
}

static void bidirectional_encoder_only(void **state)
{
    (void)state;
    check_model(MODEL_NORM_PRE, MODEL_ACT_GELU, MODEL_ENCODER_BIDIRECTIONAL, 0);
}

/* Padded positions must not change the loss: the masks and the ignored
 * targets keep them out of every valid row. */
static void padding_does_not_leak(void **state)
{
    (void)state;
    static struct fixture f;
    int padded[B * T];

    make_model(&f, MODEL_NORM_POST, MODEL_ACT_GELU, MODEL_ENCODER_BIDIRECTIONAL, 1);
    double before = loss_at(&f);
    memcpy(padded, tokens, sizeof padded);
    padded[1 * T + 4] = 13;
    padded[2 * T + 2] = 6;
    f.batch.tokens = padded;
    double after = loss_at(&f);
    assert_true(before == after);
    train_model_free(&f.m);
}

/* Without dropout the training forward equals the evaluation forward. */
static void eval_forward_matches_training(void **state)
{
    (void)state;
    static struct fixture f;

    make_model(&f, MODEL_NORM_PRE, MODEL_ACT_GELU, MODEL_ENCODER_CAUSAL, 1);
    f.m.dropout = 0.0f;
    float train_loss = train_model_forward(&f.m, &f.batch, 1);
    float eval_loss = train_model_forward(&f.m, &f.batch, 0);
    assert_true(train_loss == eval_loss);
    f.m.dropout = 0.5f;
    float dropped = train_model_forward(&f.m, &f.batch, 1);
    assert_true(dropped != eval_loss);
    train_model_free(&f.m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(post_norm_gelu_full_model),
        cmocka_unit_test(pre_norm_gelu_full_model),
        cmocka_unit_test(post_norm_relu_full_model),
        cmocka_unit_test(bidirectional_encoder_only),
        cmocka_unit_test(padding_does_not_leak),
        cmocka_unit_test(eval_forward_matches_training),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
