/*
 * intentd run: the streaming job. Loads the config and the model, checks the
 * topics, and runs the exactly-once loop until SIGTERM or SIGINT, which
 * finish and commit the current batch first.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app.h"
#include "commands.h"
#include "kernels.h"
#include "kafka_admin.h"
#include "kafka_conf.h"
#include "log.h"

static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int signo)
{
    (void)signo;
    stop_requested = 1;
}

static void print_help(FILE *out)
{
    fprintf(out,
            "usage: intentd run --config FILE [--model PATH] [--bootstrap HOST:PORT]\n\n"
            "Consumes the clickstream and reviews topics, keeps each user's token sequence,\n"
            "writes user intents and offers, and commits each batch in one Kafka transaction.\n"
            "SIGTERM or SIGINT finishes the current batch, commits it and exits.\n\n"
            "  --config FILE          intentd YAML config (see config/intentd.example.yaml)\n"
            "  --model PATH           safetensors model; overrides model.path\n"
            "  --bootstrap HOST:PORT  Kafka bootstrap servers; overrides kafka.bootstrap_servers\n"
            "  --log-level LEVEL      debug, info, warn or error; overrides log.level\n");
}

struct run_options {
    const char *config_path;
    const char *model_path;
    const char *bootstrap;
    const char *log_level;
};

static int parse_options(int argc, char **argv, struct run_options *options)
{
    static const struct option long_options[] = {
        {"config", required_argument, NULL, 'c'}, {"model", required_argument, NULL, 'm'},
        {"bootstrap", required_argument, NULL, 'b'}, {"log-level", required_argument, NULL, 'l'},
        {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
    };
    int opt;

    memset(options, 0, sizeof *options);
    optind = 1;
    while ((opt = getopt_long(argc, argv, "c:m:b:l:h", long_options, NULL)) != -1) {
        switch (opt) {
        case 'c': options->config_path = optarg; break;
        case 'm': options->model_path = optarg; break;
        case 'b': options->bootstrap = optarg; break;
        case 'l': options->log_level = optarg; break;
        case 'h': print_help(stdout); return 1;
        default: print_help(stderr); return -1;
        }
    }
    if (!options->config_path) {
        fprintf(stderr, "intentd run: --config FILE is required\n\n");
        print_help(stderr);
        return -1;
    }
    return 0;
}

/* Refuses to run unless every input and the changelog have the same
 * partition count: a user's events and state must meet in one task. */
static int check_topics(const struct intentd_config *cfg, const char *bootstrap)
{
    const char *names[4] = {cfg->topics.clickstream, cfg->topics.reviews, cfg->topics.changelog,
                            cfg->topics.consents};
    size_t n = cfg->topics.consents[0] ? 4 : 3;
    struct kafka_topic_info infos[4];
    char error[1024];
    rd_kafka_conf_t *conf;

    if (kafka_conf_build(cfg, bootstrap, &conf, error, sizeof error) != 0) {
        log_error("%s", error);
        return -1;
    }
    rd_kafka_t *admin = kafka_admin_new(conf, error, sizeof error);
    if (!admin || kafka_admin_describe_topics(admin, names, n, infos, 30000, error, sizeof error) != 0) {
        log_error("reading topic metadata failed: %s", error);
        if (admin)
            rd_kafka_destroy(admin);
        return -1;
    }
    rd_kafka_destroy(admin);

    for (size_t i = 0; i < n; i++) {
        if (!infos[i].exists) {
            log_error("topic %s does not exist; create the topics with 'intentd topics create --config FILE'",
                      names[i]);
            return -1;
        }
        if (infos[i].partitions != infos[0].partitions) {
            log_error("topics are not co-partitioned: %s has %d partitions, %s has %d; inputs and the changelog "
                      "must have the same partition count so each user's events and state meet in one task",
                      names[0], infos[0].partitions, names[i], infos[i].partitions);
            return -1;
        }
    }
    return 0;
}

static int build_confs(const struct intentd_config *cfg, const char *bootstrap, rd_kafka_conf_t **consumer,
                       rd_kafka_conf_t **producer)
{
    char error[1024];

    if (kafka_conf_build(cfg, bootstrap, consumer, error, sizeof error) != 0 ||
        kafka_conf_set(*consumer, "group.id", cfg->kafka.group_id, error, sizeof error) != 0) {
        log_error("%s", error);
        return -1;
    }
    if (kafka_conf_build(cfg, bootstrap, producer, error, sizeof error) != 0 ||
        kafka_conf_set(*producer, "transactional.id", cfg->kafka.transactional_id, error, sizeof error) != 0) {
        rd_kafka_conf_destroy(*consumer);
        log_error("%s", error);
        return -1;
    }
    return 0;
}

