/*
 * intentd peek: prints the records of one topic decoded, one line each, read
 * with isolation.level=read_committed. It can also count the records of a
 * topic, or print how far the consumer group of the config has committed on
 * the input topics. peek assigns partitions itself, so it never joins the
 * group or commits offsets and cannot disturb a running intentd.
 */
#include <getopt.h>
#include <limits.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "codec.h"
#include "commands.h"
#include "config.h"
#include "kafka_conf.h"
#include "peek_print.h"

enum peek_mode { PEEK_PRINT, PEEK_COUNT, PEEK_LAG };

struct peek_options {
    const char *config_path;
    const char *bootstrap;
    const char *topic;
    long limit;
    int partition;   /* -1: every partition */
    long long offset; /* first offset to read in partition, -1: its beginning */
    int timeout_s;
    enum peek_mode mode;
};

static void print_help(FILE *out)
{
    fprintf(out,
            "usage: intentd peek --config FILE --topic NAME [--limit N] [--count]\n"
            "                    [--partition P [--offset O]]\n"
            "       intentd peek --config FILE --lag\n\n"
            "Reads a topic from the beginning with isolation.level=read_committed and prints\n"
            "each record decoded on one line as KIND key=value ...: intents, offers, dead\n"
            "letters (with the intentd.* headers) and, with Avro inputs, click, review and\n"
            "consent events. Every field of the record is printed. Times are ISO-8601 UTC,\n"
            "an embedding prints as its dimension and L2 norm, source_offsets as\n"
            "topic/partition@offset, and a null field or empty list as '-'. Every line ends\n"
            "with the record's partition and offset. Records of other topics, tombstones\n"
            "and records that fail to decode print as 'record' with key, size and the\n"
            "decode error.\n"
            "peek assigns partitions itself and commits nothing.\n\n"
            "  --config FILE          intentd YAML config: topic names, Kafka settings, schemas\n"
            "  --bootstrap HOST:PORT  Kafka bootstrap servers; overrides kafka.bootstrap_servers\n"
            "  --topic NAME           topic to read; a role name (clickstream, reviews, consents,\n"
            "                         intents, offers, dead_letter, changelog) means the topic the\n"
            "                         config names for it\n"
            "  --limit N              print at most N records (default 10; 0 prints none, all prints\n"
            "                         every record)\n"
            "  --partition P          read only partition P\n"
            "  --offset O             with --partition, start at offset O, such as one named\n"
            "                         in an offer's source_offsets (default: the beginning)\n"
            "  --count                print only 'records=N', the number of committed records\n"
            "  --lag                  print the committed offsets of kafka.group_id on the input\n"
            "                         topics, their end offsets and the difference (lag)\n"
            "  --timeout SECONDS      give up after this long (default 60)\n\n"
            "Exit status: 0 on success, 1 on a Kafka failure or timeout, 2 on a usage or config error.\n");
}

