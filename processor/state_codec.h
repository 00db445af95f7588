/*
 * Changelog record of one user's state: the value written to the compacted
 * intentd-state-changelog topic under the user id as key. A tombstone (NULL
 * value) means the user expired.
 *
 * Layout, version 1. Every integer is little-endian. The record is
 * STATE_CODEC_HEADER_SIZE bytes of header followed by the two arrays, and its
 * length must be exactly 36 + 4 * (token_count + purchase_count).
 *
 *    byte 0         1         2         3
 *       +---------+---------+---------+-----------+
 *     0 |  magic  | version | consent | sentiment |   magic 0xD5, version 1,
 *       |  0xD5   |  0x01   |  uint8  |   int8    |   sentiment -1 = none
 *       +---------+---------+---------+-----------+
 *     4 | last_event_ms                 int64     |   Unix ms, event time
 *       |                                         |
 *       +-----------------------------------------+
 *    12 | last_offer_ms                 int64     |   0 if never offered
 *       |                                         |
 *       +-----------------------------------------+
 *    20 | window_start_ms               int64     |   frequency-cap window
 *       |                                         |
 *       +-----------------------------------------+
 *    28 | offers_in_window              uint32    |
 *       +-------------------+---------+-----------+
 *    32 | token_count       | purch.  | reserved  |   purchase_count <= 16,
 *       | uint16            | count u8| u8, 0     |   reserved must be 0
 *       +-------------------+---------+-----------+
 *    36 | tokens: token_count x int32, oldest first  ...
 *       +-----------------------------------------+
 *       | purchases: purchase_count x int32, oldest first ...
 *       +-----------------------------------------+
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
#define STATE_CODEC_VERSION 1
#define STATE_CODEC_HEADER_SIZE 36

/* Decode results; every error also writes a message. */
enum state_codec_status {
    STATE_CODEC_OK = 0,
    STATE_CODEC_SHORT = -1,       /* fewer bytes than the header */
    STATE_CODEC_BAD_MAGIC = -2,
    STATE_CODEC_BAD_VERSION = -3, /* a version this build does not read */
    STATE_CODEC_BAD_FIELD = -4,   /* a header field out of its range */
    STATE_CODEC_BAD_LENGTH = -5,  /* arrays longer or shorter than the bytes left */
    STATE_CODEC_NO_SPACE = -6,    /* encode: output buffer too small */
    STATE_CODEC_STORE = -7,       /* restore: the store rejected the user */
};

/* A decoded record that still points into the input bytes. */
struct state_codec_view {
    uint8_t consent;
    int8_t sentiment;
    int64_t last_event_ms;
    int64_t last_offer_ms;
    int64_t window_start_ms;
    uint32_t offers_in_window;
    uint16_t token_count;
    uint8_t purchase_count;
    const unsigned char *tokens;    /* token_count little-endian int32 */
    const unsigned char *purchases; /* purchase_count little-endian int32 */
};

/* Returns the encoded size of the user's state. */
size_t state_codec_encoded_size(const struct state_user *user);

/* Encodes the user's state into out[cap] and sets *len. Returns
 * STATE_CODEC_OK, or STATE_CODEC_NO_SPACE with a message if cap is smaller
 * than state_codec_encoded_size(). */
int state_codec_encode(const struct state_store *store, const struct state_user *user,
                       unsigned char *out, size_t cap, size_t *len, char *error);

/* Checks and decodes a record of len bytes without copying the arrays.
 * Returns STATE_CODEC_OK or a negative enum state_codec_status with a message
 * in error[STATE_ERROR_SIZE]; reads no byte past data[len - 1]. */
int state_codec_decode(const unsigned char *data, size_t len, struct state_codec_view *view,
                       char *error);

/* Applies one changelog record to the store. A NULL value is a tombstone and
 * removes the user. Otherwise the record replaces the user's state, creating
 * the user in the given partition if needed, and the user is not marked dirty.
 * If the record has more tokens than the store's max_len (the setting was
 * lowered), the newest max_len are kept. A corrupt record changes nothing and
 * returns its decode status with a message. */
int state_codec_restore(struct state_store *store, const char *key, size_t key_len,
                        const unsigned char *value, size_t value_len, int32_t partition,
                        char *error);

#endif
