#include "state_store.h"

#include "state_hash.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INDEX_MIN_CAPACITY 1024
/* Grow the index when users exceed 7/10 of the buckets. */
#define INDEX_LOAD_NUM 7
#define INDEX_LOAD_DEN 10

/* One index bucket. slot_plus1 == 0 marks an empty bucket. hash is the low 32
 * bits of the id's hash: it gives the home bucket (hash & mask) and filters
 * most mismatches before the id bytes are compared. */
struct state_bucket {
    uint32_t hash;
    uint32_t slot_plus1;
};

struct state_store {
    int max_len;
    int embedding_dim;
    size_t embedding_offset;  /* of the struct state_embedding in a record, after the token ring */
    size_t record_size;
    size_t budget;

    unsigned char **chunks;   /* chunk_count chunks of STATE_CHUNK_USERS records */
    size_t chunk_count;
    size_t chunk_cap;
    uint32_t slots_used;      /* records ever handed out; later slots are untouched */
    uint32_t free_head;       /* free records chained through lru_next */

    struct state_bucket *index;
    size_t index_cap;         /* a power of two */
    size_t users;

    uint32_t lru_head;        /* least recently active user */
    uint32_t lru_tail;        /* most recently active user */

    uint32_t *dirty;          /* slots in mark order */
    size_t dirty_count;
    size_t dirty_cap;

    uint32_t expire_cursor;   /* slot where the next state_store_expire call starts */

    uint64_t evicted;
    uint64_t expired;
    int over_budget;

    size_t *partition_users;  /* users per partition, partition_slots entries */
    int32_t partition_slots;
};

static struct state_user *user_at(const struct state_store *store, uint32_t slot)
{
    unsigned char *chunk = store->chunks[slot / STATE_CHUNK_USERS];

    return (struct state_user *)(chunk + (size_t)(slot % STATE_CHUNK_USERS) * store->record_size);
}

void state_store_options_defaults(struct state_store_options *options)
{
    options->max_len = STATE_DEFAULT_MAX_LEN;
    options->memory_budget = 0;
    options->embedding_dim = 0;
}

struct state_store *state_store_new(const struct state_store_options *options, char *error)
{
    if (options->max_len < 1 || options->max_len > STATE_MAX_LEN_LIMIT) {
        snprintf(error, STATE_ERROR_SIZE,
                 "invalid state store max_len %d: expected 1 to %d tokens", options->max_len,
                 STATE_MAX_LEN_LIMIT);
        return NULL;
    }
    if (options->embedding_dim < 0 || options->embedding_dim > STATE_EMBEDDING_DIM_MAX) {
        snprintf(error, STATE_ERROR_SIZE,
                 "invalid state store embedding_dim %d: expected 0 to %d components", options->embedding_dim,
                 STATE_EMBEDDING_DIM_MAX);
        return NULL;
    }

    struct state_store *store = calloc(1, sizeof(*store));
    if (store == NULL)
        goto oom;
    store->max_len = options->max_len;
    store->budget = options->memory_budget;
    store->embedding_dim = options->embedding_dim;
    /* The embedding follows the int32 ring, so its float scale is aligned. */
    store->embedding_offset = offsetof(struct state_user, tokens) + (size_t)options->max_len * sizeof(int32_t);
    size_t embedding_bytes = options->embedding_dim > 0
                                 ? sizeof(struct state_embedding) + (size_t)options->embedding_dim
                                 : 0;
    /* Round up to 8 so the int64 fields of every record stay aligned. */
    store->record_size = (store->embedding_offset + embedding_bytes + 7) & ~(size_t)7;
    store->free_head = STATE_NIL;
    store->lru_head = STATE_NIL;
    store->lru_tail = STATE_NIL;
    store->index_cap = INDEX_MIN_CAPACITY;
    store->index = calloc(store->index_cap, sizeof(*store->index));
    if (store->index == NULL)
        goto oom;
    return store;

oom:
    state_store_free(store);
    snprintf(error, STATE_ERROR_SIZE, "out of memory creating the state store");
    return NULL;
}

void state_store_free(struct state_store *store)
{
    if (store == NULL)
        return;
    for (size_t i = 0; i < store->chunk_count; i++)
        free(store->chunks[i]);
    free(store->chunks);
    free(store->index);
    free(store->dirty);
    free(store->partition_users);
    free(store);
}

