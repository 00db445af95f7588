/*
 * Conversions of scalar text to typed values. Each parser accepts the whole
 * text or nothing: no leading or trailing spaces, no trailing garbage.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "config_internal.h"

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

int cfg_parse_int64(const char *text, int64_t *out)
{
    const char *digits = text[0] == '-' || text[0] == '+' ? text + 1 : text;
    if (!is_digit(digits[0]))
        return -1;

    char *end;
    errno = 0;
    long long value = strtoll(text, &end, 10);
    if (errno != 0 || *end != '\0')
        return -1;
    *out = value;
    return 0;
}

int cfg_parse_double(const char *text, double *out)
{
    const char *digits = text[0] == '-' || text[0] == '+' ? text + 1 : text;
    if (!is_digit(digits[0]) && !(digits[0] == '.' && is_digit(digits[1])))
        return -1;
    if (strpbrk(text, "xX") != NULL) /* strtod would accept hexadecimal */
        return -1;

    char *end;
    errno = 0;
    double value = strtod(text, &end);
    if (errno != 0 || *end != '\0' || !isfinite(value))
        return -1;
    *out = value;
    return 0;
}

/* Reads the unsigned decimal at *text; returns -1 if none or too large. */
static int read_count(const char **text, int64_t *out)
{
    int64_t value = 0;
    if (!is_digit(**text))
        return -1;
    for (; is_digit(**text); (*text)++) {
        if (value > (INT64_MAX - 9) / 10)
            return -1;
        value = value * 10 + (**text - '0');
    }
    *out = value;
    return 0;
}

/* A duration is one or more <count><unit> parts, units ms, s, m, h, d, in any
 * order ("1h30m", "500ms"); "0" alone is also accepted. */
int cfg_parse_duration_ms(const char *text, int64_t *out)
{
    static const struct {
        const char *unit;
        int64_t ms;
    } units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000}};
    int64_t total = 0;

    if (strcmp(text, "0") == 0) {
        *out = 0;
        return 0;
    }
    if (text[0] == '\0')
        return -1;
    while (*text != '\0') {
        int64_t count;
        if (read_count(&text, &count) != 0)
            return -1;

        int64_t ms = 0;
        for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
            size_t n = strlen(units[i].unit);
            /* "m" must not match the start of "ms". */
            if (strncmp(text, units[i].unit, n) == 0 && !(n == 1 && text[0] == 'm' && text[1] == 's')) {
                ms = units[i].ms;
                text += n;
                break;
            }
        }
        if (ms == 0 || count > (INT64_MAX - total) / ms)
            return -1;
        total += count * ms;
    }
    *out = total;
    return 0;
}

/* A size is a count with an optional unit: B, KB, MB, GB (powers of 1000) or
 * KiB, MiB, GiB (powers of 1024). */
int cfg_parse_size_bytes(const char *text, int64_t *out)
{
    static const struct {
        const char *unit;
        int64_t bytes;
    } units[] = {{"", 1},          {"B", 1},           {"KB", 1000},        {"MB", 1000000},
                 {"GB", 1000000000}, {"KiB", 1024},    {"MiB", 1048576},    {"GiB", 1073741824}};
    int64_t count;

    if (read_count(&text, &count) != 0)
        return -1;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcmp(text, units[i].unit) == 0) {
            if (count > INT64_MAX / units[i].bytes)
                return -1;
            *out = count * units[i].bytes;
            return 0;
        }
    }
    return -1;
}

/* Only true and false: YAML 1.1's yes/no/on/off are too easy to write by
 * accident (a country code "no" turning into false). */
int cfg_parse_bool(const char *text, int *out)
{
    if (strcmp(text, "true") == 0 || strcmp(text, "True") == 0 || strcmp(text, "TRUE") == 0) {
        *out = 1;
        return 0;
    }
    if (strcmp(text, "false") == 0 || strcmp(text, "False") == 0 || strcmp(text, "FALSE") == 0) {
        *out = 0;
        return 0;
    }
    return -1;
}

void cfg_format_duration(char *out, size_t cap, int64_t ms)
{
    static const struct {
        const char *unit;
        int64_t ms;
    } units[] = {{"d", 86400000}, {"h", 3600000}, {"m", 60000}, {"s", 1000}, {"ms", 1}};
    size_t used = 0;

    if (ms == 0) {
        snprintf(out, cap, "0s");
        return;
    }
    out[0] = '\0';
    for (size_t i = 0; i < sizeof units / sizeof units[0] && used < cap; i++) {
        if (ms >= units[i].ms) {
            int n = snprintf(out + used, cap - used, "%lld%s", (long long)(ms / units[i].ms), units[i].unit);
            used += n > 0 ? (size_t)n : 0;
            ms %= units[i].ms;
        }
    }
}

/* Returns 1 if text is well-formed UTF-8 (no overlong forms or surrogates). */
int cfg_is_utf8(const char *text)
{
    const unsigned char *p = (const unsigned char *)text;

    while (*p != '\0') {
        size_t n; /* continuation bytes after the lead byte */
        if (*p < 0x80)
            n = 0;
        else if ((*p & 0xE0) == 0xC0 && *p >= 0xC2)
            n = 1;
        else if ((*p & 0xF0) == 0xE0)
            n = 2;
        else if ((*p & 0xF8) == 0xF0 && *p <= 0xF4)
            n = 3;
        else
            return 0;
        unsigned int code = *p & (0x7F >> n);
        for (size_t i = 1; i <= n; i++) {
            if ((p[i] & 0xC0) != 0x80)
                return 0;
            code = (code << 6) | (p[i] & 0x3F);
        }
        if (n == 2 && (code < 0x800 || (code >= 0xD800 && code <= 0xDFFF)))
            return 0; /* overlong or a surrogate */
        if (n == 3 && (code < 0x10000 || code > 0x10FFFF))
            return 0;
        p += n + 1;
    }
    return 1;
}
