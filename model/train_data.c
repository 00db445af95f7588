#include "train_data.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "train_layers.h"

struct pair {
    int user, item;
};

/* Reads all (user, item) lines of path into a growing array. */
static int read_pairs(const char *path, struct pair **out, long *count, int *max_user, int *max_item, char *error)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(error, MODEL_ERROR_SIZE, "cannot open sequence file %s: %s", path, strerror(errno));
        return -1;
    }

    long n = 0, cap = 1 << 16, line_no = 0;
    struct pair *pairs = malloc((size_t)cap * sizeof *pairs);
    char line[256];
    int status = 0;

    *max_user = 0;
    *max_item = 0;
    while (pairs && fgets(line, sizeof line, f)) {
        int user, item;
        line_no++;
        if (line[0] == '\n' || line[0] == '\0')
            continue;
        if (sscanf(line, "%d %d", &user, &item) != 2 || user < 1 || item < 1) {
            snprintf(error, MODEL_ERROR_SIZE, "invalid line %ld in %s: expected `user item` with ids >= 1", line_no,
                     path);
            status = -1;
            break;
        }
        if (n == cap) {
            cap *= 2;
            struct pair *grown = realloc(pairs, (size_t)cap * sizeof *pairs);
            if (!grown) {
                free(pairs);
                pairs = NULL;
                break;
            }
            pairs = grown;
        }
        pairs[n++] = (struct pair){user, item};
        *max_user = user > *max_user ? user : *max_user;
        *max_item = item > *max_item ? item : *max_item;
    }
    fclose(f);

    if (!pairs) {
        snprintf(error, MODEL_ERROR_SIZE, "out of memory reading %s", path);
        return -1;
    }
    if (status != 0) {
        free(pairs);
        return -1;
    }
    *out = pairs;
    *count = n;
    return 0;
}

int train_sequences_read(struct train_sequences *s, const char *path, char *error)
{
    struct pair *pairs;
    long n;
    int max_user, max_item;

    memset(s, 0, sizeof *s);
    if (read_pairs(path, &pairs, &n, &max_user, &max_item, error) != 0)
        return -1;

    /* renumber users by first appearance, then count and place their items */
    int *user_index = malloc(((size_t)max_user + 1) * sizeof(int));
    s->offsets = calloc((size_t)max_user + 2, sizeof(long));
    s->items = malloc((size_t)(n > 0 ? n : 1) * sizeof(int));
    if (!user_index || !s->offsets || !s->items) {
        free(user_index);
        free(pairs);
        train_sequences_free(s);
        snprintf(error, MODEL_ERROR_SIZE, "out of memory indexing %ld interactions of %s", n, path);
        return -1;
    }
    for (int u = 0; u <= max_user; u++)
        user_index[u] = -1;
    for (long i = 0; i < n; i++) {
        int *index = &user_index[pairs[i].user];
        if (*index < 0)
            *index = s->n_users++;
        s->offsets[*index + 1]++;
    }
    for (int u = 0; u < s->n_users; u++)
        s->offsets[u + 1] += s->offsets[u];

    long *fill = calloc((size_t)s->n_users + 1, sizeof(long));
    if (!fill) {
        free(user_index);
        free(pairs);
        train_sequences_free(s);
        snprintf(error, MODEL_ERROR_SIZE, "out of memory indexing %ld interactions of %s", n, path);
        return -1;
    }
    for (long i = 0; i < n; i++) {
        int u = user_index[pairs[i].user];
        s->items[s->offsets[u] + fill[u]++] = pairs[i].item;
    }

    s->n_items = max_item;
    s->n_interactions = n;
    free(fill);
    free(user_index);
    free(pairs);
    return 0;
}

void train_sequences_free(struct train_sequences *s)
{
    free(s->offsets);
    free(s->items);
    memset(s, 0, sizeof *s);
}

static int user_length(const struct train_sequences *s, int user)
{
    return (int)(s->offsets[user + 1] - s->offsets[user]);
}

int train_split_has_holdout(const struct train_sequences *s, int user)
{
    return user_length(s, user) >= 3;
}

int train_split_train_length(const struct train_sequences *s, int user)
{
    int n = user_length(s, user);
    return n >= 3 ? n - 2 : n;
}

