/*
 * Stable 64-bit hashing of user ids and rule names: FNV-1a 64 over the bytes,
 * then the 64-bit finaliser of MurmurHash3 (fmix64) so that ids that differ
 * only in their last digit spread over all output bits.
 *
 * The holdout assignment depends on these exact values, so changing this
 * function reshuffles every user's holdout group. Keep it bit-for-bit stable.
 */
#ifndef INTENTD_STATE_HASH_H
#define INTENTD_STATE_HASH_H

#include <stddef.h>
#include <stdint.h>

#define STATE_HASH_FNV_OFFSET UINT64_C(0xcbf29ce484222325)
#define STATE_HASH_FNV_PRIME UINT64_C(0x100000001b3)

/* Continues an FNV-1a 64 hash from state h over len bytes of data. Start
 * with h = STATE_HASH_FNV_OFFSET. */
uint64_t state_hash_fnv1a64(uint64_t h, const void *data, size_t len);

/* Applies the fmix64 finaliser (MurmurHash3, Austin Appleby, public domain). */
uint64_t state_hash_mix64(uint64_t h);

/* Hashes one byte string: mix64(fnv1a64(OFFSET, data, len)). */
uint64_t state_hash_bytes(const void *data, size_t len);

#endif
