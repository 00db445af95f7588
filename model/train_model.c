#include "train_model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train_layers.h"
#include "train_loss.h"
#include "train_objective.h"
#include "train_sublayer.h"

static int max_int(int a, int b)
{
    return a > b ? a : b;
}

static int alloc_layers(struct train_model *m)
{
    const struct model_config *c = &m->config;
    int B = m->max_B, T = m->max_T, Td = m->max_T_dec, d = c->d_model, H = c->n_heads, ff = c->d_ff;

    for (int l = 0; l < c->n_encoder_layers; l++) {
        struct train_sublayer_acts *s = m->enc[l].sub;
        if (train_sublayer_alloc(&s[0], B * T, d, ff, 1, B, T, T, H) != 0 ||
            train_sublayer_alloc(&s[1], B * T, d, ff, 0, B, T, T, H) != 0)
            return -1;
    }
    for (int l = 0; l < c->n_decoder_layers; l++) {
        struct train_sublayer_acts *s = m->dec[l].sub;
        if (train_sublayer_alloc(&s[0], B * Td, d, ff, 1, B, Td, Td, H) != 0 ||
            train_sublayer_alloc(&s[1], B * Td, d, ff, 1, B, Td, T, H) != 0 ||
            train_sublayer_alloc(&s[2], B * Td, d, ff, 0, B, Td, T, H) != 0)
            return -1;
    }
    return 0;
}

static int alloc_buffers(struct train_model *m)
{
    const struct model_config *c = &m->config;
    size_t d = (size_t)c->d_model, B = (size_t)m->max_B, T = (size_t)m->max_T, Td = (size_t)m->max_T_dec;
    size_t rows = B * (size_t)max_int(m->max_T, m->max_T_dec);
    int classes = max_int(max_int(c->vocab_size, c->n_actions), max_int(c->n_categories, c->n_sentiments));

    m->enc_in = model_alloc_floats(B * T * d);
    m->enc_in_mask = model_alloc_floats(B * T * d);
    m->enc_out = model_alloc_floats(B * T * d);
    m->enc_mean = model_alloc_floats(B * T);
    m->enc_rstd = model_alloc_floats(B * T);
    m->dec_in = model_alloc_floats(B * Td * d);
    m->dec_in_mask = model_alloc_floats(B * Td * d);
    m->dec_out = model_alloc_floats(B * Td * d);
    m->dec_mean = model_alloc_floats(B * Td);
    m->dec_rstd = model_alloc_floats(B * Td);
    m->d_enc_out = model_alloc_floats(B * T * d);
    m->d_dec_out = model_alloc_floats(B * Td * d);
    m->d_memory = model_alloc_floats(B * T * d);
    m->d_cur = model_alloc_floats(rows * d);
    m->d_prev = model_alloc_floats(rows * d);
    m->s_a = model_alloc_floats(rows * d);
    m->s_b = model_alloc_floats(rows * d);
    m->s_c = model_alloc_floats(rows * d);
    m->s_h1 = model_alloc_floats(rows * (size_t)c->d_ff);
    m->s_h2 = model_alloc_floats(rows * (size_t)c->d_ff);
    m->pooled = model_alloc_floats(B * d);
    m->d_pooled = model_alloc_floats(B * d);
    m->rows = model_alloc_floats(rows * d);
    m->d_rows = model_alloc_floats(rows * d);
    m->row_index = calloc(rows, sizeof(int));
    m->row_target = calloc(rows, sizeof(int));
    m->logits = model_alloc_floats((size_t)m->loss_threads * TRAIN_LOSS_CHUNK * (size_t)classes);

    float *all[] = {m->enc_in, m->enc_in_mask, m->enc_out, m->enc_mean, m->enc_rstd, m->dec_in, m->dec_in_mask,
                    m->dec_out, m->dec_mean, m->dec_rstd, m->d_enc_out, m->d_dec_out, m->d_memory, m->d_cur,
                    m->d_prev, m->s_a, m->s_b, m->s_c, m->s_h1, m->s_h2, m->pooled, m->d_pooled, m->rows,
                    m->d_rows, m->logits};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (!all[i])
            return -1;
    return m->row_index && m->row_target ? 0 : -1;
}

