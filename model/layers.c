#include "layers.h"

#include <string.h>

#include "kernels.h"
#include "linear_packed.h"

size_t model_layer_workspace_bytes(const struct model_config *c, int rows, int n_new, int max_keys)
{
    size_t r = (size_t)rows;
    return model_arena_bytes(r * c->d_model) * 2 + model_arena_bytes(r * 3 * c->d_model) +
           model_arena_bytes(r * c->d_ff) + model_arena_bytes((size_t)c->n_heads * n_new * max_keys);
}

int model_layer_workspace_alloc(struct model_layer_workspace *ws, struct model_arena *arena,
                                const struct model_config *c, int rows, int n_new, int max_keys)
{
    size_t r = (size_t)rows;
    ws->in = model_arena_floats(arena, r * c->d_model);
    ws->qkv = model_arena_floats(arena, r * 3 * c->d_model);
    ws->ctx = model_arena_floats(arena, r * c->d_model);
    ws->hidden = model_arena_floats(arena, r * c->d_ff);
    ws->probs = model_arena_floats(arena, (size_t)c->n_heads * n_new * max_keys);
    return ws->in && ws->qkv && ws->ctx && ws->hidden && ws->probs ? 0 : -1;
}

/* Returns the input of a sublayer: norm(x) in ws->in for pre-norm, x itself for post-norm. */
static const float *sublayer_input(const struct model *m, float *x, int rows, const float *norm_w,
                                   const float *norm_b, const struct model_layer_workspace *ws)
{
    const struct model_config *c = &m->config;
    if (c->norm != MODEL_NORM_PRE)
        return x;
    model_norm(c, ws->in, x, norm_w, norm_b, rows);
    return ws->in;
}

/* Finishes a sublayer whose output was already added to x: post-norm normalises x. */
static void sublayer_output(const struct model *m, float *x, int rows, const float *norm_w, const float *norm_b)
{
    const struct model_config *c = &m->config;
    if (c->norm == MODEL_NORM_POST)
        model_norm(c, x, x, norm_w, norm_b, rows);
}

void model_layer_self_attention(const struct model *m, const struct model_attention_params *p,
                                const float *norm_w, const float *norm_b, float *x,
                                const struct model_layer_batch *b, const struct model_layer_workspace *ws)
{
    int d = m->config.d_model, n = b->n_new, rows = b->n_seq * b->n_new;
    const float *in = sublayer_input(m, x, rows, norm_w, norm_b, ws);

    model_layer_linear_parts(m, ws->qkv, in, p->in_proj_weight, p->in_proj_bias, rows, 3 * d, d, 3, 0);

    for (int s = 0; s < b->n_seq; s++) {
        const float *qkv = ws->qkv + (size_t)s * n * 3 * d;
        const float *kc = qkv + d, *vc = qkv + 2 * d;
        int ldkv = 3 * d;

        /* With a cache, append this step's keys and values after the cached
         * ones; without one (a full pass), attend inside the QKV rows. */
        if (b->k_cache) {
            float *kd = b->k_cache + (size_t)s * b->cache_cap * d;
            float *vd = b->v_cache + (size_t)s * b->cache_cap * d;
            for (int i = 0; i < n; i++) {
                memcpy(kd + (size_t)(b->pos + i) * d, qkv + (size_t)i * 3 * d + d, (size_t)d * sizeof(float));
                memcpy(vd + (size_t)(b->pos + i) * d, qkv + (size_t)i * 3 * d + 2 * d, (size_t)d * sizeof(float));
            }
            kc = kd;
            vc = vd;
            ldkv = d;
        }

        struct model_attention_args args = {
            .tq = n,
            .tk = b->pos + n,
            .n_heads = m->config.n_heads,
            .d_head = d / m->config.n_heads,
            .key_len = b->key_lengths ? b->key_lengths[s] : b->pos + n,
            .causal = b->causal,
            .q_pos = b->pos,
        };
        model_attention(&args, qkv, 3 * d, kc, vc, ldkv, ws->ctx + (size_t)s * n * d, d, ws->probs);
    }

    model_layer_linear(m, x, ws->ctx, p->out_proj_weight, p->out_proj_bias, rows, d, d, 1);
    sublayer_output(m, x, rows, norm_w, norm_b);
}