int state_store_max_len(const struct state_store *store)
{
    return store->max_len;
}

int state_store_embedding_dim(const struct state_store *store)
{
    return store->embedding_dim;
}

struct state_embedding *state_store_embedding(const struct state_store *store, const struct state_user *user)
{
    if (store->embedding_dim == 0)
        return NULL;
    return (struct state_embedding *)((unsigned char *)user + store->embedding_offset);
}

/* ---- index ---- */

static size_t index_find(const struct state_store *store, uint32_t hash, const char *id,
                         size_t id_len)
{
    size_t mask = store->index_cap - 1;

    for (size_t i = hash & mask;; i = (i + 1) & mask) {
        const struct state_bucket *b = &store->index[i];
        if (b->slot_plus1 == 0)
            return SIZE_MAX;
        if (b->hash != hash)
            continue;
        const struct state_user *user = user_at(store, b->slot_plus1 - 1);
        if (user->id_len == id_len && memcmp(user->id, id, id_len) == 0)
            return i;
    }
}

static void index_put(struct state_bucket *index, size_t cap, uint32_t hash, uint32_t slot)
{
    size_t i = hash & (cap - 1);

    while (index[i].slot_plus1 != 0)
        i = (i + 1) & (cap - 1);
    index[i].hash = hash;
    index[i].slot_plus1 = slot + 1;
}

/* Deletes bucket i by shifting later members of its probe run back, so that
 * lookups never need deleted markers. */
static void index_delete(struct state_store *store, size_t i)
{
    size_t mask = store->index_cap - 1;
    size_t j = i;

    for (;;) {
        j = (j + 1) & mask;
        if (store->index[j].slot_plus1 == 0)
            break;
        size_t home = store->index[j].hash & mask;
        /* Move j into the hole at i unless its home lies cyclically in (i, j]. */
        int home_between = (i <= j) ? (home > i && home <= j) : (home > i || home <= j);
        if (home_between)
            continue;
        store->index[i] = store->index[j];
        i = j;
    }
    store->index[i].hash = 0;
    store->index[i].slot_plus1 = 0;
}

static int index_grow_if_needed(struct state_store *store)
{
    if ((store->users + 1) * INDEX_LOAD_DEN <= store->index_cap * INDEX_LOAD_NUM)
        return 0;

    size_t cap = store->index_cap * 2;
    struct state_bucket *index = calloc(cap, sizeof(*index));
    if (index == NULL)
        return -1;
    for (size_t i = 0; i < store->index_cap; i++) {
        if (store->index[i].slot_plus1 != 0)
            index_put(index, cap, store->index[i].hash, store->index[i].slot_plus1 - 1);
    }
    free(store->index);
    store->index = index;
    store->index_cap = cap;
    return 0;
}

/* ---- activity list ---- */

static void lru_unlink(struct state_store *store, struct state_user *user)
{
    if (user->lru_prev != STATE_NIL)
        user_at(store, user->lru_prev)->lru_next = user->lru_next;
    else
        store->lru_head = user->lru_next;
    if (user->lru_next != STATE_NIL)
        user_at(store, user->lru_next)->lru_prev = user->lru_prev;
    else
        store->lru_tail = user->lru_prev;
    user->lru_prev = STATE_NIL;
    user->lru_next = STATE_NIL;
}

static void lru_append(struct state_store *store, struct state_user *user)
{
    user->lru_prev = store->lru_tail;
    user->lru_next = STATE_NIL;
    if (store->lru_tail != STATE_NIL)
        user_at(store, store->lru_tail)->lru_next = user->slot;
    else
        store->lru_head = user->slot;
    store->lru_tail = user->slot;
}

/* ---- records ---- */

static struct state_user *record_alloc(struct state_store *store)
{
    uint32_t slot;

    if (store->free_head != STATE_NIL) {
        slot = store->free_head;
        store->free_head = user_at(store, slot)->lru_next;
    } else {
        if (store->slots_used == UINT32_MAX - 1)
            return NULL;
        if (store->slots_used == store->chunk_count * STATE_CHUNK_USERS) {
            if (store->chunk_count == store->chunk_cap) {
                size_t cap = store->chunk_cap ? store->chunk_cap * 2 : 16;
                unsigned char **chunks = realloc(store->chunks, cap * sizeof(*chunks));
                if (chunks == NULL)
                    return NULL;
                store->chunks = chunks;
                store->chunk_cap = cap;
            }
            unsigned char *chunk = malloc(STATE_CHUNK_USERS * store->record_size);
            if (chunk == NULL)
                return NULL;
            store->chunks[store->chunk_count++] = chunk;
        }
        slot = store->slots_used++;
    }

