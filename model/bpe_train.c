/*
 * BPE training with incremental pair counts.
 *
 * The corpus is cut into chunks (bpe_chunk_length) and equal chunks are
 * counted once, as "words" with a count. Each distinct adjacent pair keeps
 * its total count and the list of words it occurs in; a max-heap with lazy
 * entries yields the most frequent pair. A merge rewrites only the words in
 * that pair's list and adjusts the counts of the pairs around each
 * occurrence, so the cost of a merge follows its frequency, not the corpus
 * size.
 */
#include "bpe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

struct words {
    uint8_t *bytes;   /* chunk bytes, each distinct chunk once */
    size_t n_bytes, bytes_capacity;
    size_t *start;    /* [n]: offset of word w in bytes and in symbols */
    int32_t *length;  /* [n]: current symbol count of word w */
    int64_t *count;   /* [n]: occurrences of the chunk in the corpus */
    size_t n, capacity;
    int32_t *slots;   /* hash of chunk bytes to word index, -1 empty */
    size_t slot_mask;
    int32_t *symbols; /* [n_bytes]: token ids, rewritten by merges */
};

struct pair_list {
    int32_t *words;
    int32_t n, capacity;
};

struct pairs {
    uint64_t *slot_keys; /* UINT64_MAX empty */
    int32_t *slot_pair;
    size_t slot_mask, used;
    int32_t *left, *right;
    int64_t *count;
    int32_t *touched_at; /* merge number that last changed the count */
    struct pair_list *where;
    size_t n, capacity;
};

struct heap_entry {
    int64_t count;
    int32_t pair;
};

struct heap {
    struct heap_entry *entries;
    size_t n, capacity;
};

struct trainer {
    struct words words;
    struct pairs pairs;
    struct heap heap;
    int32_t *word_stamp; /* merge number that last rewrote word w */
    int32_t *touched;    /* pairs whose count rose in this merge */
    size_t n_touched, touched_capacity;
};

static int grow(void **array, size_t *capacity, size_t need, size_t element)
{
    if (need <= *capacity)
        return 0;
    size_t next = *capacity ? *capacity : 16;
    while (next < need)
        next *= 2;
    void *moved = realloc(*array, next * element);
    if (!moved)
        return -1;
    *array = moved;
    *capacity = next;
    return 0;
}

static uint64_t hash_bytes(const uint8_t *bytes, size_t len)
{
    uint64_t hash = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++)
        hash = (hash ^ bytes[i]) * 0x100000001b3ull;
    return hash;
}

/* ---- words ---- */

static int words_rehash(struct words *w, size_t n_slots)
{
    int32_t *slots = malloc(n_slots * sizeof(int32_t));
    if (!slots)
        return -1;
    memset(slots, 0xFF, n_slots * sizeof(int32_t));
    for (size_t i = 0; i < w->n; i++) {
        size_t s = hash_bytes(w->bytes + w->start[i], (size_t)w->length[i]) & (n_slots - 1);
        while (slots[s] >= 0)
            s = (s + 1) & (n_slots - 1);
        slots[s] = (int32_t)i;
    }
    free(w->slots);
    w->slots = slots;
    w->slot_mask = n_slots - 1;
    return 0;
}

