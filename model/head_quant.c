#include "head_quant.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "item_scorer.h"
#include "kernels.h"
#include "kernels_avx512.h"

enum {
    PANEL_ROWS = 16,   /* output rows per panel: one register of int32 sums, one output per lane */
    GROUP_ROWS = 8,    /* pooled vectors scored together: each panel load feeds one VNNI per vector */
    BLOCK_PANELS = 64, /* 64 KB of int8 panels at d_model 64, and 4 KB of logits per vector */
    LANE_MAXIMA = 2 * PANEL_ROWS,
    RESCORE_BATCH = 128, /* candidates prefetched together */
    MAX_WIDTH = 512,     /* d_model limit of the int8 path (stack copy of the pooled vectors) */
};

struct head_quant {
    int n_out, d, n_panels;
    int8_t *panels;     /* [n_panels][d / 4][16 outputs][4 components] */
    float *scale;       /* [n_panels * 16] weight row ~= scale * int8; 0 past the last output */
    int32_t *offset;    /* [n_panels * 16] 128 * sum of the row's int8 components (the u8 bias of the input) */
    float *bias;        /* [n_panels * 16] the head's bias, 0 without one */
    const float *weights; /* [n_out, d] the float rows, borrowed from the model, for stage two */
    float scale_max;    /* largest row scale */
    float l1_max;       /* largest L1 norm of a dequantised row */
};

void model_head_quant_free(struct head_quant *q)
{
    if (!q)
        return;
    free(q->panels);
    free(q->scale);
    free(q->offset);
    free(q->bias);
    free(q);
}

/* Rounds x to the nearest integer in [-127, 127]. */
static int round_to_int8(float x)
{
    int v = (int)lrintf(x);

    if (v > 127)
        return 127;
    if (v < -127)
        return -127;
    return v;
}

static int has_vnni(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vnni");
#else
    return 0;
#endif
}

/* Quantises weight row i into its panel lane and records its scale, the
 * correction for the u8 bias of the input and its L1 norm. */
static void quantise_output(struct head_quant *q, int i, const float *w)
{
    int d = q->d;
    float max_abs = 0.0f;

    for (int k = 0; k < d; k++)
        max_abs = fabsf(w[k]) > max_abs ? fabsf(w[k]) : max_abs;
    float scale = max_abs > 0.0f ? max_abs / 127.0f : 0.0f;

    int8_t *panel = q->panels + (size_t)(i / PANEL_ROWS) * (size_t)d * PANEL_ROWS;
    int lane = i % PANEL_ROWS;
    int32_t sum = 0;
    float l1 = 0.0f;
    for (int k = 0; k < d; k++) {
        int v = scale > 0.0f ? round_to_int8(w[k] / scale) : 0;
        panel[(size_t)(k / 4) * PANEL_ROWS * 4 + (size_t)lane * 4 + (size_t)(k % 4)] = (int8_t)v;
        sum += v;
        l1 += fabsf((float)v) * scale;
    }

    q->scale[i] = scale;
    q->offset[i] = 128 * sum;
    q->scale_max = scale > q->scale_max ? scale : q->scale_max;
    q->l1_max = l1 > q->l1_max ? l1 : q->l1_max;
}

/* An int8 copy of the head weights[n_out][d] (+ bias[n_out] when not NULL);
 * NULL with *error set when out of memory. */
static struct head_quant *head_quant_build(const float *weights, const float *bias, int n_out, int d, char *error)
{
    struct head_quant *q = calloc(1, sizeof *q);
    int n_panels = (n_out + PANEL_ROWS - 1) / PANEL_ROWS;
    size_t lanes = (size_t)n_panels * PANEL_ROWS;

    if (q) {
        q->n_out = n_out;
        q->d = d;
        q->n_panels = n_panels;
        q->weights = weights;
        q->panels = aligned_alloc(64, lanes * (size_t)d);
        q->scale = calloc(lanes, sizeof(float));
        q->offset = calloc(lanes, sizeof(int32_t));
        q->bias = calloc(lanes, sizeof(float));
    }
    if (!q || !q->panels || !q->scale || !q->offset || !q->bias) {
        model_head_quant_free(q);
        snprintf(error, MODEL_ERROR_SIZE, "out of memory quantising a head of %d rows of %d floats", n_out, d);
        return NULL;
    }

