/*
 * Command line of `intentd replay`: options, their checks and the help text.
 */
#ifndef INTENTD_REPLAY_CLI_H
#define INTENTD_REPLAY_CLI_H

#include <stddef.h>
#include <stdint.h>

#include "codec.h"
#include "config.h"

enum replay_input_kind {
    REPLAY_INPUT_TAOBAO,
    REPLAY_INPUT_SEQUENCES,
    REPLAY_INPUT_REVIEWS,
    REPLAY_INPUT_JSONL,
    REPLAY_INPUT_AVRO,
};

struct replay_cli_input {
    enum replay_input_kind kind;
    const char *path; /* borrowed from argv */
};

/* Parsed options. Strings are borrowed from argv; inputs is owned. */
struct replay_cli {
    const char *config_path;
    const char *bootstrap;
    struct replay_cli_input *inputs; /* in command-line order */
    size_t n_inputs;
    const char *reviews_users_from;
    double speed;            /* 0 for max */
    const char *speed_text;
    double rate;             /* 0 for no limit */
    int has_from, has_to;
    int64_t from_ms, to_ms;
    uint64_t limit;          /* UINT64_MAX for no limit */
    int dry_run;
    int strict;
    int event_time_records;
    const char *from_topic, *to_topic;
    int64_t from_offset, to_offset;             /* REPLAY_COPY_NONE when not given */
    int64_t from_timestamp_ms, to_timestamp_ms; /* REPLAY_COPY_NONE when not given */
    int timeout_ms;
};

/* Parses argv (argv[0] is "replay"). Returns -1 when the command should
 * run, else the exit status to return at once: 0 after --help, 2 after a
 * usage error (the message is printed to stderr). */
int replay_cli_parse(int argc, char **argv, struct replay_cli *cli);

void replay_cli_free(struct replay_cli *cli);

/* Opens the schema catalogue of schemas.local_dir when the output is Avro
 * or an input is an Avro file, and checks the JSON field mapping when the
 * output is JSON. Prints the problem and returns -1 on failure. */
int replay_cli_open_codec(const struct replay_cli *cli, const struct intentd_config *cfg, codec_t **codec);

#endif