/* Counts one more occurrence of chunk[0..len). */
static int words_add(struct words *w, const uint8_t *chunk, size_t len)
{
    if (!w->slots || 2 * (w->n + 1) > w->slot_mask + 1) {
        if (words_rehash(w, w->slots ? 2 * (w->slot_mask + 1) : 1024) != 0)
            return -1;
    }
    size_t s = hash_bytes(chunk, len) & w->slot_mask;
    for (; w->slots[s] >= 0; s = (s + 1) & w->slot_mask) {
        int32_t i = w->slots[s];
        if ((size_t)w->length[i] == len && memcmp(w->bytes + w->start[i], chunk, len) == 0) {
            w->count[i]++;
            return 0;
        }
    }
    if (w->n >= INT32_MAX - 1)
        return -1;

    size_t cap = w->capacity;
    if (grow((void **)&w->bytes, &w->bytes_capacity, w->n_bytes + len, 1) != 0 ||
        grow((void **)&w->start, &cap, w->n + 1, sizeof(size_t)) != 0)
        return -1;
    cap = w->capacity;
    if (grow((void **)&w->length, &cap, w->n + 1, sizeof(int32_t)) != 0)
        return -1;
    cap = w->capacity;
    if (grow((void **)&w->count, &cap, w->n + 1, sizeof(int64_t)) != 0)
        return -1;
    w->capacity = cap;

    memcpy(w->bytes + w->n_bytes, chunk, len);
    w->start[w->n] = w->n_bytes;
    w->length[w->n] = (int32_t)len;
    w->count[w->n] = 1;
    w->slots[s] = (int32_t)w->n;
    w->n_bytes += len;
    w->n++;
    return 0;
}

/* Normalises every text and counts its chunks. */
static int collect_words(struct words *w, const char *const *texts, const size_t *lengths, size_t n_texts,
                         char *error)
{
    uint8_t *normal = NULL;
    size_t normal_capacity = 0;

    for (size_t t = 0; t < n_texts; t++) {
        if (lengths[t] > SIZE_MAX / 3 ||
            grow((void **)&normal, &normal_capacity, UTF8_NORMALIZED_MAX(lengths[t]) + 1, 1) != 0) {
            free(normal);
            snprintf(error, MODEL_ERROR_SIZE, "out of memory normalising BPE training text %zu (%zu bytes)", t,
                     lengths[t]);
            return -1;
        }
        size_t len = utf8_normalize((const uint8_t *)texts[t], lengths[t], normal);
        for (size_t at = 0; at < len;) {
            size_t chunk = bpe_chunk_length(normal + at, len - at);
            if (words_add(w, normal + at, chunk) != 0) {
                free(normal);
                snprintf(error, MODEL_ERROR_SIZE, "out of memory counting BPE training chunks at text %zu", t);
                return -1;
            }
            at += chunk;
        }
    }
    free(normal);

    w->symbols = malloc((w->n_bytes ? w->n_bytes : 1) * sizeof(int32_t));
    if (!w->symbols) {
        snprintf(error, MODEL_ERROR_SIZE, "out of memory for %zu BPE training symbols", w->n_bytes);
        return -1;
    }
    for (size_t i = 0; i < w->n_bytes; i++)
        w->symbols[i] = w->bytes[i];
    return 0;
}

/* ---- pairs ---- */

static uint64_t pair_key(int32_t left, int32_t right)
{
    return ((uint64_t)(uint32_t)left << 32) | (uint32_t)right;
}

static size_t pair_slot(uint64_t key, size_t mask)
{
    return (size_t)((key * 0x9E3779B97F4A7C15ull) >> 20) & mask;
}

static int pairs_rehash(struct pairs *p, size_t n_slots)
{
    uint64_t *keys = malloc(n_slots * sizeof(uint64_t));
    int32_t *index = malloc(n_slots * sizeof(int32_t));
    if (!keys || !index) {
        free(keys);
        free(index);
        return -1;
    }
    memset(keys, 0xFF, n_slots * sizeof(uint64_t));
    for (size_t i = 0; i < p->n; i++) {
        uint64_t key = pair_key(p->left[i], p->right[i]);
        size_t s = pair_slot(key, n_slots - 1);
        while (keys[s] != UINT64_MAX)
            s = (s + 1) & (n_slots - 1);
        keys[s] = key;
        index[s] = (int32_t)i;
    }
    free(p->slot_keys);
    free(p->slot_pair);
    p->slot_keys = keys;
    p->slot_pair = index;
    p->slot_mask = n_slots - 1;
    return 0;
}

