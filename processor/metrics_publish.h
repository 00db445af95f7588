/*
 * Fills a metrics snapshot from the running app and stream loop.
 *
 * Threading: the stream thread only (it reads the app's live state), between
 * batches or inside one: the counters it copies are those of the last commit.
 */
#ifndef INTENTD_METRICS_PUBLISH_H
#define INTENTD_METRICS_PUBLISH_H

#include "app.h"
#include "metrics_snapshot.h"

/* Copies app's counters as of the last commit, the loop and store statistics, the model version
 * and the label names into *snapshot; reloads and start_time_s are the
 * caller's. Sets published and running to 1. app->loop may be NULL. */
void metrics_fill_snapshot(const struct app *app, struct metrics_snapshot *snapshot);

#endif
