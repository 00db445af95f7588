#include "train_item_graph.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

struct neighbor_count {
    int item, count;
};

static int compare_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Orders the most frequent neighbours first, equal counts by item id, so the
 * neighbours kept are the same on every run. */
static int compare_neighbor(const void *a, const void *b)
{
    const struct neighbor_count *x = a, *y = b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return x->item < y->item ? -1 : x->item > y->item;
}

/* Collects every ordered pair (i, j) of items at most window positions
 * apart in a training part, as i * (n_items + 1) + j, sorted. Returns the
 * pair count, or -1 when out of memory. */
static long collect_pairs(const struct train_sequences *s, int window, uint64_t **pairs_out)
{
    long n = 0;

    for (int u = 0; u < s->n_users; u++) {
        long len = train_split_train_length(s, u);

        for (long p = 0; p < len; p++)
            n += (p < window ? p : window) + (len - 1 - p < window ? len - 1 - p : window);
    }
    uint64_t *pairs = malloc((size_t)(n > 0 ? n : 1) * sizeof *pairs);
    if (!pairs)
        return -1;

    long k = 0;
    uint64_t stride = (uint64_t)s->n_items + 1;
    for (int u = 0; u < s->n_users; u++) {
        const int *items = s->items + s->offsets[u];
        int len = train_split_train_length(s, u);
        for (int p = 0; p < len; p++)
            for (int q = p - window; q <= p + window; q++)
                if (q >= 0 && q < len && q != p)
                    pairs[k++] = (uint64_t)items[p] * stride + (uint64_t)items[q];
    }
    qsort(pairs, (size_t)n, sizeof *pairs, compare_u64);
    *pairs_out = pairs;
    return n;
}

/* Turns one item's run of sorted pairs into its neighbours, with weights
 * beta * count / (total count of the neighbours kept), appended at
 * g->neighbor[*next]. counts is scratch for n entries. */
static void add_row(struct train_item_graph *g, const struct train_item_graph_config *c, int item,
                    const uint64_t *pairs, long n, int training_count, struct neighbor_count *counts, long *next)
{
    uint64_t stride = (uint64_t)g->n_items + 1;
    int distinct = 0;

    for (long k = 0; k < n; k++) {
        int j = (int)(pairs[k] % stride);
        if (distinct > 0 && counts[distinct - 1].item == j)
            counts[distinct - 1].count++;
        else
            counts[distinct++] = (struct neighbor_count){j, 1};
    }
    qsort(counts, (size_t)distinct, sizeof *counts, compare_neighbor);

    int n_neighbors = distinct;
    if (c->max_neighbors > 0 && n_neighbors > c->max_neighbors)
        n_neighbors = c->max_neighbors;
    long total = 0;
    for (int k = 0; k < n_neighbors; k++)
        total += counts[k].count;

    float beta = c->alpha * c->shrink / (c->shrink + (float)training_count);
    g->self[item] = 1.0f - beta;
    for (int k = 0; k < n_neighbors; k++) {
        g->neighbor[*next] = counts[k].item;
        g->weight[*next] = beta * (float)counts[k].count / (float)total;
        (*next)++;
    }
}

static int build(struct train_item_graph *g, const struct train_sequences *s, const struct train_item_graph_config *c)
{
    uint64_t *pairs = NULL;
    long n = collect_pairs(s, c->window, &pairs);
    int *count = train_split_training_counts(s);
    struct neighbor_count *counts = malloc((size_t)(n > 0 ? n : 1) * sizeof *counts);
    g->neighbor = malloc((size_t)(n > 0 ? n : 1) * sizeof(int));
    g->weight = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    if (n < 0 || !count || !counts || !g->neighbor || !g->weight) {
        free(pairs);
        free(count);
        free(counts);
        return -1;
    }

    uint64_t stride = (uint64_t)g->n_items + 1;
    long begin = 0, next = 0;
    for (int i = 0; i <= g->n_items; i++) {
        g->offsets[i] = next;
        long end = begin;
        while (end < n && pairs[end] / stride == (uint64_t)i)
            end++;
        if (i > 0 && end > begin)
            add_row(g, c, i, pairs + begin, end - begin, count[i], counts, &next);
        begin = end;
    }
    g->offsets[g->n_items + 1] = next;

    free(pairs);
    free(count);
    free(counts);
    return 0;
}

