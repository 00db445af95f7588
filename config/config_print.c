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

/* Returns the code point of the UTF-8 sequence at p (of *len bytes), or -1
 * if p does not start a well-formed multi-byte sequence. */
static long utf8_code_point(const unsigned char *p, size_t *len)
{
    size_t n = (*p & 0xE0) == 0xC0 ? 2 : (*p & 0xF0) == 0xE0 ? 3 : (*p & 0xF8) == 0xF0 ? 4 : 0;
    if (n == 0)
        return -1;
    long code = *p & (0x7F >> n);
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return -1;
        code = (code << 6) | (p[i] & 0x3F);
    }
    *len = n;
    return code;
}

/* Returns 1 for characters that a YAML reader would not keep unchanged in a
 * double-quoted scalar. NEL and the Unicode line and paragraph separators are
 * folded as line breaks, and libyaml rejects C1 controls, the BOM, U+FFFE and U+FFFF. */
static int needs_unicode_escape(long code)
{
    return (code >= 0x80 && code <= 0x9F) || code == 0x2028 || code == 0x2029 || code == 0xFEFF ||
           code == 0xFFFE || code == 0xFFFF;
}

/* Writes text as a YAML double-quoted scalar. With escape_env, "${" is
 * written as "$${" so that loading the output does not substitute
 * environment variables again (values are expanded, keys are not). */
static void print_quoted(FILE *out, const char *text, int escape_env)
{
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)text; *p != '\0'; p++) {
        size_t len = 1;
        long code = *p >= 0x80 ? utf8_code_point(p, &len) : -1;

        if (*p == '"' || *p == '\\')
            fprintf(out, "\\%c", *p);
        else if (*p == '\n')
            fputs("\\n", out);
        else if (*p == '\t')
            fputs("\\t", out);
        else if (*p < 0x20 || *p == 0x7F)
            fprintf(out, "\\x%02X", *p);
        else if (escape_env && *p == '$' && p[1] == '{')
            fputs("$$", out);
        else if (needs_unicode_escape(code)) {
            fprintf(out, "\\u%04lX", code);
            p += len - 1;
        } else
            fputc(*p, out); /* other UTF-8 bytes pass through, so Chinese text stays readable */
    }
    fputc('"', out);
}

void cfg_print_quoted(FILE *out, const char *text)
{
    print_quoted(out, text, 1);
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
        print_quoted(out, key, 0);
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
