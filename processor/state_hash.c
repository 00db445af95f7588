#include "state_hash.h"

uint64_t state_hash_fnv1a64(uint64_t h, const void *data, size_t len)
{
    const unsigned char *bytes = data;

    for (size_t i = 0; i < len; i++) {
        h ^= bytes[i];
        h *= STATE_HASH_FNV_PRIME;
    }
    return h;
}

uint64_t state_hash_mix64(uint64_t h)
{
    h ^= h >> 33;
    h *= UINT64_C(0xff51afd7ed558ccd);
    h ^= h >> 33;
    h *= UINT64_C(0xc4ceb9fe1a85ec53);
    h ^= h >> 33;
    return h;
}

uint64_t state_hash_bytes(const void *data, size_t len)
{
    return state_hash_mix64(state_hash_fnv1a64(STATE_HASH_FNV_OFFSET, data, len));
}
