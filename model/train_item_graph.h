/*
 * Item-graph smoothing of the item embeddings: every item's row mixes its
 * own vector with the mean own vector of the items next to it in the
 * training sequences,
 *
 *     row_i = (1 - beta_i) own_i + beta_i * sum_j w_ij own_j,  beta_i = alpha * shrink / (shrink + count_i),
 *
 * where w_ij is the share of item i's neighbour occurrences that are item j
 * (items at most `window` positions apart in a user's training part, the
 * `max_neighbors` most frequent kept) and count_i its training count. An
 * item seen once or twice has had few updates of its own. Its neighbours
 * have had many, so with alpha 0.5 they give close to half of its row. A
 * popular item's row stays close to its own vector.
 *
 * The model keeps the smoothed rows in its embedding table, so the forward
 * pass, the saved weights and inference are unchanged. Around each
 * optimizer step the trainer turns the gradient of the rows into the
 * gradient of the own vectors (train_item_graph_backward), lets the
 * optimizer update the own vectors in the table (train_item_graph_load_own)
 * and writes the smoothed rows back (train_item_graph_compose).
 */
#ifndef INTENTD_TRAIN_ITEM_GRAPH_H
#define INTENTD_TRAIN_ITEM_GRAPH_H

#include <stdio.h>

#include "train_data.h"

struct train_item_graph_config {
    int window;        /* neighbours are the items at most this many positions apart; 0 turns the graph off */
    int max_neighbors; /* most frequent neighbours kept per item; 0 keeps all */
    float alpha;       /* weight of the neighbour mean for an item never seen, in (0, 1] */
    float shrink;      /* training count at which that weight halves */
};

/* Sparse rows in compressed form: the entries of item i are
 * [offsets[i], offsets[i + 1]) of neighbor and weight. The in_ arrays list
 * the same entries by neighbour, so that item j's entries name the items
 * whose rows use j. */
struct train_item_graph {
    int n_items, d;
    long *offsets;    /* [n_items + 2] */
    int *neighbor;
    float *weight;    /* beta_i * w_ij */
    long *in_offsets; /* [n_items + 2] */
    int *in_item;
    float *in_weight;
    float *self;      /* [n_items + 1] 1 - beta_i, or 1 for an item without neighbours */
    float *own;       /* [n_items + 1, d] own vectors, row i for item i */
    float *scratch;   /* [n_items + 1, d] */
    int threads;      /* threads of compose and backward, whose result does not depend on it; 1 after init */
};

/* Checks config: a window of 1 or more, max_neighbors 0 or more, alpha in
 * (0, 1] and a finite shrink above 0. Returns 0, or -1 with a message in
 * error[MODEL_ERROR_SIZE]. */
int train_item_graph_check(const struct train_item_graph_config *config, char *error);

/* Builds the graph from the training part of s and takes the item rows of
 * embedding (row i for item i, d floats each) as the own vectors, then
 * writes the smoothed rows into embedding. Returns 0, or -1 with a message
 * in error[MODEL_ERROR_SIZE]. */
int train_item_graph_init(struct train_item_graph *g, const struct train_sequences *s,
                          const struct train_item_graph_config *config, float *embedding, int d, char *error);
void train_item_graph_free(struct train_item_graph *g);

/* Smooths the item rows of embedding once, in place: a graph is built,
 * applied and freed. Returns 0, or -1 with a message in
 * error[MODEL_ERROR_SIZE], leaving embedding unchanged. */
int train_item_graph_smooth(const struct train_sequences *s, const struct train_item_graph_config *config,
                            float *embedding, int d, char *error);

/* Replaces the gradient of the smoothed rows by the gradient of the own
 * vectors: g_own_j = (1 - beta_j) g_j + sum_i beta_i w_ij g_i. */
void train_item_graph_backward(struct train_item_graph *g, float *grad_embedding);

/* Copies the own vectors into the item rows of embedding, for the optimizer. */
void train_item_graph_load_own(const struct train_item_graph *g, float *embedding);

/* Takes the item rows of embedding as the new own vectors and writes the
 * smoothed rows in their place. */
void train_item_graph_compose(struct train_item_graph *g, float *embedding);

/* Write and read the checkpoint state, the own vectors. Both return 0, or
 * -1 on a short write or read. */
int train_item_graph_write(const struct train_item_graph *g, FILE *out);
int train_item_graph_read(struct train_item_graph *g, FILE *in);

#endif
