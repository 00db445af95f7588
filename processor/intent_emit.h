/*
 * The intents.emit policy: whether a user's newly computed intent goes out,
 * judged against the user's last emitted intent, and the bookkeeping of that
 * last intent once one was written.
 *
 *   every_update  every computed intent goes out.
 *   on_change     the purchase propensity moved by min_change or more, or the
 *                 top category changed.
 *   interval      interval_ms or more of event time passed since the last one.
 *   on_move       the cosine distance 1 - cos(last emitted, current) of the
 *                 embedding is more than min_move. The reference is the last
 *                 EMITTED embedding, so slow drift adds up until it fires.
 *
 * Under every policy but every_update the first intent of a user always goes
 * out. on_move also sends an intent when no comparable vector is stored: the
 * changelog record had none (version 1, or written under another policy), or
 * the model's d_model differs from the store's embedding_dim.
 */
#ifndef INTENTD_INTENT_EMIT_H
#define INTENTD_INTENT_EMIT_H

#include <stdint.h>

#include "config.h"
#include "state_store.h"

/* A newly computed intent of one user. */
struct intent_emit_candidate {
    int64_t event_ms;       /* event time of the intent (the user's newest event), Unix ms */
    float propensity;       /* purchase propensity, 0..1 */
    int32_t top_category;   /* most likely category token, -1 if none */
    const float *embedding; /* pooled vector of d_model floats */
    int d_model;
};

/* Returns 1 if the candidate goes out under cfg->intents, else 0. Reads the
 * user and the store only, so rows can be judged on several threads. */
int intent_emit_decide(const struct intentd_config *cfg, const struct state_store *store,
                       const struct state_user *user, const struct intent_emit_candidate *candidate);

/* Records a candidate that was written as the user's last emitted intent:
 * its time, propensity, top category and, when the store keeps embeddings,
 * its embedding. An embedding whose d_model differs from the store's
 * embedding_dim cannot be kept, so the stored one is cleared instead. */
void intent_emit_remember(const struct state_store *store, struct state_user *user,
                          const struct intent_emit_candidate *candidate);

#endif
