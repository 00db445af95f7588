/*
 * intentd: real-time intent and offer engine on Kafka.
 * main() only picks the OpenBLAS kernels and dispatches to the subcommand;
 * each lives in its own cmd_*.c.
 */
#include <stdio.h>
#include <string.h>

#include "blas_kernels.h"
#include "commands.h"

struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
};

static const struct command commands[] = {
    {"run", cmd_run, "run the streaming job: events in, intents and offers out, exactly once"},
    {"check-config", cmd_check_config, "validate a config file and print the effective config"},
    {"topics", cmd_topics, "create or check the Kafka topics (create|check)"},
    {"train", cmd_train, "train a model on recorded events and write it as safetensors"},
    {"replay", cmd_replay, "send recorded events to the input topics, or copy a topic range"},
    {"eval", cmd_eval, "evaluate a model offline on recorded events: ranking, propensity, offers"},
    {"peek", cmd_peek, "print decoded records of a topic, count them, or show the group's lag"},
};

static void print_usage(FILE *out)
{
    fprintf(out, "usage: intentd COMMAND [OPTIONS]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-14s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n'intentd COMMAND --help' describes the options of one command.\n");
}

int main(int argc, char **argv)
{
    char note[512];

    model_blas_select_kernels(argv, note, sizeof note);
    if (note[0])
        fprintf(stderr, "intentd: %s\n", note);

    if (argc < 2) {
        print_usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        print_usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("intentd %s\n", INTENTD_VERSION);
        return 0;
    }

    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    }

    fprintf(stderr, "intentd: unknown command '%s'\n\n", argv[1]);
    print_usage(stderr);
    return 2;
}
