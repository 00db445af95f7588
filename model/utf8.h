/*
 * UTF-8 decoding and the text normalisation that the tokenizer applies, in
 * training and in serving alike, before byte-level BPE.
 *
 * Normalisation (utf8_normalize), code point by code point:
 *   - invalid UTF-8 becomes U+FFFD, one U+FFFD for each maximal subpart of an
 *     ill-formed subsequence, as the Unicode Standard (chapter 3, "U+FFFD
 *     Substitution of Maximal Subparts") and the WHATWG Encoding Standard
 *     recommend. A maximal subpart is the longest prefix of a well-formed
 *     sequence (Unicode table 3-7) that the input starts with, or else one
 *     byte. So an overlong C0 AF gives two U+FFFD, the surrogate ED A0 80
 *     three, the truncated F0 9F 98 followed by "x" one and then "x", and
 *     each byte F5..FF or lone continuation byte 80..BF one;
 *   - U+FEFF (byte-order mark, anywhere, not only leading), U+200B zero width
 *     space, U+200C zero width non-joiner, U+200D zero width joiner and
 *     U+2060 word joiner are dropped. NOTE: dropping U+200D splits emoji ZWJ
 *     sequences into their parts ("family" becomes man, woman, girl), and
 *     dropping U+200C can change the rendering of Persian and Indic text;
 *   - full-width ASCII U+FF01..U+FF5E folds to U+0021..U+007E and the
 *     ideographic space U+3000 to U+0020.
 * Nothing else changes: no case folding, no NFC/NFKC, no whitespace collapse.
 * The output is valid UTF-8 and normalising it again changes nothing.
 */
#ifndef INTENTD_UTF8_H
#define INTENTD_UTF8_H

#include <stddef.h>
#include <stdint.h>

#define UTF8_REPLACEMENT 0xFFFDu

/* Upper bound of utf8_normalize's output for len input bytes: each invalid
 * byte can become the 3-byte U+FFFD. Callers check len <= SIZE_MAX / 3. */
#define UTF8_NORMALIZED_MAX(len) ((len) * 3)

/* Decodes the code point at text[0..len), len >= 1. Returns the number of
 * bytes consumed (1..4) and stores the code point in *code_point, or, when
 * the bytes are ill-formed, returns the length of the maximal subpart (1..3)
 * and stores UTF8_REPLACEMENT with *valid = 0. */
size_t utf8_decode(const uint8_t *text, size_t len, uint32_t *code_point, int *valid);

/* Writes code_point (at most U+10FFFF, not a surrogate) as UTF-8 to out,
 * which has room for 4 bytes. Returns the byte count. */
size_t utf8_encode(uint32_t code_point, uint8_t *out);

/* Normalises text[0..len) as described above into out, which has room for
 * UTF8_NORMALIZED_MAX(len) bytes (out must not overlap text). Returns the
 * output length. Never fails. */
size_t utf8_normalize(const uint8_t *text, size_t len, uint8_t *out);

/* Returns 1 when text[0..len) is well-formed UTF-8, else 0. */
int utf8_is_valid(const uint8_t *text, size_t len);

/* Returns 1 when byte offset `at` of text[0..len) is a code point boundary:
 * the start, the end, or any byte that is not a continuation byte 80..BF. */
int utf8_is_boundary(const uint8_t *text, size_t len, size_t at);

#endif
