/*
 * Progress of a replay on stderr: a bar redrawn in place when stderr is a
 * terminal (events, events/s, ETA, percent), else one log line every
 * REPLAY_PROGRESS_LOG_S seconds.
 */
#ifndef INTENTD_REPLAY_PROGRESS_H
#define INTENTD_REPLAY_PROGRESS_H

#include <stdint.h>
#include <stdio.h>

#define REPLAY_PROGRESS_LOG_S 10.0
#define REPLAY_PROGRESS_BAR_S 0.2

struct replay_progress {
    FILE *out;
    int tty;          /* 1: draw the bar with \r */
    uint64_t total;   /* events planned; 0 when unknown */
    double start_s;   /* replay_now_s() at the start */
    double last_s;    /* time of the last output */
};

void replay_progress_start(struct replay_progress *progress, FILE *out, uint64_t total);

/* Reports done events if the last output is old enough. */
void replay_progress_update(struct replay_progress *progress, uint64_t done);

/* Draws the final state and ends the bar's line. */
void replay_progress_finish(struct replay_progress *progress, uint64_t done);

/* Formats seconds as H:MM:SS into out (at least 16 bytes). */
void replay_progress_format_duration(double seconds, char *out, size_t size);

#endif
