/*
 * Event tokenizer: turns one clickstream or review event into a few tokens
 * of one vocabulary shared by the processor, the trainer and the model.
 *
 * Vocabulary layout (a contract: the trainer, the processor and a saved
 * model all depend on it, and it travels with the model in the safetensors
 * metadata under TOKENIZER_METADATA_KEY):
 *
 *   id                    tokens
 *   0..4                  specials: PAD=0, START, SEP, MASK, UNK
 *   5..11                 actions: view, click, favourite, add-to-cart,
 *                         purchase, search, review
 *   12..16                ratings 1..5 (rating r is 11 + r)
 *   17..18                sentiment: negative, positive
 *   category_begin = 19   categories seen in training, most frequent first
 *   category_bucket_begin hashed buckets for unseen categories
 *   item_begin            items seen in training, most frequent first
 *   item_bucket_begin     hashed buckets for unseen items
 *   text_begin            text: 256 byte tokens, then the BPE merges in rank
 *                         order (text token t is BPE token t - text_begin)
 *   vocab_size            = text_end
 *
 * Every range is [begin, end). An id not seen in training maps to bucket
 * FNV-1a-64(id bytes) mod n_buckets of its range, so the same unseen item
 * always gets the same token, in any process; with no buckets it maps to
 * UNK. The model's item range (model_config.item_begin/item_end) is the
 * whole item range, buckets included; a bucket token renders to no id.
 *
 * A struct tokenizer is immutable once built or loaded, and every function
 * taking a const tokenizer is safe to call from several threads at once.
 */
#ifndef INTENTD_TOKENIZER_H
#define INTENTD_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "bpe.h"
#include "model_config.h"
#include "tokenizer_idmap.h"

#define TOKENIZER_METADATA_KEY "intentd.tokenizer"

enum tokenizer_special {
    TOKENIZER_PAD = 0,
    TOKENIZER_START = 1,
    TOKENIZER_SEP = 2,
    TOKENIZER_MASK = 3,
    TOKENIZER_UNK = 4,
    TOKENIZER_N_SPECIALS = 5,
};

enum tokenizer_action {
    TOKENIZER_ACTION_VIEW = 0,
    TOKENIZER_ACTION_CLICK,
    TOKENIZER_ACTION_FAVOURITE,
    TOKENIZER_ACTION_ADD_TO_CART,
    TOKENIZER_ACTION_PURCHASE,
    TOKENIZER_ACTION_SEARCH,
    TOKENIZER_ACTION_REVIEW,
    TOKENIZER_N_ACTIONS,
};

#define TOKENIZER_N_RATINGS 5
#define TOKENIZER_N_SENTIMENTS 2
#define TOKENIZER_ACTION_BEGIN TOKENIZER_N_SPECIALS                           /* 5 */
#define TOKENIZER_RATING_BEGIN (TOKENIZER_ACTION_BEGIN + TOKENIZER_N_ACTIONS) /* 12 */
#define TOKENIZER_SENTIMENT_BEGIN (TOKENIZER_RATING_BEGIN + TOKENIZER_N_RATINGS)
#define TOKENIZER_CATEGORY_BEGIN (TOKENIZER_SENTIMENT_BEGIN + TOKENIZER_N_SENTIMENTS) /* 19 */

/* At most this many tokens precede the text of one event:
 * action, category, item, rating, sentiment. */
#define TOKENIZER_EVENT_FIXED_TOKENS 5

/* Token ranges, each [begin, end). */
struct tokenizer_layout {
    int32_t category_begin, category_bucket_begin, category_end;
    int32_t item_begin, item_bucket_begin, item_end;
    int32_t text_begin, text_end;
    int32_t vocab_size;
};

enum tokenizer_token_kind {
    TOKENIZER_KIND_INVALID = 0,
    TOKENIZER_KIND_SPECIAL,
    TOKENIZER_KIND_ACTION,
    TOKENIZER_KIND_RATING,
    TOKENIZER_KIND_SENTIMENT,
    TOKENIZER_KIND_CATEGORY,
    TOKENIZER_KIND_CATEGORY_BUCKET,
    TOKENIZER_KIND_ITEM,
    TOKENIZER_KIND_ITEM_BUCKET,
    TOKENIZER_KIND_TEXT,
};

struct tokenizer {
    struct tokenizer_layout layout;
    struct tokenizer_idmap categories; /* index i is token category_begin + i */
    struct tokenizer_idmap items;      /* index i is token item_begin + i */
    int32_t n_category_buckets, n_item_buckets;
    struct bpe *bpe;                   /* owned */
};

struct tokenizer_build_options {
    int64_t item_min_count;     /* ids seen fewer times go to buckets (default 2) */
    int32_t item_max_size;      /* most frequent ids kept (default 100000) */
    int32_t item_buckets;       /* default 1024 */
    int64_t category_min_count; /* default 1 */
    int32_t category_max_size;  /* default 10000 */
    int32_t category_buckets;   /* default 64 */
};

