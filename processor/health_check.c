#include "health_check.h"

#include <stdio.h>

int health_ready(const struct metrics_snapshot *snapshot, char *reason, size_t size)
{
    if (!snapshot->published) {
        snprintf(reason, size, "starting: the stream loop has not reported yet");
        return 0;
    }
    if (!snapshot->running) {
        snprintf(reason, size, "stopped: the stream loop is not running");
        return 0;
    }
    if (snapshot->loop.restoring_tasks > 0) {
        snprintf(reason, size, "restoring: %d of %d tasks are still reading their changelog",
                 snapshot->loop.restoring_tasks, snapshot->loop.restoring_tasks + snapshot->loop.active_tasks);
        return 0;
    }
    if (snapshot->loop.active_tasks == 0 && snapshot->loop.assignments == 0) {
        snprintf(reason, size, "no partitions assigned yet");
        return 0;
    }
    if (snapshot->loop.active_tasks == 0 && !snapshot->loop.in_group) {
        snprintf(reason, size, "not in the consumer group: the assignment was lost or a rebalance is under way");
        return 0;
    }
    if (snapshot->loop.active_tasks == 0) {
        /* A standby member (more members than partitions) is healthy and
         * takes partitions over in the next rebalance. */
        snprintf(reason, size, "ready: in the group with no partitions assigned (more members than partitions)");
        return 1;
    }
    snprintf(reason, size, "ready");
    return 1;
}