int train_seq_batch_alloc(struct train_seq_batch *sb, int max_B, int T)
{
    memset(sb, 0, sizeof *sb);
    sb->max_B = max_B;
    sb->T = T;
    sb->tokens = calloc((size_t)max_B * T, sizeof(int));
    sb->lengths = calloc((size_t)max_B, sizeof(int));
    sb->targets = calloc((size_t)max_B * T, sizeof(int));
    if (!sb->tokens || !sb->lengths || !sb->targets) {
        train_seq_batch_free(sb);
        return -1;
    }
    return 0;
}

void train_seq_batch_free(struct train_seq_batch *sb)
{
    free(sb->tokens);
    free(sb->lengths);
    free(sb->targets);
    memset(sb, 0, sizeof *sb);
}

/* Points sb->batch at the filled arrays, which are packed with row stride T. */
static void set_batch(struct train_seq_batch *sb, int n, int T, int with_targets)
{
    memset(&sb->batch, 0, sizeof sb->batch);
    sb->batch.B = n;
    sb->batch.T = T;
    sb->batch.tokens = sb->tokens;
    sb->batch.lengths = sb->lengths;
    sb->batch.item_targets = with_targets ? sb->targets : NULL;
}

static int longest(const int *lengths, int n)
{
    int T = 1;
    for (int i = 0; i < n; i++)
        T = lengths[i] > T ? lengths[i] : T;
    return T;
}

/* Writes row i: the user token when the batch has them, then the len newest
 * of items[0..end) and, when with_targets is set, the item after each token
 * as its target (the user token's target is the first item shown). */
static void fill_row(struct train_seq_batch *sb, int i, int T, int user, const int *items, int end, int len,
                     int with_targets)
{
    int prefix = sb->user_token_base > 0;
    int pad = sb->pad_left ? T - len - prefix : 0;

    for (int t = 0; t < T; t++) {
        int k = t - pad - prefix; /* index among the len items; -1 is the user token */
        int valid = k >= -prefix && k < len;
        if (!valid)
            sb->tokens[i * T + t] = 0;
        else
            sb->tokens[i * T + t] = k < 0 ? sb->user_token_base + user : items[end - len + k];
        if (with_targets)
            sb->targets[i * T + t] = valid ? items[end - len + k + 1] : -1;
    }
    sb->lengths[i] = sb->pad_left ? T : len + prefix;
}

/* Items shown in a row of T positions when the user has `available`. */
static int shown_items(const struct train_seq_batch *sb, int available)
{
    int room = sb->T - (sb->user_token_base > 0);
    return available < room ? available : room;
}

void train_seq_batch_fill_train(struct train_seq_batch *sb, const struct train_sequences *s, const int *users, int n)
{
    int prefix = sb->user_token_base > 0;

    for (int i = 0; i < n; i++)
        sb->lengths[i] = shown_items(sb, train_split_train_length(s, users[i]) - 1) + prefix;
    int T = sb->pad_left ? sb->T : longest(sb->lengths, n);

    for (int i = 0; i < n; i++) {
        const int *items = s->items + s->offsets[users[i]];
        int end = train_split_train_length(s, users[i]) - 1; /* inputs end before the last training item */
        fill_row(sb, i, T, users[i], items, end, sb->lengths[i] - prefix, 1);
    }
    set_batch(sb, n, T, 1);
}

void train_seq_batch_fill_eval(struct train_seq_batch *sb, const struct train_sequences *s, const int *users, int n,
                               enum train_holdout holdout)
{
    int prefix = sb->user_token_base > 0;
    int extra = holdout == TRAIN_HOLDOUT_TEST ? 1 : 0;

    for (int i = 0; i < n; i++)
        sb->lengths[i] = shown_items(sb, train_split_train_length(s, users[i]) + extra) + prefix;
    int T = sb->pad_left ? sb->T : longest(sb->lengths, n);

    for (int i = 0; i < n; i++) {
        const int *items = s->items + s->offsets[users[i]];
        int end = train_split_train_length(s, users[i]) + extra;
        fill_row(sb, i, T, users[i], items, end, sb->lengths[i] - prefix, 0);
    }
    set_batch(sb, n, T, 0);
}

/* Source of replacement tokens: a draw function and its table. */
struct replace_source {
    int (*draw)(const struct replace_source *source, uint64_t *rng);
    int first, count;  /* uniform: ids first .. first + count - 1 */
    const double *cdf; /* weighted: cdf[0..count], ids 1 .. count */
};

