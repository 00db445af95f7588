#include "encoder.h"

#include <stdio.h>
#include <string.h>

#include "kernels.h"
#include "layers.h"

static int check_batch(const struct model *m, const int *tokens, const int *lengths, int batch, int seq_len,
                       char *error)
{
    if (batch < 0 || seq_len < 0) {
        snprintf(error, MODEL_ERROR_SIZE, "invalid batch shape %d x %d: expected non-negative sizes", batch,
                 seq_len);
        return -1;
    }
    for (int b = 0; b < batch; b++) {
        if (lengths[b] < 0 || lengths[b] > seq_len) {
            snprintf(error, MODEL_ERROR_SIZE, "invalid length %d of sequence %d: expected 0 to %d", lengths[b], b,
                     seq_len);
            return -1;
        }
        if (model_check_tokens(m, tokens + (size_t)b * seq_len, lengths[b], error) != 0) {
            size_t n = strlen(error);
            snprintf(error + n, MODEL_ERROR_SIZE - n, " in sequence %d", b);
            return -1;
        }
    }
    return 0;
}

void model_pool(const struct model_config *c, const float *hidden, int length, float *pooled)
{
    int d = c->d_model;

    memset(pooled, 0, (size_t)d * sizeof(float));
    if (length <= 0)
        return;
    if (c->encoder_mode == MODEL_ENCODER_CAUSAL) {
        memcpy(pooled, hidden + (size_t)(length - 1) * d, (size_t)d * sizeof(float));
        return;
    }
    for (int t = 0; t < length; t++)
        for (int i = 0; i < d; i++)
            pooled[i] += hidden[(size_t)t * d + i];
    for (int i = 0; i < d; i++)
        pooled[i] /= (float)length;
}

/* Sequences per chunk: large batches run in chunks of about ENCODE_CHUNK_ROWS
 * token rows so that the activations stay in cache between the matrix
 * products. NOTE: 4096 rows is an estimate from one profile (d_model 64,
 * batch 256 ran slower per sequence than batch 64), not a tuned value. */
#define ENCODE_CHUNK_ROWS 4096

static int chunk_sequences(int seq_len)
{
    int n = seq_len > 0 ? ENCODE_CHUNK_ROWS / seq_len : 1;
    return n > 0 ? n : 1;
}

size_t model_encode_arena_bytes(const struct model_config *c, int batch, int seq_len)
{
    int chunk = batch < chunk_sequences(seq_len) ? batch : chunk_sequences(seq_len);
    size_t rows = (size_t)chunk * seq_len;
    return model_arena_bytes(rows * c->d_model) + model_layer_workspace_bytes(c, (int)rows, seq_len, seq_len);
}

/* Encodes batch sequences whose buffers the arena already holds. */
static void encode_chunk(const struct model *m, const struct model_layer_workspace *ws, float *x, const int *tokens,
                         const int *lengths, int batch, int seq_len, float *hidden, float *pooled)
{
    const struct model_config *c = &m->config;
    int d = c->d_model, rows = batch * seq_len;

    /* Embed; padded rows start at zero and never feed a valid row. */
    for (int b = 0; b < batch; b++) {
        float *xb = x + (size_t)b * seq_len * d;
        model_embed(m, tokens + (size_t)b * seq_len, lengths[b], 0, xb);
        memset(xb + (size_t)lengths[b] * d, 0, (size_t)(seq_len - lengths[b]) * d * sizeof(float));
    }

    struct model_layer_batch lb = {
        .n_seq = batch,
        .n_new = seq_len,
        .pos = 0,
        .causal = c->encoder_mode == MODEL_ENCODER_CAUSAL,
        .key_lengths = lengths,
        .k_cache = NULL,
        .v_cache = NULL,
    };
    for (int l = 0; l < c->n_encoder_layers; l++)
        model_layer_encoder(m, l, x, &lb, ws);
    model_norm(c, x, x, m->params.encoder_norm_weight, m->params.encoder_norm_bias, rows);

    if (hidden)
        memcpy(hidden, x, (size_t)rows * d * sizeof(float));
    if (pooled) {
        for (int b = 0; b < batch; b++)
            model_pool(c, x + (size_t)b * seq_len * d, lengths[b], pooled + (size_t)b * d);
    }
}

int model_encode(const struct model *m, struct model_arena *arena, const int *tokens, const int *lengths,
                 int batch, int seq_len, float *hidden, float *pooled, char *error)
{
    const struct model_config *c = &m->config;
    int d = c->d_model;

    if (check_batch(m, tokens, lengths, batch, seq_len, error) != 0)
        return -1;
    if (batch == 0 || seq_len == 0) {
        if (pooled)
            memset(pooled, 0, (size_t)batch * d * sizeof(float));
        return 0;
    }
    size_t bytes = model_encode_arena_bytes(c, batch, seq_len);
    if (model_arena_reserve(arena, bytes) != 0) {
        snprintf(error, MODEL_ERROR_SIZE, "out of memory reserving %zu bytes for a %d x %d batch", bytes, batch,
                 seq_len);
        return -1;
    }

    int chunk = batch < chunk_sequences(seq_len) ? batch : chunk_sequences(seq_len);
    float *x = model_arena_floats(arena, (size_t)chunk * seq_len * d);
    struct model_layer_workspace ws;
    model_layer_workspace_alloc(&ws, arena, c, chunk * seq_len, seq_len, seq_len);

    for (int b0 = 0; b0 < batch; b0 += chunk) {
        int n = batch - b0 < chunk ? batch - b0 : chunk;
        size_t row0 = (size_t)b0 * seq_len;
        encode_chunk(m, &ws, x, tokens + row0, lengths + b0, n, seq_len, hidden ? hidden + row0 * d : NULL,
                     pooled ? pooled + (size_t)b0 * d : NULL);
    }
    return 0;
}

void model_heads(const struct model *m, const float *pooled, int batch, const struct model_head_outputs *out)
{
    const struct model_config *c = &m->config;
    const struct model_params *p = &m->params;
    int d = c->d_model, n_items = c->item_end - c->item_begin;

    if (out->item_scores && n_items > 0)
        model_sgemm(0, 1, batch, n_items, d, 1.0f, pooled, d, p->embedding + (size_t)c->item_begin * d, d, 0.0f,
                    out->item_scores, n_items);
    if (out->action_logits && c->n_actions > 0)
        model_linear(out->action_logits, pooled, p->action_weight, p->action_bias, batch, c->n_actions, d, 0);
    if (out->category_logits && c->n_categories > 0)
        model_linear(out->category_logits, pooled, p->category_weight, p->category_bias, batch, c->n_categories, d,
                     0);
    if (out->sentiment_logits && c->n_sentiments > 0)
        model_linear(out->sentiment_logits, pooled, p->sentiment_weight, p->sentiment_bias, batch, c->n_sentiments,
                     d, 0);
    if (out->propensity) {
        model_linear(out->propensity, pooled, p->propensity_weight, p->propensity_bias, batch, 1, d, 0);
        for (int b = 0; b < batch; b++)
            out->propensity[b] = model_sigmoid(out->propensity[b]);
    }
}
