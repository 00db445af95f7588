#include "replay_cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replay_copy.h"
#include "replay_output.h"
#include "replay_time.h"

#define CLI_DEFAULT_TIMEOUT_S 30

static void print_usage(FILE *out)
{
    fprintf(out,
        "usage: intentd replay --config FILE [INPUT...] [OPTIONS]\n"
        "       intentd replay --config FILE --from-topic SRC --to-topic DST [RANGE]\n"
        "\n"
        "Sends recorded events to topics.clickstream and topics.reviews, keyed by user id,\n"
        "as Avro frames with the catalogue's reader schema ids (JSON when schemas.format\n"
        "is json), through an idempotent producer (acks=all). Events of all inputs are\n"
        "sent in event-time order; equal times keep input order, then line order.\n"
        "\n"
        "inputs (each may repeat; see REPLAY.md for the formats):\n"
        "  --taobao FILE              Taobao UserBehavior CSV user_id,item_id,category_id,behavior,timestamp\n"
        "                             (pv VIEW, fav FAVOURITE, cart ADD_TO_CART, buy PURCHASE; Unix seconds)\n"
        "  --sequences FILE           SASRec 'user item' lines; each line is a VIEW, and a user's k-th line\n"
        "                             gets the SYNTHETIC time 2018-01-01T00:00:00Z + k minutes\n"
        "  --reviews FILE             review CSV with header cat,label,review [,user_id,item_id][,timestamp];\n"
        "                             label 1 is rating 5, label 0 is rating 1\n"
        "  --reviews-users-from FILE  Taobao CSV whose users, items and times are given to reviews that have\n"
        "                             no user_id. This linkage is SYNTHETIC: review i goes to a user picked by\n"
        "                             a fixed hash of i, with an item and category of that user and a time\n"
        "                             inside that user's activity. No real user wrote those reviews.\n"
        "  --jsonl FILE               JSON Lines with \"type\": \"click\" or \"review\" and the Avro field\n"
        "                             names of ClickEvent or ReviewEvent (timestamp in Unix ms)\n"
        "  --avro FILE                Avro object container file of ClickEvent or ReviewEvent records\n"
        "\n"
        "options:\n"
        "  --config FILE              the intentd YAML config (required)\n"
        "  --bootstrap HOST:PORT      Kafka bootstrap servers, replacing kafka.bootstrap_servers\n"
        "  --speed max|X              max (default) sends as fast as possible; X > 0 replays X seconds of\n"
        "                             event time per wall second (1 original timing, 60 an hour a minute)\n"
        "  --rate N                   send at most N events per second\n"
        "  --from TIME, --to TIME     send only events with from <= time < to; TIME is Unix seconds or\n"
        "                             ISO-8601 (2017-11-26T09:00:00Z, 2017-11-26T17:00:00+08:00)\n"
        "  --limit N                  send at most the first N events (after sorting and --from/--to)\n"
        "  --record-time send|event   Kafka record timestamp: send time (default) or event time. With old\n"
        "                             event times, time-based retention can delete the records soon.\n"
        "  --strict                   stop at the first bad line (default: report it, count it, skip it)\n"
        "  --dry-run                  read, encode and count, but produce nothing and do not wait\n"
        "  --timeout SECONDS          Kafka request timeout of the topic copy (default %d)\n"
        "\n"
        "topic-range copy (partition p to partition p; key, value, headers, timestamp):\n"
        "  --from-topic SRC --to-topic DST\n"
        "  --from-offset N | --from-timestamp TIME   first record (default: the earliest)\n"
        "  --to-offset N | --to-timestamp TIME       stop before this offset or time (default: the end\n"
        "                                            offsets read at start)\n"
        "\n"
        "Exit status: 0 on success, 1 on a Kafka failure, a bad line with --strict or\n"
        "an interrupted replay, 2 on a usage, config or input file error.\n",
        CLI_DEFAULT_TIMEOUT_S);
}

