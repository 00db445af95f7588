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
#include <time.h>
#include <unistd.h>

#include "app.h"
#include "blas_kernels.h"
#include "commands.h"
#include "kernels.h"
#include "kafka_admin.h"
#include "kafka_conf.h"
#include "log.h"
#include "metrics_publish.h"
#include "metrics_server.h"
#include "reload_model.h"

static volatile sig_atomic_t stop_requested;
static volatile sig_atomic_t reload_requested;

/* Seconds between two looks at the model file's mtime and size. */
#define RUN_RELOAD_CHECK_S 3.0
/* Milliseconds between two librdkafka statistics documents (consumer lag). */
#define RUN_STATS_INTERVAL "5000"

static void on_stop_signal(int signo)
{
    (void)signo;
    stop_requested = 1;
}

static void on_reload_signal(int signo)
{
    (void)signo;
    reload_requested = 1;
}

static void print_help(FILE *out)
{
    fprintf(out,
            "usage: intentd run --config FILE [--model PATH] [--bootstrap HOST:PORT] [--metrics-port PORT]\n\n"
            "Consumes the clickstream and reviews topics, keeps each user's token sequence,\n"
            "writes user intents and offers, and commits each batch in one Kafka transaction.\n"
            "SIGTERM or SIGINT finishes the current batch, commits it and exits. SIGHUP, or a\n"
            "change of the model file, reloads the model between two batches.\n\n"
            "  --config FILE          intentd YAML config (see config/intentd.example.yaml)\n"
            "  --model PATH           safetensors model; overrides model.path\n"
            "  --bootstrap HOST:PORT  Kafka bootstrap servers; overrides kafka.bootstrap_servers\n"
            "  --log-level LEVEL      debug, info, warn or error; overrides log.level\n"
            "  --metrics-port PORT    port of the metrics and health endpoint, 0 to turn it off;\n"
            "                         overrides metrics.port\n"
            "  --allow-tokenizer-change\n"
            "                         accept a reloaded model whose tokenizer differs from the\n"
            "                         running one (users' stored tokens are then misread)\n");
}

struct run_options {
    const char *config_path;
    const char *model_path;
    const char *bootstrap;
    const char *log_level;
    int metrics_port; /* -1 when not given */
    int allow_tokenizer_change;
};

static int parse_port(const char *text, int *port)
{
    char *end;
    long value = strtol(text, &end, 10);

    if (end == text || *end != '\0' || value < 0 || value > 65535) {
        fprintf(stderr, "intentd run: invalid --metrics-port '%s': expected 0 (off) to 65535\n", text);
        return -1;
    }
    *port = (int)value;
    return 0;
}

