/* BPE merge table, encoding by merge rank, and decoding. */
#include "bpe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

#define EMPTY_SLOT UINT64_MAX

struct bpe {
    int n_merges;
    int32_t *merges;        /* [2 * n_merges]: left, right */
    uint32_t *token_offset; /* [n_tokens + 1] into token_bytes */
    uint8_t *token_bytes;

    /* Open-addressing table from pair key to rank, power-of-two capacity. */
    uint64_t *slot_keys;
    int32_t *slot_ranks;
    size_t slot_mask;
};

static uint64_t pair_key(int32_t left, int32_t right)
{
    return ((uint64_t)(uint32_t)left << 32) | (uint32_t)right;
}

static size_t slot_of(uint64_t key, size_t mask)
{
    return (size_t)((key * 0x9E3779B97F4A7C15ull) >> 17) & mask;
}

/* Returns the rank of the merge (left, right), or -1 when there is none. */
static int32_t find_rank(const struct bpe *bpe, int32_t left, int32_t right)
{
    uint64_t key = pair_key(left, right);

    for (size_t s = slot_of(key, bpe->slot_mask);; s = (s + 1) & bpe->slot_mask) {
        if (bpe->slot_keys[s] == key)
            return bpe->slot_ranks[s];
        if (bpe->slot_keys[s] == EMPTY_SLOT)
            return -1;
    }
}

static void insert_rank(struct bpe *bpe, uint64_t key, int32_t rank)
{
    size_t s = slot_of(key, bpe->slot_mask);

    while (bpe->slot_keys[s] != EMPTY_SLOT)
        s = (s + 1) & bpe->slot_mask;
    bpe->slot_keys[s] = key;
    bpe->slot_ranks[s] = rank;
}

static int fail(char *error, int status, const char *format, int a, int b, int c)
{
    snprintf(error, MODEL_ERROR_SIZE, format, a, b, c);
    return status;
}

/* Checks merge `rank` and appends its bytes to the token table. */
static int add_merge(struct bpe *bpe, int rank, char *error)
{
    int32_t left = bpe->merges[2 * rank], right = bpe->merges[2 * rank + 1];
    int32_t defined = BPE_BYTE_TOKENS + rank;

    if (left < 0 || left >= defined || right < 0 || right >= defined)
        return fail(error, -1, "invalid BPE merge %d: (%d, %d) refers to a token that is not defined yet", rank,
                    left, right);
    if (find_rank(bpe, left, right) >= 0)
        return fail(error, -1, "invalid BPE merge %d: pair (%d, %d) repeats an earlier merge", rank, left, right);

    uint32_t left_len = bpe->token_offset[left + 1] - bpe->token_offset[left];
    uint32_t right_len = bpe->token_offset[right + 1] - bpe->token_offset[right];
    if (left_len + right_len > BPE_MAX_TOKEN_BYTES)
        return fail(error, -1, "invalid BPE merge %d: token would be %d bytes, more than the maximum %d", rank,
                    (int)(left_len + right_len), BPE_MAX_TOKEN_BYTES);

    uint32_t end = bpe->token_offset[defined];
    memcpy(bpe->token_bytes + end, bpe->token_bytes + bpe->token_offset[left], left_len);
    memcpy(bpe->token_bytes + end + left_len, bpe->token_bytes + bpe->token_offset[right], right_len);
    bpe->token_offset[defined + 1] = end + left_len + right_len;
    insert_rank(bpe, pair_key(left, right), rank);
    return 0;
}

int bpe_create(const int32_t *merges, int n_merges, struct bpe **out, char *error)
{
    *out = NULL;
    if (n_merges < 0 || n_merges > BPE_MAX_MERGES)
        return fail(error, -1, "invalid BPE merge count %d: expected 0 to %d", n_merges, BPE_MAX_MERGES, 0);

    struct bpe *bpe = calloc(1, sizeof *bpe);
    size_t n_tokens = (size_t)BPE_BYTE_TOKENS + (size_t)n_merges;
    size_t capacity = 16;
    while (capacity < 2 * (size_t)n_merges + 2)
        capacity *= 2;
    if (bpe) {
        bpe->n_merges = n_merges;
        bpe->merges = malloc(sizeof(int32_t) * 2 * ((size_t)n_merges + 1));
        bpe->token_offset = malloc(sizeof(uint32_t) * (n_tokens + 1));
        bpe->token_bytes = malloc(n_tokens * BPE_MAX_TOKEN_BYTES);
        bpe->slot_keys = malloc(sizeof(uint64_t) * capacity);
        bpe->slot_ranks = malloc(sizeof(int32_t) * capacity);
        bpe->slot_mask = capacity - 1;
    }
    if (!bpe || !bpe->merges || !bpe->token_offset || !bpe->token_bytes || !bpe->slot_keys ||
        !bpe->slot_ranks) {
        bpe_free(bpe);
        return fail(error, -1, "out of memory creating a BPE with %d merges", n_merges, 0, 0);
    }

    memset(bpe->slot_keys, 0xFF, sizeof(uint64_t) * capacity);
    if (n_merges > 0)
        memcpy(bpe->merges, merges, sizeof(int32_t) * 2 * (size_t)n_merges);
    for (int b = 0; b < BPE_BYTE_TOKENS; b++) {
        bpe->token_offset[b] = (uint32_t)b;
        bpe->token_bytes[b] = (uint8_t)b;
    }
    bpe->token_offset[BPE_BYTE_TOKENS] = BPE_BYTE_TOKENS;
    for (int r = 0; r < n_merges; r++) {
        if (add_merge(bpe, r, error) != 0) {
            bpe_free(bpe);
            return -1;
        }
    }
    *out = bpe;
    return 0;
}