int train_model_create(struct train_model *m, const struct model_config *config, int max_B, int max_T,
                       int max_T_dec, unsigned long long seed, char *error)
{
    memset(m, 0, sizeof *m);
    m->config = *config;
    m->max_B = max_B;
    m->max_T = max_T;
    m->max_T_dec = config->n_decoder_layers > 0 ? max_T_dec : 0;
    m->loss_threads = 1;
    m->rng = seed ^ 0x5DEECE66DULL;

    /* The backward pass has no tower split: a model of towers is packed
     * from members trained alone (model_towers.h). */
    if (config->towers != 1) {
        snprintf(error, MODEL_ERROR_SIZE,
                 "cannot train a model of %d towers: train each member with towers 1 and pack them with "
                 "model_towers_pack",
                 config->towers);
        return -1;
    }
    if (max_B < 1 || max_T < 1 || (config->n_decoder_layers > 0 && max_T_dec < 1)) {
        snprintf(error, MODEL_ERROR_SIZE,
                 "invalid training batch shape: max_B %d, max_T %d, max_T_dec %d; expected positive sizes", max_B,
                 max_T, max_T_dec);
        return -1;
    }
    if (model_params_alloc(&m->params, config, error) != 0)
        return -1;
    model_params_init(&m->params, config, seed);
    if (model_params_alloc(&m->grads, config, error) != 0) {
        train_model_free(m);
        return -1;
    }
    if (alloc_layers(m) != 0 || alloc_buffers(m) != 0) {
        snprintf(error, MODEL_ERROR_SIZE, "out of memory allocating training activations for batch %d x %d", max_B,
                 max_T);
        train_model_free(m);
        return -1;
    }
    return 0;
}

static void free_item_loss_buffers(struct train_model *m)
{
    free(m->negative_items);
    free(m->negative_rows);
    free(m->negative_grads);
    free(m->negative_logits);
    free(m->target_logits);
    free(m->negative_logq);
    m->negative_items = NULL;
    m->negative_rows = m->negative_grads = m->negative_logits = m->target_logits = m->negative_logq = NULL;
}

void train_model_free(struct train_model *m)
{
    for (int l = 0; l < MODEL_MAX_LAYERS; l++) {
        for (int i = 0; i < 3; i++) {
            train_sublayer_free(&m->enc[l].sub[i]);
            train_sublayer_free(&m->dec[l].sub[i]);
        }
    }
    float *all[] = {m->enc_in, m->enc_in_mask, m->enc_out, m->enc_mean, m->enc_rstd, m->dec_in, m->dec_in_mask,
                    m->dec_out, m->dec_mean, m->dec_rstd, m->d_enc_out, m->d_dec_out, m->d_memory, m->d_cur,
                    m->d_prev, m->s_a, m->s_b, m->s_c, m->s_h1, m->s_h2, m->pooled, m->d_pooled, m->rows,
                    m->d_rows, m->logits};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        free(all[i]);
    free(m->row_index);
    free(m->row_target);
    free_item_loss_buffers(m);
    model_params_free(&m->params);
    model_params_free(&m->grads);
    memset(m, 0, sizeof *m);
}

void train_model_view(const struct train_model *m, struct model *view)
{
    memset(view, 0, sizeof *view);
    view->config = m->config;
    view->params = m->params;
    view->params.owns_data = 0;
}

int train_model_set_loss_threads(struct train_model *m, int threads)
{
    const struct model_config *c = &m->config;
    int classes = max_int(max_int(c->vocab_size, c->n_actions), max_int(c->n_categories, c->n_sentiments));

    if (threads < 1)
        threads = 1;
    float *logits = model_alloc_floats((size_t)threads * TRAIN_LOSS_CHUNK * (size_t)classes);
    if (!logits)
        return -1;
    free(m->logits);
    m->logits = logits;
    m->loss_threads = threads;
    return 0;
}

