/*
 * The shared part of the input readers: bad-line accounting and the
 * event-time filter.
 */
#include <stdio.h>
#include <string.h>

#include "replay_input.h"

int replay_bad_line(struct replay_bad_lines *bad, const char *path, long line, const char *reason, char *error)
{
    char message[REPLAY_ERROR_SIZE];

    snprintf(message, sizeof message, "%.200s:%ld: %.290s", path, line, reason);
    bad->count++;
    if (bad->strict) {
        snprintf(error, REPLAY_ERROR_SIZE, "%s (--strict stops at the first bad line)", message);
        return -1;
    }
    if (bad->shown < REPLAY_BAD_SHOWN)
        memcpy(bad->messages[bad->shown++], message, sizeof message);
    return 0;
}

int replay_load_add(struct replay_load *load, struct replay_event *e, char *error)
{
    int64_t time_ms = replay_event_time_ms(e);

    e->input = load->input;
    e->sequence = load->sequence++;
    if ((load->has_from && time_ms < load->from_ms) || (load->has_to && time_ms >= load->to_ms)) {
        load->filtered++;
        replay_event_clear(e);
        return 0;
    }
    if (replay_events_push(load->events, e) != 0) {
        snprintf(error, REPLAY_ERROR_SIZE, "out of memory after %zu events; replay a smaller --from/--to range",
                 load->events->count);
        return -1;
    }
    return 0;
}