/* Lists the entries of every row by neighbour, so that the gradient map
 * gathers into each own vector instead of scattering into it. */
static int transpose(struct train_item_graph *g)
{
    long n = g->offsets[g->n_items + 1];
    long *fill = calloc((size_t)g->n_items + 2, sizeof(long));
    g->in_offsets = calloc((size_t)g->n_items + 2, sizeof(long));
    g->in_item = malloc((size_t)(n > 0 ? n : 1) * sizeof(int));
    g->in_weight = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    if (!fill || !g->in_offsets || !g->in_item || !g->in_weight) {
        free(fill);
        return -1;
    }

    for (long k = 0; k < n; k++)
        g->in_offsets[g->neighbor[k] + 1]++;
    for (int j = 0; j <= g->n_items; j++)
        g->in_offsets[j + 1] += g->in_offsets[j];
    for (int i = 1; i <= g->n_items; i++)
        for (long k = g->offsets[i]; k < g->offsets[i + 1]; k++) {
            int j = g->neighbor[k];
            long at = g->in_offsets[j] + fill[j]++;
            g->in_item[at] = i;
            g->in_weight[at] = g->weight[k];
        }
    free(fill);
    return 0;
}

int train_item_graph_check(const struct train_item_graph_config *c, char *error)
{
    if (c->window < 1 || c->max_neighbors < 0) {
        snprintf(error, MODEL_ERROR_SIZE,
                 "invalid item graph: window %d and max_neighbors %d; expected a window of 1 or more and 0 (all) "
                 "or more neighbours",
                 c->window, c->max_neighbors);
        return -1;
    }
    if (!(c->alpha > 0.0f && c->alpha <= 1.0f) || !(c->shrink > 0.0f && isfinite(c->shrink))) {
        snprintf(error, MODEL_ERROR_SIZE,
                 "invalid item graph: alpha %g and shrink %g; expected alpha in (0, 1] and a finite shrink above 0",
                 c->alpha, c->shrink);
        return -1;
    }
    return 0;
}

int train_item_graph_init(struct train_item_graph *g, const struct train_sequences *s,
                          const struct train_item_graph_config *config, float *embedding, int d, char *error)
{
    memset(g, 0, sizeof *g);
    if (train_item_graph_check(config, error) != 0)
        return -1;

    g->n_items = s->n_items;
    g->d = d;
    size_t rows = (size_t)s->n_items + 1;
    g->offsets = calloc(rows + 1, sizeof(long));
    g->self = malloc(rows * sizeof(float));
    g->own = malloc(rows * d * sizeof(float));
    g->scratch = malloc(rows * d * sizeof(float));
    for (size_t i = 0; g->self && i < rows; i++)
        g->self[i] = 1.0f;
    g->threads = 1;
    if (!g->offsets || !g->self || !g->own || !g->scratch || build(g, s, config) != 0 || transpose(g) != 0) {
        snprintf(error, MODEL_ERROR_SIZE, "out of memory building the item graph of %d items (window %d)",
                 s->n_items, config->window);
        train_item_graph_free(g);
        return -1;
    }

    train_item_graph_compose(g, embedding);
    return 0;
}

int train_item_graph_smooth(const struct train_sequences *s, const struct train_item_graph_config *config,
                            float *embedding, int d, char *error)
{
    struct train_item_graph g;

    if (train_item_graph_init(&g, s, config, embedding, d, error) != 0)
        return -1;
    train_item_graph_free(&g);
    return 0;
}

