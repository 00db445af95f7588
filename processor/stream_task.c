#include "stream_task.h"

#include <stdlib.h>
#include <time.h>

struct stream_task *stream_task_find(struct stream_task_set *set, int32_t partition)
{
    for (int i = 0; i < set->count; i++) {
        if (set->tasks[i].partition == partition)
            return &set->tasks[i];
    }
    return NULL;
}

struct stream_task *stream_task_add(struct stream_task_set *set, int32_t partition, double now)
{
    struct stream_task *existing = stream_task_find(set, partition);
    if (existing)
        return existing;

    if (set->count == set->capacity) {
        int capacity = set->capacity ? set->capacity * 2 : 16;
        struct stream_task *grown = realloc(set->tasks, (size_t)capacity * sizeof *grown);
        if (!grown)
            return NULL;
        set->tasks = grown;
        set->capacity = capacity;
    }

    struct stream_task *task = &set->tasks[set->count++];
    *task = (struct stream_task){
        .partition = partition,
        .state = STREAM_TASK_RESTORING,
        .records_restored = 0,
        .restore_started = now,
    };
    return task;
}

void stream_task_remove(struct stream_task_set *set, int32_t partition)
{
    for (int i = 0; i < set->count; i++) {
        if (set->tasks[i].partition == partition) {
            set->tasks[i] = set->tasks[set->count - 1];
            set->count--;
            return;
        }
    }
}

void stream_task_set_free(struct stream_task_set *set)
{
    free(set->tasks);
    *set = (struct stream_task_set){0};
}

double stream_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
