/*
 * The last emitted embedding of a user (struct state_embedding in
 * state_store.h): int8 quantisation of a pooled vector and its cosine
 * distance to a new one, for intents.emit on_move.
 *
 * Quantisation uses one symmetric scale per vector, max |v_i| / 127, so each
 * component is off by at most scale / 2. Cosine distance does not depend on
 * the scale. With d_model 64, a vector's distance to its own int8 copy was
 * at most 1.2e-5 over 1,000 random vectors (test_state_embedding). A spiky
 * vector does worse: one large component and the rest just under half a
 * rounding step gives about (d - 1) / (2 * 254^2), 4.9e-4 at d_model 64. A
 * min_move below about 5e-4 may therefore count an unchanged vector as moved.
 */
#ifndef INTENTD_STATE_EMBEDDING_H
#define INTENTD_STATE_EMBEDDING_H

#include "state_store.h"

/* Stores v[dim] in slot, which has room for dim values. A vector that is all
 * zero or has a non-finite component stores none (scale 0), because no
 * direction can be compared with it. */
void state_embedding_store(struct state_embedding *slot, const float *v, int dim);

/* Marks the slot as empty: no vector stored. */
void state_embedding_clear(struct state_embedding *slot);

/* Returns 1 if the slot contains a vector, else 0. */
int state_embedding_present(const struct state_embedding *slot);

/* Returns the cosine distance 1 - cos(stored, v) of v[dim] to the stored
 * vector, clamped to 0..2. Returns -1 if the slot contains no vector or v has no
 * direction (all zero or not finite), so no distance can be measured. */
double state_embedding_distance(const struct state_embedding *slot, const float *v, int dim);

#endif