    struct state_user *user = user_at(store, slot);
    memset(user, 0, store->record_size);
    user->slot = slot;
    return user;
}

/* Unlinks the user from the index, the activity list and the dirty list and
 * puts its record on the free list. id_len 0 marks a free record. */
static void record_remove(struct state_store *store, struct state_user *user)
{
    uint32_t hash = (uint32_t)state_hash_bytes(user->id, user->id_len);
    size_t bucket = index_find(store, hash, user->id, user->id_len);

    if (bucket != SIZE_MAX)
        index_delete(store, bucket);
    lru_unlink(store, user);
    if (user->dirty_pos != STATE_NIL) {
        uint32_t last = store->dirty[--store->dirty_count];
        store->dirty[user->dirty_pos] = last;
        user_at(store, last)->dirty_pos = user->dirty_pos;
        user->dirty_pos = STATE_NIL;
    }
    if (user->partition >= 0 && user->partition < store->partition_slots)
        store->partition_users[user->partition]--;
    user->id_len = 0;
    user->lru_next = store->free_head;
    store->free_head = user->slot;
    store->users--;
}

/* ---- budget ---- */

size_t state_store_bytes(const struct state_store *store)
{
    return store->index_cap * sizeof(struct state_bucket) + store->users * store->record_size +
           store->dirty_cap * sizeof(uint32_t) + store->chunk_cap * sizeof(unsigned char *);
}

/* Evicts least recently active users, skipping dirty ones and keep_slot,
 * until the store fits its budget or nothing evictable is left. */
static void enforce_budget(struct state_store *store, uint32_t keep_slot)
{
    uint32_t slot = store->lru_head;

    store->over_budget = 0;
    if (store->budget == 0)
        return;
    while (state_store_bytes(store) > store->budget) {
        while (slot != STATE_NIL &&
               (slot == keep_slot || user_at(store, slot)->dirty_pos != STATE_NIL))
            slot = user_at(store, slot)->lru_next;
        if (slot == STATE_NIL) {
            store->over_budget = 1;
            return;
        }
        struct state_user *victim = user_at(store, slot);
        slot = victim->lru_next;
        record_remove(store, victim);
        store->evicted++;
    }
}

/* ---- lookup and update ---- */

struct state_user *state_store_find(struct state_store *store, const char *id, size_t id_len)
{
    if (id_len == 0 || id_len > STATE_USER_ID_MAX)
        return NULL;

    uint32_t hash = (uint32_t)state_hash_bytes(id, id_len);
    size_t bucket = index_find(store, hash, id, id_len);
    if (bucket == SIZE_MAX)
        return NULL;
    return user_at(store, store->index[bucket].slot_plus1 - 1);
}

/* Partitions counted by state_store_partition_users: Kafka allows far fewer
 * per topic, so a larger id is not worth an array of its size. */
#define COUNTED_PARTITIONS (1 << 20)

/* Makes room to count users of partition (a no-op for one that is not
 * counted). Returns 0, or -1 when out of memory. */
static int partition_slot_reserve(struct state_store *store, int32_t partition)
{
    if (partition < store->partition_slots || partition < 0 || partition >= COUNTED_PARTITIONS)
        return 0;

    int32_t slots = partition + 1;
    size_t *grown = realloc(store->partition_users, (size_t)slots * sizeof *grown);
    if (grown == NULL)
        return -1;
    for (int32_t p = store->partition_slots; p < slots; p++)
        grown[p] = 0;
    store->partition_users = grown;
    store->partition_slots = slots;
    return 0;
}