    memset(q->panels, 0, lanes * (size_t)d);
    for (int i = 0; i < n_out; i++) {
        quantise_output(q, i, weights + (size_t)i * d);
        q->bias[i] = bias ? bias[i] : 0.0f;
    }
    return q;
}

int model_quant_heads_build(struct model *m, char *error)
{
    const struct model_config *c = &m->config;
    int d = c->d_model, n_items = c->item_end - c->item_begin;

    model_head_quant_free(m->item_quant);
    model_head_quant_free(m->category_quant);
    m->item_quant = NULL;
    m->category_quant = NULL;
    if (d % 4 != 0 || d > MAX_WIDTH || !has_vnni())
        return 0;

    if (n_items > 0) {
        m->item_quant = head_quant_build(m->params.embedding + (size_t)c->item_begin * d, NULL, n_items, d, error);
        if (!m->item_quant)
            return -1;
    }
    if (c->n_categories > 0 && m->params.category_weight) {
        m->category_quant =
            head_quant_build(m->params.category_weight, m->params.category_bias, c->n_categories, d, error);
        if (!m->category_quant)
            return -1;
    }
    return 0;
}

/* The k best (value, index) pairs seen so far, best first. */
struct top_list {
    int k, count;
    float value[LANE_MAXIMA];
    int index[LANE_MAXIMA];
};

static void top_insert(struct top_list *t, float value, int index)
{
    if (t->count == t->k && !(value > t->value[t->k - 1]))
        return;

    int i = t->count < t->k ? t->count++ : t->k - 1;
    while (i > 0 && t->value[i - 1] < value) {
        t->value[i] = t->value[i - 1];
        t->index[i] = t->index[i - 1];
        i--;
    }
    t->value[i] = value;
    t->index[i] = index;
}

/* Writes t's indices to top[0 .. k), -1 past its count. */
static void top_store(const struct top_list *t, int *top)
{
    for (int j = 0; j < t->k; j++)
        top[j] = j < t->count ? t->index[j] : -1;
}

#if defined(__x86_64__) && defined(__GNUC__)

#define VNNI_TARGET __attribute__((target("avx512f,avx512bw,avx512vnni")))

/* One pooled vector of the group: its 8-bit copy's scale and what the
 * summaries and stage two need. */
struct row_state {
    float scale;                 /* pooled ~= scale * (u8 - 128) */
    float l1;                    /* L1 norm of the float vector */
    float max;                   /* running maximum of the stored logits, -inf before the first block */
    double sum;                  /* sum of exp(logit - max) */
    float lane_max[LANE_MAXIMA]; /* maxima of 32 disjoint classes of ranked outputs */
};

static void quantise_row(const float *h, int d, uint8_t *out, struct row_state *s)
{
    float max_abs = 0.0f, l1 = 0.0f;

    for (int k = 0; k < d; k++) {
        max_abs = fabsf(h[k]) > max_abs ? fabsf(h[k]) : max_abs;
        l1 += fabsf(h[k]);
    }
    float scale = max_abs > 0.0f ? max_abs / 127.0f : 0.0f;
    for (int k = 0; k < d; k++) {
        int v = scale > 0.0f ? round_to_int8(h[k] / scale) : 0;
        out[k] = (uint8_t)(v + 128);
    }

    s->scale = scale;
    s->l1 = l1;
    s->max = -INFINITY;
    s->sum = 0.0;
    for (int j = 0; j < LANE_MAXIMA; j++)
        s->lane_max[j] = -INFINITY;
}

/* Stage one for panels [first, last): int8 logits of vectors hq[0 .. rows-1]
 * into logits (row stride n_out). rows is a constant at every call site, so
 * the accumulators stay in registers. */
