/*
 * Next-item losses over sampled negatives, an alternative to the softmax over
 * every item. Each batch draws one set of K negative items uniformly from
 * [item_begin, item_end), or with the weights of train_model.negative_cdf,
 * shared by every position of the batch. A negative equal to a position's
 * target is left out for that position. With weighted draws the sampled
 * softmax subtracts log(K q_i) from every logit, the target's included; the
 * BCE loss keeps its logits.
 *
 *   sampled softmax: loss = log(exp(s_t) + sum_k exp(s_k)) - s_t
 *   BCE (SASRec):    loss = softplus(-s_t) + mean_k softplus(s_k)
 *
 * where s is the dot product of the encoder output with an item's embedding
 * row. With uniform negatives both push the target above items drawn the way
 * the SASRec evaluation draws its 100 negatives, and a step costs K instead
 * of vocab-size dot products per position.
 */
#ifndef INTENTD_TRAIN_SAMPLED_H
#define INTENTD_TRAIN_SAMPLED_H

#include "train_model.h"

/* Mean loss over the encoder positions of b with an item target >= 0, with
 * the negatives drawn from m->rng. When want_grad is set, accumulates the
 * embedding gradient into m->grads and the loss gradient of the encoder
 * output into m->d_enc_out. Sets m->losses.item_count. Needs the buffers of
 * train_model_set_item_loss. */
float train_sampled_item_loss(struct train_model *m, const struct train_batch *b, int want_grad);

#endif