static int parse_options(int argc, char **argv, struct peek_options *options)
{
    static const struct option long_options[] = {
        {"config", required_argument, NULL, 'c'}, {"bootstrap", required_argument, NULL, 'b'},
        {"topic", required_argument, NULL, 't'},  {"limit", required_argument, NULL, 'n'},
        {"count", no_argument, NULL, 'C'},        {"lag", no_argument, NULL, 'L'},
        {"timeout", required_argument, NULL, 'T'}, {"help", no_argument, NULL, 'h'},
        {"partition", required_argument, NULL, 'p'}, {"offset", required_argument, NULL, 'o'},
        {NULL, 0, NULL, 0},
    };
    char *end;
    int opt;

    memset(options, 0, sizeof *options);
    options->limit = 10;
    options->timeout_s = 60;
    options->partition = -1;
    options->offset = -1;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "c:b:t:n:CLT:hp:o:", long_options, NULL)) != -1) {
        switch (opt) {
        case 'c': options->config_path = optarg; break;
        case 'b': options->bootstrap = optarg; break;
        case 't': options->topic = optarg; break;
        case 'C': options->mode = PEEK_COUNT; break;
        case 'L': options->mode = PEEK_LAG; break;
        case 'n':
            if (strcmp(optarg, "all") == 0) {
                options->limit = LONG_MAX;
                break;
            }
            options->limit = strtol(optarg, &end, 10);
            if (*optarg == '\0' || *end != '\0' || options->limit < 0) {
                fprintf(stderr, "intentd peek: invalid --limit '%s': expected a whole number >= 0 or 'all'\n",
                        optarg);
                return -1;
            }
            break;
        case 'T':
            options->timeout_s = (int)strtol(optarg, &end, 10);
            if (*optarg == '\0' || *end != '\0' || options->timeout_s <= 0) {
                fprintf(stderr, "intentd peek: invalid --timeout '%s': expected whole seconds > 0\n", optarg);
                return -1;
            }
            break;
        case 'p':
            options->partition = (int)strtol(optarg, &end, 10);
            if (*optarg == '\0' || *end != '\0' || options->partition < 0) {
                fprintf(stderr, "intentd peek: invalid --partition '%s': expected a whole number >= 0\n", optarg);
                return -1;
            }
            break;
        case 'o':
            options->offset = strtoll(optarg, &end, 10);
            if (*optarg == '\0' || *end != '\0' || options->offset < 0) {
                fprintf(stderr, "intentd peek: invalid --offset '%s': expected a whole number >= 0\n", optarg);
                return -1;
            }
            break;
        case 'h': print_help(stdout); return 1;
        default: print_help(stderr); return -1;
        }
    }
    if (options->offset >= 0 && options->partition < 0) {
        fprintf(stderr, "intentd peek: --offset needs --partition: an offset belongs to one partition\n");
        return -1;
    }
    if (!options->config_path || (options->mode != PEEK_LAG && !options->topic)) {
        fprintf(stderr, "intentd peek: --config FILE and --topic NAME (or --lag) are required\n\n");
        print_help(stderr);
        return -1;
    }
    return 0;
}

/* Maps a role name (offers, intents, ...) to the config's topic name. */
static const char *resolve_topic(const struct intentd_config *cfg, const char *name)
{
    const struct { const char *role; const char *topic; } roles[] = {
        {"clickstream", cfg->topics.clickstream}, {"reviews", cfg->topics.reviews},
        {"intents", cfg->topics.intents},         {"offers", cfg->topics.offers},
        {"dead_letter", cfg->topics.dead_letter}, {"changelog", cfg->topics.changelog},
        {"consents", cfg->topics.consents},
    };
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++) {
        if (strcmp(name, roles[i].role) == 0 && roles[i].topic[0])
            return roles[i].topic;
    }
    return name;
}

static rd_kafka_t *new_consumer(const struct intentd_config *cfg, const char *bootstrap, const char *group)
{
    char error[1024];
    rd_kafka_conf_t *conf;

    if (kafka_conf_build(cfg, bootstrap, &conf, error, sizeof error) != 0 ||
        kafka_conf_set(conf, "group.id", group, error, sizeof error) != 0 ||
        kafka_conf_set(conf, "enable.auto.commit", "false", error, sizeof error) != 0 ||
        kafka_conf_set(conf, "enable.partition.eof", "true", error, sizeof error) != 0 ||
        kafka_conf_set(conf, "isolation.level", "read_committed", error, sizeof error) != 0) {
        fprintf(stderr, "intentd peek: %s\n", error);
        return NULL;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, error, sizeof error);
    if (!rk)
        fprintf(stderr, "intentd peek: creating the Kafka consumer failed: %s\n", error);
    return rk;
}

