#include "item_scorer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "kernels.h"
#include "kernels_avx512.h"

enum {
    PANEL_ITEMS = 16,             /* one AVX-512 register of float scores */
    GROUP_ROWS = 8,               /* rows scored together: each panel load feeds one FMA per row */
    BLOCK_BYTES = 256 * 1024,     /* panels scored by every row group before the next block: fits in L2 */
};

static int item_count(const struct model *m)
{
    return m->config.item_end - m->config.item_begin;
}

static int panel_count(const struct model *m)
{
    return (item_count(m) + PANEL_ITEMS - 1) / PANEL_ITEMS;
}

static int has_avx512(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
    return __builtin_cpu_supports("avx512f");
#else
    return 0;
#endif
}

int model_item_panels_build(struct model *m, char *error)
{
    int n_items = item_count(m), d = m->config.d_model, n_panels = panel_count(m);
    const float *embedding = m->params.embedding + (size_t)m->config.item_begin * d;

    free(m->item_panels);
    m->item_panels = NULL;
    if (n_items <= 0 || !has_avx512())
        return 0;

    /* panels[p][k][lane] = embedding[p * 16 + lane][k]; lanes past the last item stay 0. */
    float *panels = model_alloc_floats((size_t)n_panels * d * PANEL_ITEMS);
    if (!panels) {
        snprintf(error, MODEL_ERROR_SIZE, "out of memory packing %d item embeddings of %d floats", n_items, d);
        return -1;
    }
    for (int item = 0; item < n_items; item++) {
        float *panel = panels + (size_t)(item / PANEL_ITEMS) * d * PANEL_ITEMS;
        for (int k = 0; k < d; k++)
            panel[(size_t)k * PANEL_ITEMS + item % PANEL_ITEMS] = embedding[(size_t)item * d + k];
    }
    m->item_panels = panels;
    return 0;
}

/* Running log-sum-exp of one row, merged block by block. */
struct row_sum {
    float max; /* -inf until the first block */
    float sum; /* sum of exp(logit - max) so far */
};

static void merge_block(struct row_sum *s, float block_max, float block_sum)
{
    if (block_max <= s->max) {
        s->sum += block_sum * expf(block_max - s->max);
        return;
    }
    s->sum = s->sum * expf(s->max - block_max) + block_sum;
    s->max = block_max;
}

#if defined(__x86_64__) && defined(__GNUC__)
/* Scores panels [first, last) for rows pooled[0 .. rows-1] into logits (row
 * stride n_items) and merges each row's block maximum and exponential sum
 * into sums. rows is a constant at every call site, so the accumulator
 * loops unroll into registers. */
__attribute__((target("avx512f"), always_inline)) static inline void
score_group(const float *panels, int d, int n_items, int first, int last, const float *pooled, int rows, float *logits,
            struct row_sum *sums)
{
    __m512 block_max[GROUP_ROWS];
    for (int r = 0; r < rows; r++)
        block_max[r] = _mm512_set1_ps(-INFINITY);

    /* Two panels at a time: each broadcast of a pooled value then feeds two
     * FMAs, which keeps the loads below the FMA rate. */
    int p = first;
    for (; p + 1 < last; p += 2) {
        const float *panel = panels + (size_t)p * d * PANEL_ITEMS;
        __m512 acc0[GROUP_ROWS], acc1[GROUP_ROWS];
        for (int r = 0; r < rows; r++) {
            acc0[r] = _mm512_setzero_ps();
            acc1[r] = _mm512_setzero_ps();
        }

        for (int k = 0; k < d; k++) {
            __m512 e0 = _mm512_load_ps(panel + (size_t)k * PANEL_ITEMS);
            __m512 e1 = _mm512_load_ps(panel + (size_t)(d + k) * PANEL_ITEMS);
            for (int r = 0; r < rows; r++) {
                __m512 h = _mm512_set1_ps(pooled[(size_t)r * d + k]);
                acc0[r] = _mm512_fmadd_ps(h, e0, acc0[r]);
                acc1[r] = _mm512_fmadd_ps(h, e1, acc1[r]);
            }
        }

        __mmask16 valid = tail_mask16(n_items - (p + 1) * PANEL_ITEMS);
        for (int r = 0; r < rows; r++) {
            float *out = logits + (size_t)r * n_items + (size_t)p * PANEL_ITEMS;
            _mm512_storeu_ps(out, acc0[r]); /* p + 1 exists, so panel p is full */
            _mm512_mask_storeu_ps(out + PANEL_ITEMS, valid, acc1[r]);
            block_max[r] = _mm512_max_ps(block_max[r], acc0[r]);
            block_max[r] = _mm512_mask_max_ps(block_max[r], valid, block_max[r], acc1[r]);
        }
    }

