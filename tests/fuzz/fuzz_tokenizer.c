/*
 * libFuzzer target for the tokenizer. The first input byte picks the mode:
 *   even: the rest is text. Normalisation must give valid UTF-8 and be
 *         idempotent, encoding then decoding must return the normalised
 *         text, and a truncated encoding must decode to a valid UTF-8
 *         prefix of it. The text also serves as an item and category id.
 *   odd:  the rest is tokenizer JSON. Loading must fail cleanly or give a
 *         tokenizer that serialises to JSON which loads to the same JSON,
 *         and that round-trips text.
 * Seeds: tests/fuzz/corpus/tokenizer/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer.h"
#include "utf8.h"

#define CHECK(condition)       \
    do {                       \
        if (!(condition))      \
            __builtin_trap();  \
    } while (0)

static struct tokenizer *shared;

static struct tokenizer *build_shared(void)
{
    static const char *const texts[] = {
        "\xE8\xBF\x99\xE4\xB8\xAA\xE4\xB8\x9C\xE8\xA5\xBF\xE5\xBE\x88\xE5\xA5\xBD\xEF\xBC\x8C\xE5\xBE\x88\xE5\xA5\xBD\xE7\x94\xA8",
        "\xE5\xBE\x88\xE5\xA5\xBD\xE5\xBE\x88\xE5\xA5\xBD\xE5\xBE\x88\xE5\xA5\xBD\xEF\xBC\x81\xEF\xBC\x81",
        "the delivery was fast and the phone works well, well worth it",
        "\xF0\x9F\x98\x80\xF0\x9F\x98\x80\xF0\x9F\x98\x80 \xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD \xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD",
        "aaaaaaaaaaaa abababababab 1234512345",
    };
    size_t lengths[5];
    const char *items[] = {"1001", "1002", "\xE6\x89\x8B\xE6\x9C\xBA"};
    const char *categories[] = {"books"};
    struct bpe_train_options options;
    struct bpe *bpe;
    struct tokenizer *t;
    char error[MODEL_ERROR_SIZE];

    for (int i = 0; i < 5; i++)
        lengths[i] = strlen(texts[i]);
    bpe_train_options_defaults(&options);
    options.n_merges = 200;
    CHECK(bpe_train(&options, texts, lengths, 5, &bpe, error) == 0);
    CHECK(tokenizer_create(categories, 1, 4, items, 3, 16, bpe, &t, error) == 0);
    return t;
}

/* Checks encode/decode of text on tokenizer t, with no limit and with a
 * token budget. */
static void check_text(const struct tokenizer *t, const uint8_t *text, size_t len, size_t budget)
{
    uint8_t *normal = malloc(UTF8_NORMALIZED_MAX(len) + 1);
    uint8_t *again = malloc(UTF8_NORMALIZED_MAX(len) + 1);
    CHECK(normal != NULL);
    CHECK(again != NULL);

    size_t normal_len = utf8_normalize(text, len, normal);
    CHECK(utf8_is_valid(normal, normal_len));
    CHECK(utf8_normalize(normal, normal_len, again) == normal_len);
    CHECK(memcmp(again, normal, normal_len) == 0);

    int32_t *tokens = malloc((normal_len + 1) * sizeof(int32_t));
    size_t n, decoded_len;
    char *decoded, error[MODEL_ERROR_SIZE];
    CHECK(tokens);
    CHECK(tokenizer_encode_text(t, (const char *)text, len, normal_len + 1, tokens, &n, error) == 0);
    CHECK(tokenizer_decode_text(t, tokens, n, &decoded, &decoded_len, error) == 0);
    CHECK(decoded_len == normal_len);
    CHECK(memcmp(decoded, normal, normal_len) == 0);
    free(decoded);

    CHECK(tokenizer_encode_text(t, (const char *)text, len, budget, tokens, &n, error) == 0);
    CHECK(n <= budget);
    CHECK(tokenizer_decode_text(t, tokens, n, &decoded, &decoded_len, error) == 0);
    CHECK(decoded_len <= normal_len);
    CHECK(memcmp(decoded, normal, decoded_len) == 0);
    CHECK(utf8_is_valid((const uint8_t *)decoded, decoded_len));
    free(decoded);

    free(tokens);
    free(normal);
    free(again);
}

static void check_ids(const struct tokenizer *t, const uint8_t *data, size_t size)
{
    char *id = malloc(size + 1);
    CHECK(id);
    memcpy(id, data, size);
    id[size] = '\0';

    int32_t item = tokenizer_item_token(t, id);
    CHECK(item == TOKENIZER_UNK || (item >= t->layout.item_begin && item < t->layout.item_end));
    CHECK(item == tokenizer_item_token(t, id));
    const char *known = tokenizer_token_id(t, item);
    CHECK(!known || strcmp(known, id) == 0);

    int32_t category = tokenizer_category_token(t, id);
    CHECK(category == TOKENIZER_UNK ||
          (category >= t->layout.category_begin && category < t->layout.category_end));
    free(id);
}

static void check_json(const uint8_t *data, size_t size)
{
    struct tokenizer *t;
    char error[MODEL_ERROR_SIZE];

    if (tokenizer_from_json((const char *)data, size, &t, error) != 0) {
        CHECK(t == NULL);
        CHECK(error[0] != '\0');
        return;
    }

    char *json, *again;
    struct tokenizer *reloaded;
    CHECK(tokenizer_to_json(t, &json, error) == 0);
    CHECK(tokenizer_from_json(json, strlen(json), &reloaded, error) == 0);
    CHECK(tokenizer_to_json(reloaded, &again, error) == 0);
    CHECK(strcmp(json, again) == 0);

    static const char sample[] = "\xE5\xBE\x88\xE5\xA5\xBD good \xF0\x9F\x98\x80\xFF";
    check_text(reloaded, (const uint8_t *)sample, sizeof sample - 1, 3);

    free(json);
    free(again);
    tokenizer_free(t);
    tokenizer_free(reloaded);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    if (!shared)
        shared = build_shared();

    if (data[0] % 2 == 1) {
        check_json(data + 1, size - 1);
        return 0;
    }
    check_text(shared, data + 1, size - 1, data[0] / 2);
    check_ids(shared, data + 1, size - 1);
    return 0;
}
