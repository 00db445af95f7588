/* Encoding events and text into vocabulary tokens, and decoding text back. */
#include "tokenizer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

int tokenizer_encode_text(const struct tokenizer *t, const char *text, size_t len, size_t max_tokens,
                          int32_t *tokens, size_t *n_tokens, char *error)
{
    *n_tokens = 0;
    if (len == 0 || max_tokens == 0)
        return 0;
    if (len > SIZE_MAX / 3 - 1) {
        snprintf(error, MODEL_ERROR_SIZE, "text of %zu bytes is too long to normalise", len);
        return -1;
    }

    uint8_t *normal = malloc(UTF8_NORMALIZED_MAX(len));
    if (!normal) {
        snprintf(error, MODEL_ERROR_SIZE, "out of memory normalising a text of %zu bytes", len);
        return -1;
    }
    size_t normal_len = utf8_normalize((const uint8_t *)text, len, normal);
    size_t n = bpe_encode(t->bpe, normal, normal_len, tokens, max_tokens, NULL);
    free(normal);

    for (size_t i = 0; i < n; i++)
        tokens[i] += t->layout.text_begin;
    *n_tokens = n;
    return 0;
}

static int check_event(const struct tokenizer_event *event, size_t max_text_tokens, size_t capacity, char *error)
{
    if ((int)event->action < 0 || event->action >= TOKENIZER_N_ACTIONS) {
        snprintf(error, MODEL_ERROR_SIZE, "invalid event action %d: expected 0 to %d", (int)event->action,
                 TOKENIZER_N_ACTIONS - 1);
        return -1;
    }
    if (event->rating < 0 || event->rating > TOKENIZER_N_RATINGS) {
        snprintf(error, MODEL_ERROR_SIZE, "invalid event rating %d: expected 1 to 5, or 0 for none", event->rating);
        return -1;
    }
    if (event->sentiment < -1 || event->sentiment >= TOKENIZER_N_SENTIMENTS) {
        snprintf(error, MODEL_ERROR_SIZE, "invalid event sentiment %d: expected 0, 1, or -1 for none",
                 event->sentiment);
        return -1;
    }
    if (max_text_tokens > SIZE_MAX - TOKENIZER_EVENT_FIXED_TOKENS ||
        capacity < TOKENIZER_EVENT_FIXED_TOKENS + max_text_tokens) {
        snprintf(error, MODEL_ERROR_SIZE,
                 "event token buffer of %zu is too small: needs %d plus max_text_tokens (%zu)", capacity,
                 TOKENIZER_EVENT_FIXED_TOKENS, max_text_tokens);
        return -1;
    }
    return 0;
}

int tokenizer_encode_event(const struct tokenizer *t, const struct tokenizer_event *event, size_t max_text_tokens,
                           int32_t *tokens, size_t capacity, size_t *n_tokens, char *error)
{
    size_t n = 0, n_text = 0;

    *n_tokens = 0;
    if (check_event(event, max_text_tokens, capacity, error) != 0)
        return -1;

    tokens[n++] = TOKENIZER_ACTION_BEGIN + (int32_t)event->action;
    if (event->category_id)
        tokens[n++] = tokenizer_category_token(t, event->category_id);
    if (event->item_id)
        tokens[n++] = tokenizer_item_token(t, event->item_id);
    if (event->rating > 0)
        tokens[n++] = TOKENIZER_RATING_BEGIN + event->rating - 1;
    if (event->sentiment >= 0)
        tokens[n++] = TOKENIZER_SENTIMENT_BEGIN + event->sentiment;
    if (event->text &&
        tokenizer_encode_text(t, event->text, event->text_len, max_text_tokens, tokens + n, &n_text, error) != 0)
        return -1;

    *n_tokens = n + n_text;
    return 0;
}

int tokenizer_decode_text(const struct tokenizer *t, const int32_t *tokens, size_t n, char **text, size_t *len,
                          char *error)
{
    *text = NULL;
    *len = 0;
    if (n > (SIZE_MAX - 1) / BPE_MAX_TOKEN_BYTES) {
        snprintf(error, MODEL_ERROR_SIZE, "too many tokens to decode: %zu", n);
        return -1;
    }

    char *out = malloc(n * BPE_MAX_TOKEN_BYTES + 1);
    size_t written = 0;
    if (!out) {
        snprintf(error, MODEL_ERROR_SIZE, "out of memory decoding %zu tokens", n);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        enum tokenizer_token_kind kind = tokenizer_token_kind(t, tokens[i]);
        if (kind == TOKENIZER_KIND_INVALID) {
            free(out);
            snprintf(error, MODEL_ERROR_SIZE, "invalid token %d at position %zu: vocabulary size is %d", tokens[i], i,
                     t->layout.vocab_size);
            return -1;
        }
        if (kind != TOKENIZER_KIND_TEXT)
            continue;

        size_t token_len;
        const uint8_t *bytes = bpe_token_bytes(t->bpe, tokens[i] - t->layout.text_begin, &token_len);
        memcpy(out + written, bytes, token_len);
        written += token_len;
    }
    out[written] = '\0';
    *text = out;
    *len = written;
    return 0;
}
