/*
 * Encoder key/value caches of recently updated users, within a memory
 * budget (state.kv_cache_budget_mb). A user's next intent then costs one
 * incremental step per new token instead of a full encode of the window.
 *
 * Entries are keyed by user id and evicted least recently used first. A
 * cache is only an accelerator. Before using one, the caller checks that its
 * tokens are a prefix of the user's current window. A cache left behind by an
 * aborted batch, a moved partition or an expired user is therefore rebuilt,
 * not trusted. Used by the stream loop's thread only.
 */
#ifndef INTENTD_INTENT_CACHE_H
#define INTENTD_INTENT_CACHE_H

#include <stddef.h>

#include "kv_cache.h"

struct intent_cache;

/* An empty table that keeps at most budget_bytes of caches. NULL when out of memory. */
struct intent_cache *intent_cache_create(size_t budget_bytes);

/* The cache of user id[len], or NULL. Marks it most recently used. */
struct model_kv_cache *intent_cache_get(struct intent_cache *table, const char *id, size_t len);

/* Stores kv (taken over) for user id[len], replacing an older one, then
 * evicts the least recently used entries while over the budget (kv itself
 * too when it alone exceeds it). Returns 0, or -1 when out of memory (kv is
 * then freed). */
int intent_cache_put(struct intent_cache *table, const char *id, size_t len, struct model_kv_cache *kv);

/* Frees every entry, for example after a model swap. */
void intent_cache_clear(struct intent_cache *table);

/* Entries held and bytes they use. */
size_t intent_cache_count(const struct intent_cache *table);
size_t intent_cache_bytes(const struct intent_cache *table);

void intent_cache_free(struct intent_cache *table);

#endif
