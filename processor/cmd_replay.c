/*
 * intentd replay: sends recorded events (Taobao CSV, SASRec sequences,
 * review CSV, JSON Lines, Avro files) to the clickstream and reviews topics
 * at original, scaled or maximum speed. A second mode copies a topic range
 * for backfills. REPLAY.md documents the inputs and options.
 *
 * The summary goes to stdout; progress, bad lines and errors to stderr.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "config.h"
#include "log.h"
#include "replay_cli.h"
#include "replay_copy.h"
#include "replay_input.h"
#include "replay_linkage.h"
#include "replay_progress.h"
#include "replay_send.h"
#include "replay_time.h"

static volatile sig_atomic_t stop_requested;

static void on_signal(int signal_number)
{
    (void)signal_number;
    stop_requested = 1;
}

/* Prints the bad lines kept and the count of the others to stderr. */
static void print_bad_lines(const struct replay_bad_lines *bad)
{
    for (size_t i = 0; i < bad->shown; i++)
        log_warn("skipped bad line: %s", bad->messages[i]);
    if (bad->count > bad->shown)
        log_warn("skipped %llu more bad lines (only the first %d are printed)",
                 (unsigned long long)(bad->count - bad->shown), REPLAY_BAD_SHOWN);
}

/* Reads one input file with the reader of its kind. */
static int read_input(const struct replay_cli_input *in, codec_t *codec, const struct replay_linkage *linkage,
                      struct replay_load *load, char *error)
{
    switch (in->kind) {
    case REPLAY_INPUT_TAOBAO:
        return replay_read_taobao(load, in->path, error);
    case REPLAY_INPUT_SEQUENCES:
        return replay_read_sequences(load, in->path, error);
    case REPLAY_INPUT_REVIEWS:
        return replay_read_reviews(load, in->path, linkage, error);
    case REPLAY_INPUT_JSONL:
        return replay_read_jsonl(load, in->path, error);
    case REPLAY_INPUT_AVRO:
        return replay_read_avro(load, in->path, codec, error);
    }
    snprintf(error, REPLAY_ERROR_SIZE, "unknown input kind %d", (int)in->kind);
    return -1;
}

/* Reads every input file into events, in command-line order. */
static int load_inputs(struct replay_cli *cli, codec_t *codec, struct replay_load *load, char *error)
{
    struct replay_linkage linkage = {0};
    int have_linkage = 0, rc = 0;

    if (cli->reviews_users_from) {
        if (replay_linkage_load(&linkage, cli->reviews_users_from, load->bad, error) != 0)
            return -1;
        have_linkage = 1;
        log_info("review users loaded for synthetic linkage file=%s users=%zu interactions=%zu",
                 cli->reviews_users_from, linkage.n_users, linkage.n_interactions);
    }
    for (size_t i = 0; i < cli->n_inputs && rc == 0; i++) {
        const struct replay_cli_input *in = &cli->inputs[i];
        size_t before = load->events->count;

        load->input = (uint32_t)i;
        load->sequence = 0;
        rc = read_input(in, codec, have_linkage ? &linkage : NULL, load, error);
        if (rc == 0)
            log_info("input read file=%s events=%zu", in->path, load->events->count - before);
    }
    if (have_linkage)
        replay_linkage_free(&linkage);
    return rc;
}

/* Logs the plan: event count, event-time span and, when paced by --speed,
 * how long the replay will take, so that a far outlier time shows at once. */
static void log_start(const struct replay_cli *cli, const struct replay_events *events, size_t count)
{
    char first[32] = "-", last[32] = "-", duration[32] = "-";

    if (count) {
        int64_t first_ms = replay_event_time_ms(&events->items[0]);
        int64_t last_ms = replay_event_time_ms(&events->items[count - 1]);
        replay_time_format(first_ms, first, sizeof first);
        replay_time_format(last_ms, last, sizeof last);
        if (cli->speed > 0 && !cli->dry_run)
            replay_progress_format_duration((double)(last_ms - first_ms) / 1000.0 / cli->speed, duration,
                                            sizeof duration);
    }
    log_info("replay starting events=%zu first_event=%s last_event=%s speed=%s paced_duration=%s rate=%g "
             "dry_run=%d", count, first, last, cli->speed_text, duration, cli->rate, cli->dry_run);
}

