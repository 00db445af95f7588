/*
 * The data side of train_events.h: the split by time, the tokenizer, the
 * token streams and the samples.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train_events.h"

void train_events_options_defaults(struct train_events_options *options)
{
    memset(options, 0, sizeof *options);
    options->max_text_tokens = 16;
    options->offer_items = 4;
    options->propensity_window = 5;
    options->bpe_merges = 2000;
    options->bpe_max_bytes = 8L << 20;
    tokenizer_build_options_defaults(&options->vocab);
}

struct event_key {
    int32_t user, index;
    int64_t timestamp_ms, order;
};

static int compare_keys(const void *a, const void *b)
{
    const struct event_key *x = a, *y = b;
    if (x->user != y->user)
        return x->user < y->user ? -1 : 1;
    if (x->timestamp_ms != y->timestamp_ms)
        return x->timestamp_ms < y->timestamp_ms ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

static int oom(char *error, const char *what)
{
    snprintf(error, MODEL_ERROR_SIZE, "out of memory building %s", what);
    return -1;
}

int train_events_data_split(struct train_events_data *d, const struct train_input_log *log,
                            const struct train_events_options *options, char *error)
{
    memset(d, 0, sizeof *d);
    d->options = *options;
    d->n_users = (int)log->users.n;
    d->n_events = (long)log->n_events;
    if (d->n_events == 0) {
        snprintf(error, MODEL_ERROR_SIZE, "no events to train on: every input was empty or skipped");
        return -1;
    }

    struct event_key *keys = malloc((size_t)d->n_events * sizeof *keys);
    d->user_begin = calloc((size_t)d->n_users + 1, sizeof(long));
    d->train_length = calloc((size_t)d->n_users, sizeof(int));
    d->event_index = malloc((size_t)d->n_events * sizeof(int32_t));
    if (!keys || !d->user_begin || !d->train_length || !d->event_index) {
        free(keys);
        train_events_data_free(d);
        return oom(error, "the event split");
    }
    for (long i = 0; i < d->n_events; i++) {
        const struct train_input_event *e = &log->events[i];
        keys[i] = (struct event_key){e->user, (int32_t)i, e->timestamp_ms, e->order};
    }
    qsort(keys, (size_t)d->n_events, sizeof keys[0], compare_keys);

    for (long i = 0; i < d->n_events; i++) {
        d->event_index[i] = keys[i].index;
        d->user_begin[keys[i].user + 1]++;
    }
    free(keys);
    for (int u = 0; u < d->n_users; u++) {
        d->user_begin[u + 1] += d->user_begin[u];
        long n = d->user_begin[u + 1] - d->user_begin[u];
        d->train_length[u] = (int)(n >= 3 ? n - 1 : n);
    }
    return 0;
}

/* Counts the ids of the training events and collects their texts. */
static int count_training_ids(const struct train_events_data *d, const struct train_input_log *log,
                              struct tokenizer_counter *items, struct tokenizer_counter *categories,
                              const char **texts, size_t *lengths, size_t *n_texts, char *error)
{
    long text_bytes = 0;

    *n_texts = 0;
    for (int u = 0; u < d->n_users; u++) {
        for (long g = d->user_begin[u]; g < d->user_begin[u] + d->train_length[u]; g++) {
            const struct train_input_event *e = &log->events[d->event_index[g]];
            if ((e->item >= 0 && tokenizer_idmap_add(&items->map, log->items.ids[e->item], 1, NULL) != 0) ||
                (e->category >= 0 &&
                 tokenizer_idmap_add(&categories->map, log->categories.ids[e->category], 1, NULL) != 0))
                return oom(error, "the vocabulary counts");
            if (e->text && !e->holdout && text_bytes + (long)e->text_len <= d->options.bpe_max_bytes) {
                texts[*n_texts] = e->text;
                lengths[(*n_texts)++] = e->text_len;
                text_bytes += e->text_len;
            }
        }
    }
    return 0;
}

int train_events_build_tokenizer(const struct train_events_data *d, const struct train_input_log *log,
                                 struct tokenizer **out, char *error)
{
    struct tokenizer_counter *items = tokenizer_counter_create();
    struct tokenizer_counter *categories = tokenizer_counter_create();
    const char **texts = malloc((size_t)d->n_events * sizeof *texts);
    size_t *lengths = malloc((size_t)d->n_events * sizeof *lengths);
    struct bpe *bpe = NULL;
    size_t n_texts = 0;
    int result = -1;

    if (!items || !categories || !texts || !lengths) {
        oom(error, "the tokenizer");
        goto done;
    }
    if (count_training_ids(d, log, items, categories, texts, lengths, &n_texts, error) != 0)
        goto done;

    struct bpe_train_options bpe_options;
    bpe_train_options_defaults(&bpe_options);
    bpe_options.n_merges = d->options.bpe_merges;
    if (d->options.bpe_merges > 0 && n_texts > 0 &&
        bpe_train(&bpe_options, texts, lengths, n_texts, &bpe, error) != 0)
        goto done;
    result = tokenizer_build(&d->options.vocab, items, categories, bpe, out, error);

done:
    tokenizer_counter_free(items);
    tokenizer_counter_free(categories);
    free(texts);
    free(lengths);
    return result;
}

static int allocate_event_arrays(struct train_events_data *d)
{
    size_t n = (size_t)d->n_events;
    d->token_end = malloc(n * sizeof(long));
    d->action = malloc(n);
    d->label = malloc(n);
    d->holdout = malloc(n);
    d->item_token = malloc(n * sizeof(int32_t));
    d->category_token = malloc(n * sizeof(int32_t));
    return d->token_end && d->action && d->label && d->holdout && d->item_token && d->category_token ? 0 : -1;
}

