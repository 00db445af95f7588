/*
 * Renders a metrics snapshot in the Prometheus text exposition format
 * (version 0.0.4): a HELP and TYPE line per family, then its samples.
 */
#ifndef INTENTD_METRICS_RENDER_H
#define INTENTD_METRICS_RENDER_H

#include <stddef.h>

#include "metrics_snapshot.h"

#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Renders *snapshot into a new NUL-terminated buffer (*out, caller frees;
 * *len excludes the NUL). Returns 0, or -1 when out of memory. */
int metrics_render(const struct metrics_snapshot *snapshot, char **out, size_t *len);

/* Writes value as a Prometheus label value (backslash, double quote and
 * newline escaped) into out[size], cut to fit. Returns out. */
char *metrics_escape_label(const char *value, char *out, size_t size);

#endif
