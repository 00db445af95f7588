/*
 * Stream facts that look ahead: user indexes, each user's events in order,
 * each user's item set (for the sampled protocol) and the purchase label.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval_run.h"

enum tokenizer_action eval_event_action(const struct replay_event *e)
{
    if (e->kind == REPLAY_REVIEW)
        return TOKENIZER_ACTION_REVIEW;
    /* codec_action lists UNKNOWN first, then the tokenizer's actions in order. */
    int action = (int)e->u.click.action - 1;
    return action >= 0 && action < TOKENIZER_N_ACTIONS ? (enum tokenizer_action)action : TOKENIZER_ACTION_VIEW;
}

static const struct replay_events *sort_events;

static int compare_by_user(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    int c = strcmp(replay_event_user(&sort_events->items[x]), replay_event_user(&sort_events->items[y]));
    if (c != 0)
        return c;
    return (x > y) - (x < y);
}

static int compare_tokens(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

static int allocate(struct eval_stream *s, size_t n)
{
    size_t m = n ? n : 1;
    s->user = calloc(m, sizeof *s->user);
    s->position = calloc(m, sizeof *s->position);
    s->item = calloc(m, sizeof *s->item);
    s->action = calloc(m, sizeof *s->action);
    s->purchase_soon = calloc(m, sizeof *s->purchase_soon);
    s->order = calloc(m, sizeof *s->order);
    s->user_begin = calloc(m + 1, sizeof *s->user_begin);
    s->items = calloc(m, sizeof *s->items);
    s->items_begin = calloc(m + 1, sizeof *s->items_begin);
    return s->user && s->position && s->item && s->action && s->purchase_soon && s->order && s->user_begin &&
                   s->items && s->items_begin
               ? 0
               : -1;
}

/* Labels, item sets and positions of one user's events order[begin, end). */
static void describe_user(struct eval_stream *s, size_t begin, size_t end, int horizon, size_t *n_items)
{
    uint32_t u = (uint32_t)s->n_users;
    size_t first_item = *n_items;

    s->user_begin[u] = begin;
    for (size_t j = begin; j < end; j++) {
        size_t i = s->order[j];
        s->user[i] = u;
        s->position[i] = (uint32_t)(j - begin);
        if (s->item[i] >= 0)
            s->items[(*n_items)++] = s->item[i];
    }

    /* Walk backwards keeping the distance to the nearest later purchase. */
    size_t next_purchase = SIZE_MAX;
    for (size_t j = end; j-- > begin;) {
        size_t i = s->order[j];
        if (s->action[i] == TOKENIZER_ACTION_PURCHASE)
            next_purchase = j;
        s->purchase_soon[i] = next_purchase != SIZE_MAX && next_purchase - j < (size_t)horizon;
    }

    qsort(s->items + first_item, *n_items - first_item, sizeof *s->items, compare_tokens);
    size_t kept = first_item;
    for (size_t j = first_item; j < *n_items; j++) {
        if (kept == first_item || s->items[kept - 1] != s->items[j])
            s->items[kept++] = s->items[j];
    }
    *n_items = kept;
    s->items_begin[u] = first_item;
    s->n_users++;
}

int eval_stream_build(struct eval_stream *s, const struct replay_events *events, const struct tokenizer *tok,
                      int horizon, char *error)
{
    size_t n = events->count;

    memset(s, 0, sizeof *s);
    s->n_events = n;
    if (allocate(s, n) != 0) {
        eval_stream_free(s);
        snprintf(error, EVAL_ERROR_SIZE, "out of memory indexing %zu events", n);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        const struct replay_event *e = &events->items[i];
        const char *item = e->kind == REPLAY_REVIEW ? e->u.review.item_id : e->u.click.item_id;
        s->order[i] = i;
        s->action[i] = (uint8_t)eval_event_action(e);
        s->item[i] = item && item[0] ? tokenizer_item_token(tok, item) : -1;
    }

    /* NOTE: qsort with a file-level pointer: eval_stream_build is not reentrant. */
    sort_events = events;
    qsort(s->order, n, sizeof *s->order, compare_by_user);
    sort_events = NULL;

    size_t n_items = 0, begin = 0;
    for (size_t j = 1; j <= n; j++) {
        if (j == n || strcmp(replay_event_user(&events->items[s->order[j]]),
                             replay_event_user(&events->items[s->order[begin]])) != 0) {
            describe_user(s, begin, j, horizon, &n_items);
            begin = j;
        }
    }
    s->user_begin[s->n_users] = n;
    s->items_begin[s->n_users] = n_items;
    return 0;
}

int eval_stream_user_has_item(const struct eval_stream *s, uint32_t user, int32_t item)
{
    const int32_t *begin = s->items + s->items_begin[user];
    size_t count = s->items_begin[user + 1] - s->items_begin[user];
    return bsearch(&item, begin, count, sizeof item, compare_tokens) != NULL;
}

void eval_stream_free(struct eval_stream *s)
{
    free(s->user);
    free(s->position);
    free(s->item);
    free(s->action);
    free(s->purchase_soon);
    free(s->order);
    free(s->user_begin);
    free(s->items);
    free(s->items_begin);
    memset(s, 0, sizeof *s);
}