/* Appends tokens to the stream, growing it. */
static int append_tokens(struct train_events_data *d, long *capacity, const int32_t *tokens, size_t n)
{
    if (d->n_tokens + (long)n > *capacity) {
        long grown_capacity = *capacity * 2 + (long)n + 1024;
        int32_t *grown = realloc(d->tokens, (size_t)grown_capacity * sizeof(int32_t));
        if (!grown)
            return -1;
        d->tokens = grown;
        *capacity = grown_capacity;
    }
    memcpy(d->tokens + d->n_tokens, tokens, n * sizeof(int32_t));
    d->n_tokens += (long)n;
    return 0;
}

static int encode_event(struct train_events_data *d, const struct train_input_log *log,
                        const struct tokenizer *tok, long g, long *capacity, char *error)
{
    const struct train_input_event *e = &log->events[d->event_index[g]];
    const char *item = e->item >= 0 ? log->items.ids[e->item] : NULL;
    const char *category = e->category >= 0 ? log->categories.ids[e->category] : NULL;
    struct tokenizer_event event = {
        .action = (enum tokenizer_action)e->action, .category_id = category, .item_id = item,
        .rating = e->rating, .sentiment = -1, .text = e->text, .text_len = e->text_len,
    };
    size_t capacity_here = TOKENIZER_EVENT_FIXED_TOKENS + (size_t)d->options.max_text_tokens, n = 0;
    int32_t tokens[capacity_here];
    char detail[MODEL_ERROR_SIZE];

    if (tokenizer_encode_event(tok, &event, (size_t)d->options.max_text_tokens, tokens, capacity_here, &n,
                               detail) != 0) {
        snprintf(error, MODEL_ERROR_SIZE, "cannot encode event %ld of user '%.64s': %s", (long)e->order,
                 log->users.ids[e->user], detail);
        return -1;
    }
    if (append_tokens(d, capacity, tokens, n) != 0)
        return oom(error, "the token streams");

    d->token_end[g] = d->n_tokens;
    d->action[g] = e->action;
    d->label[g] = e->label;
    d->holdout[g] = e->holdout;
    int32_t item_token = item ? tokenizer_item_token(tok, item) : -1;
    int32_t category_token = category ? tokenizer_category_token(tok, category) : -1;
    d->item_token[g] = item_token >= tok->layout.item_begin && item_token < tok->layout.item_end ? item_token : -1;
    d->category_token[g] = category_token >= tok->layout.category_begin && category_token < tok->layout.category_end
                               ? category_token
                               : -1;
    return 0;
}

/* Lists the samples of the split (see train_events.h). */
static int list_samples(struct train_events_data *d)
{
    size_t n = (size_t)d->n_events;
    d->train_user = malloc(n * sizeof(int32_t));
    d->train_cut = malloc(n * sizeof(int32_t));
    d->valid_next_user = malloc((size_t)d->n_users * sizeof(int32_t) + 1);
    d->valid_sentiment_user = malloc(n * sizeof(int32_t));
    d->valid_sentiment_cut = malloc(n * sizeof(int32_t));
    if (!d->train_user || !d->train_cut || !d->valid_next_user || !d->valid_sentiment_user ||
        !d->valid_sentiment_cut)
        return -1;

    for (int u = 0; u < d->n_users; u++) {
        long begin = d->user_begin[u], n_user = d->user_begin[u + 1] - begin;
        int length = d->train_length[u];
        for (int k = 1; k <= n_user; k++) {
            long last = begin + k - 1;
            int labelled = d->label[last] >= 0;
            if (labelled && d->holdout[last]) {
                d->valid_sentiment_user[d->n_valid_sentiment] = u;
                d->valid_sentiment_cut[d->n_valid_sentiment++] = k;
            }
            if (k < length || (k == length && labelled && !d->holdout[last])) {
                d->train_user[d->n_train] = u;
                d->train_cut[d->n_train++] = k;
            }
        }
        if (length < n_user)
            d->valid_next_user[d->n_valid_next++] = u;
    }
    return 0;
}

int train_events_data_encode(struct train_events_data *d, const struct train_input_log *log,
                             const struct tokenizer *tokenizer, char *error)
{
    long capacity = 0;

    if (allocate_event_arrays(d) != 0)
        return oom(error, "the event arrays");
    for (long g = 0; g < d->n_events; g++) {
        if (encode_event(d, log, tokenizer, g, &capacity, error) != 0)
            return -1;
    }
    if (list_samples(d) != 0)
        return oom(error, "the sample lists");
    if (d->n_train == 0) {
        snprintf(error, MODEL_ERROR_SIZE, "no training sample: every user has a single unlabelled event; "
                 "add users with two or more events or labelled reviews");
        return -1;
    }
    return 0;
}

void train_events_data_free(struct train_events_data *d)
{
    free(d->user_begin);
    free(d->train_length);
    free(d->event_index);
    free(d->token_end);
    free(d->tokens);
    free(d->action);
    free(d->label);
    free(d->holdout);
    free(d->item_token);
    free(d->category_token);
    free(d->train_user);
    free(d->train_cut);
    free(d->valid_next_user);
    free(d->valid_sentiment_user);
    free(d->valid_sentiment_cut);
    memset(d, 0, sizeof *d);
}
