#include "linear_packed.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "kernels_avx512.h"

enum {
    PANEL_OUTPUTS = 16, /* one AVX-512 register of outputs */
    GROUP_ROWS = 8,     /* input rows per pass over the panels: 16 accumulators for a panel pair */
    MAX_LINEARS = 8 * MODEL_MAX_LAYERS, /* 4 per encoder layer and 4 per decoder layer */
};

static int has_avx512(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
    return __builtin_cpu_supports("avx512f");
#else
    return 0;
#endif
}

void model_linears_free(struct model *m)
{
    for (int i = 0; i < m->n_linears; i++)
        free(m->linears[i].panels);
    free(m->linears);
    m->linears = NULL;
    m->n_linears = 0;
}

/* Appends the packed copy of w [n_out, k] to m->linears. */
static int pack_one(struct model *m, const float *w, int n_out, int k, char *error)
{
    int n_panels = (n_out + PANEL_OUTPUTS - 1) / PANEL_OUTPUTS;
    float *panels = model_alloc_floats((size_t)n_panels * k * PANEL_OUTPUTS);

    if (!panels) {
        snprintf(error, MODEL_ERROR_SIZE, "out of memory packing a %d x %d projection", n_out, k);
        return -1;
    }
    memset(panels, 0, (size_t)n_panels * k * PANEL_OUTPUTS * sizeof(float));
    for (int o = 0; o < n_out; o++) {
        float *panel = panels + (size_t)(o / PANEL_OUTPUTS) * k * PANEL_OUTPUTS;
        for (int j = 0; j < k; j++)
            panel[(size_t)j * PANEL_OUTPUTS + o % PANEL_OUTPUTS] = w[(size_t)o * k + j];
    }
    m->linears[m->n_linears++] = (struct packed_linear){w, n_out, k, panels};
    return 0;
}

static int pack_attention(struct model *m, const struct model_attention_params *p, char *error)
{
    int d = m->config.d_model;

    if (pack_one(m, p->in_proj_weight, 3 * d, d, error) != 0)
        return -1;
    return pack_one(m, p->out_proj_weight, d, d, error);
}

int model_linears_pack(struct model *m, char *error)
{
    const struct model_config *c = &m->config;

    model_linears_free(m);
    if (!has_avx512() || c->towers > 1)
        return 0;
    m->linears = calloc(MAX_LINEARS, sizeof *m->linears);
    if (!m->linears) {
        snprintf(error, MODEL_ERROR_SIZE, "out of memory packing the layer projections");
        return -1;
    }

    int rc = 0;
    for (int l = 0; rc == 0 && l < c->n_encoder_layers; l++) {
        const struct model_encoder_layer_params *p = &m->params.encoder[l];
        rc = pack_attention(m, &p->self_attn, error);
        if (rc == 0)
            rc = pack_one(m, p->linear1_weight, c->d_ff, c->d_model, error);
        if (rc == 0)
            rc = pack_one(m, p->linear2_weight, c->d_model, c->d_ff, error);
    }
    /* The decoder's cross-attention projects slices of its in_proj, which
     * stay with sgemm; its self-attention and feed-forward are packed. */
    for (int l = 0; rc == 0 && l < c->n_decoder_layers; l++) {
        const struct model_decoder_layer_params *p = &m->params.decoder[l];
        rc = pack_attention(m, &p->self_attn, error);
        if (rc == 0)
            rc = pack_one(m, p->linear1_weight, c->d_ff, c->d_model, error);
        if (rc == 0)
            rc = pack_one(m, p->linear2_weight, c->d_model, c->d_ff, error);
    }
    if (rc != 0)
        model_linears_free(m);
    return rc;
}

#if defined(__x86_64__) && defined(__GNUC__)
static const struct packed_linear *find_packed(const struct model *m, const float *w, int N, int K)
{
    for (int i = 0; i < m->n_linears; i++)
        if (m->linears[i].weight == w && m->linears[i].n_out == N && m->linears[i].k == K)
            return &m->linears[i];
    return NULL;
}

/* y rows [0, rows) from x rows [0, rows) over every panel of p. rows is a
 * constant at every call site, so the accumulators stay in registers. */
