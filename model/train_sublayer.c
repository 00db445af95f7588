#include "train_sublayer.h"

#include <stdlib.h>
#include <string.h>

#include "train_layers.h"

int train_sublayer_alloc(struct train_sublayer_acts *s, int N, int d, int ff, int attention, int B, int T, int S,
                         int H)
{
    size_t nd = (size_t)N * d;

    memset(s, 0, sizeof *s);
    s->normed = model_alloc_floats(nd);
    s->mean = model_alloc_floats((size_t)N);
    s->rstd = model_alloc_floats((size_t)N);
    s->fout = model_alloc_floats(nd);
    s->fmask = model_alloc_floats(nd);
    s->resid = model_alloc_floats(nd);
    s->out = model_alloc_floats(nd);
    if (!s->normed || !s->mean || !s->rstd || !s->fout || !s->fmask || !s->resid || !s->out)
        return -1;

    if (attention)
        return train_attention_alloc(&s->attn, B, T, S, d, H);

    s->hidden = model_alloc_floats((size_t)N * ff);
    s->act = model_alloc_floats((size_t)N * ff);
    s->act_mask = model_alloc_floats((size_t)N * ff);
    return s->hidden && s->act && s->act_mask ? 0 : -1;
}

void train_sublayer_free(struct train_sublayer_acts *s)
{
    free(s->normed);
    free(s->mean);
    free(s->rstd);
    free(s->fout);
    free(s->fmask);
    free(s->resid);
    free(s->out);
    free(s->hidden);
    free(s->act);
    free(s->act_mask);
    train_attention_free(&s->attn);
    memset(s, 0, sizeof *s);
}

/* The input of F: LN(x) for pre-norm, x itself for post-norm. */
static const float *sublayer_input(struct train_sublayer_acts *s, const float *x, const float *norm_weight,
                                   const float *norm_bias, const struct train_pass *pass, int N)
{
    if (!pass->pre_norm)
        return x;
    train_layernorm_forward(s->normed, s->mean, s->rstd, x, norm_weight, norm_bias, N, pass->d, pass->eps);
    return s->normed;
}

/* Dropout on F's output, the residual add, and the post-norm. */
static void sublayer_finish(struct train_sublayer_acts *s, const float *x, const float *norm_weight,
                            const float *norm_bias, const struct train_pass *pass, int N)
{
    size_t nd = (size_t)N * pass->d;

    train_dropout_forward(s->fout, s->fmask, nd, pass->dropout, pass->rng);
    for (size_t i = 0; i < nd; i++)
        s->resid[i] = x[i] + s->fout[i];

    if (pass->pre_norm) {
        memcpy(s->out, s->resid, nd * sizeof(float));
    } else {
        train_layernorm_forward(s->out, s->mean, s->rstd, s->resid, norm_weight, norm_bias, N, pass->d, pass->eps);
        memcpy(s->normed, s->out, nd * sizeof(float));
    }
}

/* Backward of sublayer_finish: writes d(F output) into dfout and adds the
 * residual path into dx. Post-norm also needs dresid scratch. */
static void sublayer_finish_backward(struct train_sublayer_acts *s, float *dx, float *dfout, const float *dout,
                                     const float *norm_weight, float *dnorm_weight, float *dnorm_bias,
                                     const struct train_pass *pass, int N)
{
    size_t nd = (size_t)N * pass->d;

    if (pass->pre_norm) {
        memcpy(dfout, dout, nd * sizeof(float));
    } else {
        memset(dfout, 0, nd * sizeof(float));
        train_layernorm_backward(dfout, dnorm_weight, dnorm_bias, dout, s->resid, norm_weight, s->mean, s->rstd, N,
                                 pass->d);
    }
    /* dfout contains d(resid) here, and resid = x + fout */
    for (size_t i = 0; i < nd; i++)
        dx[i] += dfout[i];
    train_dropout_backward(dfout, s->fmask, nd);
}

/* Backward of sublayer_input: routes d(F input) into dx. */
static void sublayer_input_backward(struct train_sublayer_acts *s, float *dx, const float *dxin, const float *x,
                                    const float *norm_weight, float *dnorm_weight, float *dnorm_bias,
                                    const struct train_pass *pass, int N)
{
    if (!pass->pre_norm)
        return; /* F read x directly and accumulated into dx */
    train_layernorm_backward(dx, dnorm_weight, dnorm_bias, dxin, x, norm_weight, s->mean, s->rstd, N, pass->d);
}

