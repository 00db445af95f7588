/*
 * In-memory user state of the processor: one record per user id, holding the
 * rolling token sequence the model reads and the counters the offer policy
 * reads.
 *
 * Structure. Records live in fixed-size chunks of STATE_CHUNK_USERS records,
 * so a record never moves and a struct state_user pointer stays valid until
 * that user is removed. An open-addressing index (linear probing, 8 bytes per
 * bucket, load factor at most 0.7, backward-shift deletion so there are no
 * deleted markers) maps the user id to its record. A doubly linked list through
 * the records orders users by their last state_store_upsert call, which is the
 * least-recently-active order used for eviction.
 *
 * User ids are 1 to STATE_USER_ID_MAX bytes of any value, stored inline.
 * Longer ids are rejected and never hashed to a shorter key, because the
 * changelog key must be the real id and two users must never share a record.
 * The processor sends events with such ids to the dead-letter topic.
 *
 * Memory budget. state_store_bytes() is the index plus one record size per
 * user. After an insert and after state_store_clear_dirty(), users are evicted
 * from the least recently active end until the bytes fit the budget. Eviction
 * writes no tombstone: the user's changelog record stays, so a restart or a
 * rebalance restores it. If an evicted user becomes active again before that,
 * the processor starts from an empty state and its next changelog write
 * replaces the old record. Freed records are reused before a new chunk is
 * allocated, so the allocated bytes stay within the budget plus one chunk.
 *
 * Idle expiry. state_store_expire() removes users whose last event is older
 * than the idle time and returns their ids, so the caller can write a
 * tombstone (a NULL value) for each to the changelog.
 *
 * Micro-batching. Users marked dirty are listed in mark order until
 * state_store_clear_dirty(), and state_user.dirty_pos is the position in that
 * list. Removing a dirty user moves the last dirty user into its position. A
 * dirty user is never evicted or expired, so only an explicit remove or
 * partition drop invalidates a pointer in the dirty list before the commit.
 *
 * Last emitted embedding. A store created with embedding_dim > 0 (intents.emit
 * on_move) keeps one int8-quantised vector per user after the token ring, so
 * the record grows by 4 + embedding_dim bytes (rounded up to 8). A store with
 * embedding_dim 0 keeps none and its records do not grow.
 *
 * Threads: a store is not thread-safe. One consumer thread owns it.
 */
#ifndef INTENTD_STATE_STORE_H
#define INTENTD_STATE_STORE_H

#include <stddef.h>
#include <stdint.h>

#define STATE_USER_ID_MAX 64     /* bytes; longer ids are rejected */
#define STATE_PURCHASES_MAX 16   /* purchased item tokens remembered per user */
#define STATE_ACTION_SLOTS 8     /* user action kinds with a last-seen time */
#define STATE_RULE_SLOTS 8       /* trigger rules with offer counters per user */
#define STATE_MAX_LEN_LIMIT 4096 /* largest accepted max_len */
#define STATE_DEFAULT_MAX_LEN 64
#define STATE_EMBEDDING_DIM_MAX 4096 /* largest accepted embedding_dim */
#define STATE_CHUNK_USERS 4096   /* records per allocation */
#define STATE_ERROR_SIZE 256
#define STATE_SENTIMENT_NONE (-1)

enum state_consent {
    STATE_CONSENT_UNKNOWN = 0, /* no consent record seen for this user */
    STATE_CONSENT_GRANTED = 1,
    STATE_CONSENT_DENIED = 2,
};

/* Offer counters of one trigger rule for one user. */
struct state_rule_counters {
    uint32_t rule_hash;        /* low 32 bits of state_hash_bytes(rule name) */
    uint32_t offers_in_window; /* FIRED and HOLDOUT offers since window_start_ms */
    int64_t last_offer_ms;     /* event time of this rule's last offer */
    int64_t window_start_ms;   /* start of the frequency-cap window */
};

/*
 * One user's state. The caller may read and write the public fields and must
 * call state_store_mark_dirty() after a change that belongs in the changelog.
 * Change tokens and purchases only through the functions below.
 */
struct state_user {
    /* Bookkeeping of the store. Callers must not write it. */
    uint32_t slot;       /* this record's index */
    uint32_t lru_prev;   /* neighbours in the activity list, or STATE_NIL */
    uint32_t lru_next;
    uint32_t dirty_pos;  /* index in the dirty list, or STATE_NIL */

