#include "train_attention.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "train_layers.h"

int train_attention_alloc(struct train_attention_acts *a, int B, int T, int S, int d, int H)
{
    size_t nq = (size_t)B * T * d, nk = (size_t)B * S * d;

    memset(a, 0, sizeof *a);
    a->q = model_alloc_floats(nq);
    a->k = model_alloc_floats(nk);
    a->v = model_alloc_floats(nk);
    a->probs = model_alloc_floats((size_t)B * H * T * S);
    a->drop = model_alloc_floats((size_t)B * H * T * S);
    a->ctx = model_alloc_floats(nq);
    a->dq = model_alloc_floats(nq);
    a->dk = model_alloc_floats(nk);
    a->dv = model_alloc_floats(nk);
    a->dctx = model_alloc_floats(nq);
    if (!a->q || !a->k || !a->v || !a->probs || !a->drop || !a->ctx || !a->dq || !a->dk || !a->dv || !a->dctx) {
        train_attention_free(a);
        return -1;
    }
    return 0;
}

void train_attention_free(struct train_attention_acts *a)
{
    free(a->q);
    free(a->k);
    free(a->v);
    free(a->probs);
    free(a->drop);
    free(a->ctx);
    free(a->dq);
    free(a->dk);
    free(a->dv);
    free(a->dctx);
    memset(a, 0, sizeof *a);
}

/* Softmax of one query row over its unmasked keys [0, n_keys); the rest of
 * the row is set to 0. n_keys == 0 gives an all-zero row. */
static void masked_softmax_row(float *p, const float *q, const float *k, int n_keys, int S, int d, int dk,
                               float scale)
{
    float max = -INFINITY;

    for (int s = 0; s < n_keys; s++) {
        const float *ks = k + (size_t)s * d;
        float dot = 0.0f;
        for (int i = 0; i < dk; i++)
            dot += q[i] * ks[i];
        p[s] = dot * scale;
        if (p[s] > max)
            max = p[s];
    }

    float sum = 0.0f;
    for (int s = 0; s < n_keys; s++) {
        p[s] = expf(p[s] - max);
        sum += p[s];
    }
    for (int s = 0; s < n_keys; s++)
        p[s] /= sum;
    for (int s = n_keys; s < S; s++)
        p[s] = 0.0f;
}

/* Writes the dropout factors of n weights into mask; all 1 without dropout. */
static void draw_weight_dropout(float *mask, int n, float dropout, uint64_t *rng)
{
    float factors[n > 0 ? n : 1];

    for (int s = 0; s < n; s++)
        factors[s] = 1.0f;
    if (dropout > 0.0f)
        train_dropout_forward(factors, mask, (size_t)n, dropout, rng);
    else
        memcpy(mask, factors, (size_t)n * sizeof(float));
}

void train_attention_forward(float *out, struct train_attention_acts *a, const float *xq, const float *xkv,
                             const struct model_attention_params *p, const int *key_lengths, int causal, int B, int T,
                             int S, int d, int H, float dropout, uint64_t *rng)
{
    int dk = d / H;
    float scale = 1.0f / sqrtf((float)dk);
    const float *wq = p->in_proj_weight, *wk = wq + (size_t)d * d, *wv = wk + (size_t)d * d;
    const float *bq = p->in_proj_bias, *bk = bq + d, *bv = bk + d;

    /* projections */
    train_linear_forward(a->q, xq, wq, bq, B * T, d, d);
    train_linear_forward(a->k, xkv, wk, bk, B * S, d, d);
    train_linear_forward(a->v, xkv, wv, bv, B * S, d, d);

    a->dropped = dropout > 0.0f;

    /* per sequence, head and query: weights, then the weighted sum of values */
    for (int b = 0; b < B; b++) {
        int valid = key_lengths ? key_lengths[b] : S;
        for (int h = 0; h < H; h++) {
            for (int t = 0; t < T; t++) {
                int n_keys = causal && t + 1 < valid ? t + 1 : valid;
                const float *qt = a->q + ((size_t)b * T + t) * d + h * dk;
                const float *kb = a->k + (size_t)b * S * d + h * dk;
                const float *vb = a->v + (size_t)b * S * d + h * dk;
                float *pt = a->probs + (((size_t)b * H + h) * T + t) * S;
                float *ct = a->ctx + ((size_t)b * T + t) * d + h * dk;
                float *mt = a->drop + (((size_t)b * H + h) * T + t) * S;

                masked_softmax_row(pt, qt, kb, n_keys, S, d, dk, scale);
                draw_weight_dropout(mt, n_keys, dropout, rng);
                memset(ct, 0, (size_t)dk * sizeof(float));
                for (int s = 0; s < n_keys; s++) {
                    const float *vs = vb + (size_t)s * d;
                    float weight = pt[s] * mt[s];
                    for (int i = 0; i < dk; i++)
                        ct[i] += weight * vs[i];
                }
            }
        }
    }

    train_linear_forward(out, a->ctx, p->out_proj_weight, p->out_proj_bias, B * T, d, d);
}