static int usage_error(const char *fmt, const char *value)
{
    fprintf(stderr, "intentd replay: ");
    fprintf(stderr, fmt, value);
    fprintf(stderr, "\n'intentd replay --help' lists the options.\n");
    return 2;
}

static int add_input(struct replay_cli *cli, enum replay_input_kind kind, const char *path)
{
    struct replay_cli_input *grown = realloc(cli->inputs, (cli->n_inputs + 1) * sizeof *grown);

    if (!grown)
        return usage_error("out of memory adding input %s", path);
    cli->inputs = grown;
    cli->inputs[cli->n_inputs++] = (struct replay_cli_input){kind, path};
    return -1;
}

/* Parses a number > 0 (or "max" when allow_max); returns 0 or -1. */
static int parse_positive(const char *text, int allow_max, double *value)
{
    char *end;

    if (allow_max && strcmp(text, "max") == 0) {
        *value = 0;
        return 0;
    }
    errno = 0;
    *value = strtod(text, &end);
    return !text[0] || *end || errno || !(*value > 0) || *value > 1e9 ? -1 : 0;
}

static int parse_count(const char *text, int64_t *value)
{
    char *end;

    errno = 0;
    long long parsed = strtoll(text, &end, 10);
    if (!text[0] || *end || errno || parsed < 0)
        return -1;
    *value = parsed;
    return 0;
}

enum {
    OPT_TAOBAO = 256, OPT_SEQUENCES, OPT_REVIEWS, OPT_REVIEWS_USERS, OPT_JSONL, OPT_AVRO, OPT_SPEED, OPT_RATE,
    OPT_FROM, OPT_TO, OPT_LIMIT, OPT_RECORD_TIME, OPT_STRICT, OPT_DRY_RUN, OPT_TIMEOUT, OPT_FROM_TOPIC,
    OPT_TO_TOPIC, OPT_FROM_OFFSET, OPT_TO_OFFSET, OPT_FROM_TIMESTAMP, OPT_TO_TIMESTAMP,
};

static const struct option cli_options[] = {
    {"config", required_argument, NULL, 'c'},
    {"bootstrap", required_argument, NULL, 'b'},
    {"help", no_argument, NULL, 'h'},
    {"taobao", required_argument, NULL, OPT_TAOBAO},
    {"sequences", required_argument, NULL, OPT_SEQUENCES},
    {"reviews", required_argument, NULL, OPT_REVIEWS},
    {"reviews-users-from", required_argument, NULL, OPT_REVIEWS_USERS},
    {"jsonl", required_argument, NULL, OPT_JSONL},
    {"avro", required_argument, NULL, OPT_AVRO},
    {"speed", required_argument, NULL, OPT_SPEED},
    {"rate", required_argument, NULL, OPT_RATE},
    {"from", required_argument, NULL, OPT_FROM},
    {"to", required_argument, NULL, OPT_TO},
    {"limit", required_argument, NULL, OPT_LIMIT},
    {"record-time", required_argument, NULL, OPT_RECORD_TIME},
    {"strict", no_argument, NULL, OPT_STRICT},
    {"dry-run", no_argument, NULL, OPT_DRY_RUN},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"from-topic", required_argument, NULL, OPT_FROM_TOPIC},
    {"to-topic", required_argument, NULL, OPT_TO_TOPIC},
    {"from-offset", required_argument, NULL, OPT_FROM_OFFSET},
    {"to-offset", required_argument, NULL, OPT_TO_OFFSET},
    {"from-timestamp", required_argument, NULL, OPT_FROM_TIMESTAMP},
    {"to-timestamp", required_argument, NULL, OPT_TO_TIMESTAMP},
    {NULL, 0, NULL, 0},
};

/* Parses the time of option name into *ms. Returns -1 to go on, or 2. */
static int time_option(const char *name, const char *arg, int64_t *ms)
{
    if (replay_time_parse(arg, ms) == 0)
        return -1;
    fprintf(stderr, "intentd replay: invalid %s '%s': expected Unix seconds or ISO-8601 such as "
            "2017-11-26T09:00:00Z\n", name, arg);
    return 2;
}