VNNI_TARGET __attribute__((always_inline)) static inline void
score_group(const struct head_quant *q, int first, int last, const uint8_t *hq, const struct row_state *rs, int rows,
            float *logits)
{
    int d = q->d, groups = d / 4, n_out = q->n_out;
    size_t panel_bytes = (size_t)d * PANEL_ROWS;

    for (int p = first; p < last; p += 2) {
        int pair = p + 1 < last;
        const int8_t *panel0 = q->panels + (size_t)p * panel_bytes;
        const int8_t *panel1 = pair ? panel0 + panel_bytes : panel0;
        __m512i acc0[GROUP_ROWS], acc1[GROUP_ROWS];
        for (int r = 0; r < rows; r++) {
            acc0[r] = _mm512_setzero_si512();
            acc1[r] = _mm512_setzero_si512();
        }

        for (int g = 0; g < groups; g++) {
            __m512i w0 = _mm512_load_si512(panel0 + (size_t)g * 64);
            __m512i w1 = _mm512_load_si512(panel1 + (size_t)g * 64);
            for (int r = 0; r < rows; r++) {
                int32_t four;
                memcpy(&four, hq + (size_t)r * d + (size_t)g * 4, sizeof four);
                __m512i h = _mm512_set1_epi32(four);
                acc0[r] = _mm512_dpbusd_epi32(acc0[r], h, w0);
                acc1[r] = _mm512_dpbusd_epi32(acc1[r], h, w1);
            }
        }

        for (int half = 0; half < 1 + pair; half++) {
            int base = (p + half) * PANEL_ROWS;
            __mmask16 valid = tail_mask16(n_out - base);
            __m512i offset = _mm512_loadu_si512(q->offset + base);
            __m512 scale = _mm512_loadu_ps(q->scale + base);
            __m512 bias = _mm512_loadu_ps(q->bias + base);
            for (int r = 0; r < rows; r++) {
                __m512i acc = half ? acc1[r] : acc0[r];
                __m512 v = _mm512_cvtepi32_ps(_mm512_sub_epi32(acc, offset));
                v = _mm512_fmadd_ps(v, _mm512_mul_ps(scale, _mm512_set1_ps(rs[r].scale)), bias);
                _mm512_mask_storeu_ps(logits + (size_t)r * n_out + base, valid, v);
            }
        }
    }
}

/* exp(x) for x <= 0 to about 3e-6 relative (the Taylor remainder below, an
 * estimate that ignores float rounding): enough for a normaliser of
 * int8 logits. 2^(x log2 e) split into an integer and a fraction in
 * [-0.5, 0.5], the fraction by its Taylor series to degree 5. */