static int pairs_reserve(struct pairs *p, size_t need)
{
    if (need <= p->capacity)
        return 0;
    size_t next = p->capacity ? 2 * p->capacity : 4096;
    while (next < need)
        next *= 2;
    int32_t *left = realloc(p->left, next * sizeof(int32_t));
    if (left)
        p->left = left;
    int32_t *right = realloc(p->right, next * sizeof(int32_t));
    if (right)
        p->right = right;
    int64_t *count = realloc(p->count, next * sizeof(int64_t));
    if (count)
        p->count = count;
    int32_t *touched = realloc(p->touched_at, next * sizeof(int32_t));
    if (touched)
        p->touched_at = touched;
    struct pair_list *where = realloc(p->where, next * sizeof(struct pair_list));
    if (where)
        p->where = where;
    if (!left || !right || !count || !touched || !where)
        return -1;
    p->capacity = next;
    return 0;
}

/* Returns the index of pair (left, right), adding it with count 0 when
 * absent, or -1 when out of memory. */
static int32_t pairs_get(struct pairs *p, int32_t left, int32_t right)
{
    uint64_t key = pair_key(left, right);

    if (!p->slot_keys || 2 * (p->n + 1) > p->slot_mask + 1) {
        if (pairs_rehash(p, p->slot_keys ? 2 * (p->slot_mask + 1) : 1 << 16) != 0)
            return -1;
    }
    size_t s = pair_slot(key, p->slot_mask);
    for (; p->slot_keys[s] != UINT64_MAX; s = (s + 1) & p->slot_mask) {
        if (p->slot_keys[s] == key)
            return p->slot_pair[s];
    }
    if (p->n >= INT32_MAX - 1 || pairs_reserve(p, p->n + 1) != 0)
        return -1;

    int32_t index = (int32_t)p->n++;
    p->left[index] = left;
    p->right[index] = right;
    p->count[index] = 0;
    p->touched_at[index] = INT32_MIN;
    p->where[index] = (struct pair_list){0};
    p->slot_keys[s] = key;
    p->slot_pair[s] = index;
    return index;
}

static int pair_list_add(struct pair_list *list, int32_t word)
{
    if (list->n > 0 && list->words[list->n - 1] == word)
        return 0;
    if (list->n == list->capacity) {
        int32_t next = list->capacity ? 2 * list->capacity : 4;
        int32_t *moved = realloc(list->words, (size_t)next * sizeof(int32_t));
        if (!moved)
            return -1;
        list->words = moved;
        list->capacity = next;
    }
    list->words[list->n++] = word;
    return 0;
}

/* ---- heap: largest count first, ties to the smaller (left, right) ---- */

static int heap_before(const struct pairs *p, struct heap_entry a, struct heap_entry b)
{
    if (a.count != b.count)
        return a.count > b.count;
    return pair_key(p->left[a.pair], p->right[a.pair]) < pair_key(p->left[b.pair], p->right[b.pair]);
}

static int heap_push(struct heap *h, const struct pairs *p, int64_t count, int32_t pair)
{
    if (grow((void **)&h->entries, &h->capacity, h->n + 1, sizeof(struct heap_entry)) != 0)
        return -1;
    size_t i = h->n++;
    struct heap_entry entry = {count, pair};
    while (i > 0 && heap_before(p, entry, h->entries[(i - 1) / 2])) {
        h->entries[i] = h->entries[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h->entries[i] = entry;
    return 0;
}

static struct heap_entry heap_pop(struct heap *h, const struct pairs *p)
{
    struct heap_entry top = h->entries[0];
    struct heap_entry last = h->entries[--h->n];
    size_t i = 0;

    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= h->n)
            break;
        if (child + 1 < h->n && heap_before(p, h->entries[child + 1], h->entries[child]))
            child++;
        if (!heap_before(p, h->entries[child], last))
            break;
        h->entries[i] = h->entries[child];
        i = child;
    }
    if (h->n > 0)
        h->entries[i] = last;
    return top;
}

