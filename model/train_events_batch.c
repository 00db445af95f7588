/*
 * Mini-batches of event samples: windows of the token streams and their
 * labels, as listed in train_events.h.
 */
#include <stdlib.h>
#include <string.h>

#include "train_events.h"

int train_events_batch_alloc(struct train_events_batch *b, int max_B, int T, int offer_items)
{
    size_t n = (size_t)max_B * (size_t)T, n_dec = (size_t)max_B * (size_t)(offer_items + 1);

    memset(b, 0, sizeof *b);
    b->max_B = max_B;
    b->T = T;
    b->T_dec = offer_items + 1;
    b->tokens = calloc(n, sizeof(int));
    b->lengths = calloc((size_t)max_B, sizeof(int));
    b->item_targets = calloc(n, sizeof(int));
    b->dec_tokens = calloc(n_dec, sizeof(int));
    b->dec_lengths = calloc((size_t)max_B, sizeof(int));
    b->dec_targets = calloc(n_dec, sizeof(int));
    b->action = calloc((size_t)max_B, sizeof(int));
    b->category = calloc((size_t)max_B, sizeof(int));
    b->sentiment = calloc((size_t)max_B, sizeof(int));
    b->propensity = calloc((size_t)max_B, sizeof(float));
    if (!b->tokens || !b->lengths || !b->item_targets || !b->dec_tokens || !b->dec_lengths || !b->dec_targets ||
        !b->action || !b->category || !b->sentiment || !b->propensity) {
        train_events_batch_free(b);
        return -1;
    }
    return 0;
}

void train_events_batch_free(struct train_events_batch *b)
{
    free(b->tokens);
    free(b->lengths);
    free(b->item_targets);
    free(b->dec_tokens);
    free(b->dec_lengths);
    free(b->dec_targets);
    free(b->action);
    free(b->category);
    free(b->sentiment);
    free(b->propensity);
    memset(b, 0, sizeof *b);
}

/* First token of the window of user u cut after k events. */
static long window_start(const struct train_events_data *d, int u, int k, int T)
{
    long first = d->user_begin[u] > 0 ? d->token_end[d->user_begin[u] - 1] : 0;
    long end = d->token_end[d->user_begin[u] + k - 1];
    return end - T > first ? end - T : first;
}

/* Decoder row i: START, then the next distinct known items, then SEP. */
static void fill_decoder(struct train_events_batch *b, const struct train_events_data *d,
                         const struct tokenizer *tok, int i, long next, long limit)
{
    int *input = b->dec_tokens + (size_t)i * b->T_dec, *target = b->dec_targets + (size_t)i * b->T_dec;
    int n = 0, max_items = b->T_dec - 1;

    for (int t = 0; t < b->T_dec; t++) {
        input[t] = TOKENIZER_PAD;
        target[t] = -1;
    }
    input[0] = TOKENIZER_START;
    for (long g = next; g < limit && n < max_items; g++) {
        int item = d->item_token[g];
        int repeated = 0;
        if (item < tok->layout.item_begin || item >= tok->layout.item_bucket_begin)
            continue;
        for (int j = 1; j <= n; j++)
            repeated |= input[j] == item;
        if (repeated)
            continue;
        target[n] = item;
        input[++n] = item;
    }
    if (n == 0) {
        b->dec_lengths[i] = 1; /* no known item follows: the row has no target */
        return;
    }
    target[n] = TOKENIZER_SEP;
    b->dec_lengths[i] = n + 1;
}

/* Labels of the event after the cut, or none when the cut is at the limit. */
static void fill_heads(struct train_events_batch *b, const struct train_events_data *d,
                       const struct tokenizer *tok, int i, long next, long limit)
{
    b->action[i] = -1;
    b->category[i] = -1;
    b->propensity[i] = -1.0f;
    if (next >= limit) {
        fill_decoder(b, d, tok, i, next, next);
        return;
    }
    b->action[i] = d->action[next];
    b->category[i] = d->category_token[next] >= 0 ? d->category_token[next] - tok->layout.category_begin : -1;
    b->propensity[i] = 0.0f;
    long end = next + d->options.propensity_window < limit ? next + d->options.propensity_window : limit;
    for (long g = next; g < end; g++) {
        if (d->action[g] == TOKENIZER_ACTION_PURCHASE)
            b->propensity[i] = 1.0f;
    }
    fill_decoder(b, d, tok, i, next, limit);
}

static void fill_row(struct train_events_batch *b, const struct train_events_data *d,
                     const struct tokenizer *tok, int i, int u, int k, int limit_events, int holdout, int T)
{
    long begin = d->user_begin[u], last = begin + k - 1, next = begin + k, limit = begin + limit_events;
    long start = window_start(d, u, k, b->T), end = d->token_end[last];
    int *tokens = b->tokens + (size_t)i * T, *targets = b->item_targets + (size_t)i * T;
    int length = (int)(end - start);

    for (int t = 0; t < T; t++) {
        tokens[t] = t < length ? d->tokens[start + t] : TOKENIZER_PAD;
        targets[t] = -1;
    }
    b->lengths[i] = length;
    for (long g = begin; g <= last; g++) {
        long position = d->token_end[g] - 1 - start;
        if (position < 0)
            continue;
        targets[position] = g < last ? d->item_token[g + 1] : (next < limit ? d->item_token[next] : -1);
    }
    b->sentiment[i] = d->label[last] >= 0 && d->holdout[last] == holdout ? d->label[last] : -1;
    fill_heads(b, d, tok, i, next, limit);
}

void train_events_batch_fill(struct train_events_batch *b, const struct train_events_data *d,
                             const struct tokenizer *tokenizer, const int32_t *users, const int32_t *cuts,
                             const int *limits, int n, int holdout)
{
    int T = 1;

    for (int i = 0; i < n; i++) {
        long start = window_start(d, users[i], cuts[i], b->T);
        long length = d->token_end[d->user_begin[users[i]] + cuts[i] - 1] - start;
        if (length > T)
            T = (int)length;
    }
    for (int i = 0; i < n; i++) {
        int limit = limits ? limits[i] : d->train_length[users[i]];
        fill_row(b, d, tokenizer, i, users[i], cuts[i], limit, holdout, T);
    }

    b->batch = (struct train_batch){
        .B = n, .T = T, .tokens = b->tokens, .lengths = b->lengths, .item_targets = b->item_targets,
        .T_dec = b->T_dec, .dec_tokens = b->dec_tokens, .dec_lengths = b->dec_lengths,
        .dec_targets = b->dec_targets, .action_labels = b->action, .category_labels = b->category,
        .sentiment_labels = b->sentiment, .propensity_labels = b->propensity,
    };
}
