#include "intent_cache.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct entry {
    struct entry *next_in_bucket;
    struct entry *newer, *older; /* the recency list */
    struct model_kv_cache *kv;
    size_t bytes;                /* of kv, counted against the budget */
    size_t id_len;
    char id[];
};

struct intent_cache {
    size_t budget, bytes, count;
    struct entry **buckets;
    size_t n_buckets;            /* a power of two */
    struct entry *newest, *oldest;
};

static uint64_t hash_id(const char *id, size_t len)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)id[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static struct entry **slot_of(struct intent_cache *t, const char *id, size_t len)
{
    struct entry **slot = &t->buckets[hash_id(id, len) & (t->n_buckets - 1)];
    while (*slot && !((*slot)->id_len == len && memcmp((*slot)->id, id, len) == 0))
        slot = &(*slot)->next_in_bucket;
    return slot;
}

static void unlink_recency(struct intent_cache *t, struct entry *e)
{
    if (e->newer)
        e->newer->older = e->older;
    else
        t->newest = e->older;
    if (e->older)
        e->older->newer = e->newer;
    else
        t->oldest = e->newer;
    e->newer = e->older = NULL;
}

static void push_newest(struct intent_cache *t, struct entry *e)
{
    e->older = t->newest;
    e->newer = NULL;
    if (t->newest)
        t->newest->newer = e;
    t->newest = e;
    if (!t->oldest)
        t->oldest = e;
}

static void remove_entry(struct intent_cache *t, struct entry *e)
{
    struct entry **slot = slot_of(t, e->id, e->id_len);
    *slot = e->next_in_bucket;
    unlink_recency(t, e);
    t->bytes -= e->bytes;
    t->count--;
    model_kv_cache_free(e->kv);
    free(e);
}

/* Doubles the bucket array when the table is fuller than one entry per bucket. */
static int grow(struct intent_cache *t)
{
    size_t n = t->n_buckets * 2;
    struct entry **buckets = calloc(n, sizeof *buckets);
    if (!buckets)
        return -1;

    for (size_t b = 0; b < t->n_buckets; b++) {
        struct entry *e = t->buckets[b];
        while (e) {
            struct entry *next = e->next_in_bucket;
            size_t to = hash_id(e->id, e->id_len) & (n - 1);
            e->next_in_bucket = buckets[to];
            buckets[to] = e;
            e = next;
        }
    }
    free(t->buckets);
    t->buckets = buckets;
    t->n_buckets = n;
    return 0;
}

struct intent_cache *intent_cache_create(size_t budget_bytes)
{
    struct intent_cache *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->budget = budget_bytes;
    t->n_buckets = 64;
    t->buckets = calloc(t->n_buckets, sizeof *t->buckets);
    if (!t->buckets) {
        free(t);
        return NULL;
    }
    return t;
}

struct model_kv_cache *intent_cache_get(struct intent_cache *t, const char *id, size_t len)
{
    struct entry *e = *slot_of(t, id, len);
    if (!e)
        return NULL;
    unlink_recency(t, e);
    push_newest(t, e);
    return e->kv;
}

int intent_cache_put(struct intent_cache *t, const char *id, size_t len, struct model_kv_cache *kv)
{
    struct entry *old = *slot_of(t, id, len);
    if (old)
        remove_entry(t, old);
    if (t->count >= t->n_buckets && grow(t) != 0) {
        model_kv_cache_free(kv);
        return -1;
    }

    struct entry *e = calloc(1, sizeof *e + len);
    if (!e) {
        model_kv_cache_free(kv);
        return -1;
    }
    memcpy(e->id, id, len);
    e->id_len = len;
    e->kv = kv;
    e->bytes = model_kv_cache_bytes(kv) + sizeof *e + len;
    *slot_of(t, id, len) = e;
    push_newest(t, e);
    t->bytes += e->bytes;
    t->count++;

    while (t->bytes > t->budget && t->oldest)
        remove_entry(t, t->oldest);
    return 0;
}

void intent_cache_clear(struct intent_cache *t)
{
    while (t->oldest)
        remove_entry(t, t->oldest);
}

size_t intent_cache_count(const struct intent_cache *t)
{
    return t->count;
}

size_t intent_cache_bytes(const struct intent_cache *t)
{
    return t->bytes;
}

void intent_cache_free(struct intent_cache *t)
{
    if (!t)
        return;
    intent_cache_clear(t);
    free(t->buckets);
    free(t);
}
