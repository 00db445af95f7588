/*
 * Byte-level BPE over normalised UTF-8 text (see utf8.h).
 *
 * Token ids: 0..255 are the single bytes, and merge number r (its rank,
 * 0-based) creates token 256 + r, whose bytes are those of its left token
 * followed by those of its right token. A merge may join parts of code
 * points, so a token need not be valid UTF-8 on its own; the concatenation
 * of a whole encoding always equals the input bytes.
 *
 * Both training and encoding first cut the text into chunks
 * (bpe_chunk_length) and never merge across a chunk boundary. A chunk is a
 * run of code points of one class (letters of the Latin script, other
 * letters such as CJK, digits, whitespace, punctuation, symbols and emoji),
 * where one leading U+0020 joins a following letter or digit run, and a
 * chunk ends after at most BPE_MAX_CHUNK_BYTES bytes at a code point
 * boundary. Changing these rules changes every encoding, so a trained model
 * depends on them.
 *
 * A struct bpe is immutable after creation; encoding and decoding from
 * several threads at once is safe.
 */
#ifndef INTENTD_BPE_H
#define INTENTD_BPE_H

#include <stddef.h>
#include <stdint.h>

#include "model_config.h" /* MODEL_ERROR_SIZE */

#define BPE_BYTE_TOKENS 256
#define BPE_MAX_CHUNK_BYTES 64
/* A token never exceeds one chunk, so no token is longer than this. */
#define BPE_MAX_TOKEN_BYTES BPE_MAX_CHUNK_BYTES
#define BPE_MAX_MERGES (1 << 20)

struct bpe;

/* Creates a BPE from merges[2 * n_merges] (left, right token of each merge,
 * in rank order). Rejects a merge that refers to a token not yet defined,
 * repeats an earlier pair or makes a token longer than BPE_MAX_TOKEN_BYTES.
 * Returns 0 and the new BPE in *out (free with bpe_free), or -1 with a
 * message in error[MODEL_ERROR_SIZE]. */
int bpe_create(const int32_t *merges, int n_merges, struct bpe **out, char *error);
void bpe_free(struct bpe *bpe);

int bpe_n_merges(const struct bpe *bpe);
/* Number of token ids: BPE_BYTE_TOKENS + n_merges. */
int bpe_n_tokens(const struct bpe *bpe);
/* The merge table, 2 * n_merges ids, owned by the BPE. */
const int32_t *bpe_merges(const struct bpe *bpe);

/* Returns the bytes of token (owned by the BPE) and their count in *len, or
 * NULL when token is not in 0..bpe_n_tokens - 1. */
const uint8_t *bpe_token_bytes(const struct bpe *bpe, int32_t token, size_t *len);

/* Returns the byte length of the first chunk of text[0..len), at least 1
 * when len > 0. Bytes that are not valid UTF-8 count as one-byte
 * punctuation, although normalised text has none. */
size_t bpe_chunk_length(const uint8_t *text, size_t len);

/* Encodes text[0..len), which should be normalised, into at most
 * max_tokens ids in tokens[]. When the budget runs out the encoding stops
 * at the last token boundary that is also a code point boundary, so the
 * decoded prefix is valid UTF-8 whenever the input is. Returns the number
 * of ids written; *consumed (may be NULL) receives the bytes they cover. */
size_t bpe_encode(const struct bpe *bpe, const uint8_t *text, size_t len, int32_t *tokens,
                  size_t max_tokens, size_t *consumed);

/* Appends the bytes of tokens[0..n) to out[0..capacity) and stores the byte
 * count in *len. n * BPE_MAX_TOKEN_BYTES bytes always suffice. Returns 0, or
 * -1 with a message when a token is out of range or out is too small. */
int bpe_decode(const struct bpe *bpe, const int32_t *tokens, size_t n, uint8_t *out,
               size_t capacity, size_t *len, char *error);

struct bpe_train_options {
    int n_merges;           /* target number of merges; fewer if pairs run out */
    int64_t min_pair_count; /* stop when the most frequent pair occurs fewer times (default 2) */
    /* Called every 100 merges and at the end, on the calling thread; may be NULL. */
    void (*progress)(void *context, int merges_done, int n_merges);
    void *progress_context;
};

void bpe_train_options_defaults(struct bpe_train_options *options);

/* Learns merges from texts[0..n_texts) (lengths[i] bytes each, any bytes:
 * each text is normalised with utf8_normalize first, as at encoding time).
 * Each step merges the most frequent adjacent pair, ties going to the
 * smaller (left, right) ids, and updates pair counts only where the merged
 * pair occurred. Returns 0 and the BPE in *out, or -1 with a message. */
int bpe_train(const struct bpe_train_options *options, const char *const *texts,
              const size_t *lengths, size_t n_texts, struct bpe **out, char *error);

#endif
