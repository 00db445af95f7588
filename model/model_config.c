#include "model_config.h"

#include <stdio.h>

void model_config_defaults(struct model_config *config)
{
    *config = (struct model_config){
        .vocab_size = 0,
        .d_model = 64,
        .n_heads = 2,
        .n_encoder_layers = 2,
        .n_decoder_layers = 2,
        .d_ff = 256,
        .max_len = 64,
        .norm = MODEL_NORM_POST,
        .activation = MODEL_ACT_RELU,
        .encoder_mode = MODEL_ENCODER_CAUSAL,
        .tie_output = 1,
        .layer_norm_eps = 1e-5f,
        .item_begin = 0,
        .item_end = 0,
        .n_actions = 0,
        .n_categories = 0,
        .n_sentiments = 0,
        .towers = 1,
    };
}

static int fail(char *error, const char *field, int value, const char *expected)
{
    snprintf(error, MODEL_ERROR_SIZE, "invalid model config: %s is %d, expected %s", field, value, expected);
    return -1;
}

int model_config_validate(const struct model_config *c, char *error)
{
    /* The upper bounds keep every derived size (3 * d_model, vocab_size * d_model)
     * far from int overflow when a config comes from an untrusted file. */
    if (c->vocab_size <= 0 || c->vocab_size > MODEL_MAX_VOCAB)
        return fail(error, "vocab_size", c->vocab_size, "1 to 16777216");
    if (c->d_model <= 0 || c->d_model > MODEL_MAX_WIDTH)
        return fail(error, "d_model", c->d_model, "1 to 65536");
    if (c->n_heads <= 0 || c->d_model % c->n_heads != 0)
        return fail(error, "n_heads", c->n_heads, "a positive divisor of d_model");
    if (c->n_encoder_layers < 1 || c->n_encoder_layers > MODEL_MAX_LAYERS)
        return fail(error, "n_encoder_layers", c->n_encoder_layers, "1 to 16");
    if (c->n_decoder_layers < 0 || c->n_decoder_layers > MODEL_MAX_LAYERS)
        return fail(error, "n_decoder_layers", c->n_decoder_layers, "0 to 16");
    if (c->d_ff <= 0 || c->d_ff > MODEL_MAX_WIDTH)
        return fail(error, "d_ff", c->d_ff, "1 to 65536");
    if (c->max_len <= 0 || c->max_len > MODEL_MAX_SEQUENCE)
        return fail(error, "max_len", c->max_len, "1 to 1048576");
    if (c->norm != MODEL_NORM_POST && c->norm != MODEL_NORM_PRE)
        return fail(error, "norm", (int)c->norm, "0 (post) or 1 (pre)");
    if (c->activation != MODEL_ACT_RELU && c->activation != MODEL_ACT_GELU)
        return fail(error, "activation", (int)c->activation, "0 (relu) or 1 (gelu)");
    if (c->encoder_mode != MODEL_ENCODER_BIDIRECTIONAL && c->encoder_mode != MODEL_ENCODER_CAUSAL)
        return fail(error, "encoder_mode", (int)c->encoder_mode, "0 (bidirectional) or 1 (causal)");
    if (!(c->layer_norm_eps > 0.0f))
        return fail(error, "layer_norm_eps", 0, "a positive number");
    if (c->item_begin < 0 || c->item_end < c->item_begin || c->item_end > c->vocab_size)
        return fail(error, "item_end", c->item_end, "item_begin <= item_end <= vocab_size");
    if (c->n_actions < 0 || c->n_categories < 0 || c->n_sentiments < 0 || c->n_actions > MODEL_MAX_WIDTH ||
        c->n_categories > MODEL_MAX_WIDTH || c->n_sentiments > MODEL_MAX_WIDTH)
        return fail(error, "head size", -1, "0 to 65536 classes");
    if (c->towers < 1 || c->d_model % c->towers != 0 || c->n_heads % c->towers != 0 || c->d_ff % c->towers != 0)
        return fail(error, "towers", c->towers, "a positive divisor of d_model, n_heads and d_ff");
    /* The decoder's cross-attention and tied generator have no tower split. */
    if (c->towers > 1 && c->n_decoder_layers != 0)
        return fail(error, "n_decoder_layers", c->n_decoder_layers, "0 in a model of more than one tower");
    return 0;
}