static void print_summary(const struct replay_cli *cli, const struct intentd_config *cfg,
                          const struct replay_load *load, const struct replay_send_result *sent, int failed)
{
    char elapsed[32];
    uint64_t total = sent->clicks + sent->reviews;

    replay_progress_format_duration(sent->elapsed_s, elapsed, sizeof elapsed);
    const char *outcome = "done";

    if (failed)
        outcome = "failed";
    else if (cli->dry_run)
        outcome = "dry run (nothing produced)";

    printf("replay %s%s\n", outcome, sent->interrupted ? ", interrupted" : "");
    printf("  events to %s: %llu\n", cfg->topics.clickstream, (unsigned long long)sent->clicks);
    printf("  events to %s: %llu\n", cfg->topics.reviews, (unsigned long long)sent->reviews);
    printf("  bad lines skipped: %llu\n", (unsigned long long)load->bad->count);
    printf("  events outside --from/--to: %llu\n", (unsigned long long)load->filtered);
    printf("  events left out by --limit: %llu\n",
           (unsigned long long)(load->events->count > cli->limit ? load->events->count - cli->limit : 0));
    printf("  elapsed: %s (%.3f s)\n", elapsed, sent->elapsed_s);
    printf("  rate: %.0f events/s\n", sent->elapsed_s > 0 ? (double)total / sent->elapsed_s : 0);
    fflush(stdout);
}

static int run_files(struct replay_cli *cli, const struct intentd_config *cfg, codec_t *codec)
{
    struct replay_events events = {0};
    struct replay_bad_lines bad = {.strict = cli->strict};
    struct replay_load load = {.events = &events, .bad = &bad, .has_from = cli->has_from, .has_to = cli->has_to,
                               .from_ms = cli->from_ms, .to_ms = cli->to_ms};
    struct replay_send_result sent = {0};
    char error[REPLAY_ERROR_SIZE];

    int rc = load_inputs(cli, codec, &load, error);
    print_bad_lines(&bad);
    if (rc != 0) {
        log_error("replay failed reading the inputs: %s", error);
        replay_events_free(&events);
        return bad.strict && bad.count ? 1 : 2;
    }
    replay_events_sort(&events);
    size_t count = events.count < cli->limit ? events.count : (size_t)cli->limit;

    struct replay_send_options options = {
        .cfg = cfg, .codec = codec, .bootstrap = cli->bootstrap, .speed = cli->speed, .rate = cli->rate,
        .dry_run = cli->dry_run, .event_time_records = cli->event_time_records, .stop = &stop_requested,
    };
    log_start(cli, &events, count);
    rc = replay_send_events(&options, &events, count, &sent, error);
    if (rc != 0)
        log_error("replay failed: %s", error);
    print_summary(cli, cfg, &load, &sent, rc != 0);
    replay_events_free(&events);
    return rc != 0 || sent.interrupted ? 1 : 0;
}

static int run_copy(const struct replay_cli *cli, const struct intentd_config *cfg)
{
    struct replay_copy_result result;
    char error[REPLAY_ERROR_SIZE];
    struct replay_copy_options options = {
        .source = cli->from_topic, .destination = cli->to_topic, .bootstrap = cli->bootstrap,
        .from_offset = cli->from_offset, .from_time_ms = cli->from_timestamp_ms, .to_offset = cli->to_offset,
        .to_time_ms = cli->to_timestamp_ms, .dry_run = cli->dry_run, .timeout_ms = cli->timeout_ms,
    };

    if (replay_copy_run(cfg, &options, &result, error) != 0) {
        log_error("replay copy failed: %s", error);
        return 1;
    }
    printf("replay copy %s: %s -> %s, %d partitions, %llu records %s (%llu offsets in range)\n",
           cli->dry_run ? "dry run" : "done", cli->from_topic, cli->to_topic, result.partitions,
           (unsigned long long)result.copied, cli->dry_run ? "read" : "copied", (unsigned long long)result.planned);
    return 0;
}

int cmd_replay(int argc, char **argv)
{
    struct replay_cli cli;
    struct intentd_config cfg;
    struct config_error config_error;
    codec_t *codec = NULL;
    int status = replay_cli_parse(argc, argv, &cli);

    if (status >= 0) {
        replay_cli_free(&cli);
        return status;
    }
    if (config_load(cli.config_path, &cfg, &config_error) != 0) {
        fprintf(stderr, "intentd replay: invalid config %s:\n%s\n", cli.config_path, config_error.message);
        replay_cli_free(&cli);
        return 2;
    }
    enum log_level level;
    if (log_parse_level(cfg.log.level, &level) == 0)
        log_set_level(level);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);

    if (cli.from_topic)
        status = run_copy(&cli, &cfg);
    else if (replay_cli_open_codec(&cli, &cfg, &codec) != 0)
        status = 2;
    else
        status = run_files(&cli, &cfg, codec);

    codec_close(codec);
    config_free(&cfg);
    replay_cli_free(&cli);
    return status;
}