VNNI_TARGET static inline __m512 exp16_normaliser(__m512 x)
{
    __m512 t = _mm512_mul_ps(_mm512_max_ps(x, _mm512_set1_ps(-87.0f)), _mm512_set1_ps(1.44269504088896341f));
    __m512 n = _mm512_roundscale_ps(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 f = _mm512_sub_ps(t, n);
    __m512 p = _mm512_set1_ps(1.3333558146428443e-3f);
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(9.6181291076284772e-3f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(5.5504108664821580e-2f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(2.4022650695910071e-1f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(6.9314718055994531e-1f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
}

/* After a block: the vector's maximum and exponential sum, merged into s,
 * and the maxima of its ranked outputs by lane and panel parity. */
VNNI_TARGET static void summarise_block(const float *row, int first, int last, int n_out, int n_ranked,
                                        struct row_state *s)
{
    int begin = first * PANEL_ROWS, end = last * PANEL_ROWS < n_out ? last * PANEL_ROWS : n_out;
    int full_end = end < n_ranked ? end : n_ranked; /* below it every lane is ranked and valid */
    full_end = begin + (full_end - begin > 0 ? (full_end - begin) / PANEL_ROWS * PANEL_ROWS : 0);
    __m512 vmax = _mm512_set1_ps(-INFINITY);
    __m512 lane[2] = {_mm512_loadu_ps(s->lane_max), _mm512_loadu_ps(s->lane_max + PANEL_ROWS)};

    int j = begin;
    for (; j + 2 * PANEL_ROWS <= full_end; j += 2 * PANEL_ROWS) {
        __m512 x0 = _mm512_loadu_ps(row + j), x1 = _mm512_loadu_ps(row + j + PANEL_ROWS);
        int parity = (j / PANEL_ROWS) & 1;
        lane[parity] = _mm512_max_ps(lane[parity], x0);
        lane[parity ^ 1] = _mm512_max_ps(lane[parity ^ 1], x1);
        vmax = _mm512_max_ps(vmax, _mm512_max_ps(x0, x1));
    }
    for (; j < end; j += PANEL_ROWS) {
        __mmask16 valid = tail_mask16(end - j);
        __m512 x = _mm512_maskz_loadu_ps(valid, row + j);
        int parity = (j / PANEL_ROWS) & 1;
        vmax = _mm512_mask_max_ps(vmax, valid, vmax, x);
        lane[parity] = _mm512_mask_max_ps(lane[parity], tail_mask16(n_ranked - j), lane[parity], x);
    }
    _mm512_storeu_ps(s->lane_max, lane[0]);
    _mm512_storeu_ps(s->lane_max + PANEL_ROWS, lane[1]);

    float block_max = _mm512_reduce_max_ps(vmax);
    __m512 shift = _mm512_set1_ps(block_max), vsum = _mm512_setzero_ps();
    int whole_end = begin + (end - begin) / PANEL_ROWS * PANEL_ROWS;
    for (j = begin; j < whole_end; j += PANEL_ROWS)
        vsum = _mm512_add_ps(vsum, exp16_normaliser(_mm512_sub_ps(_mm512_loadu_ps(row + j), shift)));
    if (j < end) {
        __mmask16 valid = tail_mask16(end - j);
        __m512 e = exp16_normaliser(_mm512_sub_ps(_mm512_maskz_loadu_ps(valid, row + j), shift));
        vsum = _mm512_add_ps(vsum, _mm512_maskz_mov_ps(valid, e));
    }
    double block_sum = _mm512_reduce_add_ps(vsum);

    if (block_max <= s->max) {
        s->sum += block_sum * exp((double)block_max - s->max);
    } else {
        s->sum = s->sum * exp((double)s->max - block_max) + block_sum;
        s->max = block_max;
    }
}

/* The k-th largest of the 32 lane maxima: a lower bound of the k-th largest
 * ranked logit, because the lanes hold distinct outputs; -inf when fewer
 * than k lanes saw an output. */
static float kth_lane_max(const struct row_state *s, int k)
{
    struct top_list t = {.k = k};

    for (int j = 0; j < LANE_MAXIMA; j++)
        top_insert(&t, s->lane_max[j], j);
    return t.count == k ? t.value[k - 1] : -INFINITY;
}

VNNI_TARGET static float dot_float(const float *a, const float *b, int d)
{
    __m512 acc = _mm512_setzero_ps();
    for (int k = 0; k < d; k += 16) {
        __mmask16 valid = tail_mask16(d - k);
        acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(valid, a + k), _mm512_maskz_loadu_ps(valid, b + k), acc);
    }
    return _mm512_reduce_add_ps(acc);
}

/* Rescores row[outs[0 .. n)] in float and returns the change of the
 * exponential sum taken against max. The float weight rows are rarely in
 * cache (stage one reads the int8 copy), so all of them are prefetched
 * before the first is read: the misses overlap instead of queueing. */
VNNI_TARGET static double rescore_outputs(const struct head_quant *q, const float *h, float *row, const int *outs,
                                          int n, float max, struct top_list *best)
{
    int d = q->d;
    double change = 0.0;

    for (int i = 0; i < n; i++)
        for (int k = 0; k < d; k += 16)
            _mm_prefetch((const char *)(q->weights + (size_t)outs[i] * d + k), _MM_HINT_T0);
    for (int i = 0; i < n; i++) {
        float exact = dot_float(h, q->weights + (size_t)outs[i] * d, d) + q->bias[outs[i]];
        change += exp((double)exact - max) - exp((double)row[outs[i]] - max);
        row[outs[i]] = exact;
        top_insert(best, exact, outs[i]);
    }
    return change;
}

/* Runs stage two for one vector. Every ranked output whose int8 logit is
 * within twice the error bound of the k-th lane maximum is rescored in
 * float, and the exponential sum is corrected for it. Writes the lse and,
 * when top is not NULL, the k best indices. Returns the number rescored. */
VNNI_TARGET static long rescore_row(const struct head_quant *q, const float *h, float *row, int n_ranked, int k,
                                    const struct row_state *s, float *lse, int *top)
{
    /* |h.w - h8.w8| <= |h|_1 max|w - w8| + max|h - h8| |w8|_1, each component
     * rounded to half a scale step; the slack covers the float rounding of
     * both the int8 and the float logits. */
    float bound = 0.5f * (q->scale_max * s->l1 + s->scale * q->l1_max);
    bound += 1e-5f * (s->l1 * q->scale_max * 127.0f) + 1e-6f;
    float threshold = kth_lane_max(s, k) - 2.0f * bound;

    double sum = s->sum;
    long rescored = 0;
    int candidates[RESCORE_BATCH], n = 0;
    struct top_list best = {.k = k};
    __m512 vthreshold = _mm512_set1_ps(threshold);
    for (int j = 0; j < n_ranked; j += 4 * PANEL_ROWS) {
        /* four registers per test: a hit is rare, so the common case is one
         * branch per 64 logits */
        __mmask16 hit[4];
        for (int v = 0; v < 4; v++) {
            __mmask16 valid = tail_mask16(n_ranked - j - v * PANEL_ROWS);
            __m512 x = _mm512_maskz_loadu_ps(valid, row + j + v * PANEL_ROWS);
            hit[v] = _mm512_mask_cmp_ps_mask(valid, x, vthreshold, _CMP_GE_OQ);
        }
        if (!(hit[0] | hit[1] | hit[2] | hit[3]))
            continue;
        for (int v = 0; v < 4; v++)
            for (; hit[v]; hit[v] &= (__mmask16)(hit[v] - 1))
                candidates[n++] = j + v * PANEL_ROWS + __builtin_ctz(hit[v]);
        if (n > RESCORE_BATCH - 4 * PANEL_ROWS) {
            sum += rescore_outputs(q, h, row, candidates, n, s->max, &best);
            rescored += n;
            n = 0;
        }
    }
    sum += rescore_outputs(q, h, row, candidates, n, s->max, &best);
    rescored += n;
    *lse = s->max + (float)log(sum > DBL_MIN ? sum : DBL_MIN);
    if (top)
        top_store(&best, top);
    return rescored;
}

VNNI_TARGET static long score_top(const struct head_quant *q, const float *pooled, int rows, float *logits, float *lse,
                                  int k, int n_ranked, int *top)
{
    int d = q->d, n_out = q->n_out;
    uint8_t hq[GROUP_ROWS * MAX_WIDTH];
    struct row_state rs[GROUP_ROWS];
    long rescored = 0;

    for (int r0 = 0; r0 < rows; r0 += GROUP_ROWS) {
        int n = rows - r0 < GROUP_ROWS ? rows - r0 : GROUP_ROWS;
        const float *h = pooled + (size_t)r0 * d;
        float *out = logits + (size_t)r0 * n_out;

        for (int r = 0; r < n; r++)
            quantise_row(h + (size_t)r * d, d, hq + (size_t)r * d, &rs[r]);
        for (int first = 0; first < q->n_panels; first += BLOCK_PANELS) {
            int last = first + BLOCK_PANELS < q->n_panels ? first + BLOCK_PANELS : q->n_panels;
            switch (n) {
            case 8: score_group(q, first, last, hq, rs, 8, out); break;
            case 7: score_group(q, first, last, hq, rs, 7, out); break;
            case 6: score_group(q, first, last, hq, rs, 6, out); break;
            case 5: score_group(q, first, last, hq, rs, 5, out); break;
            case 4: score_group(q, first, last, hq, rs, 4, out); break;
            case 3: score_group(q, first, last, hq, rs, 3, out); break;
            case 2: score_group(q, first, last, hq, rs, 2, out); break;
            default: score_group(q, first, last, hq, rs, 1, out); break;
            }
            for (int r = 0; r < n; r++)
                summarise_block(out + (size_t)r * n_out, first, last, n_out, n_ranked, &rs[r]);
        }
        for (int r = 0; r < n; r++)
            rescored += rescore_row(q, h + (size_t)r * d, out + (size_t)r * n_out, n_ranked, k, &rs[r], &lse[r0 + r],
                                    top ? top + (size_t)(r0 + r) * k : NULL);
    }
    return rescored;
}
#endif

/* Runs both stages through q and returns the rescored count, or returns -1
 * when there is no q or k is outside 1 .. 32. */
static long quant_top(const struct head_quant *q, const float *pooled, int rows, float *logits, float *lse, int k,
                      int n_ranked, int *top)
{
#if defined(__x86_64__) && defined(__GNUC__)
    if (q && k >= 1 && k <= LANE_MAXIMA) {
        if (n_ranked < 0)
            n_ranked = 0;
        if (n_ranked > q->n_out)
            n_ranked = q->n_out;
        return score_top(q, pooled, rows, logits, lse, k, n_ranked, top);
    }
#else
    (void)q, (void)pooled, (void)rows, (void)logits, (void)lse, (void)k, (void)n_ranked, (void)top;
#endif
    return -1;
}

/* The float path's top list: the k best of row[0 .. n_ranked) into top,
 * skipping with a vector scan the logits below the k-th best so far. */
static void select_top(const float *row, int n_ranked, int k, int *top)
{
    struct top_list best = {.k = k < LANE_MAXIMA ? k : LANE_MAXIMA};

    if (best.k <= 0)
        return;
    for (int i = 0; i < n_ranked; i++) {
        if (best.count == best.k) {
            i += model_find_above(row + i, n_ranked - i, best.value[best.k - 1]);
            if (i >= n_ranked)
                break;
        }
        top_insert(&best, row[i], i);
    }
    top_store(&best, top);
}

/* The result of a head without outputs: lse 0 and empty top lists. */
static void store_empty(int rows, float *lse, int k, int *top)
{
    for (int r = 0; r < rows; r++)
        lse[r] = 0.0f;
    for (int i = 0; top && i < rows * k; i++)
        top[i] = -1;
}

static void select_top_rows(const float *logits, int rows, int n_out, int n_ranked, int k, int *top)
{
    if (!top)
        return;
    if (n_ranked > n_out)
        n_ranked = n_out;
    for (int r = 0; r < rows; r++)
        select_top(logits + (size_t)r * n_out, n_ranked, k, top + (size_t)r * k);
}

long model_item_logits_top(const struct model *m, const float *pooled, int rows, float *logits, float *lse, int k,
                           int n_ranked, int *top)
{
    int n_items = m->config.item_end - m->config.item_begin;

    if (rows <= 0)
        return 0;
    if (n_items <= 0) {
        store_empty(rows, lse, k, top);
        return 0;
    }
    long rescored = quant_top(m->item_quant, pooled, rows, logits, lse, k, n_ranked, top);
    if (rescored >= 0)
        return rescored;

    model_item_logits(m, pooled, rows, logits, lse);
    select_top_rows(logits, rows, n_items, n_ranked, k, top);
    return (long)rows * n_items;
}

long model_category_logits_top(const struct model *m, const float *pooled, int rows, float *logits, float *lse, int k,
                               int n_ranked, int *top)
{
    const struct model_config *c = &m->config;

    if (rows <= 0)
        return 0;
    if (c->n_categories <= 0) {
        store_empty(rows, lse, k, top);
        return 0;
    }
    long rescored = quant_top(m->category_quant, pooled, rows, logits, lse, k, n_ranked, top);
    if (rescored >= 0)
        return rescored;

    model_linear(logits, pooled, m->params.category_weight, m->params.category_bias, rows, c->n_categories,
                 c->d_model, 0);
    for (int r = 0; r < rows; r++)
        lse[r] = model_logsumexp(logits + (size_t)r * c->n_categories, c->n_categories);
    select_top_rows(logits, rows, c->n_categories, n_ranked, k, top);
    return (long)rows * c->n_categories;
}