    /* Everything from last_event_ms on is the user's state. The bookkeeping
     * fields stay above it so that a caller can save and restore the state as
     * one block. */
    int64_t last_event_ms;   /* event time of the newest event, Unix ms */
    int64_t last_offer_ms;   /* event time of the last FIRED or HOLDOUT offer of any rule, 0 if none */
    int64_t last_intent_ms;  /* event time of the last UserIntent sent, 0 if none */
    int64_t last_action_ms[STATE_ACTION_SLOTS]; /* newest event time per action kind, 0 if none */
    float last_propensity;   /* purchase propensity in the last UserIntent sent */
    int32_t last_top_category; /* top category token in the last UserIntent sent, -1 if none */
    int32_t partition;       /* input (and changelog) partition of this user */

    uint16_t token_count;    /* valid tokens in the ring, at most max_len */
    uint16_t token_head;     /* ring index of the oldest token */
    uint8_t consent;         /* enum state_consent */
    int8_t sentiment;        /* class of the last review, or STATE_SENTIMENT_NONE */
    uint8_t purchase_count;  /* valid entries in purchases, at most STATE_PURCHASES_MAX */
    uint8_t purchase_head;   /* ring index of the oldest purchase */
    uint8_t rule_count;      /* valid entries in rules */
    uint8_t id_len;
    char id[STATE_USER_ID_MAX + 1]; /* NUL-terminated for logging; may contain other bytes */

    struct state_rule_counters rules[STATE_RULE_SLOTS]; /* in no particular order */
    int32_t purchases[STATE_PURCHASES_MAX]; /* ring of item tokens */
    int32_t tokens[];        /* ring of max_len token ids */
};

#define STATE_NIL UINT32_MAX

/*
 * The embedding of the user's last emitted UserIntent, quantised to int8 with
 * one scale: component i is values[i] * scale. A scale of 0 means that no
 * vector is stored: the user has no intent yet, the changelog record carried
 * none, or its d_model differed from the store's embedding_dim.
 */
struct state_embedding {
    float scale;       /* value of one int8 step; 0 = no vector */
    int8_t values[];   /* embedding_dim components */
};

struct state_store_options {
    int max_len;             /* tokens kept per user; default 64 */
    size_t memory_budget;    /* bytes as counted by state_store_bytes(); 0 = no limit */
    int embedding_dim;       /* components of the last emitted embedding kept per user; 0 = none */
};

struct state_store_stats {
    size_t users;
    size_t bytes;            /* state_store_bytes() */
    size_t allocated_bytes;  /* all memory allocated by the store */
    size_t record_bytes;     /* bytes of one user record at this max_len */
    size_t dirty;
    uint64_t evicted;        /* users evicted for the budget since creation */
    uint64_t expired;        /* users removed by state_store_expire since creation */
    int over_budget;         /* 1 if the last eviction pass found only dirty users */
};

/* A user removed by state_store_expire(): write a tombstone for this key. */
struct state_expired {
    char id[STATE_USER_ID_MAX + 1];
    uint8_t id_len;
    int32_t partition;
};

struct state_store;

/* Fills in the defaults: max_len 64, no memory budget, no embedding. */
void state_store_options_defaults(struct state_store_options *options);

/* Creates an empty store. Returns NULL with a message in
 * error[STATE_ERROR_SIZE] if an option is invalid or memory runs out.
 * The caller owns the store and frees it with state_store_free(). */
struct state_store *state_store_new(const struct state_store_options *options, char *error);

void state_store_free(struct state_store *store);

int state_store_max_len(const struct state_store *store);

/* Returns the embedding_dim the store was created with; 0 if it keeps none. */
int state_store_embedding_dim(const struct state_store *store);

/* Returns the user's last emitted embedding, or NULL if the store keeps none.
 * Like strchr, it takes a const record and returns a writable slot, so the
 * caller decides whether it may write. */
struct state_embedding *state_store_embedding(const struct state_store *store, const struct state_user *user);

/* Returns the user's record, or NULL if the id is not in the store. Does not
 * change the activity order. */
struct state_user *state_store_find(struct state_store *store, const char *id, size_t id_len);