/* Backward of one (sequence, head): from dctx to dq, dk, dv. Masked weights
 * are 0, so they contribute nothing and need no mask here. Dropped weights
 * scale the gradient of their weight and of their value by the factor. */
static void head_backward(struct train_attention_acts *a, int b, int h, int T, int S, int d, int H)
{
    int dk = d / H;
    float scale = 1.0f / sqrtf((float)dk);

    for (int t = 0; t < T; t++) {
        const float *pt = a->probs + (((size_t)b * H + h) * T + t) * S;
        const float *mt = a->drop + (((size_t)b * H + h) * T + t) * S;
        const float *dct = a->dctx + ((size_t)b * T + t) * d + h * dk;
        const float *qt = a->q + ((size_t)b * T + t) * d + h * dk;
        float *dqt = a->dq + ((size_t)b * T + t) * d + h * dk;

        /* dp[s] = dctx_t . v_s, and sum_s p dp for the softmax Jacobian */
        float dot_sum = 0.0f;
        float dp[S > 0 ? S : 1];
        for (int s = 0; s < S; s++) {
            dp[s] = 0.0f;
            if (pt[s] == 0.0f)
                continue;
            const float *vs = a->v + ((size_t)b * S + s) * d + h * dk;
            float *dvs = a->dv + ((size_t)b * S + s) * d + h * dk;
            float factor = a->dropped ? mt[s] : 1.0f, weight = pt[s] * factor;
            for (int i = 0; i < dk; i++) {
                dp[s] += dct[i] * vs[i];
                dvs[i] += weight * dct[i];
            }
            dp[s] *= factor;
            dot_sum += pt[s] * dp[s];
        }

        /* dscore = p (dp - sum p dp), and score = q . k * scale */
        for (int s = 0; s < S; s++) {
            if (pt[s] == 0.0f)
                continue;
            float ds = pt[s] * (dp[s] - dot_sum) * scale;
            const float *ks = a->k + ((size_t)b * S + s) * d + h * dk;
            float *dks = a->dk + ((size_t)b * S + s) * d + h * dk;
            for (int i = 0; i < dk; i++) {
                dqt[i] += ds * ks[i];
                dks[i] += ds * qt[i];
            }
        }
    }
}

void train_attention_backward(float *dxq, float *dxkv, struct model_attention_params *g, const float *dout,
                              struct train_attention_acts *a, const float *xq, const float *xkv,
                              const struct model_attention_params *p, int B, int T, int S, int d, int H)
{
    size_t nq = (size_t)B * T * d, nk = (size_t)B * S * d;
    const float *wq = p->in_proj_weight, *wk = wq + (size_t)d * d, *wv = wk + (size_t)d * d;
    float *gwq = g->in_proj_weight, *gwk = gwq + (size_t)d * d, *gwv = gwk + (size_t)d * d;
    float *gbq = g->in_proj_bias, *gbk = gbq + d, *gbv = gbk + d;

    memset(a->dctx, 0, nq * sizeof(float));
    memset(a->dq, 0, nq * sizeof(float));
    memset(a->dk, 0, nk * sizeof(float));
    memset(a->dv, 0, nk * sizeof(float));

    train_linear_backward(a->dctx, g->out_proj_weight, g->out_proj_bias, dout, a->ctx, p->out_proj_weight, B * T,
                          d, d);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            head_backward(a, b, h, T, S, d, H);

    train_linear_backward(dxq, gwq, gbq, a->dq, xq, wq, B * T, d, d);
    train_linear_backward(dxkv, gwk, gbk, a->dk, xkv, wk, B * S, d, d);
    train_linear_backward(dxkv, gwv, gbv, a->dv, xkv, wv, B * S, d, d);
}
