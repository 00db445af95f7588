/*
 * The field tables of every section except triggers (config_triggers.c),
 * with their defaults and ranges, and the kafka.properties pass-through map.
 * config/README.md documents the same keys; keep the two in step.
 */
#include <ctype.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "config_internal.h"

#define OFF(member) offsetof(struct intentd_config, member)
#define STR(key, member, def) {key, CFG_STR, OFF(member), def, 0, 0, NULL, NULL, NULL, 0}
#define SECRET(key, member, def) {key, CFG_STR, OFF(member), def, 0, 0, NULL, NULL, NULL, 1}
#define NUM(key, type, member, def, min, max) {key, type, OFF(member), def, min, max, NULL, NULL, NULL, 0}
#define ENUM(key, member, def, names) {key, CFG_ENUM, OFF(member), def, 0, 0, names, NULL, NULL, 0}
#define BOOL(key, member, def) {key, CFG_BOOL, OFF(member), def, 0, 0, NULL, NULL, NULL, 0}
#define SECTION(key, table) {key, CFG_SECTION, 0, NULL, 0, 0, NULL, &table, NULL, 0}
/* A custom field gets the whole struct intentd_config (offset 0). */
#define CUSTOM(key, custom) {key, CFG_CUSTOM, 0, NULL, 0, 0, NULL, NULL, &custom, 0}
#define TABLE(fields) {fields, sizeof fields / sizeof fields[0]}

#define SECOND_MS 1000.0
#define DAY_MS 86400000.0

/* Substrings that mark a librdkafka property as a credential. */
static const char *const secret_markers[] = {
    "password", "secret", "token", "key.pem", "sasl.jaas", "sasl.oauthbearer.config", "credential", "private",
};

int config_property_is_secret(const char *key)
{
    char lower[256];
    size_t n = 0;
    for (; key[n] != '\0' && n + 1 < sizeof lower; n++)
        lower[n] = (char)tolower((unsigned char)key[n]);
    lower[n] = '\0';
    for (size_t i = 0; i < sizeof secret_markers / sizeof secret_markers[0]; i++) {
        if (strstr(lower, secret_markers[i]) != NULL)
            return 1;
    }
    return 0;
}

/* Properties that have their own key in the kafka section. */
static const struct {
    const char *property;
    const char *key;
} own_keys[] = {
    {"bootstrap.servers", "kafka.bootstrap_servers"},
    {"metadata.broker.list", "kafka.bootstrap_servers"},
    {"client.id", "kafka.client_id"},
    {"group.id", "kafka.group_id"},
    {"transactional.id", "kafka.transactional_id"},
};

static void properties_free(void *field)
{
    struct intentd_config *cfg = field;
    for (size_t i = 0; i < cfg->kafka.n_properties; i++) {
        free(cfg->kafka.properties[i].key);
        free(cfg->kafka.properties[i].value);
    }
    free(cfg->kafka.properties);
    cfg->kafka.properties = NULL;
    cfg->kafka.n_properties = 0;
}

static int properties_default(struct cfg_ctx *ctx, void *field)
{
    (void)ctx;
    properties_free(field);
    return 0;
}

static int property_check_key(struct cfg_ctx *ctx, const struct cfg_node *key, const char *path)
{
    for (size_t k = 0; k < sizeof own_keys / sizeof own_keys[0]; k++) {
        if (strcmp(key->value, own_keys[k].property) == 0) {
            cfg_error(ctx, key, path, "set %s instead of this property", own_keys[k].key);
            return -1;
        }
    }
    if (key->len == 0 || memchr(key->value, '\0', key->len) != NULL) {
        cfg_error(ctx, key, path, "property name is empty or contains a NUL byte");
        return -1;
    }
    return 0;
}

/* kafka.properties: a mapping of librdkafka property names to values, passed
 * to rd_kafka_conf_set() unchanged. librdkafka checks the names and values
 * when the client is created; here only the shape is checked. */
