/*
 * Fills a metrics snapshot from the running app and stream loop.
 *
 * Threading: the stream thread only, because it reads the app's live state.
 * It may run inside a batch, since the counters it copies are those of the
 * last commit.
 */
#ifndef INTENTD_METRICS_PUBLISH_H
#define INTENTD_METRICS_PUBLISH_H

#include "app.h"
#include "metrics_snapshot.h"

/* Copies into *snapshot the app's counters as of the last commit, the loop
 * and store statistics, the model version and the label names. The caller
 * fills reloads, lag and start_time_s. Sets published and running to 1.
 * app->loop may be NULL. */
void metrics_fill_snapshot(const struct app *app, struct metrics_snapshot *snapshot);

#endif