/* Pops stale entries until the top is the true most frequent pair (every
 * live pair has an entry at least as large as its count) and stores it in
 * *pair, or -1 when no pair is left. Returns -1 when out of memory. */
static int best_pair(struct trainer *t, int32_t *pair)
{
    *pair = -1;
    while (t->heap.n > 0) {
        struct heap_entry top = heap_pop(&t->heap, &t->pairs);
        int64_t current = t->pairs.count[top.pair];
        if (top.count == current) {
            *pair = top.pair;
            return 0;
        }
        if (current > 0 && heap_push(&t->heap, &t->pairs, current, top.pair) != 0)
            return -1;
    }
    return 0;
}

/* ---- counting and merging ---- */

/* Adds `count` occurrences of (left, right) in `word`; records the pair as
 * touched by merge `merge` so its new count enters the heap. */
static int count_up(struct trainer *t, int32_t left, int32_t right, int32_t word, int64_t count, int32_t merge)
{
    int32_t pair = pairs_get(&t->pairs, left, right);
    if (pair < 0 || pair_list_add(&t->pairs.where[pair], word) != 0)
        return -1;
    t->pairs.count[pair] += count;
    if (t->pairs.touched_at[pair] != merge) {
        t->pairs.touched_at[pair] = merge;
        if (grow((void **)&t->touched, &t->touched_capacity, t->n_touched + 1, sizeof(int32_t)) != 0)
            return -1;
        t->touched[t->n_touched++] = pair;
    }
    return 0;
}

static void count_down(struct trainer *t, int32_t left, int32_t right, int64_t count)
{
    /* The pair exists: it occurs in the word being rewritten. */
    t->pairs.count[pairs_get(&t->pairs, left, right)] -= count;
}

/* Pushes the new counts of the pairs touched by the last step. */
static int push_touched(struct trainer *t)
{
    for (size_t i = 0; i < t->n_touched; i++) {
        int32_t pair = t->touched[i];
        if (t->pairs.count[pair] > 0 && heap_push(&t->heap, &t->pairs, t->pairs.count[pair], pair) != 0)
            return -1;
    }
    t->n_touched = 0;
    return 0;
}

static int count_initial_pairs(struct trainer *t)
{
    struct words *w = &t->words;

    for (size_t i = 0; i < w->n; i++) {
        const int32_t *s = w->symbols + w->start[i];
        for (int32_t j = 0; j + 1 < w->length[i]; j++) {
            if (count_up(t, s[j], s[j + 1], (int32_t)i, w->count[i], INT32_MIN + 1) != 0)
                return -1;
        }
    }
    return push_touched(t);
}

/* Replaces every (left, right) in word `word` by `merged`, left to right,
 * and moves the counts of the neighbouring pairs. Reading the left
 * neighbour from the rewritten output makes consecutive occurrences
 * (x a b a b) count (merged, merged) correctly. */
static int merge_word(struct trainer *t, int32_t word, int32_t left, int32_t right, int32_t merged, int32_t merge)
{
    int32_t *s = t->words.symbols + t->words.start[word];
    int32_t n = t->words.length[word], out = 0;
    int64_t count = t->words.count[word];

    for (int32_t i = 0; i < n;) {
        if (i + 1 < n && s[i] == left && s[i + 1] == right) {
            if (out > 0) {
                count_down(t, s[out - 1], left, count);
                if (count_up(t, s[out - 1], merged, word, count, merge) != 0)
                    return -1;
            }
            if (i + 2 < n) {
                count_down(t, right, s[i + 2], count);
                if (count_up(t, merged, s[i + 2], word, count, merge) != 0)
                    return -1;
            }
            count_down(t, left, right, count);
            s[out++] = merged;
            i += 2;
        } else {
            s[out++] = s[i++];
        }
    }
    t->words.length[word] = out;
    return 0;
}

