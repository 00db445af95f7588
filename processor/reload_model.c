#include "reload_model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"

void reload_watch_init(struct reload_watch *watch, const char *path, const char *version_label,
                       int allow_tokenizer_change, double interval_s)
{
    struct stat st;

    memset(watch, 0, sizeof *watch);
    watch->path = path;
    watch->version_label = version_label ? version_label : "";
    watch->allow_tokenizer_change = allow_tokenizer_change;
    watch->interval_s = interval_s;
    if (stat(path, &st) == 0) {
        watch->mtime = st.st_mtim;
        watch->size = st.st_size;
    }
}

/* Returns 1 if the tokenizers serialise to the same JSON, 0 if not, -1 with a
 * message on failure. */
static int same_tokenizer(const struct tokenizer *a, const struct tokenizer *b, char *error)
{
    char *ja = NULL, *jb = NULL;
    if (tokenizer_to_json(a, &ja, error) != 0 || tokenizer_to_json(b, &jb, error) != 0) {
        free(ja);
        return -1;
    }
    int same = strcmp(ja, jb) == 0;
    free(ja);
    free(jb);
    return same;
}

struct model_bundle *reload_model_load(const char *path, const char *version_label,
                                       const struct model_bundle *running, int allow_tokenizer_change, char *error)
{
    struct model_bundle *bundle = calloc(1, sizeof *bundle);
    if (!bundle) {
        snprintf(error, MODEL_ERROR_SIZE, "out of memory loading %s", path);
        return NULL;
    }
    if (model_bundle_load(bundle, path, version_label, error) != 0) {
        free(bundle);
        return NULL;
    }
    if (!allow_tokenizer_change) {
        int same = same_tokenizer(running->tokenizer, bundle->tokenizer, error);
        if (same != 1) {
            if (same == 0)
                snprintf(error, MODEL_ERROR_SIZE,
                         "%s: its tokenizer differs from the running model's, so users' stored token sequences "
                         "would be misread; restart with --allow-tokenizer-change to accept it",
                         path);
            model_bundle_free(bundle);
            free(bundle);
            return NULL;
        }
    }
    return bundle;
}

/* Returns 1 if the file's mtime or size differs from the last one seen, and
 * remembers the new ones. */
static int file_changed(struct reload_watch *watch)
{
    struct stat st;
    if (stat(watch->path, &st) != 0)
        return 0; /* a missing file (mid-rename) is looked at again next time */
    int changed = st.st_size != watch->size || st.st_mtim.tv_sec != watch->mtime.tv_sec ||
                  st.st_mtim.tv_nsec != watch->mtime.tv_nsec;
    watch->mtime = st.st_mtim;
    watch->size = st.st_size;
    return changed;
}

enum reload_status reload_model_poll(struct reload_watch *watch, struct app *app, int forced, double now_s)
{
    char error[MODEL_ERROR_SIZE];

    if (!forced) {
        if (now_s - watch->last_check_s < watch->interval_s)
            return RELOAD_NOTHING;
        watch->last_check_s = now_s;
        if (!file_changed(watch))
            return RELOAD_NOTHING;
    } else {
        file_changed(watch); /* a forced reload also settles the file watch */
    }

    struct model_bundle *next =
        reload_model_load(watch->path, watch->version_label, app->bundle, watch->allow_tokenizer_change, error);
    if (!next) {
        log_error("model reload failed, keeping version=%s path=%s error=\"%s\"", app->bundle->version, watch->path,
                  error);
        return RELOAD_FAILED;
    }

    struct model_bundle *old = app->bundle;
    app->bundle = next;
    app->model_generation++;
    log_info("model reloaded path=%s old_version=%s version=%s", watch->path, old->version, next->version);
    int kept_dim = state_store_embedding_dim(app->store);
    if (kept_dim > 0 && kept_dim != next->model.config.d_model)
        log_warn("the reloaded model has d_model=%d but the state store keeps %d-component embeddings, so "
                 "intents.emit on_move sends every intent until intentd is restarted", next->model.config.d_model,
                 kept_dim);
    model_bundle_free(old);
    free(old);
    return RELOAD_SWAPPED;
}