int train_model_set_item_loss(struct train_model *m, enum train_item_loss loss, int negatives, char *error)
{
    size_t d = (size_t)m->config.d_model, rows = (size_t)m->max_B * m->max_T;

    if (loss == TRAIN_ITEM_LOSS_FULL) {
        free_item_loss_buffers(m);
        m->item_loss = loss;
        m->item_negatives = 0;
        return 0;
    }
    if ((loss != TRAIN_ITEM_LOSS_SAMPLED && loss != TRAIN_ITEM_LOSS_BCE) || negatives < 1 ||
        negatives > MODEL_MAX_WIDTH) {
        snprintf(error, MODEL_ERROR_SIZE,
                 "invalid item loss %d with %d negatives: expected a sampled loss and 1 to %d negatives", (int)loss,
                 negatives, MODEL_MAX_WIDTH);
        return -1;
    }

    free_item_loss_buffers(m);
    m->negative_items = calloc((size_t)negatives, sizeof(int));
    m->negative_rows = model_alloc_floats((size_t)negatives * d);
    m->negative_grads = model_alloc_floats((size_t)negatives * d);
    m->negative_logits = model_alloc_floats(rows * (size_t)negatives);
    m->target_logits = model_alloc_floats(rows);
    m->negative_logq = model_alloc_floats((size_t)negatives);
    if (!m->negative_items || !m->negative_rows || !m->negative_grads || !m->negative_logits || !m->target_logits ||
        !m->negative_logq) {
        free_item_loss_buffers(m);
        m->item_loss = TRAIN_ITEM_LOSS_FULL;
        m->item_negatives = 0;
        snprintf(error, MODEL_ERROR_SIZE, "out of memory for %d negatives over %zu positions", negatives, rows);
        return -1;
    }
    m->item_loss = loss;
    m->item_negatives = negatives;
    return 0;
}

void train_model_zero_grad(struct train_model *m)
{
    memset(m->grads.data, 0, m->grads.count * sizeof(float));
}

static struct train_pass make_pass(struct train_model *m, int B, int T, int S, int training)
{
    const struct model_config *c = &m->config;

    return (struct train_pass){
        .B = B,
        .T = T,
        .S = S,
        .d = c->d_model,
        .H = c->n_heads,
        .ff = c->d_ff,
        .pre_norm = c->norm == MODEL_NORM_PRE,
        .gelu = c->activation == MODEL_ACT_GELU,
        .eps = c->layer_norm_eps,
        .dropout = training ? m->dropout : 0.0f,
        .attention_dropout = training ? m->attention_dropout : 0.0f,
        .rng = &m->rng,
    };
}

static void encoder_forward(struct train_model *m, const struct train_batch *b, int training)
{
    const struct model_config *c = &m->config;
    const struct model_params *p = &m->params;
    struct train_pass pass = make_pass(m, b->B, b->T, b->T, training);
    size_t nd = (size_t)b->B * b->T * c->d_model;

    train_embedding_forward(m->enc_in, b->tokens, p->embedding, b->B, b->T, c->d_model);
    train_dropout_forward(m->enc_in, m->enc_in_mask, nd, pass.dropout, pass.rng);

    const float *x = m->enc_in;
    for (int l = 0; l < c->n_encoder_layers; l++) {
        const struct model_encoder_layer_params *e = &p->encoder[l];
        struct train_sublayer_acts *s = m->enc[l].sub;

        train_attention_sublayer_forward(&s[0], x, NULL, e->norm1_weight, e->norm1_bias, &e->self_attn, b->lengths,
                                         c->encoder_mode == MODEL_ENCODER_CAUSAL, &pass);
        train_ffn_sublayer_forward(&s[1], s[0].out, e->norm2_weight, e->norm2_bias, e->linear1_weight,
                                   e->linear1_bias, e->linear2_weight, e->linear2_bias, &pass);
        x = s[1].out;
    }
    train_layernorm_forward(m->enc_out, m->enc_mean, m->enc_rstd, x, p->encoder_norm_weight, p->encoder_norm_bias,
                            b->B * b->T, c->d_model, c->layer_norm_eps);
}

