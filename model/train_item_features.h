/*
 * Shared item-feature embeddings: every item's embedding row is the sum of
 * its own vector and one learned vector per feature, chosen by the item's
 * bin. Items seen only a few times in training get most of their
 * representation from the vectors they share with similar items. A rarely
 * seen item is then more than noise pushed away as a negative.
 *
 * Features, from the training part of every user:
 *   popularity: floor(log2(training count)), at most
 *               TRAIN_ITEM_POPULARITY_BINS - 1. Items never seen in training
 *               share bin 0 with the items seen once.
 *   recency:    the share of an item's training occurrences that fall in the
 *               last tail_span positions of a user's training part, in
 *               TRAIN_ITEM_RECENCY_BINS bins. Items bought late in many
 *               histories are new in the catalogue, and the held-out items
 *               are the newest of all.
 *
 * The model keeps the summed rows in its embedding table, so the forward
 * pass, the saved weights and inference are unchanged. The optimizer
 * updates the sums as if they were the own vectors, which is exact when the
 * embedding is not weight-decayed. train_item_features_step then updates
 * the shared vectors with Adam from the summed gradient of their items, and
 * adds the change to every item row of the bin.
 */
#ifndef INTENTD_TRAIN_ITEM_FEATURES_H
#define INTENTD_TRAIN_ITEM_FEATURES_H

#include <stdio.h>

#include "train_data.h"

#define TRAIN_ITEM_FEATURES 2
#define TRAIN_ITEM_POPULARITY_BINS 16
#define TRAIN_ITEM_RECENCY_BINS 6

struct train_item_features {
    int n_items, d;
    int n_bins[TRAIN_ITEM_FEATURES];
    int *bin[TRAIN_ITEM_FEATURES];      /* [n_items + 1] bin of item i at index i */
    float *vectors[TRAIN_ITEM_FEATURES]; /* [n_bins, d] shared vectors, starting at 0 */
    float *m[TRAIN_ITEM_FEATURES], *v[TRAIN_ITEM_FEATURES]; /* Adam moments */
    float *grad;                        /* [largest n_bins, d] scratch */
    long step;
};

/* Bins the items of s by the features above. Returns 0, or -1 with a message
 * in error[MODEL_ERROR_SIZE]. */
int train_item_features_init(struct train_item_features *f, const struct train_sequences *s, int d, int tail_span,
                             char *error);
void train_item_features_free(struct train_item_features *f);

/* Applies one Adam update at learning rate lr to the shared vectors, from
 * the clipped gradient of the embedding rows (grad_embedding, item i at row
 * i), and adds the same change to every item row of embedding. */
void train_item_features_step(struct train_item_features *f, float *embedding, const float *grad_embedding, float lr,
                              float beta1, float beta2, float eps);

/* Write and read the checkpoint state: step, then vectors, m and v of each
 * feature. Both return 0, or -1 on a short write or read. */
int train_item_features_write(const struct train_item_features *f, FILE *out);
int train_item_features_read(struct train_item_features *f, FILE *in);

#endif
