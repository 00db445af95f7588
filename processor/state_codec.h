/*
 * Changelog record of one user's state: the value written to the compacted
 * intentd-state-changelog topic under the user id as key. A tombstone (NULL
 * value) means the user expired.
 *
 * Layout, version 2. Every integer is little-endian and float is IEEE 754
 * binary32. The record is STATE_CODEC_HEADER_SIZE bytes of header followed by
 * four arrays and an optional embedding block, and its length must be exactly
 *   44 + 8 * action_count + 4 * token_count + 4 * purchase_count + 24 * rule_count
 *      + (embedding_dim > 0 ? 4 + embedding_dim : 0).
 *
 *    byte 0         1         2         3
 *       +---------+---------+---------+-----------+
 *     0 |  magic  | version | consent | sentiment |   magic 0xD5, version 2
 *       |  0xD5   |  0x02   |  uint8  |   int8    |   (1 without embedding),
 *       |         |         |         |           |   sentiment -1 = none
 *       +---------+---------+---------+-----------+
 *     4 | last_event_ms                 int64     |   Unix ms, event time
 *       |                                         |
 *       +-----------------------------------------+
 *    12 | last_offer_ms                 int64     |   any rule, 0 = never
 *       |                                         |
 *       +-----------------------------------------+
 *    20 | last_intent_ms                int64     |   0 = never
 *       |                                         |
 *       +-----------------------------------------+
 *    28 | last_propensity               float32   |   finite
 *       +-----------------------------------------+
 *    32 | last_top_category             int32     |   -1 = none
 *       +-------------------+---------+-----------+
 *    36 | token_count       | purchase| rule      |   purchase_count <= 16,
 *       | uint16            | _count  | _count u8 |   rule_count <= 8
 *       +---------+---------+---------+-----------+
 *    40 | action  | reserved| embedding_dim       |   action_count <= 8,
 *       | _count  | 0       | uint16              |   embedding_dim 0 = none
 *       +---------+---------+---------------------+
 *    44 | last_action_ms: action_count x int64    ...
 *       +-----------------------------------------+
 *       | tokens: token_count x int32, oldest first ...
 *       +-----------------------------------------+
 *       | purchases: purchase_count x int32, oldest first ...
 *       +-----------------------------------------+
 *       | rules: rule_count x 24 bytes            ...
 *       +-----------------------------------------+
 *       | embedding_scale float32                 |   only if embedding_dim > 0;
 *       +-----------------------------------------+   finite and > 0
 *       | embedding: embedding_dim x int8         ...  value i = embedding[i] * scale
 *       +-----------------------------------------+
 *
 *    one rule entry, 24 bytes:
 *       +--------------------+--------------------+
 *     0 | rule_hash uint32   | offers_in_window   |
 *       |                    | uint32             |
 *       +--------------------+--------------------+
 *     8 | last_offer_ms                 int64     |
 *       +-----------------------------------------+
 *    16 | window_start_ms               int64     |
 *       +-----------------------------------------+
 *
 * The embedding is the user's last emitted UserIntent embedding, int8
 * quantised (struct state_embedding). It is written only by a store that
 * keeps embeddings (intents.emit on_move) and only once the user has one.
 * A restore into a store whose embedding_dim differs (another policy, or a
 * model with another d_model) drops it, and on_move then sends the user's
 * next intent.
 *
 * Version 1 is the same layout without the embedding: bytes 41 to 43 are 0.
 * This build reads it, as a record with no embedding, and writes it for every
 * user without a stored embedding, so that a version 1 build keeps reading
 * the changelog of any policy but on_move. Only records with an embedding
 * are version 2, and a version 1 build rejects those.
 *
 * The partition is not stored: a record is restored into the partition of the
 * changelog it was read from, which is the user's input partition. The magic
 * byte distinguishes a state record from stray data, and the version byte lets a later
 * build read this layout next to a newer one. A reader rejects a version it
 * does not know instead of guessing.
 */
#ifndef INTENTD_STATE_CODEC_H
#define INTENTD_STATE_CODEC_H

#include "state_store.h"

