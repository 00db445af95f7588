/*
 * Time arguments and send pacing of `intentd replay`.
 */
#ifndef INTENTD_REPLAY_TIME_H
#define INTENTD_REPLAY_TIME_H

#include <stddef.h>
#include <stdint.h>

/* Parses an event time given as Unix seconds ("1511658000") or as ISO-8601
 * in UTC or with an offset: "2017-11-26", "2017-11-26T01:00:00Z",
 * "2017-11-26T09:00:00+08:00", "2017-11-26 01:00:00.250Z". A time without a
 * zone is UTC. Returns 0 and the time in Unix milliseconds, or -1. */
int replay_time_parse(const char *text, int64_t *ms);

/* Formats Unix milliseconds as ISO-8601 UTC (2017-11-25T01:21:50Z), with a
 * .mmm fraction only when the milliseconds are not zero. replay_time_parse
 * reads the result back, also before 1970. A time that gmtime_r cannot
 * represent prints as the number followed by "ms". */
void replay_time_format(int64_t ms, char *out, size_t size);

/* Pacing: when each event may be sent. */
struct replay_pacer {
    double speed;           /* event-time seconds per wall second; 0 sends at once */
    double rate;            /* maximum events per wall second; 0 for no limit */
    int64_t first_event_ms; /* event time of the first event sent */
    double start_s;         /* wall time at which the first event was sent */
};

/* Computes the earliest wall time (seconds, the clock of start_s) at which
 * the index-th event (from 0), with event time timestamp_ms, may be sent.
 * That is the later of start + (timestamp - first) / speed and
 * start + index / rate. Events older than the first one are due at once. */
double replay_pacer_due(const struct replay_pacer *pacer, int64_t timestamp_ms, uint64_t index);

/* Monotonic wall clock in seconds. */
double replay_now_s(void);

#endif
