/*
 * Finite-difference checks of every training layer's backward pass. Each
 * check perturbs one input or parameter coordinate by +-eps, evaluates the
 * scalar loss sum(out * R) in float (R fixed, random), and compares the
 * central difference with the analytic gradient:
 *   |fd - analytic| <= atol + rtol * |fd|
 * Float differences carry about 1e-6 / eps of rounding noise, so the
 * tolerances below are per layer and stated next to each test.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "model_params.h"
#include "train_attention.h"
#include "train_layers.h"
#include "train_loss.h"
#include "train_model.h"
#include "train_sublayer.h"

/* A layer under test: runs the forward from the current inputs and returns
 * sum(out * R). */
typedef double (*loss_fn)(void *ctx);

static uint64_t test_rng = 12345;

static void fill_random(float *x, size_t n, float scale)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(2.0 * train_random_uniform(&test_rng) - 1.0) * scale;
}

static double weighted_sum(const float *out, const float *r, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += (double)out[i] * r[i];
    return s;
}

/* Compares analytic[n] with central differences over x[n]; checks every
 * coordinate. Returns the number of failures (each is printed). */
static int check_gradient(const char *what, float *x, const float *analytic, size_t n, loss_fn f, void *ctx,
                          float eps, double atol, double rtol)
{
    int failures = 0;

    for (size_t i = 0; i < n; i++) {
        float saved = x[i];
        x[i] = saved + eps;
        double plus = f(ctx);
        x[i] = saved - eps;
        double minus = f(ctx);
        x[i] = saved;

        double fd = (plus - minus) / (2.0 * eps);
        if (fabs(fd - analytic[i]) > atol + rtol * fabs(fd)) {
            print_error("%s[%zu]: finite difference %.6g, analytic %.6g\n", what, i, fd, (double)analytic[i]);
            failures++;
        }
    }
    return failures;
}

/* ---- linear ---- */

struct linear_case {
    int N, IN, OUT;
    float in[3 * 5], w[4 * 5], b[4], out[3 * 4], r[3 * 4];
};

static double linear_loss(void *ctx)
{
    struct linear_case *c = ctx;
    train_linear_forward(c->out, c->in, c->w, c->b, c->N, c->IN, c->OUT);
    return weighted_sum(c->out, c->r, (size_t)c->N * c->OUT);
}

/* Linear is exactly linear in each coordinate: only rounding noise, so 1e-3. */
static void linear_gradients(void **state)
{
    (void)state;
    struct linear_case c = {.N = 3, .IN = 5, .OUT = 4};
    float din[15] = {0}, dw[20] = {0}, db[4] = {0};

    fill_random(c.in, 15, 1.0f);
    fill_random(c.w, 20, 1.0f);
    fill_random(c.b, 4, 1.0f);
    fill_random(c.r, 12, 1.0f);
    linear_loss(&c);
    train_linear_backward(din, dw, db, c.r, c.in, c.w, c.N, c.IN, c.OUT);

    assert_int_equal(check_gradient("linear.in", c.in, din, 15, linear_loss, &c, 1e-2f, 1e-3, 1e-3), 0);
    assert_int_equal(check_gradient("linear.weight", c.w, dw, 20, linear_loss, &c, 1e-2f, 1e-3, 1e-3), 0);
    assert_int_equal(check_gradient("linear.bias", c.b, db, 4, linear_loss, &c, 1e-2f, 1e-3, 1e-3), 0);
}

/* ---- layer norm ---- */

struct norm_case {
    int N, C;
    float in[4 * 6], w[6], b[6], out[4 * 6], mean[4], rstd[4], r[4 * 6];
};

static double norm_loss(void *ctx)
{
    struct norm_case *c = ctx;
    train_layernorm_forward(c->out, c->mean, c->rstd, c->in, c->w, c->b, c->N, c->C, 1e-5f);
    return weighted_sum(c->out, c->r, (size_t)c->N * c->C);
}