static void decoder_forward(struct train_model *m, const struct train_batch *b, int training)
{
    const struct model_config *c = &m->config;
    const struct model_params *p = &m->params;
    struct train_pass pass = make_pass(m, b->B, b->T_dec, b->T, training);
    size_t nd = (size_t)b->B * b->T_dec * c->d_model;

    train_embedding_forward(m->dec_in, b->dec_tokens, p->embedding, b->B, b->T_dec, c->d_model);
    train_dropout_forward(m->dec_in, m->dec_in_mask, nd, pass.dropout, pass.rng);

    const float *x = m->dec_in;
    for (int l = 0; l < c->n_decoder_layers; l++) {
        const struct model_decoder_layer_params *e = &p->decoder[l];
        struct train_sublayer_acts *s = m->dec[l].sub;

        train_attention_sublayer_forward(&s[0], x, NULL, e->norm1_weight, e->norm1_bias, &e->self_attn,
                                         b->dec_lengths, 1, &pass);
        train_attention_sublayer_forward(&s[1], s[0].out, m->enc_out, e->norm2_weight, e->norm2_bias,
                                         &e->cross_attn, b->lengths, 0, &pass);
        train_ffn_sublayer_forward(&s[2], s[1].out, e->norm3_weight, e->norm3_bias, e->linear1_weight,
                                   e->linear1_bias, e->linear2_weight, e->linear2_bias, &pass);
        x = s[2].out;
    }
    train_layernorm_forward(m->dec_out, m->dec_mean, m->dec_rstd, x, p->decoder_norm_weight, p->decoder_norm_bias,
                            b->B * b->T_dec, c->d_model, c->layer_norm_eps);
}

void train_model_encode(struct train_model *m, const struct train_batch *batch)
{
    encoder_forward(m, batch, 0);
}

void train_model_set_negative_weights(struct train_model *m, const double *cdf)
{
    m->negative_cdf = cdf;
}

float train_model_forward(struct train_model *m, const struct train_batch *batch, int training)
{
    encoder_forward(m, batch, training);
    if (m->config.n_decoder_layers > 0 && batch->T_dec > 0)
        decoder_forward(m, batch, training);
    return train_objective_forward(m, batch, training);
}

static struct train_scratch make_scratch(struct train_model *m)
{
    return (struct train_scratch){m->s_a, m->s_b, m->s_c, m->s_h1, m->s_h2};
}

/* Backward through the decoder stack; accumulates the encoder-decoder
 * attention's gradient for the encoder output into m->d_memory. */
static void decoder_backward(struct train_model *m, const struct train_batch *b)
{
    const struct model_config *c = &m->config;
    const struct model_params *p = &m->params;
    struct model_params *g = &m->grads;
    struct train_pass pass = make_pass(m, b->B, b->T_dec, b->T, 1);
    struct train_scratch scratch = make_scratch(m);
    size_t nd = (size_t)b->B * b->T_dec * c->d_model;
    int L = c->n_decoder_layers;
    const float *last = m->dec[L - 1].sub[2].out;

    memset(m->d_cur, 0, nd * sizeof(float));
    train_layernorm_backward(m->d_cur, g->decoder_norm_weight, g->decoder_norm_bias, m->d_dec_out, last,
                             p->decoder_norm_weight, m->dec_mean, m->dec_rstd, b->B * b->T_dec, c->d_model);

    for (int l = L - 1; l >= 0; l--) {
        const struct model_decoder_layer_params *e = &p->decoder[l];
        struct model_decoder_layer_params *ge = &g->decoder[l];
        struct train_sublayer_acts *s = m->dec[l].sub;
        const float *x = l == 0 ? m->dec_in : m->dec[l - 1].sub[2].out;
        float *t;

        memset(m->d_prev, 0, nd * sizeof(float));
        train_ffn_sublayer_backward(&s[2], m->d_prev, m->d_cur, s[1].out, e->norm3_weight, ge->norm3_weight,
                                    ge->norm3_bias, e->linear1_weight, e->linear2_weight, ge->linear1_weight,
                                    ge->linear1_bias, ge->linear2_weight, ge->linear2_bias, &pass, &scratch);
        t = m->d_cur, m->d_cur = m->d_prev, m->d_prev = t;

        memset(m->d_prev, 0, nd * sizeof(float));
        train_attention_sublayer_backward(&s[1], m->d_prev, m->d_memory, m->d_cur, s[0].out, m->enc_out,
                                          e->norm2_weight, ge->norm2_weight, ge->norm2_bias, &e->cross_attn,
                                          &ge->cross_attn, &pass, &scratch);
        t = m->d_cur, m->d_cur = m->d_prev, m->d_prev = t;

        memset(m->d_prev, 0, nd * sizeof(float));
        train_attention_sublayer_backward(&s[0], m->d_prev, NULL, m->d_cur, x, NULL, e->norm1_weight,
                                          ge->norm1_weight, ge->norm1_bias, &e->self_attn, &ge->self_attn, &pass,
                                          &scratch);
        t = m->d_cur, m->d_cur = m->d_prev, m->d_prev = t;
    }

    train_dropout_backward(m->d_cur, m->dec_in_mask, nd);
    train_embedding_backward(g->embedding, m->d_cur, b->dec_tokens, b->B, b->T_dec, c->d_model);
}

