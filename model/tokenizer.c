/* Vocabulary layout, building from training counts, and id look-ups. */
#include "tokenizer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Limits that keep every token id far inside int32_t. */
#define MAX_KNOWN_IDS (1 << 24)
#define MAX_BUCKETS (1 << 20)

static const char *const action_names[TOKENIZER_N_ACTIONS] = {
    "view", "click", "favourite", "add-to-cart", "purchase", "search", "review",
};

void tokenizer_build_options_defaults(struct tokenizer_build_options *options)
{
    *options = (struct tokenizer_build_options){
        .item_min_count = 2,
        .item_max_size = 100000,
        .item_buckets = 1024,
        .category_min_count = 1,
        .category_max_size = 10000,
        .category_buckets = 64,
    };
}

void tokenizer_free(struct tokenizer *tokenizer)
{
    if (!tokenizer)
        return;
    tokenizer_idmap_clear(&tokenizer->categories);
    tokenizer_idmap_clear(&tokenizer->items);
    bpe_free(tokenizer->bpe);
    free(tokenizer);
}

static int add_known(struct tokenizer_idmap *map, const char *const *ids, size_t n, const char *what, char *error)
{
    for (size_t i = 0; i < n; i++) {
        int32_t index;
        if (tokenizer_id_check(ids[i], what, error) != 0)
            return -1;
        if (tokenizer_idmap_add(map, ids[i], 1, &index) != 0) {
            snprintf(error, MODEL_ERROR_SIZE, "out of memory adding %s id %zu of %zu", what, i, n);
            return -1;
        }
        if ((size_t)index != i) {
            snprintf(error, MODEL_ERROR_SIZE, "invalid %s ids: \"%s\" appears twice (positions %d and %zu)", what,
                     ids[i], index, i);
            return -1;
        }
    }
    return 0;
}

static void compute_layout(struct tokenizer *t)
{
    struct tokenizer_layout *l = &t->layout;

    l->category_begin = TOKENIZER_CATEGORY_BEGIN;
    l->category_bucket_begin = l->category_begin + (int32_t)t->categories.n;
    l->category_end = l->category_bucket_begin + t->n_category_buckets;
    l->item_begin = l->category_end;
    l->item_bucket_begin = l->item_begin + (int32_t)t->items.n;
    l->item_end = l->item_bucket_begin + t->n_item_buckets;
    l->text_begin = l->item_end;
    l->text_end = l->text_begin + (t->bpe ? bpe_n_tokens(t->bpe) : BPE_BYTE_TOKENS);
    l->vocab_size = l->text_end;
}

static int check_sizes(size_t n_categories, int32_t category_buckets, size_t n_items, int32_t item_buckets,
                       char *error)
{
    if (n_categories > MAX_KNOWN_IDS || n_items > MAX_KNOWN_IDS) {
        snprintf(error, MODEL_ERROR_SIZE, "too many known ids: %zu categories and %zu items, maximum %d each",
                 n_categories, n_items, MAX_KNOWN_IDS);
        return -1;
    }
    if (category_buckets < 0 || category_buckets > MAX_BUCKETS || item_buckets < 0 || item_buckets > MAX_BUCKETS) {
        snprintf(error, MODEL_ERROR_SIZE, "invalid bucket counts: %d category and %d item buckets, expected 0 to %d",
                 category_buckets, item_buckets, MAX_BUCKETS);
        return -1;
    }
    return 0;
}

int tokenizer_create(const char *const *categories, size_t n_categories, int32_t category_buckets,
                     const char *const *items, size_t n_items, int32_t item_buckets, struct bpe *bpe,
                     struct tokenizer **out, char *error)
{
    *out = NULL;
    if (check_sizes(n_categories, category_buckets, n_items, item_buckets, error) != 0) {
        bpe_free(bpe);
        return -1;
    }
    struct tokenizer *t = calloc(1, sizeof *t);
    if (!t) {
        bpe_free(bpe);
        snprintf(error, MODEL_ERROR_SIZE, "out of memory creating a tokenizer");
        return -1;
    }
    t->bpe = bpe;
    if (!t->bpe && bpe_create(NULL, 0, &t->bpe, error) != 0) {
        tokenizer_free(t);
        return -1;
    }
    tokenizer_idmap_init(&t->categories);
    tokenizer_idmap_init(&t->items);
    t->n_category_buckets = category_buckets;
    t->n_item_buckets = item_buckets;
    if (add_known(&t->categories, categories, n_categories, "category", error) != 0 ||
        add_known(&t->items, items, n_items, "item", error) != 0) {
        tokenizer_free(t);
        return -1;
    }
    compute_layout(t);
    *out = t;
    return 0;
}

struct ranked_id {
    const char *id;
    int64_t count;
};

static int compare_ranked(const void *a, const void *b)
{
    const struct ranked_id *x = a, *y = b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return strcmp(x->id, y->id);
}

/* Selects the ids to keep, most frequent first, into a new array of
 * borrowed strings in *kept. */
