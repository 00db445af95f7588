#include "kernels.h"

#include <math.h>

int model_attention_visible(const struct model_attention_args *a, int i)
{
    int n = a->key_len < a->tk ? a->key_len : a->tk;
    if (a->causal) {
        int last = a->q_pos + i + 1;
        n = last < n ? last : n;
    }
    return n > 0 ? n : 0;
}

/* One query row (a decoding step): plain loops, because two BLAS calls per
 * head cost more in call overhead than the few thousand multiply-adds. */
static void attend_one_query(const struct model_attention_args *a, const float *q, const float *k, const float *v,
                             int ldkv, float *out, float *probs)
{
    float scale = 1.0f / sqrtf((float)a->d_head);
    int visible = model_attention_visible(a, 0), dh = a->d_head;

    for (int h = 0; h < a->n_heads; h++) {
        const float *qh = q + h * dh;
        float *p = probs + (size_t)h * a->tk;
        float *oh = out + h * dh;

        for (int j = 0; j < visible; j++) {
            const float *kj = k + (size_t)j * ldkv + h * dh;
            float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
            for (int c = 0; c < dh; c++)
                dot += qh[c] * kj[c];
            p[j] = dot * scale;
        }
        model_softmax_row(p, visible, a->tk);

        for (int c = 0; c < dh; c++)
            oh[c] = 0.0f;
        for (int j = 0; j < visible; j++) {
            const float *vj = v + (size_t)j * ldkv + h * dh;
            float w = p[j];
#pragma omp simd
            for (int c = 0; c < dh; c++)
                oh[c] += w * vj[c];
        }
    }
}

void model_attention(const struct model_attention_args *a, const float *q, int ldq, const float *k,
                     const float *v, int ldkv, float *out, int ldo, float *probs)
{
    float scale = 1.0f / sqrtf((float)a->d_head);
    int tq = a->tq, tk = a->tk;

    if (tq == 1) {
        attend_one_query(a, q, k, v, ldkv, out, probs);
        return;
    }

    for (int h = 0; h < a->n_heads; h++) {
        const float *qh = q + h * a->d_head;
        const float *kh = k + h * a->d_head;
        const float *vh = v + h * a->d_head;
        float *p = probs + (size_t)h * tq * tk;

        /* scores = Q_h K_h^T / sqrt(d_head) */
        model_sgemm(0, 1, tq, tk, a->d_head, scale, qh, ldq, kh, ldkv, 0.0f, p, tk);

        /* Masked keys get weight 0; a row with no visible key stays all zero. */
        for (int i = 0; i < tq; i++)
            model_softmax_row(p + (size_t)i * tk, model_attention_visible(a, i), tk);

        /* out_h = P V_h */
        model_sgemm(0, 0, tq, a->d_head, tk, 1.0f, p, tk, vh, ldkv, 0.0f, out + h * a->d_head, ldo);
    }
}
