/* The model config as safetensors "__metadata__" string values. */
#include "safetensors_config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct int_field {
    const char *key;
    size_t offset;
};

#define FIELD(name) {#name, offsetof(struct model_config, name)}
static const struct int_field INT_FIELDS[] = {
    FIELD(vocab_size),   FIELD(d_model),  FIELD(n_heads),      FIELD(n_encoder_layers), FIELD(n_decoder_layers),
    FIELD(d_ff),         FIELD(max_len),  FIELD(tie_output),   FIELD(item_begin),       FIELD(item_end),
    FIELD(n_actions),    FIELD(n_categories), FIELD(n_sentiments),
};
#undef FIELD

static const char *NORM_NAMES[] = {"post", "pre"};
static const char *ACTIVATION_NAMES[] = {"relu", "gelu"};
static const char *ENCODER_MODE_NAMES[] = {"bidirectional", "causal"};

static int set_string(json_t *meta, const char *key, const char *value)
{
    return json_object_set_new(meta, key, json_string(value));
}

int model_safetensors_config_to_json(const struct model_config *c, json_t *meta)
{
    char text[64];
    int towers = c->towers > 1;
    int rc = set_string(meta, "format_version",
                        towers ? MODEL_SAFETENSORS_TOWERS_VERSION : MODEL_SAFETENSORS_FORMAT_VERSION);

    for (size_t i = 0; i < sizeof INT_FIELDS / sizeof INT_FIELDS[0]; i++) {
        snprintf(text, sizeof text, "%d", *(const int *)((const char *)c + INT_FIELDS[i].offset));
        rc |= set_string(meta, INT_FIELDS[i].key, text);
    }
    snprintf(text, sizeof text, "%.9g", (double)c->layer_norm_eps);
    rc |= set_string(meta, "layer_norm_eps", text);
    rc |= set_string(meta, "norm", NORM_NAMES[c->norm]);
    rc |= set_string(meta, "activation", ACTIVATION_NAMES[c->activation]);
    rc |= set_string(meta, "encoder_mode", ENCODER_MODE_NAMES[c->encoder_mode]);
    if (towers) {
        snprintf(text, sizeof text, "%d", c->towers);
        rc |= set_string(meta, "towers", text);
    }
    return rc == 0 ? 0 : -1;
}

static const char *get_string(json_t *meta, const char *key, char *error)
{
    json_t *v = json_object_get(meta, key);
    if (!v) {
        snprintf(error, MODEL_ERROR_SIZE, "invalid safetensors metadata: key \"%s\" is missing", key);
        return NULL;
    }
    if (!json_is_string(v)) {
        snprintf(error, MODEL_ERROR_SIZE, "invalid safetensors metadata: \"%s\" is not a string", key);
        return NULL;
    }
    return json_string_value(v);
}

static int parse_enum(json_t *meta, const char *key, const char **names, int n, int *out, char *error)
{
    const char *s = get_string(meta, key, error);
    if (!s)
        return -1;
    for (int i = 0; i < n; i++) {
        if (strcmp(s, names[i]) == 0) {
            *out = i;
            return 0;
        }
    }
    snprintf(error, MODEL_ERROR_SIZE, "invalid safetensors metadata: \"%s\" is \"%.64s\", expected \"%s\" or \"%s\"",
             key, s, names[0], names[1]);
    return -1;
}

static int parse_int(json_t *meta, const char *key, int *out, char *error)
{
    const char *s = get_string(meta, key, error);
    if (!s)
        return -1;

    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < -1000000000L || v > 1000000000L) {
        snprintf(error, MODEL_ERROR_SIZE, "invalid safetensors metadata: \"%s\" is \"%.64s\", expected an integer",
                 key, s);
        return -1;
    }
    *out = (int)v;
    return 0;
}

int model_safetensors_config_from_json(json_t *meta, struct model_config *c, char *error)
{
    model_config_defaults(c);
    if (!json_is_object(meta)) {
        snprintf(error, MODEL_ERROR_SIZE, "invalid safetensors header: \"__metadata__\" is missing or not an object");
        return -1;
    }

    const char *version = get_string(meta, "format_version", error);
    if (!version)
        return -1;
    int towers = strcmp(version, MODEL_SAFETENSORS_TOWERS_VERSION) == 0;
    if (!towers && strcmp(version, MODEL_SAFETENSORS_FORMAT_VERSION) != 0) {
        snprintf(error, MODEL_ERROR_SIZE, "unsupported safetensors format_version \"%.32s\": expected \"%s\" or \"%s\"",
                 version, MODEL_SAFETENSORS_FORMAT_VERSION, MODEL_SAFETENSORS_TOWERS_VERSION);
        return -1;
    }
    if (towers && parse_int(meta, "towers", &c->towers, error) != 0)
        return -1;
    if (towers && c->towers < 2) {
        snprintf(error, MODEL_ERROR_SIZE,
                 "invalid safetensors metadata: \"towers\" is %d in a format_version \"%s\" file, expected 2 or more",
                 c->towers, MODEL_SAFETENSORS_TOWERS_VERSION);
        return -1;
    }
    for (size_t i = 0; i < sizeof INT_FIELDS / sizeof INT_FIELDS[0]; i++) {
        if (parse_int(meta, INT_FIELDS[i].key, (int *)((char *)c + INT_FIELDS[i].offset), error) != 0)
            return -1;
    }

    const char *eps = get_string(meta, "layer_norm_eps", error);
    if (!eps)
        return -1;
    char *end;
    c->layer_norm_eps = strtof(eps, &end);
    if (end == eps || *end != '\0') {
        snprintf(error, MODEL_ERROR_SIZE, "invalid safetensors metadata: \"layer_norm_eps\" is \"%.64s\", expected a number", eps);
        return -1;
    }

    int norm, activation, mode;
    if (parse_enum(meta, "norm", NORM_NAMES, 2, &norm, error) != 0 ||
        parse_enum(meta, "activation", ACTIVATION_NAMES, 2, &activation, error) != 0 ||
        parse_enum(meta, "encoder_mode", ENCODER_MODE_NAMES, 2, &mode, error) != 0)
        return -1;
    c->norm = (enum model_norm_placement)norm;
    c->activation = (enum model_activation)activation;
    c->encoder_mode = (enum model_encoder_mode)mode;
    if (c->tie_output != 0 && c->tie_output != 1) {
        snprintf(error, MODEL_ERROR_SIZE, "invalid safetensors metadata: \"tie_output\" is %d, expected 0 or 1",
                 c->tie_output);
        return -1;
    }
    return model_config_validate(c, error);
}