static int select_ids(const struct tokenizer_counter *counter, int64_t min_count, int32_t max_size,
                      const char ***kept, size_t *n_kept)
{
    size_t n = counter ? counter->map.n : 0;
    struct ranked_id *ranked = malloc((n + 1) * sizeof *ranked);
    size_t m = 0;

    *kept = NULL;
    *n_kept = 0;
    if (!ranked)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (counter->map.counts[i] >= min_count)
            ranked[m++] = (struct ranked_id){counter->map.ids[i], counter->map.counts[i]};
    }
    qsort(ranked, m, sizeof *ranked, compare_ranked);
    if (max_size >= 0 && m > (size_t)max_size)
        m = (size_t)max_size;

    *kept = malloc((m + 1) * sizeof(char *));
    if (!*kept) {
        free(ranked);
        return -1;
    }
    for (size_t i = 0; i < m; i++)
        (*kept)[i] = ranked[i].id;
    *n_kept = m;
    free(ranked);
    return 0;
}

int tokenizer_build(const struct tokenizer_build_options *options, const struct tokenizer_counter *items,
                    const struct tokenizer_counter *categories, struct bpe *bpe, struct tokenizer **out,
                    char *error)
{
    const char **item_ids = NULL, **category_ids = NULL;
    size_t n_items = 0, n_categories = 0;

    *out = NULL;
    if (options->item_max_size < 0 || options->category_max_size < 0) {
        bpe_free(bpe);
        snprintf(error, MODEL_ERROR_SIZE, "invalid max_size: item %d, category %d, expected 0 or more",
                 options->item_max_size, options->category_max_size);
        return -1;
    }
    if (select_ids(items, options->item_min_count, options->item_max_size, &item_ids, &n_items) != 0 ||
        select_ids(categories, options->category_min_count, options->category_max_size, &category_ids,
                   &n_categories) != 0) {
        free(item_ids);
        bpe_free(bpe);
        snprintf(error, MODEL_ERROR_SIZE, "out of memory selecting known ids for the tokenizer");
        return -1;
    }

    int status = tokenizer_create(category_ids, n_categories, options->category_buckets, item_ids, n_items,
                                  options->item_buckets, bpe, out, error);
    free(item_ids);
    free(category_ids);
    return status;
}

void tokenizer_configure_model(const struct tokenizer *t, struct model_config *config)
{
    config->vocab_size = t->layout.vocab_size;
    config->item_begin = t->layout.item_begin;
    config->item_end = t->layout.item_end;
    config->n_actions = TOKENIZER_N_ACTIONS;
    config->n_categories = t->layout.category_end - t->layout.category_begin;
    config->n_sentiments = TOKENIZER_N_SENTIMENTS;
}

const char *tokenizer_action_name(enum tokenizer_action action)
{
    if ((int)action < 0 || action >= TOKENIZER_N_ACTIONS)
        return NULL;
    return action_names[action];
}

int tokenizer_action_parse(const char *name)
{
    for (int a = 0; a < TOKENIZER_N_ACTIONS; a++) {
        if (strcmp(name, action_names[a]) == 0)
            return a;
    }
    return -1;
}

/* Known id, else bucket, else UNK. */
static int32_t lookup(const struct tokenizer_idmap *map, int32_t begin, int32_t bucket_begin, int32_t n_buckets,
                      const char *id)
{
    if (!id || !id[0])
        return TOKENIZER_UNK;
    int32_t index = tokenizer_idmap_find(map, id);
    if (index >= 0)
        return begin + index;
    if (n_buckets == 0)
        return TOKENIZER_UNK;
    return bucket_begin + (int32_t)(tokenizer_hash_fnv1a64(id, strlen(id)) % (uint64_t)n_buckets);
}

int32_t tokenizer_item_token(const struct tokenizer *t, const char *item_id)
{
    return lookup(&t->items, t->layout.item_begin, t->layout.item_bucket_begin, t->n_item_buckets, item_id);
}

int32_t tokenizer_category_token(const struct tokenizer *t, const char *category_id)
{
    return lookup(&t->categories, t->layout.category_begin, t->layout.category_bucket_begin, t->n_category_buckets,
                  category_id);
}

const char *tokenizer_token_id(const struct tokenizer *t, int32_t token)
{
    const struct tokenizer_layout *l = &t->layout;

    if (token >= l->item_begin && token < l->item_bucket_begin)
        return t->items.ids[token - l->item_begin];
    if (token >= l->category_begin && token < l->category_bucket_begin)
        return t->categories.ids[token - l->category_begin];
    return NULL;
}

enum tokenizer_token_kind tokenizer_token_kind(const struct tokenizer *t, int32_t token)
{
    const struct tokenizer_layout *l = &t->layout;

    if (token < 0 || token >= l->vocab_size)
        return TOKENIZER_KIND_INVALID;
    if (token < TOKENIZER_ACTION_BEGIN)
        return TOKENIZER_KIND_SPECIAL;
    if (token < TOKENIZER_RATING_BEGIN)
        return TOKENIZER_KIND_ACTION;
    if (token < TOKENIZER_SENTIMENT_BEGIN)
        return TOKENIZER_KIND_RATING;
    if (token < TOKENIZER_CATEGORY_BEGIN)
        return TOKENIZER_KIND_SENTIMENT;
    if (token < l->category_bucket_begin)
        return TOKENIZER_KIND_CATEGORY;
    if (token < l->category_end)
        return TOKENIZER_KIND_CATEGORY_BUCKET;
    if (token < l->item_bucket_begin)
        return TOKENIZER_KIND_ITEM;
    if (token < l->item_end)
        return TOKENIZER_KIND_ITEM_BUCKET;
    return TOKENIZER_KIND_TEXT;
}
