/*
 * intentd topics create|check: create the topics intentd reads and writes,
 * and check that they exist with the settings the processor relies on:
 * cleanup.policy=compact on the compacted topics, and one partition count
 * for clickstream, reviews, consents and the state changelog, because a
 * user's events, consent and state must all live in partition p of each.
 *
 * Per-topic results go to stdout, problems to stderr through log.h.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commands.h"
#include "config.h"
#include "kafka_admin.h"
#include "kafka_conf.h"
#include "log.h"

#define TOPICS_MAX 7
#define TOPICS_DEFAULT_TIMEOUT_S 30
/* How long create waits for new topics to show up in metadata. */
#define TOPICS_VISIBLE_WAIT_MS 10000

/* One topic intentd uses, as the config names it. */
struct planned_topic {
    const char *key;  /* config key, e.g. "topics.reviews" */
    const char *name; /* topic name */
    int compacted;    /* must have cleanup.policy=compact */
    /* Must have the partition count of clickstream; why, for the message. */
    const char *copartition_reason;
};

struct topics_run {
    const char *action;
    const char *config_path;
    const char *bootstrap; /* --bootstrap, or kafka.bootstrap_servers once loaded */
    int timeout_ms;
    struct intentd_config cfg;
    struct planned_topic topics[TOPICS_MAX];
    size_t n_topics;
    rd_kafka_t *admin;
};

/* Prints one result line to stdout and flushes it, so it stays in order with
 * the log lines on stderr when both go to one file. */
__attribute__((format(printf, 1, 2))) static void print_line(const char *fmt, ...)
{
    va_list args;

    va_start(args, fmt);
    vprintf(fmt, args);
    va_end(args);
    fflush(stdout);
}

static void print_usage(FILE *out)
{
    fprintf(out,
            "usage: intentd topics create|check --config FILE [--bootstrap HOST:PORT] [--timeout SECONDS]\n"
            "\n"
            "  create     create every missing topic with topics.partitions partitions and\n"
            "             topics.replication_factor replicas (cleanup.policy=compact on the\n"
            "             intents, consents and changelog topics), then check them all\n"
            "  check      check that every topic exists, that the compacted topics are\n"
            "             compacted and that the input topics and the changelog have the\n"
            "             same partition count\n"
            "\n"
            "  --config FILE         the intentd YAML config (required)\n"
            "  --bootstrap HOST:PORT Kafka bootstrap servers, replacing kafka.bootstrap_servers\n"
            "  --timeout SECONDS     timeout of each Kafka request (default %d)\n"
            "\n"
            "Exit status: 0 if every topic is fine, 1 if a problem was found or Kafka\n"
            "failed, 2 on a usage or config error.\n",
            TOPICS_DEFAULT_TIMEOUT_S);
}

