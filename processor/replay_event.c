#include "replay_event.h"

#include <stdlib.h>
#include <string.h>

int64_t replay_event_time_ms(const struct replay_event *e)
{
    return e->kind == REPLAY_CLICK ? e->u.click.timestamp_ms : e->u.review.timestamp_ms;
}

const char *replay_event_user(const struct replay_event *e)
{
    return e->kind == REPLAY_CLICK ? e->u.click.user_id : e->u.review.user_id;
}

void replay_event_clear(struct replay_event *e)
{
    if (e->kind == REPLAY_CLICK)
        codec_click_clear(&e->u.click);
    else
        codec_review_clear(&e->u.review);
}

int replay_events_push(struct replay_events *events, struct replay_event *e)
{
    if (events->count == events->capacity) {
        size_t capacity = events->capacity ? events->capacity * 2 : 1024;
        struct replay_event *grown = realloc(events->items, capacity * sizeof *grown);
        if (!grown) {
            replay_event_clear(e);
            return -1;
        }
        events->items = grown;
        events->capacity = capacity;
    }
    events->items[events->count++] = *e;
    memset(e, 0, sizeof *e);
    return 0;
}

/* qsort is not stable, so the comparison itself carries the input order. */
static int compare_events(const void *a, const void *b)
{
    const struct replay_event *x = a, *y = b;
    int64_t tx = replay_event_time_ms(x), ty = replay_event_time_ms(y);

    if (tx != ty)
        return tx < ty ? -1 : 1;
    if (x->input != y->input)
        return x->input < y->input ? -1 : 1;
    if (x->sequence != y->sequence)
        return x->sequence < y->sequence ? -1 : 1;
    return 0;
}

void replay_events_sort(struct replay_events *events)
{
    if (events->count > 1)
        qsort(events->items, events->count, sizeof *events->items, compare_events);
}

void replay_events_free(struct replay_events *events)
{
    for (size_t i = 0; i < events->count; i++)
        replay_event_clear(&events->items[i]);
    free(events->items);
    memset(events, 0, sizeof *events);
}