    for (; p < last; p++) {
        const float *panel = panels + (size_t)p * d * PANEL_ITEMS;
        __m512 acc[GROUP_ROWS];
        for (int r = 0; r < rows; r++)
            acc[r] = _mm512_setzero_ps();

        for (int k = 0; k < d; k++) {
            __m512 e = _mm512_load_ps(panel + (size_t)k * PANEL_ITEMS);
            for (int r = 0; r < rows; r++)
                acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(pooled[(size_t)r * d + k]), e, acc[r]);
        }

        __mmask16 valid = tail_mask16(n_items - p * PANEL_ITEMS);
        for (int r = 0; r < rows; r++) {
            _mm512_mask_storeu_ps(logits + (size_t)r * n_items + (size_t)p * PANEL_ITEMS, valid, acc[r]);
            block_max[r] = _mm512_mask_max_ps(block_max[r], valid, block_max[r], acc[r]);
        }
    }

    /* The block's scores are still in L1 or L2: exponentiate them now. */
    int begin = first * PANEL_ITEMS, end = last * PANEL_ITEMS < n_items ? last * PANEL_ITEMS : n_items;
    for (int r = 0; r < rows; r++) {
        const float *row = logits + (size_t)r * n_items;
        float max = _mm512_reduce_max_ps(block_max[r]);
        __m512 vmax = _mm512_set1_ps(max), vsum = _mm512_setzero_ps();

        for (int j = begin; j < end; j += PANEL_ITEMS) {
            __mmask16 valid = tail_mask16(end - j);
            __m512 e = exp16_nonpositive(_mm512_sub_ps(_mm512_maskz_loadu_ps(valid, row + j), vmax));
            vsum = _mm512_add_ps(vsum, _mm512_maskz_mov_ps(valid, e));
        }
        merge_block(&sums[r], max, _mm512_reduce_add_ps(vsum));
    }
}

__attribute__((target("avx512f"))) static void score_rows(const float *panels, int d, int n_items, int n_panels,
                                                          const float *pooled, int rows, float *logits, float *lse)
{
    int block = BLOCK_BYTES / (d * PANEL_ITEMS * (int)sizeof(float));
    struct row_sum sums[GROUP_ROWS];

    block = block > 0 ? block : 1;
    for (int r0 = 0; r0 < rows; r0 += GROUP_ROWS) {
        int n = rows - r0 < GROUP_ROWS ? rows - r0 : GROUP_ROWS;
        const float *h = pooled + (size_t)r0 * d;
        float *out = logits + (size_t)r0 * n_items;

        for (int r = 0; r < n; r++)
            sums[r] = (struct row_sum){.max = -INFINITY, .sum = 0.0f};
        for (int first = 0; first < n_panels; first += block) {
            int last = first + block < n_panels ? first + block : n_panels;
            switch (n) {
            case 8: score_group(panels, d, n_items, first, last, h, 8, out, sums); break;
            case 7: score_group(panels, d, n_items, first, last, h, 7, out, sums); break;
            case 6: score_group(panels, d, n_items, first, last, h, 6, out, sums); break;
            case 5: score_group(panels, d, n_items, first, last, h, 5, out, sums); break;
            case 4: score_group(panels, d, n_items, first, last, h, 4, out, sums); break;
            case 3: score_group(panels, d, n_items, first, last, h, 3, out, sums); break;
            case 2: score_group(panels, d, n_items, first, last, h, 2, out, sums); break;
            default: score_group(panels, d, n_items, first, last, h, 1, out, sums); break;
            }
        }
        for (int r = 0; r < n; r++)
            lse[r0 + r] = sums[r].max + logf(sums[r].sum);
    }
}
#endif

void model_item_logits(const struct model *m, const float *pooled, int rows, float *logits, float *lse)
{
    int n_items = item_count(m), d = m->config.d_model;

    if (rows <= 0 || n_items <= 0)
        return;
#if defined(__x86_64__) && defined(__GNUC__)
    if (m->item_panels) {
        score_rows(m->item_panels, d, n_items, panel_count(m), pooled, rows, logits, lse);
        return;
    }
#endif
    model_sgemm(0, 1, rows, n_items, d, 1.0f, pooled, d, m->params.embedding + (size_t)m->config.item_begin * d, d,
                0.0f, logits, n_items);
    for (int r = 0; r < rows; r++)
        lse[r] = model_logsumexp(logits + (size_t)r * n_items, n_items);
}