/* Curved in the input: eps 1e-2 leaves O(1e-4) truncation, so 2e-3 + 1e-2 rel. */
static void layernorm_gradients(void **state)
{
    (void)state;
    struct norm_case c = {.N = 4, .C = 6};
    float din[24] = {0}, dw[6] = {0}, db[6] = {0};

    fill_random(c.in, 24, 2.0f);
    fill_random(c.w, 6, 1.0f);
    fill_random(c.b, 6, 1.0f);
    fill_random(c.r, 24, 1.0f);
    norm_loss(&c);
    train_layernorm_backward(din, dw, db, c.r, c.in, c.w, c.mean, c.rstd, c.N, c.C);

    assert_int_equal(check_gradient("norm.in", c.in, din, 24, norm_loss, &c, 1e-2f, 2e-3, 1e-2), 0);
    assert_int_equal(check_gradient("norm.weight", c.w, dw, 6, norm_loss, &c, 1e-2f, 2e-3, 1e-2), 0);
    assert_int_equal(check_gradient("norm.bias", c.b, db, 6, norm_loss, &c, 1e-2f, 2e-3, 1e-2), 0);
}

/* ---- activations ---- */

struct act_case {
    int gelu;
    float in[16], out[16], r[16];
};

static double act_loss(void *ctx)
{
    struct act_case *c = ctx;
    train_activation_forward(c->out, c->in, 16, c->gelu);
    return weighted_sum(c->out, c->r, 16);
}

/* ReLU inputs are kept at least 0.1 from the kink, where eps 1e-2 is exact;
 * GELU has O(eps^2) truncation: 1e-3 + 1e-2 rel. */
static void activation_gradients(void **state)
{
    (void)state;
    for (int gelu = 0; gelu <= 1; gelu++) {
        struct act_case c = {.gelu = gelu};
        float din[16] = {0};

        fill_random(c.in, 16, 3.0f);
        for (int i = 0; i < 16; i++)
            if (fabsf(c.in[i]) < 0.1f)
                c.in[i] = 0.5f;
        fill_random(c.r, 16, 1.0f);
        act_loss(&c);
        train_activation_backward(din, c.r, c.in, 16, gelu);
        assert_int_equal(check_gradient(gelu ? "gelu" : "relu", c.in, din, 16, act_loss, &c, 1e-2f, 1e-3, 1e-2), 0);
    }
}

/* GELU against torch.nn.functional.gelu values computed independently:
 * gelu(1) = 0.8413447, gelu(-1) = -0.1586553, gelu(2) = 1.9544997. */
static void gelu_matches_erf_form(void **state)
{
    (void)state;
    float in[3] = {1.0f, -1.0f, 2.0f}, out[3];

    train_activation_forward(out, in, 3, 1);
    assert_float_equal(out[0], 0.8413447f, 1e-6f);
    assert_float_equal(out[1], -0.1586553f, 1e-6f);
    assert_float_equal(out[2], 1.9544997f, 1e-6f);
}

/* ---- dropout ---- */

static void dropout_is_inverted_and_seeded(void **state)
{
    (void)state;
    enum { n = 20000 };
    static float x[n], y[n], mask[n], mask2[n], dx[n];
    uint64_t rng1 = 7, rng2 = 7;

    for (int i = 0; i < n; i++)
        x[i] = y[i] = 1.0f;
    train_dropout_forward(x, mask, n, 0.25f, &rng1);
    train_dropout_forward(y, mask2, n, 0.25f, &rng2);

    int zeros = 0;
    double sum = 0.0;
    for (int i = 0; i < n; i++) {
        zeros += x[i] == 0.0f;
        sum += x[i];
        assert_true(x[i] == 0.0f || fabsf(x[i] - 1.0f / 0.75f) < 1e-6f);
    }
    assert_memory_equal(mask, mask2, sizeof mask);
    assert_in_range(zeros, n / 4 - 300, n / 4 + 300);
    assert_true(fabs(sum / n - 1.0) < 0.02); /* inverted: the mean is kept */

    for (int i = 0; i < n; i++)
        dx[i] = 2.0f;
    train_dropout_backward(dx, mask, n);
    for (int i = 0; i < n; i++)
        assert_true(dx[i] == 2.0f * mask[i]);

    uint64_t rng3 = 7;
    train_dropout_forward(y, mask2, n, 0.0f, &rng3);
    assert_true(rng3 == 7); /* p = 0 draws nothing and keeps x */
    assert_true(mask2[0] == 1.0f);
}

