#include "model_params.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Every tensor starts on a 64-byte boundary, so SIMD loads on any row-0
 * pointer are aligned. */
#define TENSOR_ALIGN_FLOATS 16

float *model_alloc_floats(size_t count)
{
    size_t bytes = count * sizeof(float);
    bytes = (bytes + 63) & ~(size_t)63;
    if (bytes == 0)
        bytes = 64;

    float *p = aligned_alloc(64, bytes);
    if (p)
        memset(p, 0, bytes);
    return p;
}

static void add_tensor(struct model_params *p, float **slot, const char *name, int rows, int cols)
{
    struct model_tensor_info *t = &p->tensors[p->n_tensors++];

    snprintf(t->name, sizeof t->name, "%s", name);
    t->ndim = cols > 0 ? 2 : 1;
    t->shape[0] = rows;
    t->shape[1] = cols > 0 ? cols : 1;
    t->count = (size_t)rows * (size_t)(cols > 0 ? cols : 1);
    t->offset = p->count;
    t->slot = (size_t)((char *)slot - (char *)p);
    p->count += (t->count + TENSOR_ALIGN_FLOATS - 1) / TENSOR_ALIGN_FLOATS * TENSOR_ALIGN_FLOATS;
}

static void add_attention(struct model_params *p, struct model_attention_params *a, const char *prefix, int d)
{
    char name[MODEL_TENSOR_NAME_SIZE];

    snprintf(name, sizeof name, "%s.in_proj_weight", prefix);
    add_tensor(p, &a->in_proj_weight, name, 3 * d, d);
    snprintf(name, sizeof name, "%s.in_proj_bias", prefix);
    add_tensor(p, &a->in_proj_bias, name, 3 * d, 0);
    snprintf(name, sizeof name, "%s.out_proj.weight", prefix);
    add_tensor(p, &a->out_proj_weight, name, d, d);
    snprintf(name, sizeof name, "%s.out_proj.bias", prefix);
    add_tensor(p, &a->out_proj_bias, name, d, 0);
}

static void add_linear(struct model_params *p, float **w, float **b, const char *prefix, int out, int in)
{
    char name[MODEL_TENSOR_NAME_SIZE];

    snprintf(name, sizeof name, "%s.weight", prefix);
    add_tensor(p, w, name, out, in);
    snprintf(name, sizeof name, "%s.bias", prefix);
    add_tensor(p, b, name, out, 0);
}

static void add_norm(struct model_params *p, float **w, float **b, const char *prefix, int d)
{
    char name[MODEL_TENSOR_NAME_SIZE];

    snprintf(name, sizeof name, "%s.weight", prefix);
    add_tensor(p, w, name, d, 0);
    snprintf(name, sizeof name, "%s.bias", prefix);
    add_tensor(p, b, name, d, 0);
}

static void layout_encoder(struct model_params *p, const struct model_config *c)
{
    char prefix[MODEL_TENSOR_NAME_SIZE];
    int d = c->d_model;

    for (int l = 0; l < c->n_encoder_layers; l++) {
        struct model_encoder_layer_params *e = &p->encoder[l];

        snprintf(prefix, sizeof prefix, "encoder.layers.%d.self_attn", l);
        add_attention(p, &e->self_attn, prefix, d);
        snprintf(prefix, sizeof prefix, "encoder.layers.%d.linear1", l);
        add_linear(p, &e->linear1_weight, &e->linear1_bias, prefix, c->d_ff, d);
        snprintf(prefix, sizeof prefix, "encoder.layers.%d.linear2", l);
        add_linear(p, &e->linear2_weight, &e->linear2_bias, prefix, d, c->d_ff);
        snprintf(prefix, sizeof prefix, "encoder.layers.%d.norm1", l);
        add_norm(p, &e->norm1_weight, &e->norm1_bias, prefix, d);
        snprintf(prefix, sizeof prefix, "encoder.layers.%d.norm2", l);
        add_norm(p, &e->norm2_weight, &e->norm2_bias, prefix, d);
    }
    add_norm(p, &p->encoder_norm_weight, &p->encoder_norm_bias, "encoder.norm", d);
}

static void layout_decoder(struct model_params *p, const struct model_config *c)
{
    char prefix[MODEL_TENSOR_NAME_SIZE];
    int d = c->d_model;

    for (int l = 0; l < c->n_decoder_layers; l++) {
        struct model_decoder_layer_params *e = &p->decoder[l];

        snprintf(prefix, sizeof prefix, "decoder.layers.%d.self_attn", l);
        add_attention(p, &e->self_attn, prefix, d);
        snprintf(prefix, sizeof prefix, "decoder.layers.%d.multihead_attn", l);
        add_attention(p, &e->cross_attn, prefix, d);
        snprintf(prefix, sizeof prefix, "decoder.layers.%d.linear1", l);
        add_linear(p, &e->linear1_weight, &e->linear1_bias, prefix, c->d_ff, d);
        snprintf(prefix, sizeof prefix, "decoder.layers.%d.linear2", l);
        add_linear(p, &e->linear2_weight, &e->linear2_bias, prefix, d, c->d_ff);
        snprintf(prefix, sizeof prefix, "decoder.layers.%d.norm1", l);
        add_norm(p, &e->norm1_weight, &e->norm1_bias, prefix, d);
        snprintf(prefix, sizeof prefix, "decoder.layers.%d.norm2", l);
        add_norm(p, &e->norm2_weight, &e->norm2_bias, prefix, d);
        snprintf(prefix, sizeof prefix, "decoder.layers.%d.norm3", l);
        add_norm(p, &e->norm3_weight, &e->norm3_bias, prefix, d);
    }
    if (c->n_decoder_layers > 0)
        add_norm(p, &p->decoder_norm_weight, &p->decoder_norm_bias, "decoder.norm", d);
}