static void log_summary(const struct app *app)
{
    const struct app_counters *c = &app->counters;
    uint64_t dead = 0, offers = 0;
    for (int i = 0; i < APP_DLQ_REASON_COUNT; i++)
        dead += c->dead_letters[i];
    for (int r = 0; r < APP_MAX_RULES; r++)
        offers += c->offers[r][OFFER_FIRED] + c->offers[r][OFFER_HOLDOUT];

    log_info("intentd run stopped clickstream_records=%llu review_records=%llu dead_lettered=%llu intents=%llu "
             "offers=%llu batches=%llu aborted_batches=%llu",
             (unsigned long long)c->records[APP_INPUT_CLICKSTREAM], (unsigned long long)c->records[APP_INPUT_REVIEWS],
             (unsigned long long)dead, (unsigned long long)c->intents, (unsigned long long)offers,
             (unsigned long long)c->batches, (unsigned long long)c->aborted_batches);
}

static int run(const struct intentd_config *cfg, const struct run_options *options)
{
    struct model_bundle bundle;
    struct app app;
    char error[APP_ERROR_SIZE];
    const char *model_path = options->model_path ? options->model_path : cfg->model.path;

    /* Small per-batch matrices run faster on one OpenBLAS thread than on two
     * spinning ones, and the Kafka client threads need the other core. */
    model_blas_set_threads(cfg->model.encoder_threads > 0 ? cfg->model.encoder_threads : 1);

    if (model_bundle_load(&bundle, model_path, cfg->model.version, error) != 0) {
        log_error("loading the model failed: %s", error);
        return 1;
    }
    log_info("model loaded path=%s version=%s vocab=%d d_model=%d", model_path, bundle.version,
             bundle.model.config.vocab_size, bundle.model.config.d_model);

    if (app_init(&app, cfg, &bundle, error) != 0) {
        log_error("%s", error);
        model_bundle_free(&bundle);
        return 2;
    }

    rd_kafka_conf_t *consumer = NULL, *producer = NULL;
    int status = 1;
    if (check_topics(cfg, options->bootstrap) == 0 && build_confs(cfg, options->bootstrap, &consumer, &producer) == 0) {
        struct stream_loop_options loop_options = {
            .driver_topic = cfg->topics.clickstream,
            .companion_topics = {cfg->topics.reviews, cfg->topics.consents[0] ? cfg->topics.consents : NULL},
            .n_companions = cfg->topics.consents[0] ? 2 : 1,
            .changelog_topic = cfg->topics.changelog,
            .batch_max_events = cfg->batching.max_events,
            .batch_max_wait_ms = (int)cfg->batching.max_wait_ms,
            .transaction_timeout_ms = 60000,
        };
        struct stream_handlers handlers;
        app_handlers(&app, &handlers);

        if (stream_loop_create(&app.loop, consumer, producer, &loop_options, &handlers, error) != 0) {
            log_error("%s", error);
        } else {
            status = stream_loop_run(app.loop, &stop_requested, error) == 0 ? 0 : 1;
            if (status != 0)
                log_error("%s", error);
            log_summary(&app);
            stream_loop_destroy(app.loop);
            app.loop = NULL;
        }
    }

    app_free(&app);
    model_bundle_free(&bundle);
    return status;
}

int cmd_run(int argc, char **argv)
{
    struct run_options options;
    int parsed = parse_options(argc, argv, &options);
    if (parsed != 0)
        return parsed > 0 ? 0 : 2;

    struct intentd_config cfg;
    struct config_error config_error;
    if (config_load(options.config_path, &cfg, &config_error) != 0) {
        fprintf(stderr, "%s\n", config_error.message);
        return 2;
    }

    enum log_level level;
    const char *level_text = options.log_level ? options.log_level : cfg.log.level;
    if (log_parse_level(level_text, &level) != 0) {
        fprintf(stderr, "intentd run: unknown log level '%s'; use debug, info, warn or error\n", level_text);
        config_free(&cfg);
        return 2;
    }
    log_set_level(level);

    struct sigaction action = {0};
    action.sa_handler = on_stop_signal;
    sigaction(SIGTERM, &action, NULL);
    sigaction(SIGINT, &action, NULL);

    log_info("intentd run starting version=%s config=%s pid=%d", INTENTD_VERSION, options.config_path, (int)getpid());
    int status = run(&cfg, &options);
    config_free(&cfg);
    return status;
}
