#ifndef INTENTD_MODEL_ITEM_SCORER_H
#define INTENTD_MODEL_ITEM_SCORER_H

#include "model.h"

/*
 * Item logits of the intent head: logits[r][i] = pooled[r] . embedding[item_begin + i]
 * for every item token, with each row's log-sum-exp. The processor scores all
 * items (about 10^4) for every intent it sends. On AVX-512 CPUs this runs from
 * a copy of the item embeddings packed once per model into panels of 16 items,
 * so no call repacks them as sgemm does. Each row's maximum and exponential
 * sum are taken while a block of scores is still in cache, not in two more
 * passes over the rows.
 */

/* Packs the item embeddings of m into m->item_panels. Call it after the
 * weights are final (a model being trained would leave the copy stale).
 * Without AVX-512 it packs nothing and model_item_logits uses sgemm.
 * Returns 0, or -1 with a message in error. */
int model_item_panels_build(struct model *m, char *error);

/* Fills logits[rows][n_items] and lse[rows] (log of the softmax normaliser of
 * each row) from pooled[rows][d_model]. Uses the packed panels when present,
 * else sgemm and model_logsumexp; both give the same values up to the order
 * of float additions. */
void model_item_logits(const struct model *m, const float *pooled, int rows, float *logits, float *lse);

#endif
