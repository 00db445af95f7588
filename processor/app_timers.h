/*
 * Pending event-time timers of "did X and no Y within T" trigger rules: a
 * binary min-heap of (deadline, rule, user id). A timer fires when the stream
 * time (the newest event time seen) passes its deadline, so replays fire the
 * same offers as the live run. The heap is not persisted: after a restore the
 * timers are rebuilt from the users' last action times (app_changelog.c).
 */
#ifndef INTENTD_APP_TIMERS_H
#define INTENTD_APP_TIMERS_H

#include <stddef.h>
#include <stdint.h>

#include "state_store.h"

struct app_timer {
    int64_t deadline_ms;
    int32_t rule;
    uint8_t id_len;
    char id[STATE_USER_ID_MAX + 1];
};

struct app_timers {
    struct app_timer *heap;
    size_t count;
    size_t capacity;
};

/* Adds a timer. Returns 0, or -1 when out of memory. */
int app_timers_push(struct app_timers *timers, int64_t deadline_ms, int32_t rule, const char *id, size_t id_len);

/* Removes the earliest timer with deadline <= now_ms into *out. Returns 1 if
 * one was due, 0 otherwise. */
int app_timers_pop_due(struct app_timers *timers, int64_t now_ms, struct app_timer *out);

void app_timers_free(struct app_timers *timers);

#endif
