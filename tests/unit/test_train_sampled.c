/*
 * The next-item losses over sampled negatives (model/train_sampled.c):
 * finite-difference checks of the whole encoder-only graph with each loss,
 * also with the newest targets weighted more, and the loss value recomputed
 * in double from the model's encoder output, embedding and drawn negatives.
 *
 * Sizes: d_model 8, 2 heads, 2 pre-norm GELU layers, items [4, 20), 6
 * negatives, so some negatives equal a target and must be left out. Dropout
 * is on and the generator is reset before every evaluation, so every
 * evaluation draws the same masks and negatives. Tolerances as in
 * test_train_model.c: directional derivative with eps 1e-2 and
 * |fd - analytic| <= 2e-3 + 2e-2 |fd|, up to 8 coordinates with
 * |fd - analytic| <= 3e-3 + 5e-2 |fd|.
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

enum { B = 3, T = 5, V = 20, ITEM_BEGIN = 4, NEGATIVES = 6 };

static const int tokens[B * T] = {5, 9, 4, 17, 12, 3, 19, 8, 0, 0, 11, 0, 0, 0, 0};
static const int lengths[B] = {5, 3, 1};
static const int item_targets[B * T] = {9, 4, 17, 12, 6, 19, 8, -1, -1, -1, 13, -1, -1, -1, -1};

/* Negative weights over the 16 items 4..19: item 4 + k weighs k + 1, so
 * the draws favour the higher ids. cdf[j] sums the weights of the first j. */
static double weighted_cdf[V - ITEM_BEGIN + 1];

static void fill_weighted_cdf(void)
{
    for (int j = 1; j <= V - ITEM_BEGIN; j++)
        weighted_cdf[j] = weighted_cdf[j - 1] + j;
}

struct fixture {
    struct train_model m;
    struct train_batch batch;
    uint64_t rng0;
};

static void make_model(struct fixture *f, enum train_item_loss loss)
{
    struct model_config c;
    char error[MODEL_ERROR_SIZE];

    model_config_defaults(&c);
    c.vocab_size = V;
    c.d_model = 8;
    c.n_heads = 2;
    c.n_encoder_layers = 2;
    c.n_decoder_layers = 0;
    c.d_ff = 16;
    c.max_len = T;
    c.norm = MODEL_NORM_PRE;
    c.activation = MODEL_ACT_GELU;
    c.encoder_mode = MODEL_ENCODER_CAUSAL;
    c.item_begin = ITEM_BEGIN;
    c.item_end = V;

    memset(f, 0, sizeof *f);
    assert_int_equal(train_model_create(&f->m, &c, B, T, 0, 7, error), 0);
    assert_int_equal(train_model_set_item_loss(&f->m, loss, NEGATIVES, error), 0);
    f->m.dropout = 0.1f;
    f->rng0 = f->m.rng;

    /* Perturb the zero biases and unit norms so every parameter has a
     * non-trivial gradient. */
    uint64_t rng = 3;
    for (size_t i = 0; i < f->m.params.count; i++)
        f->m.params.data[i] += (float)(train_random_uniform(&rng) - 0.5) * 0.2f;

    f->batch = (struct train_batch){.B = B, .T = T, .tokens = tokens, .lengths = lengths, .item_targets = item_targets};
}

static double loss_at(struct fixture *f)
{
    f->m.rng = f->rng0;
    return train_model_forward(&f->m, &f->batch, 1);
}

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