void tokenizer_build_options_defaults(struct tokenizer_build_options *options);

/* Builds a tokenizer from training counts (either counter may be NULL: no
 * known ids of that kind) and a trained BPE, which the tokenizer takes over
 * whether or not the call succeeds (NULL: bytes only, no merges). Ids with at
 * least min_count occurrences are kept, most frequent first, ties in byte
 * order of the id, up to max_size. Returns 0 and *out (free with
 * tokenizer_free), or -1 with a message in error[MODEL_ERROR_SIZE]. */
int tokenizer_build(const struct tokenizer_build_options *options, const struct tokenizer_counter *items,
                    const struct tokenizer_counter *categories, struct bpe *bpe, struct tokenizer **out,
                    char *error);

/* Creates a tokenizer from known ids in token order and bucket counts;
 * tokenizer_build and the JSON loader use it. Takes over bpe as above.
 * Rejects invalid or repeated ids. */
int tokenizer_create(const char *const *categories, size_t n_categories, int32_t category_buckets,
                     const char *const *items, size_t n_items, int32_t item_buckets, struct bpe *bpe,
                     struct tokenizer **out, char *error);

void tokenizer_free(struct tokenizer *tokenizer);

/* Sets vocab_size, item_begin, item_end, n_actions, n_categories (known plus
 * buckets) and n_sentiments of config from the layout. */
void tokenizer_configure_model(const struct tokenizer *tokenizer, struct model_config *config);

/* Canonical action names: "view", "click", "favourite", "add-to-cart",
 * "purchase", "search", "review". Parse returns -1 for any other string. */
const char *tokenizer_action_name(enum tokenizer_action action);
int tokenizer_action_parse(const char *name);

/* Token of an item or category id: its own token when seen in training, else
 * its bucket, else UNK (no buckets, or an empty id or NULL). */
int32_t tokenizer_item_token(const struct tokenizer *tokenizer, const char *item_id);
int32_t tokenizer_category_token(const struct tokenizer *tokenizer, const char *category_id);

/* Returns the external id of a known item or category token (owned by the
 * tokenizer), or NULL for a bucket or any other token. */
const char *tokenizer_token_id(const struct tokenizer *tokenizer, int32_t token);

enum tokenizer_token_kind tokenizer_token_kind(const struct tokenizer *tokenizer, int32_t token);

/* One event. Absent parts are NULL, 0 or -1 as noted; they produce no token. */
struct tokenizer_event {
    enum tokenizer_action action;
    const char *category_id; /* NULL: none */
    const char *item_id;     /* NULL: none */
    int rating;              /* 1..5, or 0: none */
    int sentiment;           /* 0 negative, 1 positive, -1: none (unknown when serving) */
    const char *text;        /* review text or search query, any bytes; NULL: none */
    size_t text_len;
};

/* Encodes event as: action, category, item, rating, sentiment, then at most
 * max_text_tokens text tokens of the normalised text (cut at a code point
 * boundary), each part only when present, into tokens[0..capacity). Needs
 * capacity >= TOKENIZER_EVENT_FIXED_TOKENS + max_text_tokens. Returns 0 and
 * the count in *n_tokens, or -1 with a message when a field is out of range,
 * capacity is too small or memory runs out. */
int tokenizer_encode_event(const struct tokenizer *tokenizer, const struct tokenizer_event *event,
                           size_t max_text_tokens, int32_t *tokens, size_t capacity, size_t *n_tokens,
                           char *error);

/* Normalises text[0..len) and encodes it into at most max_tokens text tokens
 * (vocabulary ids), cut at a code point boundary. Returns 0 and the count in
 * *n_tokens, or -1 with a message when memory runs out. */
int tokenizer_encode_text(const struct tokenizer *tokenizer, const char *text, size_t len, size_t max_tokens,
                          int32_t *tokens, size_t *n_tokens, char *error);

/* Decodes the text tokens among tokens[0..n) (others are skipped) into a
 * NUL-terminated string in *text (free with free()), length in *len.
 * Returns 0, or -1 with a message when a token is outside the vocabulary or
 * memory runs out. */
int tokenizer_decode_text(const struct tokenizer *tokenizer, const int32_t *tokens, size_t n, char **text,
                          size_t *len, char *error);

/* Serialises the whole tokenizer (layout, known ids, bucket counts, BPE
 * merges) to a NUL-terminated JSON string in *json (free with free()).
 * Returns 0, or -1 with a message. */
int tokenizer_to_json(const struct tokenizer *tokenizer, char **json, char *error);

/* Loads a tokenizer from JSON written by tokenizer_to_json, checking every
 * field and that the stored layout matches the one the contents imply.
 * Returns 0 and *out, or -1 with a message naming the invalid field. */
int tokenizer_from_json(const char *json, size_t len, struct tokenizer **out, char *error);

#endif