void train_attention_sublayer_forward(struct train_sublayer_acts *s, const float *x, const float *memory,
                                      const float *norm_weight, const float *norm_bias,
                                      const struct model_attention_params *p, const int *key_lengths, int causal,
                                      const struct train_pass *pass)
{
    int N = pass->B * pass->T;
    const float *xin = sublayer_input(s, x, norm_weight, norm_bias, pass, N);
    const float *xkv = memory ? memory : xin;
    int S = memory ? pass->S : pass->T;

    train_attention_forward(s->fout, &s->attn, xin, xkv, p, key_lengths, causal, pass->B, pass->T, S, pass->d,
                            pass->H, pass->attention_dropout, pass->rng);
    sublayer_finish(s, x, norm_weight, norm_bias, pass, N);
}

void train_attention_sublayer_backward(struct train_sublayer_acts *s, float *dx, float *dmemory, const float *dout,
                                       const float *x, const float *memory, const float *norm_weight,
                                       float *dnorm_weight, float *dnorm_bias,
                                       const struct model_attention_params *p, struct model_attention_params *g,
                                       const struct train_pass *pass, const struct train_scratch *scratch)
{
    int N = pass->B * pass->T;
    size_t nd = (size_t)N * pass->d;
    float *dfout = scratch->a;
    const float *xin = pass->pre_norm ? s->normed : x;
    float *dxin = pass->pre_norm ? scratch->b : dx;
    const float *xkv = memory ? memory : xin;
    float *dxkv = memory ? dmemory : dxin;
    int S = memory ? pass->S : pass->T;

    sublayer_finish_backward(s, dx, dfout, dout, norm_weight, dnorm_weight, dnorm_bias, pass, N);
    if (pass->pre_norm)
        memset(dxin, 0, nd * sizeof(float));
    train_attention_backward(dxin, dxkv, g, dfout, &s->attn, xin, xkv, p, pass->B, pass->T, S, pass->d, pass->H);
    sublayer_input_backward(s, dx, dxin, x, norm_weight, dnorm_weight, dnorm_bias, pass, N);
}

void train_ffn_sublayer_forward(struct train_sublayer_acts *s, const float *x, const float *norm_weight,
                                const float *norm_bias, const float *w1, const float *b1, const float *w2,
                                const float *b2, const struct train_pass *pass)
{
    int N = pass->B * pass->T;
    size_t nh = (size_t)N * pass->ff;
    const float *xin = sublayer_input(s, x, norm_weight, norm_bias, pass, N);

    train_linear_forward(s->hidden, xin, w1, b1, N, pass->d, pass->ff);
    train_activation_forward(s->act, s->hidden, nh, pass->gelu);
    train_dropout_forward(s->act, s->act_mask, nh, pass->dropout, pass->rng);
    train_linear_forward(s->fout, s->act, w2, b2, N, pass->ff, pass->d);
    sublayer_finish(s, x, norm_weight, norm_bias, pass, N);
}

void train_ffn_sublayer_backward(struct train_sublayer_acts *s, float *dx, const float *dout, const float *x,
                                 const float *norm_weight, float *dnorm_weight, float *dnorm_bias, const float *w1,
                                 const float *w2, float *dw1, float *db1, float *dw2, float *db2,
                                 const struct train_pass *pass, const struct train_scratch *scratch)
{
    int N = pass->B * pass->T;
    size_t nd = (size_t)N * pass->d, nh = (size_t)N * pass->ff;
    float *dfout = scratch->a;
    const float *xin = pass->pre_norm ? s->normed : x;
    float *dxin = pass->pre_norm ? scratch->b : dx;
    float *dact = scratch->h1, *dhidden = scratch->h2;

    sublayer_finish_backward(s, dx, dfout, dout, norm_weight, dnorm_weight, dnorm_bias, pass, N);

    /* linear2, dropout on the activation, activation, linear1 */
    memset(dact, 0, nh * sizeof(float));
    train_linear_backward(dact, dw2, db2, dfout, s->act, w2, N, pass->ff, pass->d);
    train_dropout_backward(dact, s->act_mask, nh);
    memset(dhidden, 0, nh * sizeof(float));
    train_activation_backward(dhidden, dact, s->hidden, nh, pass->gelu);
    if (pass->pre_norm)
        memset(dxin, 0, nd * sizeof(float));
    train_linear_backward(dxin, dw1, db1, dhidden, xin, w1, N, pass->d, pass->ff);

    sublayer_input_backward(s, dx, dxin, x, norm_weight, dnorm_weight, dnorm_bias, pass, N);
}
