/*
 * Replay events: the ClickEvent and ReviewEvent records read from recorded
 * files, held in memory so that events of several inputs can be merged into
 * one timestamp order before they are sent.
 *
 * Ownership: a struct replay_events owns every event pushed into it, and each
 * event owns its strings (codec_click_clear / codec_review_clear release
 * them). replay_events_free() releases everything.
 */
#ifndef INTENTD_REPLAY_EVENT_H
#define INTENTD_REPLAY_EVENT_H

#include <stddef.h>
#include <stdint.h>

#include "codec_events.h"

#define REPLAY_ERROR_SIZE 512

enum replay_kind {
    REPLAY_CLICK = 0,  /* goes to topics.clickstream */
    REPLAY_REVIEW = 1, /* goes to topics.reviews */
};

struct replay_event {
    enum replay_kind kind;
    uint32_t input;    /* index of the input file in command-line order */
    uint64_t sequence; /* position of the event in its input file */
    union {
        codec_click_event_t click;
        codec_review_event_t review;
    } u;
};

struct replay_events {
    struct replay_event *items;
    size_t count;
    size_t capacity;
};

/* Event time of e in Unix milliseconds. */
int64_t replay_event_time_ms(const struct replay_event *e);

/* User id of e (the Kafka key). */
const char *replay_event_user(const struct replay_event *e);

/* Releases the strings of one event. */
void replay_event_clear(struct replay_event *e);

/* Appends *e, taking over its strings (also on failure, when they are
 * released). Returns 0, or -1 when out of memory. */
int replay_events_push(struct replay_events *events, struct replay_event *e);

/* Sorts by event time. Events with equal times keep their order: first by
 * input (command-line order), then by position in the file, so the sort is
 * a stable merge of the inputs. */
void replay_events_sort(struct replay_events *events);

void replay_events_free(struct replay_events *events);

#endif