struct state_user *state_store_upsert(struct state_store *store, const char *id, size_t id_len,
                                      int32_t partition, int *created, char *error)
{
    *created = 0;
    if (id_len == 0 || id_len > STATE_USER_ID_MAX) {
        snprintf(error, STATE_ERROR_SIZE,
                 "invalid user id of %zu bytes: expected 1 to %d bytes", id_len,
                 STATE_USER_ID_MAX);
        return NULL;
    }

    uint32_t hash = (uint32_t)state_hash_bytes(id, id_len);
    size_t bucket = index_find(store, hash, id, id_len);
    if (bucket != SIZE_MAX) {
        struct state_user *user = user_at(store, store->index[bucket].slot_plus1 - 1);
        lru_unlink(store, user);
        lru_append(store, user);
        return user;
    }

    /* Grow the index and the partition counts before taking a record so a
     * failure leaves no half-made user. */
    struct state_user *user = NULL;
    if (index_grow_if_needed(store) == 0 && partition_slot_reserve(store, partition) == 0)
        user = record_alloc(store);
    if (user == NULL) {
        snprintf(error, STATE_ERROR_SIZE,
                 "out of memory adding a user to the state store (%zu users); lower the number "
                 "of partitions per instance or set a memory budget", store->users);
        return NULL;
    }
    memcpy(user->id, id, id_len);
    user->id[id_len] = '\0';
    user->id_len = (uint8_t)id_len;
    user->partition = partition;
    user->consent = STATE_CONSENT_UNKNOWN;
    user->sentiment = STATE_SENTIMENT_NONE;
    user->last_top_category = -1;
    user->dirty_pos = STATE_NIL;
    index_put(store->index, store->index_cap, hash, user->slot);
    lru_append(store, user);
    store->users++;
    if (partition >= 0 && partition < store->partition_slots)
        store->partition_users[partition]++;
    *created = 1;

    enforce_budget(store, user->slot);
    return user;
}

int state_store_remove(struct state_store *store, const char *id, size_t id_len)
{
    struct state_user *user = state_store_find(store, id, id_len);

    if (user == NULL)
        return 0;
    record_remove(store, user);
    return 1;
}

size_t state_store_drop_partition(struct state_store *store, int32_t partition)
{
    size_t removed = 0;

    for (uint32_t slot = 0; slot < store->slots_used; slot++) {
        struct state_user *user = user_at(store, slot);
        if (user->id_len != 0 && user->partition == partition) {
            record_remove(store, user);
            removed++;
        }
    }
    return removed;
}

size_t state_store_partition_users(const struct state_store *store, int32_t partition)
{
    if (partition < 0 || partition >= store->partition_slots)
        return 0;
    return store->partition_users[partition];
}

/* ---- token and purchase rings ---- */

void state_store_push_tokens(struct state_store *store, struct state_user *user,
                             const int32_t *tokens, size_t count)
{
    size_t max_len = (size_t)store->max_len;

    for (size_t i = 0; i < count; i++) {
        if (user->token_count < max_len) {
            user->tokens[(user->token_head + user->token_count) % max_len] = tokens[i];
            user->token_count++;
        } else {
            user->tokens[user->token_head] = tokens[i];
            user->token_head = (uint16_t)((user->token_head + 1) % max_len);
        }
    }
}

size_t state_store_copy_tokens(const struct state_store *store, const struct state_user *user,
                               int32_t *out, size_t cap)
{
    size_t max_len = (size_t)store->max_len;
    size_t n = user->token_count < cap ? user->token_count : cap;
    size_t skip = user->token_count - n;

    for (size_t i = 0; i < n; i++)
        out[i] = user->tokens[(user->token_head + skip + i) % max_len];
    return n;
}

void state_user_add_purchase(struct state_user *user, int32_t item)
{
    if (state_user_has_purchased(user, item))
        return;
    if (user->purchase_count < STATE_PURCHASES_MAX) {
        user->purchases[(user->purchase_head + user->purchase_count) % STATE_PURCHASES_MAX] = item;
        user->purchase_count++;
    } else {
        user->purchases[user->purchase_head] = item;
        user->purchase_head = (uint8_t)((user->purchase_head + 1) % STATE_PURCHASES_MAX);
    }
}

int state_user_has_purchased(const struct state_user *user, int32_t item)
{
    for (size_t i = 0; i < user->purchase_count; i++) {
        if (user->purchases[(user->purchase_head + i) % STATE_PURCHASES_MAX] == item)
            return 1;
    }
    return 0;
}

size_t state_user_copy_purchases(const struct state_user *user, int32_t *out)
{
    for (size_t i = 0; i < user->purchase_count; i++)
        out[i] = user->purchases[(user->purchase_head + i) % STATE_PURCHASES_MAX];
    return user->purchase_count;
}

/* ---- offer counters per rule ---- */