/* ---- embedding and positional encoding ---- */

struct embed_case {
    int tokens[2 * 3];
    float table[5 * 4], out[2 * 3 * 4], r[2 * 3 * 4];
};

static double embed_loss(void *ctx)
{
    struct embed_case *c = ctx;
    train_embedding_forward(c->out, c->tokens, c->table, 2, 3, 4);
    return weighted_sum(c->out, c->r, 24);
}

static void embedding_gradients(void **state)
{
    (void)state;
    struct embed_case c = {.tokens = {1, 3, 1, 0, 4, 4}};
    float dtable[20] = {0};

    fill_random(c.table, 20, 1.0f);
    fill_random(c.r, 24, 1.0f);
    embed_loss(&c);
    train_embedding_backward(dtable, c.r, c.tokens, 2, 3, 4);
    assert_int_equal(check_gradient("embedding", c.table, dtable, 20, embed_loss, &c, 1e-2f, 1e-3, 1e-3), 0);

    /* token 2 is unused: no gradient */
    for (int i = 0; i < 4; i++)
        assert_true(dtable[2 * 4 + i] == 0.0f);
}

static void embedding_scales_and_adds_pe(void **state)
{
    (void)state;
    int tokens[2] = {1, 0};
    float table[2 * 4] = {0, 0, 0, 0, 0.5f, -0.25f, 1.0f, 2.0f}, out[2 * 4];

    train_embedding_forward(out, tokens, table, 1, 2, 4);
    /* position 0: sin(0) = 0, cos(0) = 1; scale sqrt(4) = 2 */
    assert_float_equal(out[0], 1.0f, 1e-6f);
    assert_float_equal(out[1], -0.5f + 1.0f, 1e-6f);
    assert_float_equal(out[2], 2.0f, 1e-6f);
    assert_float_equal(out[3], 4.0f + 1.0f, 1e-6f);
    /* position 1, token 0 (zero row): sin(1), cos(1), sin(1/100), cos(1/100) for d = 4 */
    assert_float_equal(out[4], 0.84147098f, 1e-6f);
    assert_float_equal(out[5], 0.54030231f, 1e-6f);
    assert_float_equal(out[6], 0.00999983f, 1e-6f);
    assert_float_equal(out[7], 0.99995000f, 1e-6f);
}

/* ---- attention ---- */

enum { AB = 2, AT = 4, AS = 3, AD = 8, AH = 2 };

struct attn_case {
    int cross, causal;
    const int *key_lengths;
    float dropout;          /* on the attention weights */
    uint64_t rng0, rng;     /* rng is reset to rng0 before every forward, so each draws the same masks */
    float xq[AB * AT * AD], xkv[AB * AT * AD];
    float params[4 * AD * AD + 4 * AD];
    struct model_attention_params p;
    struct train_attention_acts acts;
    float out[AB * AT * AD], r[AB * AT * AD];
};

static int attn_S(const struct attn_case *c)
{
    return c->cross ? AS : AT;
}

static double attn_loss(void *ctx)
{
    struct attn_case *c = ctx;
    const float *xkv = c->cross ? c->xkv : c->xq;
    c->rng = c->rng0;
    train_attention_forward(c->out, &c->acts, c->xq, xkv, &c->p, c->key_lengths, c->causal, AB, AT, attn_S(c), AD,
                            AH, c->dropout, &c->rng);
    return weighted_sum(c->out, c->r, AB * AT * AD);
}