static void encoder_backward(struct train_model *m, const struct train_batch *b)
{
    const struct model_config *c = &m->config;
    const struct model_params *p = &m->params;
    struct model_params *g = &m->grads;
    struct train_pass pass = make_pass(m, b->B, b->T, b->T, 1);
    struct train_scratch scratch = make_scratch(m);
    size_t nd = (size_t)b->B * b->T * c->d_model;
    int L = c->n_encoder_layers;
    const float *last = m->enc[L - 1].sub[1].out;

    memset(m->d_cur, 0, nd * sizeof(float));
    train_layernorm_backward(m->d_cur, g->encoder_norm_weight, g->encoder_norm_bias, m->d_enc_out, last,
                             p->encoder_norm_weight, m->enc_mean, m->enc_rstd, b->B * b->T, c->d_model);

    for (int l = L - 1; l >= 0; l--) {
        const struct model_encoder_layer_params *e = &p->encoder[l];
        struct model_encoder_layer_params *ge = &g->encoder[l];
        struct train_sublayer_acts *s = m->enc[l].sub;
        const float *x = l == 0 ? m->enc_in : m->enc[l - 1].sub[1].out;
        float *t;

        memset(m->d_prev, 0, nd * sizeof(float));
        train_ffn_sublayer_backward(&s[1], m->d_prev, m->d_cur, s[0].out, e->norm2_weight, ge->norm2_weight,
                                    ge->norm2_bias, e->linear1_weight, e->linear2_weight, ge->linear1_weight,
                                    ge->linear1_bias, ge->linear2_weight, ge->linear2_bias, &pass, &scratch);
        t = m->d_cur, m->d_cur = m->d_prev, m->d_prev = t;

        memset(m->d_prev, 0, nd * sizeof(float));
        train_attention_sublayer_backward(&s[0], m->d_prev, NULL, m->d_cur, x, NULL, e->norm1_weight,
                                          ge->norm1_weight, ge->norm1_bias, &e->self_attn, &ge->self_attn, &pass,
                                          &scratch);
        t = m->d_cur, m->d_cur = m->d_prev, m->d_prev = t;
    }

    train_dropout_backward(m->d_cur, m->enc_in_mask, nd);
    train_embedding_backward(g->embedding, m->d_cur, b->tokens, b->B, b->T, c->d_model);
}

void train_model_backward(struct train_model *m, const struct train_batch *batch)
{
    size_t nd = (size_t)batch->B * batch->T * m->config.d_model;

    memset(m->d_memory, 0, nd * sizeof(float));
    if (m->config.n_decoder_layers > 0 && batch->T_dec > 0)
        decoder_backward(m, batch);
    for (size_t i = 0; i < nd; i++)
        m->d_enc_out[i] += m->d_memory[i];
    encoder_backward(m, batch);
}
