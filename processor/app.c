#include "app.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "offer_setup.h"

int app_produce(struct app *app, const char *topic, int32_t partition, const void *key, size_t key_len,
                const void *value, size_t value_len)
{
    rd_kafka_t *producer = stream_loop_producer(app->loop);
    rd_kafka_resp_err_t err;

    while ((err = rd_kafka_producev(producer, RD_KAFKA_V_TOPIC(topic),
                                    RD_KAFKA_V_PARTITION(partition < 0 ? RD_KAFKA_PARTITION_UA : partition),
                                    RD_KAFKA_V_KEY(key, key_len), RD_KAFKA_V_VALUE((void *)value, value_len),
                                    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END)) ==
           RD_KAFKA_RESP_ERR__QUEUE_FULL)
        rd_kafka_poll(producer, 10);

    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        /* The fatal error may come from a request to another topic, and it
         * names the real cause, such as fencing. */
        char reason[512];
        rd_kafka_fatal_error(producer, reason, sizeof reason);
        snprintf(app->error, sizeof app->error, "producing to %s failed: the producer has a fatal error: %s", topic,
                 reason);
        return -1;
    }
    if (err) {
        snprintf(app->error, sizeof app->error, "producing to %s failed: %s", topic, rd_kafka_err2str(err));
        return -1;
    }
    return 0;
}

static int open_codec(struct app *app, char *error)
{
    char path[4096];
    codec_error_t err;

    snprintf(path, sizeof path, "%s/catalogue.json", app->cfg->schemas.local_dir);
    if (codec_open(path, &app->codec, &err) != CODEC_OK) {
        snprintf(error, APP_ERROR_SIZE, "opening the schema catalogue %.600s failed: %.200s; set schemas.local_dir to the "
                 "folder that contains catalogue.json", path, err.message);
        return -1;
    }
    return 0;
}

/* Schema ids of Avro input come from the registry when one is configured. */
static int open_registry(struct app *app, char *error)
{
    const struct intentd_config *cfg = app->cfg;
    struct schema_registry_options options;

    if (cfg->schemas.source != CONFIG_SCHEMA_REGISTRY)
        return 0;
    if (cfg->schemas.format != CONFIG_FORMAT_AVRO) {
        log_warn("schemas.source is registry but schemas.format is json; JSON records carry no schema id, so the "
                 "registry is not used");
        return 0;
    }
    schema_registry_options_defaults(&options, cfg->schemas.registry_url, cfg->schemas.registry_auth);
    app->registry = app_registry_new(cfg, &options, error, APP_ERROR_SIZE);
    if (!app->registry)
        return -1;
    log_info("schema ids of input records come from schema registry %s", app_registry_url(app->registry));
    return 0;
}

void app_on_idle(void *ctx)
{
    struct app *app = ctx;
    if (app->registry)
        app_registry_on_idle(app->registry, app->loop);
}

static int open_state(struct app *app, char *error)
{
    struct state_store_options options;
    char message[STATE_ERROR_SIZE];

    state_store_options_defaults(&options);
    options.max_len = app->cfg->state.max_len;
    options.memory_budget = (size_t)app->cfg->state.memory_budget_mb << 20;
    /* Only on_move compares embeddings, so the other policies keep none and pay nothing. */
    if (app->cfg->intents.emit == CONFIG_EMIT_ON_MOVE)
        options.embedding_dim = app->bundle->model.config.d_model;
    app->store = state_store_new(&options, message);
    if (!app->store) {
        snprintf(error, APP_ERROR_SIZE, "creating the user state store failed: %s", message);
        return -1;
    }
    app_undo_init(&app->undo, app->store);
    return 0;
}

static int open_policy(struct app *app, char *error)
{
    const struct intentd_config *cfg = app->cfg;
    struct offer_policy_options options;
    char message[OFFER_ERROR_SIZE];

    if (cfg->n_triggers > APP_MAX_RULES) {
        snprintf(error, APP_ERROR_SIZE, "%zu trigger rules configured, at most %d are supported", cfg->n_triggers,
                 APP_MAX_RULES);
        return -1;
    }
    offer_setup_policy_options(cfg, &options);
    app->policy = offer_policy_new(&options, message);
    if (!app->policy) {
        snprintf(error, APP_ERROR_SIZE, "offer policy: %s", message);
        return -1;
    }

    app->rules = calloc(cfg->n_triggers ? cfg->n_triggers : 1, sizeof *app->rules);
    if (!app->rules) {
        snprintf(error, APP_ERROR_SIZE, "out of memory");
        return -1;
    }
    for (size_t r = 0; r < cfg->n_triggers; r++) {
        const struct config_trigger *t = &cfg->triggers[r];
        offer_setup_rule(t, &app->rules[r]);
        if (offer_rule_validate(&app->rules[r], message) != 0) {
            snprintf(error, APP_ERROR_SIZE, "trigger rule %s: %s", t->name, message);
            return -1;
        }
    }
    return 0;
}

int app_init(struct app *app, const struct intentd_config *cfg, struct model_bundle *bundle, char *error)
{
    memset(app, 0, sizeof *app);
    app->cfg = cfg;
    app->bundle = bundle;

    if (open_codec(app, error) != 0 || open_registry(app, error) != 0 || open_state(app, error) != 0 ||
        open_policy(app, error) != 0) {
        app_free(app);
        return -1;
    }
    return 0;
}

void app_free(struct app *app)
{
    if (app->codec)
        codec_close(app->codec);
    app_registry_free(app->registry);
    if (app->store)
        state_store_free(app->store);
    if (app->policy)
        offer_policy_free(app->policy);
    free(app->rules);
    free(app->touches);
    free(app->candidates);
    free(app->candidate_tokens);
    app_undo_free(&app->undo);
    for (size_t p = 0; p < app->n_clocks; p++)
        app_timers_free(&app->clocks[p].timers);
    free(app->clocks);
    model_arena_free(&app->arena);
    memset(app, 0, sizeof *app);
}

void app_handlers(struct app *app, struct stream_handlers *handlers)
{
    *handlers = (struct stream_handlers){
        .ctx = app,
        .on_record = app_on_record,
        .on_batch_end = app_on_batch_end,
        .on_commit = app_on_commit,
        .on_abort = app_on_abort,
        .on_restore_record = app_on_restore_record,
        .on_task_ready = app_on_task_ready,
        .on_task_revoked = app_on_task_revoked,
        .on_idle = app_on_idle,
    };
}