static int parse_options(int argc, char **argv, struct run_options *options)
{
    static const struct option long_options[] = {
        {"config", required_argument, NULL, 'c'}, {"model", required_argument, NULL, 'm'},
        {"bootstrap", required_argument, NULL, 'b'}, {"log-level", required_argument, NULL, 'l'},
        {"allow-tokenizer-change", no_argument, NULL, 't'}, {"metrics-port", required_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt;

    memset(options, 0, sizeof *options);
    options->metrics_port = -1;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "c:m:b:l:h", long_options, NULL)) != -1) {
        switch (opt) {
        case 'c': options->config_path = optarg; break;
        case 'm': options->model_path = optarg; break;
        case 'b': options->bootstrap = optarg; break;
        case 'l': options->log_level = optarg; break;
        case 't': options->allow_tokenizer_change = 1; break;
        case 'p':
            if (parse_port(optarg, &options->metrics_port) != 0)
                return -1;
            break;
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

/* Consumer lag comes from librdkafka's statistics: with the metrics endpoint
 * on, emit them every RUN_STATS_INTERVAL unless kafka.properties chose an
 * interval. */
static int set_statistics_interval(const struct intentd_config *cfg, rd_kafka_conf_t *conf, char *error,
                                   size_t size)
{
    char value[32];
    size_t value_size = sizeof value;

    if (cfg->metrics.port <= 0)
        return 0;
    if (rd_kafka_conf_get(conf, "statistics.interval.ms", value, &value_size) == RD_KAFKA_CONF_OK &&
        strcmp(value, "0") != 0)
        return 0;
    return kafka_conf_set(conf, "statistics.interval.ms", RUN_STATS_INTERVAL, error, size);
}

/* Keyed outputs (intents, offers, dead letters) go to the partition the
 * Java client's default partitioner picks, murmur2 of the key, unless
 * kafka.properties chose a partitioner. librdkafka's own default (CRC32)
 * would put a user's intents on another partition number than the events a
 * Java or `intentd replay` producer wrote for that user. */
static int set_partitioner(const struct intentd_config *cfg, rd_kafka_conf_t *conf, char *error, size_t size)
{
    for (size_t i = 0; i < cfg->kafka.n_properties; i++)
        if (strcmp(cfg->kafka.properties[i].key, "partitioner") == 0)
            return 0;
    return kafka_conf_set(conf, "partitioner", "murmur2_random", error, size);
}

static int build_confs(const struct intentd_config *cfg, const char *bootstrap, rd_kafka_conf_t **consumer,
                       rd_kafka_conf_t **producer)
{
    char error[1024];

    if (kafka_conf_build(cfg, bootstrap, consumer, error, sizeof error) != 0 ||
        kafka_conf_set(*consumer, "group.id", cfg->kafka.group_id, error, sizeof error) != 0 ||
        set_statistics_interval(cfg, *consumer, error, sizeof error) != 0) {
        log_error("%s", error);
        return -1;
    }
    if (kafka_conf_build(cfg, bootstrap, producer, error, sizeof error) != 0 ||
        kafka_conf_set(*producer, "transactional.id", cfg->kafka.transactional_id, error, sizeof error) != 0 ||
        set_partitioner(cfg, *producer, error, sizeof error) != 0) {
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
    if (app->registry) {
        struct app_registry_stats stats;
        app_registry_get_stats(app->registry, &stats);
        log_info("schema registry pauses=%llu retries=%llu paused_partitions=%d", (unsigned long long)stats.pauses,
                 (unsigned long long)stats.retries, stats.paused_partitions);
    }
}

/* The operations side of a run: metrics, health and model reload, hooked
 * around the app's handlers so they run on the stream thread between
 * batches. */
struct run_ops {
    struct app *app;
    struct stream_handlers inner; /* the app's own handlers */
    struct metrics_board board;
    struct reload_watch watch;
    uint64_t reloads[METRICS_RELOAD_RESULT_COUNT];
    double start_time_s;
    struct metrics_lag_table lag;
    const char *lag_topics[3];    /* the input topics, whose lag the statistics report */
    struct metrics_snapshot scratch; /* filled by the stream thread, then copied to the board */
};

static double monotonic_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void ops_publish(struct run_ops *ops, int running)
{
    struct metrics_snapshot *snapshot = &ops->scratch;
    metrics_fill_snapshot(ops->app, snapshot);
    snapshot->running = running;
    snapshot->start_time_s = ops->start_time_s;
    memcpy(snapshot->reloads, ops->reloads, sizeof snapshot->reloads);
    snapshot->lag = ops->lag;
    metrics_board_publish(&ops->board, snapshot);
}

/* After a commit no batch is open: the one safe point to swap the model. */
static void ops_on_commit(void *ctx)
{
    struct run_ops *ops = ctx;
    ops->inner.on_commit(ops->inner.ctx);

    int forced = reload_requested;
    reload_requested = 0;
    enum reload_status reloaded = reload_model_poll(&ops->watch, ops->app, forced, monotonic_s());
    if (reloaded == RELOAD_SWAPPED)
        ops->reloads[METRICS_RELOAD_OK]++;
    else if (reloaded == RELOAD_FAILED)
        ops->reloads[METRICS_RELOAD_FAILED]++;
    ops_publish(ops, 1);
}

static void ops_on_task_ready(void *ctx, int32_t partition, int64_t records, double seconds)
{
    struct run_ops *ops = ctx;
    ops->inner.on_task_ready(ops->inner.ctx, partition, records, seconds);
    ops_publish(ops, 1);
}

static void ops_on_task_revoked(void *ctx, int32_t partition)
{
    struct run_ops *ops = ctx;
    ops->inner.on_task_revoked(ops->inner.ctx, partition);
    ops_publish(ops, 1);
}

static int ops_on_record(void *ctx, const rd_kafka_message_t *record)
{
    struct run_ops *ops = ctx;
    return ops->inner.on_record(ops->inner.ctx, record);
}

static int ops_on_batch_end(void *ctx)
{
    struct run_ops *ops = ctx;
    return ops->inner.on_batch_end(ops->inner.ctx);
}

static void ops_on_abort(void *ctx)
{
    struct run_ops *ops = ctx;
    ops->inner.on_abort(ops->inner.ctx);
    ops_publish(ops, 1);
}

static void ops_on_restore_record(void *ctx, const rd_kafka_message_t *record)
{
    struct run_ops *ops = ctx;
    ops->inner.on_restore_record(ops->inner.ctx, record);
}

static void ops_on_idle(void *ctx)
{
    struct run_ops *ops = ctx;
    ops->inner.on_idle(ops->inner.ctx);
}

static void ops_on_stats(void *ctx, const char *json, size_t len)
{
    struct run_ops *ops = ctx;
    if (metrics_lag_update(&ops->lag, json, len, ops->lag_topics, 3) != 0)
        log_warn("librdkafka statistics did not parse; consumer lag metrics are stale");
    ops_publish(ops, 1); /* also keeps the snapshot fresh while no batch runs */
}

/* Wraps the app's handlers in ops's. */
static void ops_handlers(struct run_ops *ops, struct stream_handlers *handlers)
{
    app_handlers(ops->app, &ops->inner);
    *handlers = (struct stream_handlers){
        .ctx = ops,
        .on_record = ops_on_record,
        .on_batch_end = ops_on_batch_end,
        .on_commit = ops_on_commit,
        .on_abort = ops_on_abort,
        .on_restore_record = ops_on_restore_record,
        .on_task_ready = ops_on_task_ready,
        .on_task_revoked = ops_on_task_revoked,
        .on_stats = ops_on_stats,
        .on_idle = ops_on_idle,
    };
}

static struct metrics_server *start_metrics(const struct intentd_config *cfg, struct metrics_board *board)
{
    char error[512];
    if (cfg->metrics.port <= 0) {
        log_info("metrics endpoint disabled (metrics.port is 0)");
        return NULL;
    }
    const char *bind = cfg->metrics.bind && cfg->metrics.bind[0] ? cfg->metrics.bind : "0.0.0.0";
    struct metrics_server *server = metrics_server_start(bind, cfg->metrics.port, board, error, sizeof error);
    if (!server)
        log_error("%s", error);
    else
        log_info("metrics endpoint listening bind=%s port=%d paths=/metrics,/healthz,/readyz", bind,
                 cfg->metrics.port);
    return server;
}

static int run_loop(const struct intentd_config *cfg, const struct run_options *options, struct run_ops *ops)
{
    struct app *app = ops->app;
    char error[APP_ERROR_SIZE];
    rd_kafka_conf_t *consumer = NULL, *producer = NULL;
    int status = 1;

    if (check_topics(cfg, options->bootstrap) != 0 || build_confs(cfg, options->bootstrap, &consumer, &producer) != 0)
        return 1;

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
    ops_handlers(ops, &handlers);

    if (stream_loop_create(&app->loop, consumer, producer, &loop_options, &handlers, error) != 0) {
        log_error("%s", error);
        return 1;
    }
    const char *const outputs[] = {cfg->topics.intents, cfg->topics.offers, cfg->topics.changelog,
                                   cfg->topics.dead_letter};
    if (stream_loop_warm_topics(app->loop, outputs, 4, error) != 0) {
        log_error("%s", error);
        stream_loop_destroy(app->loop);
        app->loop = NULL;
        return 1;
    }
    ops_publish(ops, 1);
    status = stream_loop_run(app->loop, &stop_requested, error) == 0 ? 0 : 1;
    ops_publish(ops, 0); /* readiness drops before the group is left */
    if (status != 0)
        log_error("%s", error);
    log_summary(app);
    stream_loop_destroy(app->loop);
    app->loop = NULL;
    return status;
}

static int run(const struct intentd_config *cfg, const struct run_options *options)
{
    struct run_ops ops; /* the handlers' context for the whole run */
    struct app app;
    char error[APP_ERROR_SIZE];
    const char *model_path = options->model_path ? options->model_path : cfg->model.path;

    /* model.encoder_threads parallelises whole chunks of users, each on one
     * OpenBLAS thread: the per-chunk matrices run slower on two spinning
     * OpenBLAS threads than on one. */
    model_blas_set_threads(1);

    /* Heap-allocated because a reload frees it and swaps in another. */
    struct model_bundle *bundle = calloc(1, sizeof *bundle);
    if (!bundle || model_bundle_load(bundle, model_path, cfg->model.version, error) != 0) {
        log_error("loading the model failed: %s", bundle ? error : "out of memory");
        free(bundle);
        return 1;
    }
    log_info("model loaded path=%s version=%s vocab=%d d_model=%d", model_path, bundle->version,
             bundle->model.config.vocab_size, bundle->model.config.d_model);

    if (app_init(&app, cfg, bundle, error) != 0) {
        log_error("%s", error);
        model_bundle_free(bundle);
        free(bundle);
        return 2;
    }

    memset(&ops, 0, sizeof ops);
    ops.app = &app;
    ops.start_time_s = (double)time(NULL);
    ops.lag_topics[0] = cfg->topics.clickstream;
    ops.lag_topics[1] = cfg->topics.reviews;
    ops.lag_topics[2] = cfg->topics.consents[0] ? cfg->topics.consents : NULL;
    reload_watch_init(&ops.watch, model_path, cfg->model.version, options->allow_tokenizer_change,
                      RUN_RELOAD_CHECK_S);
    int status = 1;
    if (metrics_board_init(&ops.board) != 0) {
        log_error("creating the metrics lock failed");
    } else {
        struct metrics_server *server = start_metrics(cfg, &ops.board);
        if (server || cfg->metrics.port <= 0)
            status = run_loop(cfg, options, &ops);
        metrics_server_stop(server);
        metrics_board_destroy(&ops.board);
    }

    bundle = app.bundle; /* a reload may have replaced it */
    app_free(&app);
    model_bundle_free(bundle);
    free(bundle);
    return status;
}

/* Rejects settings the config loader accepts but intentd run does not
 * implement yet, rather than running with a different meaning. */
static int check_supported(const struct intentd_config *cfg, const char *path)
{
    if (cfg->kafka.processing_guarantee == CONFIG_AT_LEAST_ONCE) {
        fprintf(stderr, "intentd run: %s: kafka.processing_guarantee: at_least_once is not supported yet; "
                        "intentd run always commits each batch in one transaction (exactly_once)\n", path);
        return -1;
    }
    return 0;
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
    if (check_supported(&cfg, options.config_path) != 0) {
        config_free(&cfg);
        return 2;
    }
    if (options.metrics_port >= 0)
        cfg.metrics.port = options.metrics_port;
    if (cfg.metrics.port > 0 && (!cfg.metrics.bind || !cfg.metrics.bind[0])) {
        /* config validation checks the bind only when the file sets a port */
        fprintf(stderr, "intentd run: %s: metrics.bind is empty but --metrics-port %d is given; set metrics.bind "
                        "(for example 127.0.0.1)\n", options.config_path, cfg.metrics.port);
        config_free(&cfg);
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
    struct sigaction reload_action = {0};
    reload_action.sa_handler = on_reload_signal;
    sigaction(SIGHUP, &reload_action, NULL);

    log_info("intentd run starting version=%s config=%s pid=%d blas_kernels=%s", INTENTD_VERSION, options.config_path,
             (int)getpid(), model_blas_kernels());
    int status = run(&cfg, &options);
    config_free(&cfg);
    return status;
}