/* Returns the partition count of topic, or -1 after printing why. */
static int partition_count(rd_kafka_t *rk, const char *topic, int timeout_ms)
{
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    int n = -1;

    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, rkt, &md, timeout_ms);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
        fprintf(stderr, "intentd peek: reading the metadata of topic %s failed: %s\n", topic, rd_kafka_err2str(err));
    else if (md->topic_cnt != 1 || md->topics[0].err != RD_KAFKA_RESP_ERR_NO_ERROR)
        fprintf(stderr, "intentd peek: topic %s not found: %s; create it with 'intentd topics create'\n", topic,
                md->topic_cnt ? rd_kafka_err2str(md->topics[0].err) : "no metadata");
    else
        n = md->topics[0].partition_cnt;
    if (md)
        rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    return n;
}

/* Reads topic from the beginning of each partition, or only the chosen
 * partition from the chosen offset, to its end (the last stable offset under
 * read_committed), printing up to limit records unless counting. Returns 0
 * when every partition read reached its end, -2 for a partition the topic
 * does not have, -1 on a Kafka failure or timeout. */
static int read_topic(const struct intentd_config *cfg, const codec_t *codec, rd_kafka_t *rk,
                      const struct peek_options *options, const char *topic)
{
    int n = partition_count(rk, topic, options->timeout_s * 1000);
    if (n < 0)
        return -1;

    if (options->partition >= n) {
        fprintf(stderr, "intentd peek: --partition %d does not exist: %s has partitions 0 to %d\n",
                options->partition, topic, n - 1);
        return -2;
    }

    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(n);
    for (int p = 0; p < n; p++) {
        if (options->partition >= 0 && p != options->partition)
            continue;
        int64_t start = options->offset >= 0 ? options->offset : RD_KAFKA_OFFSET_BEGINNING;
        rd_kafka_topic_partition_list_add(parts, topic, p)->offset = start;
    }
    rd_kafka_assign(rk, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    if (options->partition >= 0)
        n = 1; /* the number of partitions that must reach their end */

    time_t deadline = time(NULL) + options->timeout_s;
    long printed = 0, records = 0;
    int at_end = 0, status = 0;
    while (at_end < n && (options->mode == PEEK_COUNT || printed < options->limit)) {
        if (time(NULL) >= deadline) {
            fprintf(stderr, "intentd peek: timed out after %d s reading %s (%d of %d partitions read to the end)\n",
                    options->timeout_s, topic, at_end, n);
            status = -1;
            break;
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 500);
        if (!m)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            at_end++;
        } else if (m->err) {
            fprintf(stderr, "intentd peek: reading %s failed: %s\n", topic, rd_kafka_message_errstr(m));
            status = -1;
            rd_kafka_message_destroy(m);
            break;
        } else {
            records++;
            if (options->mode == PEEK_PRINT) {
                peek_print_record(cfg, codec, m);
                printed++;
            }
        }
        rd_kafka_message_destroy(m);
    }
    if (status == 0 && options->mode == PEEK_COUNT)
        printf("records=%ld\n", records);
    rd_kafka_assign(rk, NULL);
    return status;
}

/* Whether a committed-offsets error goes away by itself: a broker that has
 * just started is still loading its group coordinator. */
static int transient(rd_kafka_resp_err_t err)
{
    return err == RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS || err == RD_KAFKA_RESP_ERR_NOT_COORDINATOR ||
           err == RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE || err == RD_KAFKA_RESP_ERR__TRANSPORT;
}

/* rd_kafka_committed, retried every 200 ms on transient errors for up to
 * timeout_ms in all. */
static rd_kafka_resp_err_t committed_offsets(rd_kafka_t *rk, rd_kafka_topic_partition_list_t *parts, int timeout_ms)
{
    struct timespec pause = {0, 200 * 1000 * 1000};
    rd_kafka_resp_err_t err;
    int waited_ms = 0;

    while ((err = rd_kafka_committed(rk, parts, timeout_ms)) != RD_KAFKA_RESP_ERR_NO_ERROR && transient(err) &&
           waited_ms < timeout_ms) {
        nanosleep(&pause, NULL);
        waited_ms += 200;
    }
    return err;
}

