/*
 * Hot model reload: between batches, load a changed model file and swap it
 * into the app, or keep the running model when the new file is bad.
 *
 * A reload is attempted when SIGHUP asked for one, or when the file's mtime
 * or size changed (checked at most once per interval). The new bundle must
 * pass model_bundle_load's checks and, unless allow_tokenizer_change is set,
 * carry exactly the running tokenizer: users' stored token sequences were
 * made with it, and a different vocabulary would read them as other tokens.
 *
 * Threading: the stream thread only, between batches (after a commit), so no
 * batch ever sees two models.
 */
#ifndef INTENTD_RELOAD_MODEL_H
#define INTENTD_RELOAD_MODEL_H

#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "app.h"

enum reload_status {
    RELOAD_NOTHING = 0, /* no change seen, or not time to look yet */
    RELOAD_SWAPPED = 1,
    RELOAD_FAILED = 2,  /* logged; the running model is kept */
};

struct reload_watch {
    const char *path;          /* borrowed; outlives the watch */
    const char *version_label; /* model.version, "" for content-derived versions */
    int allow_tokenizer_change;
    double interval_s;         /* minimum time between two file checks */
    double last_check_s;
    struct timespec mtime;     /* of the file last loaded or rejected */
    off_t size;
};

/* Remembers path's current mtime and size, so only a later change reloads. */
void reload_watch_init(struct reload_watch *watch, const char *path, const char *version_label,
                       int allow_tokenizer_change, double interval_s);

/* Reloads when forced (SIGHUP) or when the file changed and interval_s has
 * passed since the last check (now_s: a monotonic clock in seconds). On
 * success app->bundle points to a new heap bundle and the old one is freed
 * (app->bundle must have come from malloc). */
enum reload_status reload_model_poll(struct reload_watch *watch, struct app *app, int forced, double now_s);

/* Loads path into a new heap bundle and checks it against running. Returns
 * the bundle, or NULL with a message in error[MODEL_ERROR_SIZE]. */
struct model_bundle *reload_model_load(const char *path, const char *version_label,
                                       const struct model_bundle *running, int allow_tokenizer_change, char *error);

#endif