static int parse_args(int argc, char **argv, struct topics_run *run)
{
    static const struct option options[] = {
        {"config", required_argument, NULL, 'c'},
        {"bootstrap", required_argument, NULL, 'b'},
        {"timeout", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int option;
    char *end;

    optind = 0; /* 0 makes glibc reset getopt fully, for repeated in-process calls */
    while ((option = getopt_long(argc, argv, "c:b:t:h", options, NULL)) != -1) {
        switch (option) {
        case 'c':
            run->config_path = optarg;
            break;
        case 'b':
            run->bootstrap = optarg;
            break;
        case 't': {
            long seconds = strtol(optarg, &end, 10);
            if (*end || seconds < 1 || seconds > 3600) {
                fprintf(stderr, "intentd topics: invalid --timeout '%s': expected 1..3600 seconds\n", optarg);
                return 2;
            }
            run->timeout_ms = (int)seconds * 1000;
            break;
        }
        case 'h':
            print_usage(stdout);
            return 0;
        default:
            print_usage(stderr);
            return 2;
        }
    }

    if (optind >= argc) {
        fprintf(stderr, "intentd topics: missing action: expected create or check\n\n");
        print_usage(stderr);
        return 2;
    }
    run->action = argv[optind];
    if (strcmp(run->action, "create") != 0 && strcmp(run->action, "check") != 0) {
        fprintf(stderr, "intentd topics: unknown action '%s': expected create or check\n", run->action);
        return 2;
    }
    if (optind + 1 < argc) {
        fprintf(stderr, "intentd topics: unexpected argument '%s'\n", argv[optind + 1]);
        return 2;
    }
    if (!run->config_path) {
        fprintf(stderr, "intentd topics: missing --config FILE\n");
        return 2;
    }
    return -1;
}

static void plan_topic(struct topics_run *run, const char *key, const char *name, int compacted,
                       const char *copartition_reason)
{
    struct planned_topic *topic = &run->topics[run->n_topics++];

    topic->key = key;
    topic->name = name;
    topic->compacted = compacted;
    topic->copartition_reason = copartition_reason;
}

/* Lists the configured topics in run->topics. Returns 0, or 2 with a
 * message on stderr if a name is missing or used twice. */
static int plan_topics(struct topics_run *run)
{
    const char *inputs = "input topics must be co-partitioned by user id";
    const struct intentd_config *cfg = &run->cfg;

    plan_topic(run, "topics.clickstream", cfg->topics.clickstream, 0, NULL);
    plan_topic(run, "topics.reviews", cfg->topics.reviews, 0, inputs);
    plan_topic(run, "topics.intents", cfg->topics.intents, 1, NULL);
    plan_topic(run, "topics.offers", cfg->topics.offers, 0, NULL);
    if (cfg->topics.consents && cfg->topics.consents[0])
        plan_topic(run, "topics.consents", cfg->topics.consents, 1, inputs);
    plan_topic(run, "topics.changelog", cfg->topics.changelog, 1,
               "the state changelog needs one partition per input partition, because the task of input "
               "partition p restores user state from changelog partition p");
    plan_topic(run, "topics.dead_letter", cfg->topics.dead_letter, 0, NULL);

    for (size_t i = 0; i < run->n_topics; i++) {
        if (!run->topics[i].name || !run->topics[i].name[0]) {
            fprintf(stderr, "intentd topics: %s: %s is empty; set a topic name\n", run->config_path,
                    run->topics[i].key);
            return 2;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(run->topics[i].name, run->topics[j].name) == 0) {
                fprintf(stderr, "intentd topics: %s: %s and %s both name topic %s; give each its own topic\n",
                        run->config_path, run->topics[j].key, run->topics[i].key, run->topics[i].name);
                return 2;
            }
        }
    }
    return 0;
}

/* Creates the missing topics and prints one line per topic. Returns the
 * number of topics that could not be created, or -1 if the request failed. */
static int create_topics(struct topics_run *run)
{
    struct kafka_topic_spec specs[TOPICS_MAX];
    struct kafka_create_result results[TOPICS_MAX];
    char error[1024];
    int failures = 0;

    for (size_t i = 0; i < run->n_topics; i++) {
        specs[i].name = run->topics[i].name;
        specs[i].partitions = run->cfg.topics.partitions;
        specs[i].replication_factor = run->cfg.topics.replication_factor;
        specs[i].compacted = run->topics[i].compacted;
    }
    if (kafka_admin_create_topics(run->admin, specs, run->n_topics, results, run->timeout_ms, error,
                                  sizeof error) != 0) {
        log_error("creating topics failed: %s bootstrap=%s", error, run->bootstrap);
        return -1;
    }

    for (size_t i = 0; i < run->n_topics; i++) {
        switch (results[i].status) {
        case KAFKA_TOPIC_CREATED:
            print_line("%s: created (%d partitions, replication factor %d%s)\n", specs[i].name, specs[i].partitions,
                   specs[i].replication_factor, specs[i].compacted ? ", cleanup.policy=compact" : "");
            break;
        case KAFKA_TOPIC_ALREADY_EXISTS:
            print_line("%s: already exists, left unchanged\n", specs[i].name);
            break;
        case KAFKA_TOPIC_CREATE_FAILED:
            log_error("creating topic %s (%s) failed: %s", specs[i].name, run->topics[i].key, results[i].message);
            failures++;
            break;
        }
    }
    return failures;
}

static void sleep_ms(long ms)
{
    struct timespec delay = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&delay, NULL);
}

/* Reads the state of every planned topic. After a create, waits up to
 * TOPICS_VISIBLE_WAIT_MS for new topics to appear in the metadata, which
 * the broker may publish a moment after CreateTopics returns. */
static int describe_topics(struct topics_run *run, struct kafka_topic_info *infos, int wait_for_all)
{
    const char *names[TOPICS_MAX];
    char error[1024];
    long waited = 0;

    for (size_t i = 0; i < run->n_topics; i++)
        names[i] = run->topics[i].name;

    for (;;) {
        int missing = 0;

        if (kafka_admin_describe_topics(run->admin, names, run->n_topics, infos, run->timeout_ms, error,
                                        sizeof error) != 0) {
            log_error("describing topics failed: %s bootstrap=%s", error, run->bootstrap);
            return -1;
        }
        for (size_t i = 0; i < run->n_topics; i++)
            missing += !infos[i].exists;
        if (!wait_for_all || missing == 0 || waited >= TOPICS_VISIBLE_WAIT_MS)
            return 0;
        sleep_ms(250);
        waited += 250;
    }
}

