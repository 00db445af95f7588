/*
 * End of a batch: encode the touched users, emit intents and offers, write
 * the changelog; and what commit and abort mean for the in-memory state.
 */
#include <stdio.h>
#include <string.h>

#include "app.h"
#include "log.h"

/* Removes users idle longer than state.idle_expiry, writing a changelog
 * tombstone for each. Runs at most once per minute of stream time because it
 * scans every user. */
static int expire_idle_users(struct app *app)
{
    const int64_t scan_interval_ms = 60 * 1000;
    int64_t idle_ms = app->cfg->state.idle_expiry_ms;

    if (idle_ms <= 0 || app->stream_time_ms - app->last_expiry_scan_ms < scan_interval_ms)
        return 0;
    app->last_expiry_scan_ms = app->stream_time_ms;

    struct state_expired expired[256];
    size_t n;
    do {
        n = state_store_expire(app->store, app->stream_time_ms, idle_ms, expired, 256);
        for (size_t i = 0; i < n; i++) {
            if (app_produce(app, app->cfg->topics.changelog, expired[i].partition, expired[i].id, expired[i].id_len,
                            NULL, 0) != 0)
                return -1;
            app->counters.changelog_tombstones++;
            app->counters.users_expired++;
        }
    } while (n == 256);
    return 0;
}

int app_on_batch_end(void *ctx)
{
    struct app *app = ctx;

    if (app_emit_intents(app) != 0 || app_emit_offers(app) != 0 || app_write_changelog(app) != 0 ||
        expire_idle_users(app) != 0) {
        log_error("batch failed, aborting it: %s", app->error);
        return -1;
    }
    uint64_t records = 0;
    for (int input = 0; input < APP_INPUT_COUNT; input++)
        records += app->counters.records[input] - app->committed_counters.records[input];
    app_histogram_observe(&app->counters.batch_records, app_batch_size_bounds, (double)records);
    app_histogram_observe(&app->counters.batch_users, app_batch_size_bounds, (double)app->n_touches);
    return 0;
}

/* Users erased by a tombstone leave the store once their changelog
 * tombstone is committed. */
static void remove_erased_users(struct app *app)
{
    for (size_t i = 0; i < app->n_touches; i++) {
        struct state_user *user = app->touches[i].user;
        if (app->touches[i].erase)
            state_store_remove(app->store, user->id, user->id_len);
    }
}

void app_on_commit(void *ctx)
{
    struct app *app = ctx;

    app->counters.batches++;
    app_undo_clear(&app->undo);
    app_offer_commit(app);
    remove_erased_users(app); /* before clear_dirty, whose eviction may move pointers */
    state_store_clear_dirty(app->store);
    app->n_touches = 0;
    app->committed_counters = app->counters;
    if (app->registry)
        app_registry_on_commit(app->registry, app->loop);
}

/* The aborted batch's records are read again, so its counts are undone: the
 * counters then match the committed outputs. Restore counts happen outside
 * batches and are kept. */
static void rollback_counters(struct app *app)
{
    struct app_counters *c = &app->counters;
    uint64_t aborted = c->aborted_batches + 1, restored = c->restored_users;
    double restore_seconds = c->restore_seconds;

    *c = app->committed_counters;
    c->aborted_batches = aborted;
    c->restored_users = restored;
    c->restore_seconds = restore_seconds;
}

void app_on_abort(void *ctx)
{
    struct app *app = ctx;

    rollback_counters(app);
    app_undo_rollback(&app->undo, app->store);
    app_offer_rollback(app);
    state_store_clear_dirty(app->store);
    app->n_touches = 0;
    if (app->registry)
        app_registry_on_abort(app->registry);
}