/* Adds the committed offsets and end offsets of every partition of topic. */
static int topic_lag(rd_kafka_t *rk, const char *topic, int timeout_ms, int64_t *committed, int64_t *end)
{
    int n = partition_count(rk, topic, timeout_ms);
    if (n < 0)
        return -1;

    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(n);
    for (int p = 0; p < n; p++)
        rd_kafka_topic_partition_list_add(parts, topic, p);
    rd_kafka_resp_err_t err = committed_offsets(rk, parts, timeout_ms);
    for (int p = 0; err == RD_KAFKA_RESP_ERR_NO_ERROR && p < n; p++) {
        int64_t low, high;
        err = rd_kafka_query_watermark_offsets(rk, topic, p, &low, &high, timeout_ms);
        /* A partition without a committed offset (-1001) counts as 0. */
        *committed += parts->elems[p].offset > 0 ? parts->elems[p].offset : 0;
        *end += high;
    }
    rd_kafka_topic_partition_list_destroy(parts);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fprintf(stderr, "intentd peek: reading the offsets of %s failed: %s\n", topic, rd_kafka_err2str(err));
        return -1;
    }
    return 0;
}

/* Prints one line per input topic and a total line with the group's lag. */
static int print_lag(const struct intentd_config *cfg, rd_kafka_t *rk, const struct peek_options *options)
{
    const char *inputs[3] = {cfg->topics.clickstream, cfg->topics.reviews, cfg->topics.consents};
    int64_t committed_total = 0, end_total = 0;

    for (size_t i = 0; i < 3; i++) {
        int64_t committed = 0, end = 0;
        if (!inputs[i][0])
            continue;
        if (topic_lag(rk, inputs[i], options->timeout_s * 1000, &committed, &end) != 0)
            return -1;
        printf("topic=%s group=%s committed=%" PRId64 " end=%" PRId64 " lag=%" PRId64 "\n", inputs[i],
               cfg->kafka.group_id, committed, end, end - committed);
        committed_total += committed;
        end_total += end;
    }
    printf("total group=%s committed=%" PRId64 " end=%" PRId64 " lag=%" PRId64 "\n", cfg->kafka.group_id,
           committed_total, end_total, end_total - committed_total);
    return 0;
}

static int open_codec(const struct intentd_config *cfg, codec_t **codec)
{
    char path[4096];
    codec_error_t err;

    snprintf(path, sizeof path, "%s/catalogue.json", cfg->schemas.local_dir);
    if (codec_open(path, codec, &err) != CODEC_OK) {
        fprintf(stderr, "intentd peek: opening the schema catalogue %s failed: %s; set schemas.local_dir to the "
                "folder that contains catalogue.json\n", path, err.message);
        return -1;
    }
    return 0;
}

int cmd_peek(int argc, char **argv)
{
    struct peek_options options;
    int parsed = parse_options(argc, argv, &options);
    if (parsed != 0)
        return parsed > 0 ? 0 : 2;

    struct intentd_config cfg;
    struct config_error config_error;
    if (config_load(options.config_path, &cfg, &config_error) != 0) {
        fprintf(stderr, "%s\n", config_error.message);
        return 2;
    }

    codec_t *codec = NULL;
    int status = 2;
    if (options.mode == PEEK_PRINT && open_codec(&cfg, &codec) != 0)
        goto done;

    /* Lag reads the offsets of the processor's group; the other modes use a
     * group of their own that never commits. */
    status = 1;
    rd_kafka_t *rk = new_consumer(&cfg, options.bootstrap, options.mode == PEEK_LAG ? cfg.kafka.group_id : "intentd-peek");
    if (!rk)
        goto done;
    if (options.mode == PEEK_LAG)
        status = print_lag(&cfg, rk, &options) == 0 ? 0 : 1;
    else {
        /* -2 is a usage error (a partition the topic does not have): exit status 2 */
        int read = read_topic(&cfg, codec, rk, &options, resolve_topic(&cfg, options.topic));
        status = read == 0 ? 0 : (read == -2 ? 2 : 1);
    }
    rd_kafka_destroy(rk);

done:
    if (codec)
        codec_close(codec);
    config_free(&cfg);
    return status;
}
