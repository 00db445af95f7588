#include "model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "head_quant.h"
#include "kernels.h"
#include "linear_packed.h"

int model_create(struct model *m, const struct model_config *c, unsigned long long seed, char *error)
{
    memset(m, 0, sizeof *m);
    if (model_params_alloc(&m->params, c, error) != 0)
        return -1;
    m->config = *c;
    model_params_init(&m->params, c, seed);
    if (model_prepare(m, error) != 0) {
        model_free(m);
        return -1;
    }
    return 0;
}

int model_prepare(struct model *m, char *error)
{
    int rows = m->config.max_len, d = m->config.d_model;

    free(m->positional);
    m->positional = model_alloc_floats((size_t)rows * d);
    if (!m->positional) {
        m->positional_rows = 0;
        snprintf(error, MODEL_ERROR_SIZE, "out of memory for a %d x %d positional-encoding table", rows, d);
        return -1;
    }
    for (int pos = 0; pos < rows; pos++)
        model_positional_row(&m->config, pos, m->positional + (size_t)pos * d);
    m->positional_rows = rows;
    return 0;
}

void model_free(struct model *m)
{
    model_params_free(&m->params);
    if (m->mapping)
        munmap(m->mapping, m->mapping_size);
    m->mapping = NULL;
    m->mapping_size = 0;
    free(m->positional);
    m->positional = NULL;
    m->positional_rows = 0;
    free(m->item_panels);
    m->item_panels = NULL;
    model_head_quant_free(m->item_quant);
    model_head_quant_free(m->category_quant);
    m->item_quant = NULL;
    m->category_quant = NULL;
    model_linears_free(m);
}

void model_positional_encoding(int pos, int d, float *out)
{
    /* Double precision: at pos in the thousands a float angle loses the
     * digits that sin and cos need. */
    for (int i = 0; i < d; i += 2) {
        double angle = (double)pos * exp(-(double)i * log(10000.0) / (double)d);
        out[i] = (float)sin(angle);
        if (i + 1 < d)
            out[i + 1] = (float)cos(angle);
    }
}

void model_positional_row(const struct model_config *c, int pos, float *out)
{
    int w = c->d_model / c->towers;

    for (int g = 0; g < c->towers; g++)
        model_positional_encoding(pos, w, out + (size_t)g * w);
}

void model_norm(const struct model_config *c, float *y, const float *x, const float *gamma, const float *beta,
                int rows)
{
    int d = c->d_model, w = d / c->towers;

    if (c->towers == 1) {
        model_layernorm(y, x, gamma, beta, rows, d, c->layer_norm_eps, NULL, NULL);
        return;
    }
    for (int r = 0; r < rows; r++) {
        size_t row = (size_t)r * d;
        for (int g = 0; g < c->towers; g++)
            model_layernorm(y + row + (size_t)g * w, x + row + (size_t)g * w, gamma + (size_t)g * w,
                            beta + (size_t)g * w, 1, w, c->layer_norm_eps, NULL, NULL);
    }
}

void model_embed(const struct model *m, const int *tokens, int n, int pos, float *out)
{
    int d = m->config.d_model;
    float scale = sqrtf((float)(d / m->config.towers));

    for (int t = 0; t < n; t++) {
        const float *e = m->params.embedding + (size_t)tokens[t] * d;
        float *row = out + (size_t)t * d;

        if (pos + t < m->positional_rows)
            memcpy(row, m->positional + (size_t)(pos + t) * d, (size_t)d * sizeof(float));
        else
            model_positional_row(&m->config, pos + t, row);
#pragma omp simd
        for (int i = 0; i < d; i++)
            row[i] += e[i] * scale;
    }
}

int model_check_tokens(const struct model *m, const int *tokens, int n, char *error)
{
    for (int i = 0; i < n; i++) {
        if (tokens[i] < 0 || tokens[i] >= m->config.vocab_size) {
            snprintf(error, MODEL_ERROR_SIZE, "invalid token id %d at index %d: expected 0 to %d (vocab_size - 1)",
                     tokens[i], i, m->config.vocab_size - 1);
            return -1;
        }
    }
    return 0;
}