/* Returns the user's record and makes it the most recently active user,
 * creating an empty record in the given partition if the id is new; *created
 * is then 1. A new record has consent unknown, no sentiment, no top category
 * and every time 0. An existing user keeps its partition. A new user may push the store over its budget, which evicts other
 * non-dirty users, so pointers to those become invalid. Returns NULL with a
 * message if the id is empty or longer than STATE_USER_ID_MAX, or memory runs
 * out. */
struct state_user *state_store_upsert(struct state_store *store, const char *id, size_t id_len,
                                      int32_t partition, int *created, char *error);

/* Removes the user if present, dirty or not. Returns 1 if removed, else 0. */
int state_store_remove(struct state_store *store, const char *id, size_t id_len);

/* Removes every user of a partition, dirty users included, for example when
 * it is revoked. No tombstones are due. Returns the number removed. */
size_t state_store_drop_partition(struct state_store *store, int32_t partition);

/* Number of users of a partition in the store, kept as users are added and
 * removed. Returns 0 for a partition below 0 or at 2^20 and above, which the
 * store does not count. */
size_t state_store_partition_users(const struct state_store *store, int32_t partition);

/* Appends tokens to the user's ring; past max_len the oldest are overwritten. */
void state_store_push_tokens(struct state_store *store, struct state_user *user,
                             const int32_t *tokens, size_t count);

/* Copies the user's tokens, oldest first, into out[cap]. Returns the number
 * copied: min(token_count, cap), the newest ones if cap is smaller. */
size_t state_store_copy_tokens(const struct state_store *store, const struct state_user *user,
                               int32_t *out, size_t cap);

/* Records a purchased item token. A token already in the set is not added
 * again; past STATE_PURCHASES_MAX the oldest purchase is forgotten. */
void state_user_add_purchase(struct state_user *user, int32_t item);

/* Returns 1 if the item is among the remembered purchases, else 0. */
int state_user_has_purchased(const struct state_user *user, int32_t item);

/* Copies the remembered purchases, oldest first, into out[STATE_PURCHASES_MAX].
 * Returns the count. */
size_t state_user_copy_purchases(const struct state_user *user, int32_t *out);

/* Returns the user's counters of the rule with this hash, or NULL if the
 * rule has made no offer to the user. */
struct state_rule_counters *state_user_find_rule(struct state_user *user, uint32_t rule_hash);

/* Returns the user's counters of the rule, adding zeroed counters if there
 * are none. When all STATE_RULE_SLOTS are taken, the counters of the rule
 * with the oldest last offer are replaced, which drops that rule's cooldown
 * and cap for this user. */
struct state_rule_counters *state_user_claim_rule(struct state_user *user, uint32_t rule_hash);

/* Calls fn once for every user, in no particular order. fn may change the
 * user's fields but must not add or remove users. */
void state_store_foreach(struct state_store *store, void (*fn)(void *ctx, struct state_user *user),
                         void *ctx);

/* Adds the user to the dirty list of the current batch, once. Returns 0, or
 * -1 if memory for the list runs out: the user is then not dirty, so the
 * caller must abort the batch. */
int state_store_mark_dirty(struct state_store *store, struct state_user *user);

size_t state_store_dirty_count(const struct state_store *store);

/* Returns the i-th dirty user in mark order, i < state_store_dirty_count(). */
struct state_user *state_store_dirty_at(struct state_store *store, size_t i);

/* Empties the dirty list after the batch is committed, then evicts users
 * until the store fits its budget. */
void state_store_clear_dirty(struct state_store *store);

/* Removes up to cap users whose last_event_ms + idle_ms <= now_ms, copying
 * their ids and partitions to out. Dirty users are skipped. Returns the count.
 * Each call continues the scan where the previous one stopped. A count below
 * cap means the scan reached the last record, and the next call starts a new
 * pass from the first, so call again while the count equals cap. now_ms is
 * normally the stream's event time, so that a replay expires the same users.
 * A pass visits every record, so start one at an interval, not per event. */
size_t state_store_expire(struct state_store *store, int64_t now_ms, int64_t idle_ms,
                          struct state_expired *out, size_t cap);

/* Bytes counted against the budget: the index plus one record per user. */
size_t state_store_bytes(const struct state_store *store);

void state_store_get_stats(const struct state_store *store, struct state_store_stats *stats);

#endif