void bpe_free(struct bpe *bpe)
{
    if (!bpe)
        return;
    free(bpe->merges);
    free(bpe->token_offset);
    free(bpe->token_bytes);
    free(bpe->slot_keys);
    free(bpe->slot_ranks);
    free(bpe);
}

int bpe_n_merges(const struct bpe *bpe)
{
    return bpe->n_merges;
}

int bpe_n_tokens(const struct bpe *bpe)
{
    return BPE_BYTE_TOKENS + bpe->n_merges;
}

const int32_t *bpe_merges(const struct bpe *bpe)
{
    return bpe->merges;
}

const uint8_t *bpe_token_bytes(const struct bpe *bpe, int32_t token, size_t *len)
{
    if (token < 0 || token >= bpe_n_tokens(bpe))
        return NULL;
    *len = bpe->token_offset[token + 1] - bpe->token_offset[token];
    return bpe->token_bytes + bpe->token_offset[token];
}

/* Encodes one chunk (at most BPE_MAX_CHUNK_BYTES) into symbols[], returning
 * the symbol count. Each round applies the lowest-ranked merge present to all
 * its occurrences, left to right, which is the order training applied it. */
static size_t encode_chunk(const struct bpe *bpe, const uint8_t *chunk, size_t len, int32_t *symbols)
{
    int32_t ranks[BPE_MAX_CHUNK_BYTES]; /* ranks[i]: rank of pair (i, i + 1), or -1 */
    size_t source[BPE_MAX_CHUNK_BYTES]; /* old position of an unchanged symbol */
    uint8_t fresh[BPE_MAX_CHUNK_BYTES]; /* 1 where a symbol was just merged */
    size_t n = len;

    for (size_t i = 0; i < n; i++)
        symbols[i] = chunk[i];
    for (size_t i = 0; i + 1 < n; i++)
        ranks[i] = find_rank(bpe, symbols[i], symbols[i + 1]);

    for (;;) {
        int32_t best = -1;
        for (size_t i = 0; i + 1 < n; i++) {
            if (ranks[i] >= 0 && (best < 0 || ranks[i] < best))
                best = ranks[i];
        }
        if (best < 0)
            return n;

        int32_t left = bpe->merges[2 * best], right = bpe->merges[2 * best + 1];
        size_t out = 0;
        for (size_t i = 0; i < n; out++) {
            if (i + 1 < n && symbols[i] == left && symbols[i + 1] == right) {
                symbols[out] = BPE_BYTE_TOKENS + best;
                fresh[out] = 1;
                i += 2;
            } else {
                symbols[out] = symbols[i];
                fresh[out] = 0;
                source[out] = i++;
            }
        }
        n = out;

        /* Only pairs that touch a merged symbol need a new look-up; an
         * unchanged neighbour pair keeps its rank (source[j] >= j, so the
         * in-place copy reads ranks not yet overwritten). */
        for (size_t j = 0; j + 1 < n; j++)
            ranks[j] = fresh[j] || fresh[j + 1] ? find_rank(bpe, symbols[j], symbols[j + 1]) : ranks[source[j]];
    }
}

/* Returns how many of the first tokens[0..max) of a chunk to keep so that
 * they end on a code point boundary of the chunk. */
static size_t boundary_prefix(const struct bpe *bpe, const uint8_t *chunk, size_t chunk_len,
                              const int32_t *tokens, size_t max, size_t *kept_bytes)
{
    size_t keep = 0, bytes = 0;

    *kept_bytes = 0;
    for (size_t i = 0; i < max; i++) {
        size_t token_len = 0;
        bpe_token_bytes(bpe, tokens[i], &token_len);
        bytes += token_len;
        if (utf8_is_boundary(chunk, chunk_len, bytes)) {
            keep = i + 1;
            *kept_bytes = bytes;
        }
    }
    return keep;
}

size_t bpe_encode(const struct bpe *bpe, const uint8_t *text, size_t len, int32_t *tokens,
                  size_t max_tokens, size_t *consumed)
{
    size_t at = 0, written = 0;
    int32_t symbols[BPE_MAX_CHUNK_BYTES];

    while (at < len && written < max_tokens) {
        size_t chunk_len = bpe_chunk_length(text + at, len - at);
        size_t n = encode_chunk(bpe, text + at, chunk_len, symbols);

        if (written + n > max_tokens) {
            size_t kept_bytes;
            size_t keep = boundary_prefix(bpe, text + at, chunk_len, symbols, max_tokens - written, &kept_bytes);
            memcpy(tokens + written, symbols, keep * sizeof(int32_t));
            written += keep;
            at += kept_bytes;
            break;
        }
        memcpy(tokens + written, symbols, n * sizeof(int32_t));
        written += n;
        at += chunk_len;
    }
    if (consumed)
        *consumed = at;
    return written;
}

int bpe_decode(const struct bpe *bpe, const int32_t *tokens, size_t n, uint8_t *out, size_t capacity,
               size_t *len, char *error)
{
    size_t written = 0;

    *len = 0;
    for (size_t i = 0; i < n; i++) {
        size_t token_len;
        const uint8_t *bytes = bpe_token_bytes(bpe, tokens[i], &token_len);
        if (!bytes)
            return fail(error, -1, "invalid BPE token %d at position %d: expected 0 to %d", tokens[i], (int)i,
                        bpe_n_tokens(bpe) - 1);
        if (token_len > capacity - written)
            return fail(error, -1, "BPE decode buffer of %d bytes is too small at token %d; allow %d bytes per token",
                        (int)capacity, (int)i, BPE_MAX_TOKEN_BYTES);
        memcpy(out + written, bytes, token_len);
        written += token_len;
    }
    *len = written;
    return 0;
}