static int properties_read(struct cfg_ctx *ctx, const struct cfg_node *node, const char *path, void *field)
{
    struct intentd_config *cfg = field;
    int status = 0;

    if (node->kind == CFG_NODE_SCALAR && node->is_null)
        return 0;
    if (node->kind != CFG_NODE_MAP) {
        cfg_error(ctx, node, path, "expected a mapping of librdkafka properties, got %s", cfg_node_kind_name(node));
        return -1;
    }
    properties_free(field);
    cfg->kafka.properties = calloc(node->n_items / 2 + 1, sizeof *cfg->kafka.properties);
    if (cfg->kafka.properties == NULL) {
        cfg_error_oom(ctx);
        return -1;
    }

    for (size_t i = 0; i + 1 < node->n_items; i += 2) {
        const struct cfg_node *key = node->items[i];
        const struct cfg_node *value = node->items[i + 1];
        char child_path[CFG_MAX_PATH];
        char *text;

        cfg_path_key(child_path, sizeof child_path, path, key->value);
        int secret = config_property_is_secret(key->value);
        if (property_check_key(ctx, key, child_path) != 0 ||
            cfg_read_string(ctx, value, child_path, &text) != 0) {
            status = -1;
            continue;
        }
        struct config_property *prop = &cfg->kafka.properties[cfg->kafka.n_properties++];
        prop->key = strdup(key->value);
        prop->value = text;
        prop->secret = secret;
        if (prop->key == NULL) {
            cfg_error_oom(ctx);
            return -1;
        }
    }
    return status;
}

static void properties_print(FILE *out, const void *field, int indent)
{
    const struct intentd_config *cfg = field;
    if (cfg->kafka.n_properties == 0) {
        fputs(" {}\n", out);
        return;
    }
    fputc('\n', out);
    for (size_t i = 0; i < cfg->kafka.n_properties; i++) {
        const struct config_property *prop = &cfg->kafka.properties[i];
        cfg_print_key(out, indent + 2, prop->key);
        fputc(' ', out);
        cfg_print_quoted(out, prop->secret ? "********" : prop->value);
        fputc('\n', out);
    }
}

static const struct cfg_custom properties_custom = {properties_read, properties_default, properties_print,
                                                    properties_free};

static const char *const guarantee_names[] = {"exactly_once", "at_least_once", NULL};
static const char *const source_names[] = {"local", "registry", NULL};
static const char *const format_names[] = {"avro", "json", NULL};
static const char *const timestamp_unit_names[] = {"ms", "s", NULL};
static const char *const emit_names[] = {"every_update", "on_change", "interval", "on_move", NULL};
static const char *const consent_names[] = {"deny", "grant", NULL};

static const struct cfg_field kafka_fields[] = {
    STR("bootstrap_servers", kafka.bootstrap_servers, "localhost:9092"),
    STR("client_id", kafka.client_id, "intentd"),
    STR("group_id", kafka.group_id, "intentd"),
    STR("transactional_id", kafka.transactional_id, "intentd-1"),
    ENUM("processing_guarantee", kafka.processing_guarantee, "exactly_once", guarantee_names),
    CUSTOM("properties", properties_custom),
};

static const struct cfg_field topics_fields[] = {
    STR("clickstream", topics.clickstream, "clickstream"),
    STR("reviews", topics.reviews, "reviews"),
    STR("intents", topics.intents, "user-intents"),
    STR("offers", topics.offers, "offers"),
    STR("consents", topics.consents, "consents"),
    STR("changelog", topics.changelog, "intentd-state-changelog"),
    STR("dead_letter", topics.dead_letter, "intentd-dead-letter"),
    NUM("partitions", CFG_INT, topics.partitions, "6", 1, 10000),
    NUM("replication_factor", CFG_INT, topics.replication_factor, "1", 1, 32),
};

#define ACTION_VALUE(name, index) STR(name, schemas.json.action_values[index], name)
static const struct cfg_field action_value_fields[] = {
    ACTION_VALUE("view", CONFIG_ACTION_VIEW),         ACTION_VALUE("click", CONFIG_ACTION_CLICK),
    ACTION_VALUE("favourite", CONFIG_ACTION_FAVOURITE), ACTION_VALUE("cart", CONFIG_ACTION_CART),
    ACTION_VALUE("purchase", CONFIG_ACTION_PURCHASE), ACTION_VALUE("search", CONFIG_ACTION_SEARCH),
    ACTION_VALUE("review", CONFIG_ACTION_REVIEW),
};
static const struct cfg_table action_value_table = TABLE(action_value_fields);

static const struct cfg_field json_fields[] = {
    STR("user_id", schemas.json.user_id, "user_id"),
    STR("item_id", schemas.json.item_id, "item_id"),
    STR("category_id", schemas.json.category_id, "category_id"),
    STR("action", schemas.json.action, "action"),
    STR("timestamp", schemas.json.timestamp, "timestamp"),
    ENUM("timestamp_unit", schemas.json.timestamp_in_seconds, "ms", timestamp_unit_names),
    STR("query", schemas.json.query, "query"),
    STR("text", schemas.json.text, "text"),
    STR("rating", schemas.json.rating, "rating"),
    STR("consent", schemas.json.consent, "marketing_consent"),
    STR("opt_out", schemas.json.opt_out, "personalisation_opt_out"),
    SECTION("action_values", action_value_table),
};
static const struct cfg_table json_table = TABLE(json_fields);

