/*
 * Tasks of the stream loop: task p is the driver partition p together with
 * partition p of every companion topic and of the changelog. Internal to
 * stream_loop*.c.
 */
#ifndef INTENTD_STREAM_TASK_H
#define INTENTD_STREAM_TASK_H

#include <stdint.h>

enum stream_task_state {
    STREAM_TASK_RESTORING = 0, /* inputs paused, changelog being read */
    STREAM_TASK_ACTIVE = 1,    /* inputs flowing */
};

struct stream_task {
    int32_t partition;
    enum stream_task_state state;
    int64_t records_restored; /* changelog records applied, tombstones included */
    int64_t restore_end;    /* changelog high watermark when the restore began */
    double restore_started; /* monotonic seconds */
};

struct stream_task_set {
    struct stream_task *tasks;
    int count;
    int capacity;
};

/* Returns the task of partition p, or NULL. */
struct stream_task *stream_task_find(struct stream_task_set *set, int32_t partition);

/* Adds a task in the RESTORING state; returns it, or NULL when out of memory. */
struct stream_task *stream_task_add(struct stream_task_set *set, int32_t partition, double now);

/* Removes the task of partition p if present. */
void stream_task_remove(struct stream_task_set *set, int32_t partition);

void stream_task_set_free(struct stream_task_set *set);

/* Monotonic clock in seconds. */
double stream_now(void);

#endif
