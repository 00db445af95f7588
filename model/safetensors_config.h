/*
 * Conversion between struct model_config and the safetensors "__metadata__"
 * object. Keys: format_version, vocab_size, d_model, n_heads,
 * n_encoder_layers, n_decoder_layers, d_ff, max_len, tie_output (0 or 1),
 * item_begin, item_end, n_actions, n_categories, n_sentiments,
 * layer_norm_eps, norm ("post" or "pre"), activation ("relu" or "gelu"),
 * encoder_mode ("bidirectional" or "causal"), and towers in a model of more
 * than one tower, whose format_version is MODEL_SAFETENSORS_TOWERS_VERSION.
 * Every value is a string.
 */
#ifndef INTENTD_MODEL_SAFETENSORS_CONFIG_H
#define INTENTD_MODEL_SAFETENSORS_CONFIG_H

#include <jansson.h>

#include "model_config.h"
#include "safetensors.h"

/* Adds the config keys to meta. Returns 0, or -1 when jansson runs out of memory. */
int model_safetensors_config_to_json(const struct model_config *config, json_t *meta);

/* Reads and validates the config from meta. Returns 0, or -1 with a message
 * naming the key. */
int model_safetensors_config_from_json(json_t *meta, struct model_config *config, char *error);

#endif