static const struct cfg_field schemas_fields[] = {
    ENUM("source", schemas.source, "local", source_names),
    STR("local_dir", schemas.local_dir, "schemas"),
    STR("registry_url", schemas.registry_url, ""),
    SECRET("registry_auth", schemas.registry_auth, ""),
    ENUM("format", schemas.format, "avro", format_names),
    NUM("max_text_bytes", CFG_SIZE, schemas.max_text_bytes, "4KiB", 16, 1048576),
    SECTION("json", json_table),
};

static const struct cfg_field model_fields[] = {
    STR("path", model.path, "model/default/intentd-default.safetensors"),
    STR("version", model.version, ""),
    NUM("encoder_threads", CFG_INT, model.encoder_threads, "2", 1, 256),
};

static const struct cfg_field batching_fields[] = {
    NUM("max_events", CFG_INT, batching.max_events, "10000", 1, 100000),
    NUM("max_wait_ms", CFG_I64, batching.max_wait_ms, "50", 0, 60000),
};

static const struct cfg_field state_fields[] = {
    NUM("max_len", CFG_INT, state.max_len, "64", 4, 4096),
    NUM("idle_expiry", CFG_DURATION, state.idle_expiry_ms, "7d", 60 * SECOND_MS, 365 * DAY_MS),
    NUM("memory_budget_mb", CFG_I64, state.memory_budget_mb, "1024", 16, 1048576),
    NUM("kv_cache_budget_mb", CFG_I64, state.kv_cache_budget_mb, "64", 1, 65536),
};

static const struct cfg_field intents_fields[] = {
    ENUM("emit", intents.emit, "on_change", emit_names),
    NUM("min_change", CFG_DOUBLE, intents.min_change, "0.05", 0, 1),
    NUM("min_move", CFG_DOUBLE, intents.min_move, "0.05", 0, 2),
    NUM("interval", CFG_DURATION, intents.interval_ms, "5m", SECOND_MS, DAY_MS),
    NUM("top_k", CFG_INT, intents.top_k, "5", 1, 100),
};

static const struct cfg_field offers_fields[] = {
    BOOL("enabled", offers.enabled, "true"),
    STR("language", offers.language, "en"),
    NUM("global_rate_limit_per_s", CFG_DOUBLE, offers.global_rate_limit_per_s, "100", 0, 1000000),
    NUM("holdout_percent", CFG_DOUBLE, offers.holdout_percent, "5", 0, 100),
    ENUM("consent_default", offers.consent_default, "deny", consent_names),
};

static const struct cfg_field metrics_fields[] = {
    NUM("port", CFG_INT, metrics.port, "9464", 0, 65535),
    STR("bind", metrics.bind, "127.0.0.1"),
};

static const struct cfg_field log_fields[] = {
    STR("level", log.level, "info"),
};

static const struct cfg_table kafka_table = TABLE(kafka_fields);
static const struct cfg_table topics_table = TABLE(topics_fields);
static const struct cfg_table schemas_table = TABLE(schemas_fields);
static const struct cfg_table model_table = TABLE(model_fields);
static const struct cfg_table batching_table = TABLE(batching_fields);
static const struct cfg_table state_table = TABLE(state_fields);
static const struct cfg_table intents_table = TABLE(intents_fields);
static const struct cfg_table offers_table = TABLE(offers_fields);
static const struct cfg_table metrics_table = TABLE(metrics_fields);
static const struct cfg_table log_table = TABLE(log_fields);

/* Section order is the order of the printed config and of the README. */
static const struct cfg_field root_fields[] = {
    SECTION("kafka", kafka_table),
    SECTION("topics", topics_table),
    SECTION("schemas", schemas_table),
    SECTION("model", model_table),
    SECTION("batching", batching_table),
    SECTION("state", state_table),
    SECTION("intents", intents_table),
    SECTION("offers", offers_table),
    CUSTOM("triggers", cfg_triggers_custom),
    SECTION("metrics", metrics_table),
    SECTION("log", log_table),
};

const struct cfg_table cfg_root_table = TABLE(root_fields);

const char *config_emit_name(enum config_emit_mode mode)
{
    size_t count = sizeof emit_names / sizeof emit_names[0] - 1; /* without the NULL */
    return (size_t)mode < count ? emit_names[mode] : "unknown";
}
