/*
 * libFuzzer target for the changelog record codec (processor/state_codec.c).
 * Each input is restored as a changelog value into a store that keeps 8-component
 * embeddings. A restored user is encoded, and that record must restore and
 * encode to the same bytes again. The first pass may change the bytes:
 * missing action kinds come back as zeros, duplicate purchases once, and an
 * embedding of another embedding_dim is dropped (its record then becomes
 * version 1).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state_codec.h"
#include "state_store.h"

#define MAX_LEN 16
#define EMBEDDING_DIM 8

static struct state_store *new_store(void)
{
    struct state_store_options options;
    char error[STATE_ERROR_SIZE];

    state_store_options_defaults(&options);
    options.max_len = MAX_LEN;
    options.embedding_dim = EMBEDDING_DIM;
    struct state_store *store = state_store_new(&options, error);
    if (!store) {
        fprintf(stderr, "fuzz_state_codec: %s\n", error);
        abort();
    }
    return store;
}

/* Restores value into a fresh store and encodes the user into out. Returns the
 * encoded length, or 0 if the value was rejected. */
static size_t restore_and_encode(const uint8_t *value, size_t len, unsigned char *out, size_t cap)
{
    struct state_store *store = new_store();
    char error[STATE_ERROR_SIZE];
    size_t encoded = 0;

    if (state_codec_restore(store, "user", 4, value, len, 0, error) == STATE_CODEC_OK) {
        struct state_user *user = state_store_find(store, "user", 4);
        if (!user || state_codec_encode(store, user, out, cap, &encoded, error) != STATE_CODEC_OK) {
            fprintf(stderr, "restored user does not encode: %s\n", user ? error : "user not found");
            abort();
        }
    }
    state_store_free(store);
    return encoded;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static unsigned char first[STATE_CODEC_MAX_SIZE], second[STATE_CODEC_MAX_SIZE];

    size_t first_len = restore_and_encode(data, size, first, sizeof first);
    if (first_len == 0)
        return 0;
    size_t second_len = restore_and_encode(first, first_len, second, sizeof second);
    if (second_len != first_len || memcmp(first, second, first_len) != 0) {
        fprintf(stderr, "re-encoded state record differs: %zu bytes, then %zu\n", first_len, second_len);
        abort();
    }
    return 0;
}
