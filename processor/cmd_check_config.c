/*
 * intentd check-config FILE: loads and validates a config file, then prints
 * the effective config (defaults filled in, ${VAR} substituted, secrets
 * masked) as YAML on stdout. Errors go to stderr with exit status 2.
 */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "config.h"

static void print_help(FILE *out)
{
    fprintf(out,
            "usage: intentd check-config FILE\n"
            "\n"
            "Validates the YAML config FILE and prints the effective config: every key\n"
            "with its default filled in and ${VAR} references replaced by their values.\n"
            "Secret values (Kafka passwords, tokens, keys, schemas.registry_auth) print as ********.\n"
            "\n"
            "Exit status: 0 if the config is valid, 2 if it is not (errors on stderr,\n"
            "as FILE:LINE:COLUMN: key.path: message).\n"
            "\n"
            "options:\n"
            "  -h, --help   show this help\n");
}

int cmd_check_config(int argc, char **argv)
{
    const char *path = NULL;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            print_help(stdout);
            return 0;
        }
        if (argv[i][0] == '-' && argv[i][1] != '\0') {
            fprintf(stderr, "intentd check-config: unknown option '%s'\n", argv[i]);
            print_help(stderr);
            return 2;
        }
        if (path != NULL) {
            fprintf(stderr, "intentd check-config: expected one FILE, got '%s' and '%s'\n", path, argv[i]);
            return 2;
        }
        path = argv[i];
    }
    if (path == NULL) {
        print_help(stderr);
        return 2;
    }

    struct intentd_config cfg;
    struct config_error err;
    if (config_load(path, &cfg, &err) != 0) {
        fprintf(stderr, "%s\n", err.message);
        fprintf(stderr, "intentd check-config: %s is not valid\n", path);
        return 2;
    }
    int status = config_print(stdout, &cfg) == 0 ? 0 : 1;
    config_free(&cfg);
    if (status != 0)
        fprintf(stderr, "intentd check-config: writing the config to stdout failed\n");
    return status;
}