/* Checks one topic on its own. Returns the number of problems found. */
static int check_topic(const struct topics_run *run, const struct planned_topic *topic,
                       const struct kafka_topic_info *info)
{
    if (!info->exists) {
        log_error("topic %s (%s) does not exist; run 'intentd topics create --config %s'", topic->name, topic->key,
                  run->config_path);
        return 1;
    }

    print_line("%s: %d partitions, replication factor %d, cleanup.policy=%s\n", topic->name, info->partitions,
           info->replication_factor, info->cleanup_policy[0] ? info->cleanup_policy : "unknown");
    /* Only a warning, because intentd needs equal counts across the
     * co-partitioned topics (checked separately), not the configured count. */
    if (info->partitions != run->cfg.topics.partitions)
        log_warn("topic %s has %d partitions but topics.partitions is %d", topic->name, info->partitions,
                 run->cfg.topics.partitions);
    if (info->replication_factor < run->cfg.topics.replication_factor)
        log_warn("topic %s has replication factor %d, below topics.replication_factor %d", topic->name,
                 info->replication_factor, run->cfg.topics.replication_factor);

    if (topic->compacted && !info->compacted) {
        log_error("topic %s (%s) has cleanup.policy=%s but must be compacted, because intentd keeps the latest "
                  "record per user in it; set cleanup.policy=compact on the topic (kafka-configs.sh --alter "
                  "--entity-type topics --entity-name %s --add-config cleanup.policy=compact)",
                  topic->name, topic->key, info->cleanup_policy[0] ? info->cleanup_policy : "unknown", topic->name);
        return 1;
    }
    return 0;
}

/* Checks the partition counts against clickstream's. Returns the number of
 * topics that differ. */
static int check_copartitioning(const struct topics_run *run, const struct kafka_topic_info *infos)
{
    const struct planned_topic *driver = &run->topics[0];
    int problems = 0;

    if (!infos[0].exists)
        return 0;
    for (size_t i = 1; i < run->n_topics; i++) {
        const struct planned_topic *topic = &run->topics[i];

        if (!topic->copartition_reason || !infos[i].exists || infos[i].partitions == infos[0].partitions)
            continue;
        log_error("%s has %d partitions, %s has %d: %s; recreate %s with %d partitions", driver->name,
                  infos[0].partitions, topic->name, infos[i].partitions, topic->copartition_reason, topic->name,
                  infos[0].partitions);
        problems++;
    }
    return problems;
}

static int check_topics(struct topics_run *run, int after_create)
{
    struct kafka_topic_info infos[TOPICS_MAX];
    int problems = 0;

    if (describe_topics(run, infos, after_create) != 0)
        return -1;
    for (size_t i = 0; i < run->n_topics; i++)
        problems += check_topic(run, &run->topics[i], &infos[i]);
    problems += check_copartitioning(run, infos);
    return problems;
}

/* Loads the config and connects. Returns -1 on success, else the exit status. */
static int open_run(struct topics_run *run)
{
    struct config_error config_error;
    rd_kafka_conf_t *conf = NULL;
    char error[1024];

    if (config_load(run->config_path, &run->cfg, &config_error) != 0) {
        fprintf(stderr, "intentd topics: invalid config %s:\n%s\n", run->config_path, config_error.message);
        return 2;
    }
    if (plan_topics(run) != 0)
        return 2;
    if (kafka_conf_build(&run->cfg, run->bootstrap, &conf, error, sizeof error) != 0) {
        fprintf(stderr, "intentd topics: %s: %s\n", run->config_path, error);
        return 2;
    }
    run->admin = kafka_admin_new(conf, error, sizeof error);
    if (!run->admin) {
        log_error("%s", error);
        return 1;
    }
    return -1;
}

int cmd_topics(int argc, char **argv)
{
    struct topics_run run = {.timeout_ms = TOPICS_DEFAULT_TIMEOUT_S * 1000};
    int status = parse_args(argc, argv, &run);
    int failures = 0;

    if (status >= 0)
        return status;
    status = open_run(&run);
    if (status >= 0)
        goto done;

    if (!run.bootstrap || !run.bootstrap[0])
        run.bootstrap = run.cfg.kafka.bootstrap_servers;
    log_info("topics %s started bootstrap=%s topics=%zu", run.action, run.bootstrap, run.n_topics);
    if (strcmp(run.action, "create") == 0) {
        failures = create_topics(&run);
        if (failures < 0) {
            status = 1;
            goto done;
        }
    }

    int problems = check_topics(&run, strcmp(run.action, "create") == 0);
    if (problems < 0) {
        status = 1;
        goto done;
    }
    /* A topic that failed to be created is also counted as missing above. */
    print_line("topics %s: %zu topics, %d problem%s\n", run.action, run.n_topics, problems, problems == 1 ? "" : "s");
    status = problems || failures ? 1 : 0;

done:
    if (run.admin)
        rd_kafka_destroy(run.admin);
    config_free(&run.cfg);
    return status;
}