/* Parses the offset of option name into *offset. Returns -1 to go on, or 2. */
static int offset_option(const char *name, const char *arg, int64_t *offset)
{
    if (parse_count(arg, offset) == 0)
        return -1;
    fprintf(stderr, "intentd replay: invalid %s '%s': expected an offset >= 0\n", name, arg);
    return 2;
}

/* Options that take a time or a number. Returns -1 to go on, or 2. */
static int handle_value_option(struct replay_cli *cli, int option, const char *arg)
{
    int64_t count;

    switch (option) {
    case OPT_SPEED:
        cli->speed_text = arg;
        if (parse_positive(arg, 1, &cli->speed) != 0)
            return usage_error("invalid --speed '%s': expected max or a number > 0", arg);
        return -1;
    case OPT_RATE:
        if (parse_positive(arg, 0, &cli->rate) != 0)
            return usage_error("invalid --rate '%s': expected events per second > 0", arg);
        return -1;
    case OPT_FROM:
        cli->has_from = 1;
        return time_option("--from", arg, &cli->from_ms);
    case OPT_TO:
        cli->has_to = 1;
        return time_option("--to", arg, &cli->to_ms);
    case OPT_FROM_TIMESTAMP:
        return time_option("--from-timestamp", arg, &cli->from_timestamp_ms);
    case OPT_TO_TIMESTAMP:
        return time_option("--to-timestamp", arg, &cli->to_timestamp_ms);
    case OPT_FROM_OFFSET:
        return offset_option("--from-offset", arg, &cli->from_offset);
    case OPT_TO_OFFSET:
        return offset_option("--to-offset", arg, &cli->to_offset);
    case OPT_LIMIT:
        if (parse_count(arg, &count) != 0)
            return usage_error("invalid --limit '%s': expected a count of events", arg);
        cli->limit = (uint64_t)count;
        return -1;
    case OPT_TIMEOUT:
        if (parse_count(arg, &count) != 0 || count < 1 || count > 3600)
            return usage_error("invalid --timeout '%s': expected 1..3600 seconds", arg);
        cli->timeout_ms = (int)count * 1000;
        return -1;
    }
    return usage_error("unknown option %s", arg);
}

/* Handles one option. Returns -1 to go on, or an exit status. */
static int handle_option(struct replay_cli *cli, int option, const char *arg)
{
    switch (option) {
    case 'c': cli->config_path = arg; return -1;
    case 'b': cli->bootstrap = arg; return -1;
    case 'h': print_usage(stdout); return 0;
    case OPT_TAOBAO: return add_input(cli, REPLAY_INPUT_TAOBAO, arg);
    case OPT_SEQUENCES: return add_input(cli, REPLAY_INPUT_SEQUENCES, arg);
    case OPT_REVIEWS: return add_input(cli, REPLAY_INPUT_REVIEWS, arg);
    case OPT_JSONL: return add_input(cli, REPLAY_INPUT_JSONL, arg);
    case OPT_AVRO: return add_input(cli, REPLAY_INPUT_AVRO, arg);
    case OPT_REVIEWS_USERS: cli->reviews_users_from = arg; return -1;
    case OPT_STRICT: cli->strict = 1; return -1;
    case OPT_DRY_RUN: cli->dry_run = 1; return -1;
    case OPT_FROM_TOPIC: cli->from_topic = arg; return -1;
    case OPT_TO_TOPIC: cli->to_topic = arg; return -1;
    case OPT_RECORD_TIME:
        if (strcmp(arg, "send") != 0 && strcmp(arg, "event") != 0)
            return usage_error("invalid --record-time '%s': expected send or event", arg);
        cli->event_time_records = strcmp(arg, "event") == 0;
        return -1;
    case '?':
        print_usage(stderr);
        return 2;
    }
    return handle_value_option(cli, option, arg);
}