#include <stddef.h>
#include <stdint.h>

#define STATE_CODEC_MAGIC 0xD5
#define STATE_CODEC_VERSION 2    /* the version this build writes */
#define STATE_CODEC_VERSION_MIN 1 /* the oldest version this build reads */
#define STATE_CODEC_HEADER_SIZE 44
#define STATE_CODEC_RULE_SIZE 24

/* Largest record of any user of any store: every array at its limit. */
#define STATE_CODEC_MAX_SIZE                                                                   \
    (STATE_CODEC_HEADER_SIZE + 8 * STATE_ACTION_SLOTS + 4 * STATE_MAX_LEN_LIMIT +              \
     4 * STATE_PURCHASES_MAX + STATE_CODEC_RULE_SIZE * STATE_RULE_SLOTS + 4 + STATE_EMBEDDING_DIM_MAX)

/* Decode results; every error also writes a message. */
enum state_codec_status {
    STATE_CODEC_OK = 0,
    STATE_CODEC_SHORT = -1,       /* fewer bytes than the header */
    STATE_CODEC_BAD_MAGIC = -2,
    STATE_CODEC_BAD_VERSION = -3, /* a version this build does not read */
    STATE_CODEC_BAD_FIELD = -4,   /* a header field or the embedding scale out of its range */
    STATE_CODEC_BAD_LENGTH = -5,  /* arrays longer or shorter than the bytes left */
    STATE_CODEC_NO_SPACE = -6,    /* encode: output buffer too small */
    STATE_CODEC_STORE = -7,       /* restore: the store rejected the user */
};

/* A decoded record that still points into the input bytes. */
struct state_codec_view {
    uint8_t version;
    uint8_t consent;
    int8_t sentiment;
    int64_t last_event_ms;
    int64_t last_offer_ms;
    int64_t last_intent_ms;
    float last_propensity;
    int32_t last_top_category;
    uint16_t token_count;
    uint8_t purchase_count;
    uint8_t rule_count;
    uint8_t action_count;
    uint16_t embedding_dim;         /* 0: no embedding (always so in version 1) */
    float embedding_scale;          /* finite and > 0 when embedding_dim > 0 */
    const unsigned char *actions;   /* action_count little-endian int64 */
    const unsigned char *tokens;    /* token_count little-endian int32 */
    const unsigned char *purchases; /* purchase_count little-endian int32 */
    const unsigned char *rules;     /* rule_count entries of STATE_CODEC_RULE_SIZE bytes */
    const unsigned char *embedding; /* embedding_dim int8 values, NULL if none */
};

/* Returns the encoded size of the user's state in this store. */
size_t state_codec_encoded_size(const struct state_store *store, const struct state_user *user);

/* Encodes the user's state into out[cap] and sets *len. Returns
 * STATE_CODEC_OK, or STATE_CODEC_NO_SPACE with a message if cap is smaller
 * than state_codec_encoded_size(). */
int state_codec_encode(const struct state_store *store, const struct state_user *user,
                       unsigned char *out, size_t cap, size_t *len, char *error);

/* Checks and decodes a record of len bytes, version 1 or 2, without copying the arrays.
 * Returns STATE_CODEC_OK or a negative enum state_codec_status with a message
 * in error[STATE_ERROR_SIZE]. Reads no byte past data[len - 1]. */
int state_codec_decode(const unsigned char *data, size_t len, struct state_codec_view *view,
                       char *error);

/* Applies one changelog record to the store. A NULL value is a tombstone and
 * removes the user. Otherwise the record replaces the user's state, creating
 * the user in the given partition if needed, and the user is not marked dirty.
 * If the record has more tokens than the store's max_len (the setting was
 * lowered), the newest max_len are kept. Action kinds the record lacks are 0.
 * An embedding is kept only if its embedding_dim equals the store's. If not,
 * the user has none afterwards. A corrupt record changes nothing and
 * returns its decode status with a message. */
int state_codec_restore(struct state_store *store, const char *key, size_t key_len,
                        const unsigned char *value, size_t value_len, int32_t partition,
                        char *error);

#endif
