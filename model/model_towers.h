/*
 * A model of towers: n encoder-only members of one shape, trained apart
 * from their own initial weights, packed into one model. Every inference
 * path (full encode, key/value cache, item scorer, int8 heads) runs it as
 * it runs any model.
 *
 * Members differ only in their initial weights and dropout draws, so each
 * ranks items a little differently. The mean of their logits ranks better
 * than any one of them (tests/bench/RESULTS.md, the games ensembles).
 *
 * Layout of the packed model, for member width w, heads h and d_ff f:
 * d_model = n * w, n_heads = n * h, d_ff = n * f, config.towers = n. Tower g
 * owns columns [g * w, (g + 1) * w) of the embedding table and of every
 * activation; its projections are the diagonal blocks of the packed
 * matrices (q, k and v each blocked on their own), and the blocks between
 * towers are zero, so no tower reads another's activations. Layer norms,
 * the embedding scale and the positional encoding work per tower
 * (model_config.towers). The final norm's weight and bias are divided by n,
 * so the intent embedding is the members' final states concatenated and
 * scaled by 1 / n: item scores and every head's logits are the mean of the
 * members' logits (the heads' biases are averaged).
 *
 * Cost: the projections multiply only the diagonal blocks
 * (model_linear_blocks), so compute, the intent embedding and the
 * key/value caches are about n times a member's. The file stores the zero
 * blocks, so the layer weights take n^2 times a member's bytes.
 */
#ifndef INTENTD_MODEL_TOWERS_H
#define INTENTD_MODEL_TOWERS_H

#include "model.h"

#define MODEL_MAX_TOWERS 16

/* Packs the members' weights (params[n], all with the layout of member,
 * a config of one tower and no decoder) into a new model owned by out.
 * Returns 0, or -1 with a message in error[MODEL_ERROR_SIZE] naming the
 * member or tensor at fault. */
int model_towers_pack(const struct model_params *const *params, int n, const struct model_config *member,
                      struct model *out, char *error);

#endif