/* Checks the combination of options. Returns -1 if fine, else 2. */
static int check_combination(const struct replay_cli *cli)
{
    if (!cli->config_path)
        return usage_error("missing --config%s", "");
    if (cli->from_topic || cli->to_topic) {
        if (!cli->from_topic || !cli->to_topic)
            return usage_error("a topic copy needs both --from-topic and --to-topic%s", "");
        if (cli->n_inputs)
            return usage_error("give either input files or --from-topic, not both%s", "");
        if (cli->from_offset != REPLAY_COPY_NONE && cli->from_timestamp_ms != REPLAY_COPY_NONE)
            return usage_error("give --from-offset or --from-timestamp, not both%s", "");
        if (cli->to_offset != REPLAY_COPY_NONE && cli->to_timestamp_ms != REPLAY_COPY_NONE)
            return usage_error("give --to-offset or --to-timestamp, not both%s", "");
        return -1;
    }
    if (!cli->n_inputs)
        return usage_error("no input: give --taobao, --sequences, --reviews, --jsonl or --avro%s", "");
    if (cli->from_offset != REPLAY_COPY_NONE || cli->to_offset != REPLAY_COPY_NONE ||
        cli->from_timestamp_ms != REPLAY_COPY_NONE || cli->to_timestamp_ms != REPLAY_COPY_NONE)
        return usage_error("--from-offset, --to-offset, --from-timestamp and --to-timestamp need --from-topic%s", "");
    if (cli->has_from && cli->has_to && cli->to_ms <= cli->from_ms)
        return usage_error("--to must be later than --from%s", "");
    return -1;
}

int replay_cli_parse(int argc, char **argv, struct replay_cli *cli)
{
    int option, status;

    memset(cli, 0, sizeof *cli);
    cli->limit = UINT64_MAX;
    cli->speed_text = "max";
    cli->timeout_ms = CLI_DEFAULT_TIMEOUT_S * 1000;
    cli->from_offset = cli->to_offset = REPLAY_COPY_NONE;
    cli->from_timestamp_ms = cli->to_timestamp_ms = REPLAY_COPY_NONE;

    optind = 0; /* 0 makes glibc reset getopt fully, for repeated in-process calls */
    while ((option = getopt_long(argc, argv, "c:b:h", cli_options, NULL)) != -1) {
        status = handle_option(cli, option, optarg);
        if (status >= 0)
            return status;
    }
    if (optind < argc)
        return usage_error("unexpected argument '%s'", argv[optind]);
    return check_combination(cli);
}

void replay_cli_free(struct replay_cli *cli)
{
    free(cli->inputs);
    cli->inputs = NULL;
    cli->n_inputs = 0;
}

int replay_cli_open_codec(const struct replay_cli *cli, const struct intentd_config *cfg, codec_t **codec)
{
    char path[4096], error[REPLAY_ERROR_SIZE];
    codec_error_t err;
    int need_codec = cfg->schemas.format == CONFIG_FORMAT_AVRO;

    *codec = NULL;
    for (size_t i = 0; i < cli->n_inputs; i++)
        need_codec |= cli->inputs[i].kind == REPLAY_INPUT_AVRO;
    if (cfg->schemas.format == CONFIG_FORMAT_JSON &&
        (replay_output_check_json(cfg, REPLAY_CLICK, error) != 0 ||
         replay_output_check_json(cfg, REPLAY_REVIEW, error) != 0)) {
        fprintf(stderr, "intentd replay: %s\n", error);
        return -1;
    }
    if (!need_codec)
        return 0;
    snprintf(path, sizeof path, "%s/catalogue.json", cfg->schemas.local_dir);
    if (codec_open(path, codec, &err) != CODEC_OK) {
        fprintf(stderr, "intentd replay: opening the schema catalogue %s failed: %s; set schemas.local_dir to the "
                "folder that contains catalogue.json\n", path, err.message);
        return -1;
    }
    return 0;
}
