/*
 * External id strings (item and category ids) for the tokenizer: a string
 * hash map from id to a dense index with an occurrence count, used both to
 * count ids while reading training events (struct tokenizer_counter) and to
 * look up known ids when encoding.
 */
#ifndef INTENTD_TOKENIZER_IDMAP_H
#define INTENTD_TOKENIZER_IDMAP_H

#include <stddef.h>
#include <stdint.h>

#include "model_config.h" /* MODEL_ERROR_SIZE */

/* Longest external id in bytes. */
#define TOKENIZER_MAX_ID_BYTES 256

struct tokenizer_idmap {
    char **ids;       /* [n] NUL-terminated copies, owned by the map */
    int64_t *counts;  /* [n] */
    size_t n, capacity;
    int32_t *slots;   /* open addressing on the id hash, -1 empty */
    size_t slot_mask;
};

/* Counts of the ids seen in training; build a vocabulary from it with
 * tokenizer_build. */
struct tokenizer_counter {
    struct tokenizer_idmap map;
};

/* FNV-1a, 64 bit, over the bytes: the stable hash behind the unseen-id
 * buckets. A trained model depends on it, so it must never change. */
uint64_t tokenizer_hash_fnv1a64(const void *bytes, size_t len);

/* Checks that id is 1..TOKENIZER_MAX_ID_BYTES bytes of valid UTF-8 (JSON
 * serialisation needs UTF-8). Returns 0, or -1 with a message naming `what`. */
int tokenizer_id_check(const char *id, const char *what, char *error);

void tokenizer_idmap_init(struct tokenizer_idmap *map);
void tokenizer_idmap_clear(struct tokenizer_idmap *map);

/* Adds `count` to id (inserting it with that count when new) and stores its
 * index in *index (may be NULL). The caller has checked the id. Returns 0,
 * or -1 when out of memory. */
int tokenizer_idmap_add(struct tokenizer_idmap *map, const char *id, int64_t count, int32_t *index);

/* Returns the index of id, or -1 when it is not in the map. */
int32_t tokenizer_idmap_find(const struct tokenizer_idmap *map, const char *id);

/* Creates an empty counter, or returns NULL when out of memory. */
struct tokenizer_counter *tokenizer_counter_create(void);
void tokenizer_counter_free(struct tokenizer_counter *counter);

/* Counts one occurrence of id. Returns 0, or -1 with a message when the id
 * is empty, too long, not UTF-8, or memory runs out. */
int tokenizer_counter_add(struct tokenizer_counter *counter, const char *id, char *error);

#endif
