/*
 * Liveness and readiness decisions for the /healthz and /readyz endpoints,
 * taken from the last published metrics snapshot.
 */
#ifndef INTENTD_HEALTH_CHECK_H
#define INTENTD_HEALTH_CHECK_H

#include <stddef.h>

#include "metrics_snapshot.h"

/* Returns 1 when the job can serve: the stream loop runs (not stopped after a
 * fatal error), at least one task is assigned and every assigned task has
 * finished restoring its state. Otherwise returns 0 and writes a one-line
 * reason into reason[size]. */
int health_ready(const struct metrics_snapshot *snapshot, char *reason, size_t size);

#endif