static int apply_merge(struct trainer *t, int32_t pair, int32_t merge)
{
    int32_t left = t->pairs.left[pair], right = t->pairs.right[pair];
    struct pair_list list = t->pairs.where[pair];

    /* The list is detached first: rewriting may add to other lists and
     * must not see this one grow under it. */
    t->pairs.where[pair] = (struct pair_list){0};
    for (int32_t i = 0; i < list.n; i++) {
        int32_t word = list.words[i];
        if (t->word_stamp[word] == merge)
            continue;
        t->word_stamp[word] = merge;
        if (merge_word(t, word, left, right, BPE_BYTE_TOKENS + merge, merge) != 0) {
            free(list.words);
            return -1;
        }
    }
    free(list.words);
    return push_touched(t);
}

static void trainer_free(struct trainer *t)
{
    free(t->words.bytes);
    free(t->words.start);
    free(t->words.length);
    free(t->words.count);
    free(t->words.slots);
    free(t->words.symbols);
    for (size_t i = 0; i < t->pairs.n; i++)
        free(t->pairs.where[i].words);
    free(t->pairs.slot_keys);
    free(t->pairs.slot_pair);
    free(t->pairs.left);
    free(t->pairs.right);
    free(t->pairs.count);
    free(t->pairs.touched_at);
    free(t->pairs.where);
    free(t->heap.entries);
    free(t->word_stamp);
    free(t->touched);
}

void bpe_train_options_defaults(struct bpe_train_options *options)
{
    *options = (struct bpe_train_options){
        .n_merges = 4000,
        .min_pair_count = 2,
        .progress = NULL,
        .progress_context = NULL,
    };
}

static int learn_merges(struct trainer *t, const struct bpe_train_options *options, int32_t *merges,
                        int *n_learned)
{
    *n_learned = 0;
    for (int32_t m = 0; m < options->n_merges; m++) {
        int32_t pair;
        if (best_pair(t, &pair) != 0)
            return -1;
        if (pair < 0 || t->pairs.count[pair] < options->min_pair_count)
            break;

        merges[2 * m] = t->pairs.left[pair];
        merges[2 * m + 1] = t->pairs.right[pair];
        if (apply_merge(t, pair, m) != 0)
            return -1;
        *n_learned = m + 1;
        if (options->progress && (m + 1) % 100 == 0)
            options->progress(options->progress_context, m + 1, options->n_merges);
    }
    if (options->progress)
        options->progress(options->progress_context, *n_learned, options->n_merges);
    return 0;
}

int bpe_train(const struct bpe_train_options *options, const char *const *texts, const size_t *lengths,
              size_t n_texts, struct bpe **out, char *error)
{
    struct trainer t = {0};
    int32_t *merges = NULL;
    int n_learned = 0, status = -1;

    *out = NULL;
    if (options->n_merges < 0 || options->n_merges > BPE_MAX_MERGES) {
        snprintf(error, MODEL_ERROR_SIZE, "invalid BPE n_merges %d: expected 0 to %d", options->n_merges,
                 BPE_MAX_MERGES);
        return -1;
    }
    if (collect_words(&t.words, texts, lengths, n_texts, error) != 0)
        goto done;

    merges = malloc(sizeof(int32_t) * 2 * ((size_t)options->n_merges + 1));
    t.word_stamp = malloc(sizeof(int32_t) * (t.words.n + 1));
    if (!merges || !t.word_stamp || count_initial_pairs(&t) != 0) {
        snprintf(error, MODEL_ERROR_SIZE, "out of memory counting BPE pairs over %zu chunks", t.words.n);
        goto done;
    }
    memset(t.word_stamp, 0xFF, sizeof(int32_t) * (t.words.n + 1));

    if (learn_merges(&t, options, merges, &n_learned) != 0) {
        snprintf(error, MODEL_ERROR_SIZE, "out of memory after %d BPE merges", n_learned);
        goto done;
    }
    status = bpe_create(merges, n_learned, out, error);

done:
    free(merges);
    trainer_free(&t);
    return status;
}
