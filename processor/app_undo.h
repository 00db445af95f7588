/*
 * Undo log of the open transaction: the state of every user before the batch
 * first changed it. An aborted transaction is read again from the committed
 * offsets, so the in-memory state must return to what it was at that commit.
 *
 * Contract: call app_undo_save before the first change to a user in a batch,
 * that is while user->dirty_pos == STATE_NIL, and mark the user dirty right
 * after; dirty users are never evicted, so every saved user still exists at
 * rollback.
 */
#ifndef INTENTD_APP_UNDO_H
#define INTENTD_APP_UNDO_H

#include <stddef.h>

#include "state_store.h"

struct app_undo {
    unsigned char *bytes; /* entries of entry_size bytes */
    size_t count;
    size_t capacity;
    size_t entry_size;
    size_t record_bytes;  /* state_store record size at the store's max_len */
};

/* Prepares an empty log for users of the given store. */
void app_undo_init(struct app_undo *undo, struct state_store *store);

/* Saves the user's current state; created says the user did not exist before
 * this batch (rollback removes it). Returns 0, or -1 when out of memory. */
int app_undo_save(struct app_undo *undo, const struct state_user *user, int created);

/* Restores every saved user, newest first, and empties the log. */
void app_undo_rollback(struct app_undo *undo, struct state_store *store);

/* Empties the log after a commit. */
void app_undo_clear(struct app_undo *undo);

void app_undo_free(struct app_undo *undo);

#endif