static void attn_setup(struct attn_case *c, int cross, int causal, const int *key_lengths)
{
    memset(c, 0, sizeof *c);
    c->cross = cross;
    c->causal = causal;
    c->key_lengths = key_lengths;
    c->rng0 = 5;
    c->p.in_proj_weight = c->params;
    c->p.in_proj_bias = c->params + 3 * AD * AD;
    c->p.out_proj_weight = c->params + 3 * AD * AD + 3 * AD;
    c->p.out_proj_bias = c->params + 4 * AD * AD + 3 * AD;
    fill_random(c->xq, AB * AT * AD, 1.0f);
    fill_random(c->xkv, AB * AT * AD, 1.0f);
    fill_random(c->params, 4 * AD * AD + 4 * AD, 0.5f);
    fill_random(c->r, AB * AT * AD, 1.0f);
    assert_int_equal(train_attention_alloc(&c->acts, AB, AT, attn_S(c), AD, AH), 0);
}

/* Softmax and products are smooth: eps 1e-2, 2e-3 + 1e-2 rel. */
static void attn_check(struct attn_case *c)
{
    float grads[4 * AD * AD + 4 * AD] = {0}, dxq[AB * AT * AD] = {0}, dxkv[AB * AT * AD] = {0};
    struct model_attention_params g = {grads, grads + 3 * AD * AD, grads + 3 * AD * AD + 3 * AD,
                                       grads + 4 * AD * AD + 3 * AD};

    attn_loss(c);
    train_attention_backward(dxq, c->cross ? dxkv : dxq, &g, c->r, &c->acts, c->xq, c->cross ? c->xkv : c->xq, &c->p,
                             AB, AT, attn_S(c), AD, AH);

    assert_int_equal(check_gradient("attention.xq", c->xq, dxq, AB * AT * AD, attn_loss, c, 1e-2f, 2e-3, 1e-2), 0);
    if (c->cross)
        assert_int_equal(
            check_gradient("attention.xkv", c->xkv, dxkv, AB * AS * AD, attn_loss, c, 1e-2f, 2e-3, 1e-2), 0);
    assert_int_equal(
        check_gradient("attention.params", c->params, grads, 4 * AD * AD + 4 * AD, attn_loss, c, 1e-2f, 2e-3, 1e-2),
        0);
    train_attention_free(&c->acts);
}

static void attention_causal_gradients(void **state)
{
    (void)state;
    static struct attn_case c;
    attn_setup(&c, 0, 1, NULL);
    attn_check(&c);
}

static void attention_padding_gradients(void **state)
{
    (void)state;
    static struct attn_case c;
    static const int lengths[AB] = {4, 2};
    attn_setup(&c, 0, 0, lengths);
    attn_check(&c);
}

static void cross_attention_gradients(void **state)
{
    (void)state;
    static struct attn_case c;
    static const int lengths[AB] = {3, 1};
    attn_setup(&c, 1, 0, lengths);
    attn_check(&c);
}

static void attention_dropout_gradients(void **state)
{
    (void)state;
    static struct attn_case c;
    static const int lengths[AB] = {4, 3};
    attn_setup(&c, 0, 1, lengths);
    c.dropout = 0.3f;
    attn_check(&c);
}

/* Dropout zeroes some visible weights and scales the rest by 1 / (1 - p);
 * without dropout every factor is 1. */
