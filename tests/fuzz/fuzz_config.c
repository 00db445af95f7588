/*
 * libFuzzer target for the config loader: any byte string must either load
 * or fail with a message, without crashes, leaks or sanitizer reports. A
 * config that loads must also print as YAML that loads again and prints the
 * same, so the printer's quoting is fuzzed too. Every template it accepts
 * must also compile in the processor's offer renderer.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "offer_template.h"

static char *print_config(const struct intentd_config *cfg, size_t *len)
{
    char *text = NULL;
    FILE *out = open_memstream(&text, len);
    if (out == NULL)
        abort();
    if (config_print(out, cfg) != 0)
        abort();
    fclose(out);
    return text;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct intentd_config cfg, again;
    struct config_error err;

    if (config_load_buffer((const char *)data, size, "fuzz.yaml", &cfg, &err) != 0) {
        if (strlen(err.message) == 0 || strlen(err.message) >= sizeof err.message)
            abort(); /* every failure must explain itself */
        return 0;
    }

    for (size_t r = 0; r < cfg.n_triggers; r++) {
        for (size_t t = 0; t < cfg.triggers[r].n_templates; t++) {
            char render_error[OFFER_TEMPLATE_ERROR_SIZE];
            if (offer_template_validate(cfg.triggers[r].templates[t].text, render_error) != 0) {
                fprintf(stderr, "config accepted a template the renderer rejects: %s\n", render_error);
                abort();
            }
        }
    }

    size_t len;
    char *text = print_config(&cfg, &len);
    if (config_load_buffer(text, len, "printed.yaml", &again, &err) != 0) {
        fprintf(stderr, "printed config does not load: %s\n%s\n", err.message, text);
        abort();
    }
    size_t len_again;
    char *text_again = print_config(&again, &len_again);
    if (len != len_again || memcmp(text, text_again, len) != 0) {
        fprintf(stderr, "printed config changed on reload:\n%s\n---\n%s\n", text, text_again);
        abort();
    }

    free(text);
    free(text_again);
    config_free(&cfg);
    config_free(&again);
    return 0;
}
