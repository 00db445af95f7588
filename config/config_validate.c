/*
 * Rules that span several keys, checked after every key has been read.
 */
#include <string.h>

#include "config_internal.h"

/* Returns the node at a dotted path of root ("schemas.registry_url"), or the
 * deepest section on that path, so an error can point at the closest line. */
static const struct cfg_node *find_node(const struct cfg_node *root, const char *path)
{
    char key[64];
    const struct cfg_node *node = root;

    while (node != NULL && *path != '\0') {
        size_t n = strcspn(path, ".");
        if (n >= sizeof key)
            break;
        memcpy(key, path, n);
        key[n] = '\0';
        const struct cfg_node *child = cfg_map_get(node, key);
        if (child == NULL)
            break;
        node = child;
        path += n + (path[n] == '.');
    }
    return node;
}

static int require_text(struct cfg_ctx *ctx, const struct cfg_node *root, const char *path, const char *value,
                        const char *why)
{
    if (value[0] != '\0')
        return 0;
    cfg_error(ctx, find_node(root, path), path, "must not be empty %s", why);
    return -1;
}

static int validate_kafka(struct cfg_ctx *ctx, const struct cfg_node *root, const struct intentd_config *cfg)
{
    int status = 0;
    status |= require_text(ctx, root, "kafka.bootstrap_servers", cfg->kafka.bootstrap_servers,
                           "(a comma-separated list of host:port)");
    status |= require_text(ctx, root, "kafka.group_id", cfg->kafka.group_id, "(the consumer group)");
    if (cfg->kafka.processing_guarantee == CONFIG_EXACTLY_ONCE)
        status |= require_text(ctx, root, "kafka.transactional_id", cfg->kafka.transactional_id,
                               "when kafka.processing_guarantee is exactly_once");
    return status;
}

static int validate_topics(struct cfg_ctx *ctx, const struct cfg_node *root, const struct intentd_config *cfg)
{
    const char *const names[] = {cfg->topics.clickstream, cfg->topics.reviews, cfg->topics.intents,
                                 cfg->topics.offers, cfg->topics.changelog, cfg->topics.dead_letter};
    const char *const keys[] = {"topics.clickstream", "topics.reviews", "topics.intents",
                                "topics.offers", "topics.changelog", "topics.dead_letter"};
    int status = 0;

    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        status |= require_text(ctx, root, keys[i], names[i], "(only topics.consents may be empty)");
        for (size_t j = 0; j < i && names[i][0] != '\0'; j++) {
            if (strcmp(names[i], names[j]) == 0) {
                cfg_error(ctx, find_node(root, keys[i]), keys[i], "topic \"%s\" is also %s; each topic needs its own name",
                          names[i], keys[j]);
                status = -1;
            }
        }
    }
    return status;
}

static int validate_schemas(struct cfg_ctx *ctx, const struct cfg_node *root, const struct intentd_config *cfg)
{
    int status = 0;
    if (cfg->schemas.source == CONFIG_SCHEMA_REGISTRY) {
        status |= require_text(ctx, root, "schemas.registry_url", cfg->schemas.registry_url,
                               "when schemas.source is registry");
        if (cfg->schemas.registry_url[0] != '\0' && strncmp(cfg->schemas.registry_url, "http://", 7) != 0 &&
            strncmp(cfg->schemas.registry_url, "https://", 8) != 0) {
            cfg_error(ctx, find_node(root, "schemas.registry_url"), "schemas.registry_url",
                      "expected an http:// or https:// URL, got \"%.80s\"", cfg->schemas.registry_url);
            status = -1;
        }
    } else {
        status |= require_text(ctx, root, "schemas.local_dir", cfg->schemas.local_dir, "when schemas.source is local");
    }
    if (cfg->schemas.format == CONFIG_FORMAT_JSON) {
        status |= require_text(ctx, root, "schemas.json.user_id", cfg->schemas.json.user_id,
                               "when schemas.format is json");
        status |= require_text(ctx, root, "schemas.json.action", cfg->schemas.json.action,
                               "when schemas.format is json");
    }
    return status;
}

static int validate_triggers(struct cfg_ctx *ctx, const struct cfg_node *root, const struct intentd_config *cfg)
{
    const struct cfg_node *list = cfg_map_get(root, "triggers");
    int status = 0;

    for (size_t i = 0; i < cfg->n_triggers; i++) {
        const struct config_trigger *trigger = &cfg->triggers[i];
        const struct cfg_node *node = list != NULL && list->kind == CFG_NODE_SEQ ? list->items[i] : NULL;
        char path[CFG_MAX_PATH];
        int found = 0;

        for (size_t t = 0; t < trigger->n_templates; t++)
            found |= strcmp(trigger->templates[t].language, cfg->offers.language) == 0;
        cfg_path_index(path, sizeof path, "triggers", i);
        if (!found) {
            const struct cfg_node *at = cfg_map_get(node, "template");
            cfg_error(ctx, at ? at : node, path, "rule \"%s\" has no template in offers.language \"%s\"",
                      trigger->name, cfg->offers.language);
            status = -1;
        }
        if (trigger->when.kind == CONFIG_COND_EVENT && trigger->when.has_absent &&
            trigger->when.absent == trigger->when.event) {
            cfg_error(ctx, cfg_map_get(node, "when"), path, "when: event and no name the same action");
            status = -1;
        }
    }
    return status;
}

int cfg_validate(struct cfg_ctx *ctx, const struct cfg_node *root, struct intentd_config *cfg)
{
    static const char *const levels[] = {"debug", "info", "warn", "error"};
    int status = 0;

    status |= validate_kafka(ctx, root, cfg);
    status |= validate_topics(ctx, root, cfg);
    status |= validate_schemas(ctx, root, cfg);
    status |= validate_triggers(ctx, root, cfg);
    status |= require_text(ctx, root, "model.path", cfg->model.path, "(the safetensors weights file)");
    status |= require_text(ctx, root, "offers.language", cfg->offers.language, "(a language tag like en)");

    int level_ok = 0;
    for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++)
        level_ok |= strcmp(cfg->log.level, levels[i]) == 0;
    if (!level_ok) {
        cfg_error(ctx, find_node(root, "log.level"), "log.level", "expected one of debug, info, warn, error; got \"%.40s\"",
                  cfg->log.level);
        status = -1;
    }
    if (cfg->metrics.port != 0)
        status |= require_text(ctx, root, "metrics.bind", cfg->metrics.bind, "when metrics.port is set");
    return status;
}