static int check_tensor(struct fixture *f, const struct model_tensor_info *t, const float *g)
{
    const float eps = 1e-2f;
    float *p = f->m.params.data + t->offset;
    const float *gt = g + t->offset;
    int failures = 0;
    uint64_t rng = 11 + t->offset;

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
    if (fabs(fd - analytic) > 2e-3 + 2e-2 * fabs(fd)) {
        print_error("%s: directional finite difference %.6g, analytic %.6g\n", t->name, fd, analytic);
        failures++;
    }
    free(dir);
    free(saved);

    for (int k = 0; k < 8 && (size_t)k < t->count; k++) {
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

static void check_gradients(enum train_item_loss loss, float recent_weight, int weighted)
{
    static struct fixture f;
    make_model(&f, loss);
    fill_weighted_cdf();
    train_model_set_negative_weights(&f.m, weighted ? weighted_cdf : NULL);
    f.m.item_recent_weight = recent_weight;
    f.m.item_recent_span = 2;
    float *g = analytic_gradient(&f);
    int failures = 0;

    assert_true(f.m.losses.item > 0.0f);
    for (int i = 0; i < f.m.params.n_tensors; i++)
        failures += check_tensor(&f, &f.m.params.tensors[i], g);
    assert_int_equal(failures, 0);

    free(g);
    train_model_free(&f.m);
}

static double dot_row(const float *a, const float *b, int d)
{
    double sum = 0.0;
    for (int i = 0; i < d; i++)
        sum += (double)a[i] * b[i];
    return sum;
}

static double softplus(double z)
{
    return z > 0.0 ? z + log1p(exp(-z)) : log1p(exp(z));
}

/* log(K q_i) for the sampled softmax with weighted negatives, else 0. */
static double log_expected(const struct train_model *m, int item)
{
    if (!m->negative_cdf || m->item_loss != TRAIN_ITEM_LOSS_SAMPLED)
        return 0.0;
    double q = (double)(item - ITEM_BEGIN + 1) / weighted_cdf[V - ITEM_BEGIN];
    return log(NEGATIVES * q);
}

/* The mean loss recomputed from m->enc_out, the embedding and the negatives
 * the last forward drew. */
static double reference_loss(const struct train_model *m, enum train_item_loss loss, int *skipped)
{
    int d = m->config.d_model;
    double count = 0.0;
    const float *emb = m->params.embedding;
    double total = 0.0;

    *skipped = 0;
    for (int i = 0; i < B * T; i++) {
        int target = item_targets[i];
        if (target < 0)
            continue;
        const float *h = m->enc_out + (size_t)i * d;
        double st = dot_row(h, emb + (size_t)target * d, d) - log_expected(m, target), row = 0.0;
        double sum = exp(st), negative_sum = 0.0;
        int valid = 0;
        for (int k = 0; k < NEGATIVES; k++) {
            int item = m->negative_items[k];
            if (item == target) {
                (*skipped)++;
                continue;
            }
            double sk = dot_row(h, emb + (size_t)item * d, d);
            sum += exp(sk - log_expected(m, item));
            negative_sum += softplus(sk);
            valid++;
        }
        if (loss == TRAIN_ITEM_LOSS_BCE)
            row = softplus(-(st + log_expected(m, target))) + (valid > 0 ? negative_sum / valid : 0.0);
        else
            row = log(sum) - st;
        int newest = lengths[i / T] - 1 - i % T < m->item_recent_span;
        double weight = newest ? 1.0 + m->item_recent_weight : 1.0;
        total += weight * row;
        count += weight;
    }
    return total / count;
}

static void check_value(enum train_item_loss loss, float recent_weight, int weighted)
{
    static struct fixture f;
    int skipped;

    make_model(&f, loss);
    fill_weighted_cdf();
    train_model_set_negative_weights(&f.m, weighted ? weighted_cdf : NULL);
    f.m.item_recent_weight = recent_weight;
    f.m.item_recent_span = 2;
    double value = loss_at(&f);
    double expected = reference_loss(&f.m, loss, &skipped);

    assert_true(fabs(value - expected) <= 1e-5 * fabs(expected));
    assert_int_equal(f.m.losses.item_count, 8);
    for (int k = 0; k < NEGATIVES; k++) {
        assert_true(f.m.negative_items[k] >= ITEM_BEGIN);
        assert_true(f.m.negative_items[k] < V);
    }
    train_model_free(&f.m);
}

static void sampled_softmax_gradients(void **state)
{
    (void)state;
    check_gradients(TRAIN_ITEM_LOSS_SAMPLED, 0.0f, 0);
}

static void bce_gradients(void **state)
{
    (void)state;
    check_gradients(TRAIN_ITEM_LOSS_BCE, 0.0f, 0);
}

/* The two newest targets of each sequence weigh 3 times the others. */
static void recent_weight_gradients(void **state)
{
    (void)state;
    check_gradients(TRAIN_ITEM_LOSS_SAMPLED, 2.0f, 0);
}

static void sampled_softmax_value(void **state)
{
    (void)state;
    check_value(TRAIN_ITEM_LOSS_SAMPLED, 0.0f, 0);
}

static void bce_value(void **state)
{
    (void)state;
    check_value(TRAIN_ITEM_LOSS_BCE, 0.0f, 0);
}

static void recent_weight_value(void **state)
{
    (void)state;
    check_value(TRAIN_ITEM_LOSS_SAMPLED, 2.0f, 0);
    check_value(TRAIN_ITEM_LOSS_BCE, 2.0f, 0);
}

/* Weighted negatives: the sampled softmax with the logQ correction and the
 * BCE loss without it, gradients and values. */
static void weighted_negatives(void **state)
{
    (void)state;
    check_gradients(TRAIN_ITEM_LOSS_SAMPLED, 0.0f, 1);
    check_gradients(TRAIN_ITEM_LOSS_BCE, 0.0f, 1);
    check_value(TRAIN_ITEM_LOSS_SAMPLED, 0.0f, 1);
    check_value(TRAIN_ITEM_LOSS_BCE, 0.0f, 1);
}

/* Weighted draws follow the weights: over 400 batches of 6 negatives, item
 * 19 (weight 16) comes up about 16 times as often as item 4 (weight 1). */
static void weighted_negatives_follow_weights(void **state)
{
    (void)state;
    static struct fixture f;
    int drawn[V] = {0};

    make_model(&f, TRAIN_ITEM_LOSS_SAMPLED);
    fill_weighted_cdf();
    train_model_set_negative_weights(&f.m, weighted_cdf);
    for (int i = 0; i < 400; i++) {
        train_model_forward(&f.m, &f.batch, 0);
        for (int k = 0; k < NEGATIVES; k++) {
            assert_in_range(f.m.negative_items[k], ITEM_BEGIN, V - 1);
            drawn[f.m.negative_items[k]]++;
        }
    }
    /* 2,400 draws: item 4 expects 17.6 (sd 4.2), item 19 expects 282 (sd 16) */
    assert_in_range(drawn[4], 4, 32);
    assert_in_range(drawn[19], 230, 335);
    train_model_free(&f.m);
}

/* The fixture's seed must draw a negative equal to some target, or the
 * exclusion above goes untested. */
static void negative_equal_to_target(void **state)
{
    (void)state;
    static struct fixture f;
    int skipped;

    make_model(&f, TRAIN_ITEM_LOSS_SAMPLED);
    loss_at(&f);
    reference_loss(&f.m, TRAIN_ITEM_LOSS_SAMPLED, &skipped);
    assert_true(skipped > 0);
    train_model_free(&f.m);
}

static void invalid_negative_count(void **state)
{
    (void)state;
    static struct fixture f;
    char error[MODEL_ERROR_SIZE];

    make_model(&f, TRAIN_ITEM_LOSS_SAMPLED);
    assert_int_equal(train_model_set_item_loss(&f.m, TRAIN_ITEM_LOSS_BCE, 0, error), -1);
    assert_non_null(strstr(error, "0 negatives"));
    assert_int_equal(f.m.item_loss, TRAIN_ITEM_LOSS_SAMPLED);
    train_model_free(&f.m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sampled_softmax_gradients), cmocka_unit_test(bce_gradients),
        cmocka_unit_test(sampled_softmax_value),     cmocka_unit_test(bce_value),
        cmocka_unit_test(negative_equal_to_target),  cmocka_unit_test(invalid_negative_count),
        cmocka_unit_test(recent_weight_gradients),   cmocka_unit_test(recent_weight_value),
        cmocka_unit_test(weighted_negatives),        cmocka_unit_test(weighted_negatives_follow_weights),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