static void attention_dropout_factors(void **state)
{
    (void)state;
    static struct attn_case c;
    int zeros = 0, scaled = 0, visible = 0;

    attn_setup(&c, 0, 1, NULL);
    c.dropout = 0.5f;
    attn_loss(&c);
    for (int bh = 0; bh < AB * AH; bh++)
        for (int t = 0; t < AT; t++)
            for (int s = 0; s <= t; s++) {
                float f = c.acts.drop[((size_t)bh * AT + t) * AT + s];
                visible++;
                zeros += f == 0.0f;
                scaled += f == 2.0f;
            }
    assert_true(zeros > 0);
    assert_true(scaled > 0);
    assert_int_equal(zeros + scaled, visible);

    c.dropout = 0.0f;
    attn_loss(&c);
    for (int bh = 0; bh < AB * AH; bh++)
        for (int t = 0; t < AT; t++)
            for (int s = 0; s <= t; s++)
                assert_true(c.acts.drop[((size_t)bh * AT + t) * AT + s] == 1.0f);
    train_attention_free(&c.acts);
}

/* Padded keys must not change any output, and a query with no visible key
 * outputs exactly out_proj.bias. */
static void attention_masks_hold(void **state)
{
    (void)state;
    static struct attn_case c;
    static const int lengths[AB] = {4, 0};
    float before[AB * AT * AD];

    attn_setup(&c, 0, 0, lengths);
    attn_loss(&c);
    memcpy(before, c.out, sizeof before);
    for (int i = 0; i < AD; i++)
        c.xq[(1 * AT + 2) * AD + i] += 5.0f; /* sequence 1 is all padding */
    attn_loss(&c);
    for (int i = 0; i < AT * AD; i++)
        assert_true(c.out[i] == before[i]);
    for (int t = 0; t < AT; t++)
        for (int i = 0; i < AD; i++)
            assert_true(c.out[(AT + t) * AD + i] == c.p.out_proj_bias[i]);
    train_attention_free(&c.acts);

    /* causal: changing the last position leaves earlier outputs unchanged */
    attn_setup(&c, 0, 1, NULL);
    attn_loss(&c);
    memcpy(before, c.out, sizeof before);
    for (int i = 0; i < AD; i++)
        c.xq[(AT - 1) * AD + i] += 5.0f;
    attn_loss(&c);
    for (int i = 0; i < (AT - 1) * AD; i++)
        assert_true(c.out[i] == before[i]);
    train_attention_free(&c.acts);
}

/* ---- feed-forward sublayer with residual and norm ---- */

enum { FN = 6, FD = 8, FF = 16 };

struct ffn_case {
    struct train_pass pass;
    struct train_sublayer_acts acts;
    float x[FN * FD], nw[FD], nb[FD], w1[FF * FD], b1[FF], w2[FD * FF], b2[FD], r[FN * FD];
};

static double ffn_loss(void *ctx)
{
    struct ffn_case *c = ctx;
    train_ffn_sublayer_forward(&c->acts, c->x, c->nw, c->nb, c->w1, c->b1, c->w2, c->b2, &c->pass);
    return weighted_sum(c->acts.out, c->r, FN * FD);
}

