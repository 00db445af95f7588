/*
 * Printing the effective config as YAML that config_load reads back (except
 * that secrets print as ********).
 */
#include <stdlib.h>
#include <string.h>

#include "config_internal.h"

void cfg_print_indent(FILE *out, int indent)
{
    for (int i = 0; i < indent; i++)
        fputc(' ', out);
}

/* Writes text as a YAML double-quoted scalar. "${" is written as "$${" so
 * that loading the output does not substitute environment variables again. */
void cfg_print_quoted(FILE *out, const char *text)
{
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)text; *p != '\0'; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(out, "\\%c", *p);
        else if (*p == '\n')
            fputs("\\n", out);
        else if (*p == '\t')
            fputs("\\t", out);
        else if (*p < 0x20 || *p == 0x7F)
            fprintf(out, "\\x%02X", *p);
        else if (*p == '$' && p[1] == '{')
            fputs("$$", out);
        else
            fputc(*p, out); /* UTF-8 bytes pass through, so Chinese text stays readable */
    }
    fputc('"', out);
}

static int is_plain_key(const char *key)
{
    if (key[0] == '\0' || key[0] == '-')
        return 0;
    for (const char *p = key; *p != '\0'; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_' ||
              *p == '.' || *p == '-'))
            return 0;
    }
    return 1;
}

/* Writes "KEY:" at indent, without a newline. */
void cfg_print_key(FILE *out, int indent, const char *key)
{
    cfg_print_indent(out, indent);
    if (is_plain_key(key))
        fputs(key, out);
    else
        cfg_print_quoted(out, key);
    fputc(':', out);
}

/* Writes value with the fewest digits that read back to the same double. */
void cfg_print_double(FILE *out, double value)
{
    char text[40];
    for (int digits = 6; digits <= 17; digits++) {
        snprintf(text, sizeof text, "%.*g", digits, value);
        if (strtod(text, NULL) == value)
            break;
    }
    fputs(text, out);
}

int config_print(FILE *out, const struct intentd_config *cfg)
{
    cfg_table_print(out, &cfg_root_table, cfg, 0);
    fflush(out);
    return ferror(out) ? -1 : 0;
}
