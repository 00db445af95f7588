#include "app_timers.h"

#include <stdlib.h>
#include <string.h>

static void swap(struct app_timer *a, struct app_timer *b)
{
    struct app_timer t = *a;
    *a = *b;
    *b = t;
}

int app_timers_push(struct app_timers *timers, int64_t deadline_ms, int32_t rule, const char *id, size_t id_len)
{
    if (id_len > STATE_USER_ID_MAX)
        return -1;
    if (timers->count == timers->capacity) {
        size_t capacity = timers->capacity ? timers->capacity * 2 : 1024;
        struct app_timer *grown = realloc(timers->heap, capacity * sizeof *grown);
        if (!grown)
            return -1;
        timers->heap = grown;
        timers->capacity = capacity;
    }

    size_t i = timers->count++;
    struct app_timer *t = &timers->heap[i];
    t->deadline_ms = deadline_ms;
    t->rule = rule;
    t->id_len = (uint8_t)id_len;
    memcpy(t->id, id, id_len);
    t->id[id_len] = '\0';

    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (timers->heap[parent].deadline_ms <= timers->heap[i].deadline_ms)
            break;
        swap(&timers->heap[parent], &timers->heap[i]);
        i = parent;
    }
    return 0;
}

int app_timers_pop_due(struct app_timers *timers, int64_t now_ms, struct app_timer *out)
{
    if (timers->count == 0 || timers->heap[0].deadline_ms > now_ms)
        return 0;

    *out = timers->heap[0];
    timers->heap[0] = timers->heap[--timers->count];

    size_t i = 0;
    for (;;) {
        size_t left = 2 * i + 1, right = left + 1, smallest = i;
        if (left < timers->count && timers->heap[left].deadline_ms < timers->heap[smallest].deadline_ms)
            smallest = left;
        if (right < timers->count && timers->heap[right].deadline_ms < timers->heap[smallest].deadline_ms)
            smallest = right;
        if (smallest == i)
            break;
        swap(&timers->heap[i], &timers->heap[smallest]);
        i = smallest;
    }
    return 1;
}

void app_timers_free(struct app_timers *timers)
{
    free(timers->heap);
    memset(timers, 0, sizeof *timers);
}