/* Residual, norm, two linears and the activation: 2e-3 + 1e-2 rel. */
static void ffn_check(int gelu, int pre_norm)
{
    static struct ffn_case c;
    static float h1[FN * FF], h2[FN * FF], sa[FN * FD], sb[FN * FD], sc[FN * FD];
    struct train_scratch scratch = {sa, sb, sc, h1, h2};
    float dx[FN * FD] = {0}, dnw[FD] = {0}, dnb[FD] = {0}, dw1[FF * FD] = {0}, db1[FF] = {0}, dw2[FD * FF] = {0},
          db2[FD] = {0};
    uint64_t rng = 1;

    memset(&c, 0, sizeof c);
    c.pass = (struct train_pass){.B = 2, .T = 3, .S = 3, .d = FD, .H = 2, .ff = FF, .pre_norm = pre_norm,
                                 .gelu = gelu, .eps = 1e-5f, .dropout = 0.0f, .rng = &rng};
    assert_int_equal(train_sublayer_alloc(&c.acts, FN, FD, FF, 0, 2, 3, 3, 2), 0);
    /* Draw until every hidden value is 0.05 from the ReLU kink (a perturbation
     * of 1e-2 moves a hidden value by less than that); GELU takes the first. */
    for (int attempt = 0;; attempt++) {
        fill_random(c.x, FN * FD, 1.0f);
        fill_random(c.nw, FD, 1.0f);
        fill_random(c.nb, FD, 0.5f);
        fill_random(c.w1, FF * FD, 0.5f);
        fill_random(c.b1, FF, 0.5f);
        fill_random(c.w2, FD * FF, 0.5f);
        fill_random(c.b2, FD, 0.5f);
        fill_random(c.r, FN * FD, 1.0f);
        ffn_loss(&c);

        float margin = 1.0f;
        for (int i = 0; i < FN * FF; i++)
            margin = fminf(margin, fabsf(c.acts.hidden[i]));
        if (gelu || margin > 0.05f)
            break;
        assert_true(attempt < 10000);
    }
    train_ffn_sublayer_backward(&c.acts, dx, c.r, c.x, c.nw, dnw, dnb, c.w1, c.w2, dw1, db1, dw2, db2, &c.pass,
                                &scratch);

    assert_int_equal(check_gradient("ffn.x", c.x, dx, FN * FD, ffn_loss, &c, 1e-2f, 2e-3, 1e-2), 0);
    assert_int_equal(check_gradient("ffn.norm.weight", c.nw, dnw, FD, ffn_loss, &c, 1e-2f, 2e-3, 1e-2), 0);
    assert_int_equal(check_gradient("ffn.norm.bias", c.nb, dnb, FD, ffn_loss, &c, 1e-2f, 2e-3, 1e-2), 0);
    assert_int_equal(check_gradient("ffn.linear1.weight", c.w1, dw1, FF * FD, ffn_loss, &c, 1e-2f, 2e-3, 1e-2), 0);
    assert_int_equal(check_gradient("ffn.linear1.bias", c.b1, db1, FF, ffn_loss, &c, 1e-2f, 2e-3, 1e-2), 0);
    assert_int_equal(check_gradient("ffn.linear2.weight", c.w2, dw2, FD * FF, ffn_loss, &c, 1e-2f, 2e-3, 1e-2), 0);
    assert_int_equal(check_gradient("ffn.linear2.bias", c.b2, db2, FD, ffn_loss, &c, 1e-2f, 2e-3, 1e-2), 0);
    train_sublayer_free(&c.acts);
}

static void ffn_relu_post_norm(void **state)
{
    (void)state;
    ffn_check(0, 0);
}

static void ffn_gelu_pre_norm(void **state)
{
    (void)state;
    ffn_check(1, 1);
}

static void ffn_gelu_post_norm(void **state)
{
    (void)state;
    ffn_check(1, 0);
}

/* ---- losses ---- */

enum { CM = 5, CK = 7, CD = 4 };

struct ce_case {
    float h[CM * CD], w[CK * CD], b[CK], y[CM];
    int targets[CM];
    float scratch[TRAIN_LOSS_CHUNK * 2 * CK];
    int threads;
};

static double ce_loss(void *ctx)
{
    struct ce_case *c = ctx;
    return train_softmax_ce(c->h, c->w, c->b, c->targets, CM, CK, CD, 1.0f, NULL, NULL, NULL, c->scratch, c->threads);
}