static int draw_uniform(const struct replace_source *source, uint64_t *rng)
{
    return source->first + (int)(train_random_next(rng) % (uint64_t)source->count);
}

static int draw_weighted(const struct replace_source *source, uint64_t *rng)
{
    return train_draw_cdf(source->cdf, source->count, rng);
}

/* Replaces each input token (> 0, not a user token) with probability p by a
 * draw from source. */
static int replace_each(struct train_seq_batch *sb, float p, const struct replace_source *source, uint64_t *rng)
{
    int replaced = 0;
    size_t n = (size_t)sb->batch.B * sb->batch.T;
    int users_from = sb->user_token_base > 0 ? sb->user_token_base : INT_MAX;

    for (size_t i = 0; i < n; i++) {
        if (sb->tokens[i] <= 0 || sb->tokens[i] >= users_from || train_random_uniform(rng) >= p)
            continue;
        sb->tokens[i] = source->draw(source, rng);
        replaced++;
    }
    return replaced;
}

int train_seq_batch_replace_inputs(struct train_seq_batch *sb, int n_items, float p, uint64_t *rng)
{
    struct replace_source source = {.draw = draw_uniform, .first = 1, .count = n_items};

    if (p <= 0.0f || n_items < 1)
        return 0;
    return replace_each(sb, p, &source, rng);
}

int train_seq_batch_replace_inputs_cdf(struct train_seq_batch *sb, const double *cdf, int n_items, float p,
                                       uint64_t *rng)
{
    struct replace_source source = {.draw = draw_weighted, .count = n_items, .cdf = cdf};

    if (p <= 0.0f || n_items < 1 || !(cdf[n_items] > 0.0))
        return 0;
    return replace_each(sb, p, &source, rng);
}

int train_seq_batch_noise_inputs(struct train_seq_batch *sb, int first_token, int n_tokens, float p, uint64_t *rng)
{
    struct replace_source source = {.draw = draw_uniform, .first = first_token, .count = n_tokens};

    if (p <= 0.0f || n_tokens < 1)
        return 0;
    return replace_each(sb, p, &source, rng);
}

int train_seq_batch_replace_users(struct train_seq_batch *sb, int n_users, float p, uint64_t *rng)
{
    int replaced = 0, T = sb->batch.T;

    if (sb->user_token_base <= 0 || p <= 0.0f || n_users < 1)
        return 0;
    for (int i = 0; i < sb->batch.B; i++) {
        /* right padding starts the row with the user token; left padding puts it after the padding */
        int t = 0;
        while (sb->pad_left && t < T - 1 && sb->tokens[i * T + t] == 0)
            t++;
        int *token = &sb->tokens[i * T + t];
        if (train_random_uniform(rng) >= p)
            continue;
        *token = sb->user_token_base + (int)(train_random_next(rng) % (uint64_t)n_users);
        replaced++;
    }
    return replaced;
}

int *train_split_training_counts(const struct train_sequences *s)
{
    int *counts = calloc((size_t)s->n_items + 1, sizeof(int));

    if (!counts)
        return NULL;
    for (int u = 0; u < s->n_users; u++) {
        const int *items = s->items + s->offsets[u];
        int len = train_split_train_length(s, u);
        for (int j = 0; j < len; j++)
            counts[items[j]]++;
    }
    return counts;
}

double *train_split_count_cdf(const struct train_sequences *s, double exponent)
{
    double *cdf = calloc((size_t)s->n_items + 1, sizeof(double));
    int *counts = train_split_training_counts(s);

    if (!cdf || !counts) {
        free(cdf);
        free(counts);
        return NULL;
    }
    for (int i = 1; i <= s->n_items; i++)
        cdf[i] = cdf[i - 1] + pow(1.0 + counts[i], exponent);
    free(counts);
    return cdf;
}

/* The first id whose cumulative weight exceeds a uniform draw. */
int train_draw_cdf(const double *cdf, int n, uint64_t *rng)
{
    double draw = train_random_uniform(rng) * cdf[n];
    int low = 1, high = n;

    while (low < high) {
        int mid = low + (high - low) / 2;
        if (cdf[mid] > draw)
            high = mid;
        else
            low = mid + 1;
    }
    return low;
}

void train_shuffle(int *a, int n, uint64_t *rng)
{
    for (int i = n - 1; i > 0; i--) {
        int j = (int)(train_random_next(rng) % (uint64_t)(i + 1));
        int t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}
