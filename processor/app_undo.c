#include "app_undo.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* The saved part of a record starts after the store's bookkeeping fields
 * (slot, activity list, dirty position), which the rollback must not touch. */
#define SAVED_OFFSET offsetof(struct state_user, last_event_ms)

struct undo_header {
    int created;
};

void app_undo_init(struct app_undo *undo, struct state_store *store)
{
    struct state_store_stats stats;
    state_store_get_stats(store, &stats);

    memset(undo, 0, sizeof *undo);
    undo->record_bytes = stats.record_bytes;
    undo->entry_size = sizeof(struct undo_header) + (stats.record_bytes - SAVED_OFFSET);
    undo->entry_size = (undo->entry_size + 7) & ~(size_t)7;
}

int app_undo_save(struct app_undo *undo, const struct state_user *user, int created)
{
    if (undo->count == undo->capacity) {
        size_t capacity = undo->capacity ? undo->capacity * 2 : 256;
        unsigned char *grown = realloc(undo->bytes, capacity * undo->entry_size);
        if (!grown)
            return -1;
        undo->bytes = grown;
        undo->capacity = capacity;
    }

    unsigned char *entry = undo->bytes + undo->count * undo->entry_size;
    struct undo_header header = {.created = created};
    memcpy(entry, &header, sizeof header);
    memcpy(entry + sizeof header, (const unsigned char *)user + SAVED_OFFSET, undo->record_bytes - SAVED_OFFSET);
    undo->count++;
    return 0;
}

void app_undo_rollback(struct app_undo *undo, struct state_store *store)
{
    for (size_t i = undo->count; i-- > 0;) {
        unsigned char *entry = undo->bytes + i * undo->entry_size;
        struct undo_header header;
        memcpy(&header, entry, sizeof header);

        const unsigned char *saved = entry + sizeof header; /* record bytes from SAVED_OFFSET on */
        size_t id_len = saved[offsetof(struct state_user, id_len) - SAVED_OFFSET];
        const char *id = (const char *)saved + (offsetof(struct state_user, id) - SAVED_OFFSET);

        if (header.created) {
            state_store_remove(store, id, id_len);
            continue;
        }
        struct state_user *user = state_store_find(store, id, id_len);
        if (user)
            memcpy((unsigned char *)user + SAVED_OFFSET, saved, undo->record_bytes - SAVED_OFFSET);
    }
    undo->count = 0;
}

void app_undo_clear(struct app_undo *undo)
{
    undo->count = 0;
}

void app_undo_free(struct app_undo *undo)
{
    free(undo->bytes);
    memset(undo, 0, sizeof *undo);
}
