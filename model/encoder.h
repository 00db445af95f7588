/*
 * Batched encoder forward pass and the output heads on the intent embedding.
 */
#ifndef INTENTD_MODEL_ENCODER_H
#define INTENTD_MODEL_ENCODER_H

#include "arena.h"
#include "model.h"

/*
 * Encodes batch sequences of up to seq_len tokens in one call.
 * tokens: [batch, seq_len]; sequence b uses tokens[b, 0 .. lengths[b]-1] and
 * the rest is padding (ignored, may hold any value). lengths[b] may be 0.
 * Padded keys are masked; in causal mode (config.encoder_mode) position t
 * also attends to positions 0 .. t only. The result is after encoder.norm.
 *
 * hidden: [batch, seq_len, d] or NULL. Rows at padded positions hold finite
 * values that carry no meaning.
 * pooled: [batch, d] or NULL, the intent embedding of each sequence:
 *   causal mode:        the hidden state at the last position, lengths[b]-1,
 *                       which has seen the whole sequence;
 *   bidirectional mode: the mean of hidden states over positions < lengths[b].
 *   A sequence of length 0 pools to a zero vector.
 *
 * arena is reserved (grown if needed, then reset) by this call; the outputs
 * are written to the caller's buffers. Returns 0, or -1 with a message.
 */
int model_encode(const struct model *model, struct model_arena *arena, const int *tokens, const int *lengths,
                 int batch, int seq_len, float *hidden, float *pooled, char *error);

/* Bytes of arena that model_encode needs for this batch shape. */
size_t model_encode_arena_bytes(const struct model_config *config, int batch, int seq_len);

/* Computes the intent embedding of one sequence from its hidden states [length, d]. */
void model_pool(const struct model_config *config, const float *hidden, int length, float *pooled);

/* Outputs of the heads for batch intent embeddings; NULL fields are skipped. */
struct model_head_outputs {
    float *item_scores;      /* [batch, item_end - item_begin]: dot with embedding rows */
    float *action_logits;    /* [batch, n_actions] */
    float *category_logits;  /* [batch, n_categories] */
    float *sentiment_logits; /* [batch, n_sentiments] */
    float *propensity;       /* [batch]: sigmoid(heads.propensity) */
};

/* Applies the heads to pooled[batch, d]. */
void model_heads(const struct model *model, const float *pooled, int batch, const struct model_head_outputs *out);

#endif