void model_layer_cross_attention(const struct model *m, const struct model_attention_params *p,
                                 const float *norm_w, const float *norm_b, float *x,
                                 const struct model_layer_batch *b, const struct model_layer_workspace *ws)
{
    int d = m->config.d_model, n = b->n_new, rows = b->n_seq * b->n_new;
    const float *in = sublayer_input(m, x, rows, norm_w, norm_b, ws);

    /* Only the query slice of in_proj: keys and values come from the memory projection. */
    model_layer_linear(m, ws->qkv, in, p->in_proj_weight, p->in_proj_bias, rows, d, d, 0);

    for (int s = 0; s < b->n_seq; s++) {
        size_t mem_offset = b->mem_shared ? 0 : (size_t)s * b->mem_cap * d;
        int mem_len = b->mem_lengths[s];
        struct model_attention_args args = {
            .tq = n,
            .tk = mem_len,
            .n_heads = m->config.n_heads,
            .d_head = d / m->config.n_heads,
            .key_len = mem_len,
            .causal = 0,
            .q_pos = 0,
        };
        model_attention(&args, ws->qkv + (size_t)s * n * d, d, b->mem_k + mem_offset, b->mem_v + mem_offset, d,
                        ws->ctx + (size_t)s * n * d, d, ws->probs);
    }

    model_layer_linear(m, x, ws->ctx, p->out_proj_weight, p->out_proj_bias, rows, d, d, 1);
    sublayer_output(m, x, rows, norm_w, norm_b);
}

void model_layer_feed_forward(const struct model *m, const float *w1, const float *b1, const float *w2,
                              const float *b2, const float *norm_w, const float *norm_b, float *x, int rows,
                              const struct model_layer_workspace *ws)
{
    const struct model_config *c = &m->config;
    const float *in = sublayer_input(m, x, rows, norm_w, norm_b, ws);

    model_layer_linear(m, ws->hidden, in, w1, NULL, rows, c->d_ff, c->d_model, 0);
    if (c->activation == MODEL_ACT_GELU)
        model_add_bias_gelu(ws->hidden, b1, rows, c->d_ff);
    else
        model_add_bias_relu(ws->hidden, b1, rows, c->d_ff);
    model_layer_linear(m, x, ws->hidden, w2, b2, rows, c->d_model, c->d_ff, 1);
    sublayer_output(m, x, rows, norm_w, norm_b);
}

void model_layer_project_memory(const struct model *m, const struct model_attention_params *p,
                                const float *memory, int rows, float *k, float *v)
{
    int d = m->config.d_model;
    model_layer_linear(m, k, memory, p->in_proj_weight + (size_t)d * d, p->in_proj_bias + d, rows, d, d, 0);
    model_layer_linear(m, v, memory, p->in_proj_weight + (size_t)2 * d * d, p->in_proj_bias + 2 * d, rows, d, d, 0);
}

void model_layer_encoder(const struct model *m, int l, float *x, const struct model_layer_batch *b,
                         const struct model_layer_workspace *ws)
{
    const struct model_encoder_layer_params *e = &m->params.encoder[l];
    int rows = b->n_seq * b->n_new;

    model_layer_self_attention(m, &e->self_attn, e->norm1_weight, e->norm1_bias, x, b, ws);
    model_layer_feed_forward(m, e->linear1_weight, e->linear1_bias, e->linear2_weight, e->linear2_bias,
                             e->norm2_weight, e->norm2_bias, x, rows, ws);
}

void model_layer_decoder(const struct model *m, int l, float *x, const struct model_layer_batch *b,
                         const struct model_layer_workspace *ws)
{
    const struct model_decoder_layer_params *e = &m->params.decoder[l];
    int rows = b->n_seq * b->n_new;

    model_layer_self_attention(m, &e->self_attn, e->norm1_weight, e->norm1_bias, x, b, ws);
    model_layer_cross_attention(m, &e->cross_attn, e->norm2_weight, e->norm2_bias, x, b, ws);
    model_layer_feed_forward(m, e->linear1_weight, e->linear1_bias, e->linear2_weight, e->linear2_bias,
                             e->norm3_weight, e->norm3_bias, x, rows, ws);
}
