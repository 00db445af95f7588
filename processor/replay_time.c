#include "replay_time.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Days from 1970-01-01 to year-month-day in the proleptic Gregorian calendar. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* Reads exactly n digits at *p into *value and advances *p. */
static int read_digits(const char **p, int n, int *value)
{
    *value = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return -1;
        *value = *value * 10 + ((*p)[i] - '0');
    }
    *p += n;
    return 0;
}

/* Parses "Z", "+HH:MM", "-HH:MM", "+HHMM" or nothing into an offset in seconds. */
static int parse_zone(const char *p, int64_t *offset_s)
{
    int hours, minutes;

    *offset_s = 0;
    if (!*p || (p[0] == 'Z' && !p[1]))
        return 0;
    if (*p != '+' && *p != '-')
        return -1;
    int sign = *p++ == '-' ? -1 : 1;
    if (read_digits(&p, 2, &hours) != 0)
        return -1;
    if (*p == ':')
        p++;
    if (read_digits(&p, 2, &minutes) != 0 || *p || hours > 23 || minutes > 59)
        return -1;
    *offset_s = sign * (hours * 3600 + minutes * 60);
    return 0;
}

/* Parses the optional "THH:MM[:SS[.fff]]" part; p points after the date. */
static int parse_clock(const char **p, int64_t *seconds, int64_t *millis)
{
    int h, m, s = 0;

    *seconds = 0;
    *millis = 0;
    if (**p != 'T' && **p != ' ')
        return 0;
    (*p)++;
    if (read_digits(p, 2, &h) != 0 || *(*p)++ != ':' || read_digits(p, 2, &m) != 0)
        return -1;
    if (**p == ':' && ((*p)++, read_digits(p, 2, &s) != 0))
        return -1;
    if (**p == '.') {
        int scale = 100;
        for ((*p)++; isdigit((unsigned char)**p); (*p)++, scale /= 10)
            *millis += scale * (**p - '0');
    }
    if (h > 23 || m > 59 || s > 60)
        return -1;
    *seconds = h * 3600 + m * 60 + s;
    return 0;
}

static int parse_iso(const char *text, int64_t *ms)
{
    const char *p = text;
    int year, month, day;
    int64_t clock_s, millis, offset_s;

    if (read_digits(&p, 4, &year) != 0 || *p++ != '-' || read_digits(&p, 2, &month) != 0 || *p++ != '-' ||
        read_digits(&p, 2, &day) != 0)
        return -1;
    if (month < 1 || month > 12 || day < 1 || day > 31)
        return -1;
    if (parse_clock(&p, &clock_s, &millis) != 0 || parse_zone(p, &offset_s) != 0)
        return -1;
    *ms = ((days_from_civil(year, month, day) * 86400 + clock_s - offset_s) * 1000) + millis;
    return 0;
}

int replay_time_parse(const char *text, int64_t *ms)
{
    char *end;

    if (!text || !text[0])
        return -1;
    if (text[strspn(text, "0123456789")] == '\0') {
        errno = 0;
        long long seconds = strtoll(text, &end, 10);
        if (errno || seconds > 100000000000LL)
            return -1;
        *ms = seconds * 1000;
        return 0;
    }
    return parse_iso(text, ms);
}

double replay_pacer_due(const struct replay_pacer *pacer, int64_t timestamp_ms, uint64_t index)
{
    double due = pacer->start_s;

    if (pacer->speed > 0 && timestamp_ms > pacer->first_event_ms)
        due = pacer->start_s + (double)(timestamp_ms - pacer->first_event_ms) / 1000.0 / pacer->speed;
    if (pacer->rate > 0) {
        double by_rate = pacer->start_s + (double)index / pacer->rate;
        if (by_rate > due)
            due = by_rate;
    }
    return due;
}

double replay_now_s(void)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

void replay_time_format(int64_t ms, char *out, size_t size)
{
    int64_t seconds = ms / 1000;
    int millis = (int)(ms % 1000);
    char stamp[48];
    struct tm tm;

    /* C division truncates toward zero, so a time before 1970 borrows a second. */
    if (millis < 0) {
        seconds--;
        millis += 1000;
    }
    time_t t = (time_t)seconds;
    if (!gmtime_r(&t, &tm) || strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
        snprintf(out, size, "%" PRId64 "ms", ms);
        return;
    }
    if (millis)
        snprintf(out, size, "%s.%03dZ", stamp, millis);
    else
        snprintf(out, size, "%sZ", stamp);
}