struct state_rule_counters *state_user_find_rule(struct state_user *user, uint32_t rule_hash)
{
    for (size_t i = 0; i < user->rule_count; i++) {
        if (user->rules[i].rule_hash == rule_hash)
            return &user->rules[i];
    }
    return NULL;
}

struct state_rule_counters *state_user_claim_rule(struct state_user *user, uint32_t rule_hash)
{
    struct state_rule_counters *counters = state_user_find_rule(user, rule_hash);

    if (counters != NULL)
        return counters;
    if (user->rule_count < STATE_RULE_SLOTS) {
        counters = &user->rules[user->rule_count++];
    } else {
        counters = &user->rules[0];
        for (size_t i = 1; i < STATE_RULE_SLOTS; i++) {
            if (user->rules[i].last_offer_ms < counters->last_offer_ms)
                counters = &user->rules[i];
        }
    }
    *counters = (struct state_rule_counters){.rule_hash = rule_hash};
    return counters;
}

void state_store_foreach(struct state_store *store, void (*fn)(void *ctx, struct state_user *user),
                         void *ctx)
{
    for (uint32_t slot = 0; slot < store->slots_used; slot++) {
        struct state_user *user = user_at(store, slot);
        if (user->id_len != 0)
            fn(ctx, user);
    }
}

/* ---- micro-batching ---- */

int state_store_mark_dirty(struct state_store *store, struct state_user *user)
{
    if (user->dirty_pos != STATE_NIL)
        return 0;
    if (store->dirty_count == store->dirty_cap) {
        size_t cap = store->dirty_cap ? store->dirty_cap * 2 : 256;
        uint32_t *dirty = realloc(store->dirty, cap * sizeof(*dirty));
        if (dirty == NULL)
            return -1;
        store->dirty = dirty;
        store->dirty_cap = cap;
    }
    user->dirty_pos = (uint32_t)store->dirty_count;
    store->dirty[store->dirty_count++] = user->slot;
    return 0;
}

size_t state_store_dirty_count(const struct state_store *store)
{
    return store->dirty_count;
}

struct state_user *state_store_dirty_at(struct state_store *store, size_t i)
{
    return user_at(store, store->dirty[i]);
}

void state_store_clear_dirty(struct state_store *store)
{
    for (size_t i = 0; i < store->dirty_count; i++)
        user_at(store, store->dirty[i])->dirty_pos = STATE_NIL;
    store->dirty_count = 0;
    enforce_budget(store, STATE_NIL);
}

/* ---- expiry ---- */

size_t state_store_expire(struct state_store *store, int64_t now_ms, int64_t idle_ms,
                          struct state_expired *out, size_t cap)
{
    size_t count = 0;

    if (idle_ms < 0)
        idle_ms = 0;
    /* last_event_ms <= now_ms - idle_ms, written so that it cannot overflow. */
    int64_t cutoff = (now_ms < INT64_MIN + idle_ms) ? INT64_MIN : now_ms - idle_ms;

    /* Resume where the last call stopped, so that draining many expired users
     * in calls of cap users costs one scan in total, not one per call. */
    uint32_t slot = store->expire_cursor;
    for (; slot < store->slots_used && count < cap; slot++) {
        struct state_user *user = user_at(store, slot);
        if (user->id_len == 0 || user->dirty_pos != STATE_NIL || user->last_event_ms > cutoff)
            continue;
        memcpy(out[count].id, user->id, (size_t)user->id_len + 1);
        out[count].id_len = user->id_len;
        out[count].partition = user->partition;
        count++;
        record_remove(store, user);
        store->expired++;
    }
    store->expire_cursor = slot < store->slots_used ? slot : 0;
    return count;
}

void state_store_get_stats(const struct state_store *store, struct state_store_stats *stats)
{
    stats->users = store->users;
    stats->bytes = state_store_bytes(store);
    stats->allocated_bytes = sizeof(*store) + store->chunk_count * STATE_CHUNK_USERS * store->record_size +
                             store->chunk_cap * sizeof(unsigned char *) +
                             store->index_cap * sizeof(struct state_bucket) +
                             store->dirty_cap * sizeof(uint32_t);
    stats->record_bytes = store->record_size;
    stats->dirty = store->dirty_count;
    stats->evicted = store->evicted;
    stats->expired = store->expired;
    stats->over_budget = store->over_budget;
}