/* Log-sum-exp is smooth: eps 1e-2, 1e-3 + 1e-2 rel. */
static void softmax_ce_gradients(void **state)
{
    (void)state;
    static struct ce_case c = {.targets = {0, 6, 3, 3, 1}, .threads = 2};
    float dh[CM * CD] = {0}, dw[CK * CD] = {0}, db[CK] = {0};

    fill_random(c.h, CM * CD, 1.0f);
    fill_random(c.w, CK * CD, 1.0f);
    fill_random(c.b, CK, 1.0f);
    double loss = train_softmax_ce(c.h, c.w, c.b, c.targets, CM, CK, CD, 1.0f, dh, dw, db, c.scratch, c.threads);

    /* the loss against a direct double-precision computation */
    double expected = 0.0;
    for (int m = 0; m < CM; m++) {
        double z[CK], max = -1e30, sum = 0.0;
        for (int k = 0; k < CK; k++) {
            z[k] = c.b[k];
            for (int i = 0; i < CD; i++)
                z[k] += (double)c.h[m * CD + i] * c.w[k * CD + i];
            max = z[k] > max ? z[k] : max;
        }
        for (int k = 0; k < CK; k++)
            sum += exp(z[k] - max);
        expected += log(sum) + max - z[c.targets[m]];
    }
    assert_true(fabs(loss - expected) < 1e-4);

    assert_int_equal(check_gradient("ce.h", c.h, dh, CM * CD, ce_loss, &c, 1e-2f, 1e-3, 1e-2), 0);
    assert_int_equal(check_gradient("ce.w", c.w, dw, CK * CD, ce_loss, &c, 1e-2f, 1e-3, 1e-2), 0);
    assert_int_equal(check_gradient("ce.b", c.b, db, CK, ce_loss, &c, 1e-2f, 1e-3, 1e-2), 0);
}

static double bce_loss(void *ctx)
{
    struct ce_case *c = ctx;
    return train_bce(c->h, c->w, c->b, c->y, CM, CD, 1.0f, NULL, NULL, NULL);
}

static void bce_gradients(void **state)
{
    (void)state;
    static struct ce_case c = {.y = {0, 1, 1, 0, 1}};
    float dh[CM * CD] = {0}, dw[CD] = {0}, db[1] = {0};

    fill_random(c.h, CM * CD, 1.0f);
    fill_random(c.w, CD, 1.0f);
    fill_random(c.b, 1, 1.0f);
    double loss = train_bce(c.h, c.w, c.b, c.y, CM, CD, 1.0f, dh, dw, db);

    double expected = 0.0;
    for (int m = 0; m < CM; m++) {
        double z = c.b[0];
        for (int i = 0; i < CD; i++)
            z += (double)c.h[m * CD + i] * c.w[i];
        double p = 1.0 / (1.0 + exp(-z));
        expected -= c.y[m] * log(p) + (1 - c.y[m]) * log(1 - p);
    }
    assert_true(fabs(loss - expected) < 1e-4);

    assert_int_equal(check_gradient("bce.h", c.h, dh, CM * CD, bce_loss, &c, 1e-2f, 1e-3, 1e-2), 0);
    assert_int_equal(check_gradient("bce.w", c.w, dw, CD, bce_loss, &c, 1e-2f, 1e-3, 1e-2), 0);
    assert_int_equal(check_gradient("bce.b", c.b, db, 1, bce_loss, &c, 1e-2f, 1e-3, 1e-2), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(linear_gradients),
        cmocka_unit_test(layernorm_gradients),
        cmocka_unit_test(activation_gradients),
        cmocka_unit_test(gelu_matches_erf_form),
        cmocka_unit_test(dropout_is_inverted_and_seeded),
        cmocka_unit_test(embedding_gradients),
        cmocka_unit_test(embedding_scales_and_adds_pe),
        cmocka_unit_test(attention_causal_gradients),
        cmocka_unit_test(attention_padding_gradients),
        cmocka_unit_test(attention_dropout_gradients),
        cmocka_unit_test(attention_dropout_factors),
        cmocka_unit_test(cross_attention_gradients),
        cmocka_unit_test(attention_masks_hold),
        cmocka_unit_test(ffn_relu_post_norm),
        cmocka_unit_test(ffn_gelu_pre_norm),
        cmocka_unit_test(ffn_gelu_post_norm),
        cmocka_unit_test(softmax_ce_gradients),
        cmocka_unit_test(bce_gradients),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