__attribute__((target("avx512f"), always_inline)) static inline void
linear_group(const struct packed_linear *p, const float *x, int rows, float *y, const float *b, int accumulate)
{
    int K = p->k, N = p->n_out, n_panels = (N + PANEL_OUTPUTS - 1) / PANEL_OUTPUTS;

    for (int q = 0; q < n_panels; q += 2) {
        int pair = q + 1 < n_panels;
        const float *panel0 = p->panels + (size_t)q * K * PANEL_OUTPUTS;
        const float *panel1 = pair ? panel0 + (size_t)K * PANEL_OUTPUTS : panel0;
        __m512 acc0[GROUP_ROWS], acc1[GROUP_ROWS];
        for (int r = 0; r < rows; r++) {
            acc0[r] = _mm512_setzero_ps();
            acc1[r] = _mm512_setzero_ps();
        }

        for (int k = 0; k < K; k++) {
            __m512 w0 = _mm512_load_ps(panel0 + (size_t)k * PANEL_OUTPUTS);
            __m512 w1 = _mm512_load_ps(panel1 + (size_t)k * PANEL_OUTPUTS);
            for (int r = 0; r < rows; r++) {
                __m512 h = _mm512_set1_ps(x[(size_t)r * K + k]);
                acc0[r] = _mm512_fmadd_ps(h, w0, acc0[r]);
                acc1[r] = _mm512_fmadd_ps(h, w1, acc1[r]);
            }
        }

        for (int half = 0; half < 1 + pair; half++) {
            int base = (q + half) * PANEL_OUTPUTS;
            __mmask16 valid = tail_mask16(N - base);
            __m512 bias = b ? _mm512_maskz_loadu_ps(valid, b + base) : _mm512_setzero_ps();
            for (int r = 0; r < rows; r++) {
                float *out = y + (size_t)r * N + base;
                __m512 v = _mm512_add_ps(half ? acc1[r] : acc0[r], bias);
                if (accumulate)
                    v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(valid, out));
                _mm512_mask_storeu_ps(out, valid, v);
            }
        }
    }
}

__attribute__((target("avx512f"))) static void linear_rows(const struct packed_linear *p, float *y, const float *x,
                                                           const float *b, int M, int accumulate)
{
    int N = p->n_out, K = p->k;

    for (int r0 = 0; r0 < M; r0 += GROUP_ROWS) {
        int n = M - r0 < GROUP_ROWS ? M - r0 : GROUP_ROWS;
        const float *xs = x + (size_t)r0 * K;
        float *ys = y + (size_t)r0 * N;
        switch (n) {
        case 8: linear_group(p, xs, 8, ys, b, accumulate); break;
        case 7: linear_group(p, xs, 7, ys, b, accumulate); break;
        case 6: linear_group(p, xs, 6, ys, b, accumulate); break;
        case 5: linear_group(p, xs, 5, ys, b, accumulate); break;
        case 4: linear_group(p, xs, 4, ys, b, accumulate); break;
        case 3: linear_group(p, xs, 3, ys, b, accumulate); break;
        case 2: linear_group(p, xs, 2, ys, b, accumulate); break;
        default: linear_group(p, xs, 1, ys, b, accumulate); break;
        }
    }
}
#endif

void model_layer_linear(const struct model *m, float *y, const float *x, const float *w, const float *b, int M, int N,
                        int K, int accumulate)
{
    model_layer_linear_parts(m, y, x, w, b, M, N, K, 1, accumulate);
}

void model_layer_linear_parts(const struct model *m, float *y, const float *x, const float *w, const float *b, int M,
                              int N, int K, int parts, int accumulate)
{
    if (M <= 0 || N <= 0)
        return;
    if (m->config.towers > 1) {
        model_linear_blocks(y, x, w, b, M, N, K, m->config.towers, parts, accumulate);
        return;
    }
#if defined(__x86_64__) && defined(__GNUC__)
    const struct packed_linear *p = find_packed(m, w, N, K);
    if (p) {
        linear_rows(p, y, x, b, M, accumulate);
        return;
    }
#endif
    model_linear(y, x, w, b, M, N, K, accumulate);
}
