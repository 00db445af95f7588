/*
 * The training objective: the sum of the mean losses of every part that has
 * targets in a batch. Item scores at each encoder position are dot products
 * with the embedding rows [item_begin, item_end) (no bias); the decoder's next
 * token uses generator.weight (the embedding when tied) and generator.bias;
 * the action, category, sentiment and propensity heads read the pooled state:
 * the encoder.norm output at the last valid position (causal encoder) or its
 * mean over the valid positions (bidirectional), as model_pool does.
 */
#ifndef INTENTD_TRAIN_OBJECTIVE_H
#define INTENTD_TRAIN_OBJECTIVE_H

#include "train_model.h"

/* Computes m->losses from the stored forward activations. When want_grad is
 * set, also accumulates the loss-layer parameter gradients into m->grads and
 * writes the gradients of the encoder and decoder outputs to m->d_enc_out and
 * m->d_dec_out. Targets must lie in their class ranges (items in
 * [item_begin, item_end), tokens in [0, vocab_size), labels below the head size). */
float train_objective_forward(struct train_model *m, const struct train_batch *b, int want_grad);

#endif