static void layout_heads(struct model_params *p, const struct model_config *c)
{
    int d = c->d_model;

    if (c->n_decoder_layers > 0) {
        if (!c->tie_output)
            add_tensor(p, &p->generator_weight, "generator.weight", c->vocab_size, d);
        add_tensor(p, &p->generator_bias, "generator.bias", c->vocab_size, 0);
    }
    if (c->n_actions > 0)
        add_linear(p, &p->action_weight, &p->action_bias, "heads.action", c->n_actions, d);
    if (c->n_categories > 0)
        add_linear(p, &p->category_weight, &p->category_bias, "heads.category", c->n_categories, d);
    if (c->n_sentiments > 0)
        add_linear(p, &p->sentiment_weight, &p->sentiment_bias, "heads.sentiment", c->n_sentiments, d);
    add_linear(p, &p->propensity_weight, &p->propensity_bias, "heads.propensity", 1, d);
}

void model_params_layout(struct model_params *p, const struct model_config *c)
{
    memset(p, 0, sizeof *p);

    add_tensor(p, &p->embedding, "embedding.weight", c->vocab_size, c->d_model);
    layout_encoder(p, c);
    layout_decoder(p, c);
    layout_heads(p, c);
}

void model_params_bind(struct model_params *p, float *data)
{
    p->data = data;
    for (int i = 0; i < p->n_tensors; i++) {
        const struct model_tensor_info *t = &p->tensors[i];
        float **slot = (float **)((char *)p + t->slot);
        *slot = data + t->offset;
    }
    if (p->generator_weight == NULL)
        p->generator_weight = p->embedding; /* tied output projection */
}

int model_params_alloc(struct model_params *p, const struct model_config *c, char *error)
{
    if (model_config_validate(c, error) != 0)
        return -1;

    model_params_layout(p, c);
    float *data = model_alloc_floats(p->count);
    if (!data) {
        snprintf(error, MODEL_ERROR_SIZE, "out of memory allocating %zu parameters (%zu bytes)", p->count,
                 p->count * sizeof(float));
        return -1;
    }
    model_params_bind(p, data);
    p->owns_data = 1;
    return 0;
}

void model_params_free(struct model_params *p)
{
    if (p->owns_data)
        free(p->data);
    p->data = NULL;
    p->owns_data = 0;
}

const struct model_tensor_info *model_params_find(const struct model_params *p, const char *name)
{
    for (int i = 0; i < p->n_tensors; i++) {
        if (strcmp(p->tensors[i].name, name) == 0)
            return &p->tensors[i];
    }
    return NULL;
}

/* splitmix64: a small, well-mixed generator so that initialisation is
 * reproducible across platforms without depending on rand(). */
static uint64_t next_random(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static float uniform(uint64_t *state, float bound)
{
    double u = (double)(next_random(state) >> 11) / 9007199254740992.0; /* [0, 1) */
    return (float)((2.0 * u - 1.0) * bound);
}

static float normal(uint64_t *state)
{
    double u1 = ((double)(next_random(state) >> 11) + 1.0) / 9007199254740993.0;
    double u2 = (double)(next_random(state) >> 11) / 9007199254740992.0;
    return (float)(sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2));
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static int is_norm(const char *name)
{
    return strstr(name, ".norm") != NULL || strncmp(name, "encoder.norm", 12) == 0 ||
           strncmp(name, "decoder.norm", 12) == 0;
}

void model_params_init(struct model_params *p, const struct model_config *c, unsigned long long seed)
{
    uint64_t state = seed;

    for (int i = 0; i < p->n_tensors; i++) {
        const struct model_tensor_info *t = &p->tensors[i];
        float *w = p->data + t->offset;

        if (strcmp(t->name, "embedding.weight") == 0) {
            float scale = 1.0f / sqrtf((float)c->d_model);
            for (size_t j = 0; j < t->count; j++)
                w[j] = normal(&state) * scale;
        } else if (is_norm(t->name)) {
            float value = ends_with(t->name, ".weight") ? 1.0f : 0.0f;
            for (size_t j = 0; j < t->count; j++)
                w[j] = value;
        } else if (ends_with(t->name, "in_proj_weight")) {
            float bound = sqrtf(6.0f / (float)(t->shape[0] + t->shape[1]));
            for (size_t j = 0; j < t->count; j++)
                w[j] = uniform(&state, bound);
        } else if (ends_with(t->name, "in_proj_bias") || ends_with(t->name, "out_proj.bias")) {
            memset(w, 0, t->count * sizeof(float));
        } else if (t->ndim == 2) {
            float bound = 1.0f / sqrtf((float)t->shape[1]);
            for (size_t j = 0; j < t->count; j++)
                w[j] = uniform(&state, bound);
        } else {
            /* A Linear bias: PyTorch draws it from the same range as its weight,
             * whose in-features is d_model for every head here except linear2. */
            int fan_in = strstr(t->name, "linear2") ? c->d_ff : c->d_model;
            float bound = 1.0f / sqrtf((float)fan_in);
            for (size_t j = 0; j < t->count; j++)
                w[j] = uniform(&state, bound);
        }
    }
}