void train_item_graph_free(struct train_item_graph *g)
{
    free(g->offsets);
    free(g->neighbor);
    free(g->weight);
    free(g->in_offsets);
    free(g->in_item);
    free(g->in_weight);
    free(g->self);
    free(g->own);
    free(g->scratch);
    memset(g, 0, sizeof *g);
}

/* A thread's share of a row-wise mix, items [i0, i1): out_i = self_i *
 * in_i + the sum of weight_k * in_{item_k} over the entries k of row i. */
struct mix_job {
    const struct train_item_graph *g;
    const long *offsets;
    const int *item;
    const float *weight;
    const float *in;
    float *out;
    int i0, i1;
};

static void *mix_rows(void *arg)
{
    const struct mix_job *j = arg;
    int d = j->g->d;

    for (int i = j->i0; i < j->i1; i++) {
        float *row = j->out + (size_t)i * d;
        const float *own = j->in + (size_t)i * d;
        float self = j->g->self[i];
        for (int x = 0; x < d; x++)
            row[x] = self * own[x];
        for (long k = j->offsets[i]; k < j->offsets[i + 1]; k++) {
            float w = j->weight[k];
            const float *other = j->in + (size_t)j->item[k] * d;
            for (int x = 0; x < d; x++)
                row[x] += w * other[x];
        }
    }
    return NULL;
}

#define MAX_GRAPH_THREADS 16

/* Mixes items 1..n_items of in into out over g->threads threads. Each row
 * is summed in the same order by whichever thread owns it. */
static void mix(const struct train_item_graph *g, const long *offsets, const int *item, const float *weight,
                const float *in, float *out)
{
    struct mix_job jobs[MAX_GRAPH_THREADS];
    pthread_t ids[MAX_GRAPH_THREADS];
    int started[MAX_GRAPH_THREADS] = {0};
    int threads = g->threads;

    if (threads < 1)
        threads = 1;
    if (threads > MAX_GRAPH_THREADS)
        threads = MAX_GRAPH_THREADS;

    for (int t = 0; t < threads; t++)
        jobs[t] = (struct mix_job){g, offsets, item, weight, in, out, 1 + (int)((long long)g->n_items * t / threads),
                                   1 + (int)((long long)g->n_items * (t + 1) / threads)};
    for (int t = 1; t < threads; t++)
        started[t] = pthread_create(&ids[t], NULL, mix_rows, &jobs[t]) == 0;
    mix_rows(&jobs[0]);
    for (int t = 1; t < threads; t++) {
        if (started[t])
            pthread_join(ids[t], NULL);
        else
            mix_rows(&jobs[t]);
    }
}

void train_item_graph_backward(struct train_item_graph *g, float *grad_embedding)
{
    memcpy(g->scratch, grad_embedding, ((size_t)g->n_items + 1) * g->d * sizeof(float));
    mix(g, g->in_offsets, g->in_item, g->in_weight, g->scratch, grad_embedding);
}

void train_item_graph_load_own(const struct train_item_graph *g, float *embedding)
{
    memcpy(embedding, g->own, ((size_t)g->n_items + 1) * g->d * sizeof(float));
}

void train_item_graph_compose(struct train_item_graph *g, float *embedding)
{
    memcpy(g->own, embedding, ((size_t)g->n_items + 1) * g->d * sizeof(float));
    mix(g, g->offsets, g->neighbor, g->weight, g->own, embedding);
}

int train_item_graph_write(const struct train_item_graph *g, FILE *out)
{
    size_t n = ((size_t)g->n_items + 1) * g->d;
    return fwrite(g->own, sizeof(float), n, out) == n ? 0 : -1;
}

int train_item_graph_read(struct train_item_graph *g, FILE *in)
{
    size_t n = ((size_t)g->n_items + 1) * g->d;
    return fread(g->own, sizeof(float), n, in) == n ? 0 : -1;
}
