/*
 * Decoder forward passes: a full pass over whole target sequences (teacher
 * forcing, parity tests, generation by recompute) and a cached step that adds
 * one token per row, for generation at O(length) per token.
 *
 * The decoder input uses the shared embedding scaled by sqrt(d_model) plus
 * the sinusoidal encoding (model.h). Logits come from the output projection
 * (generator.weight, or embedding.weight when config.tie_output) plus
 * generator.bias, after decoder.norm.
 */
#ifndef INTENTD_MODEL_DECODER_H
#define INTENTD_MODEL_DECODER_H

#include "arena.h"
#include "model.h"

/*
 * Full decoder pass. memory: [batch, src_len, d] encoder output, of which
 * sequence b uses rows 0 .. memory_lengths[b]-1 (the rest is masked).
 * tgt: [batch, tgt_len] token ids, causally masked. logits: [batch, tgt_len, vocab].
 * Reserves and uses arena. Returns 0, or -1 with a message.
 */
int model_decode(const struct model *model, struct model_arena *arena, const float *memory,
                 const int *memory_lengths, int batch, int src_len, const int *tgt, int tgt_len, float *logits,
                 char *error);

/*
 * Incremental decoding state for rows target sequences that share one
 * memory (the beams of one user): per layer, self-attention keys and values
 * [rows, capacity, d] and cross-attention keys and values [mem_len, d].
 * Owns its buffers; not thread-safe; one state per generation.
 */
struct model_decoder_state {
    int rows;
    int capacity;   /* max target tokens */
    int length;     /* tokens decoded so far in every row */
    int mem_len;
    float *self_k[MODEL_MAX_LAYERS], *self_v[MODEL_MAX_LAYERS];
    float *cross_k[MODEL_MAX_LAYERS], *cross_v[MODEL_MAX_LAYERS];
    float *scratch;  /* [rows, capacity, d] for model_decoder_state_reorder */
    float *x;        /* [rows, d] residual stream of the current step */
    int *mem_lengths; /* [rows], all mem_len */
    struct model_arena arena; /* step workspace */
    /* Token range of the logits. When logit_end > logit_begin, a step
     * computes tokens [logit_begin, logit_end) and logit_extra (if >= 0) and
     * sets the others to -INFINITY, so generation limited to those tokens
     * skips most of the output projection. Init sets 0, 0, -1 (every token). */
    int logit_begin, logit_end, logit_extra;
    float *logit_slice; /* [rows, logit_end - logit_begin + 1] scratch of the restricted logits */
    /* Rows that need logits. When > 0, a step computes rows 0 .. logit_rows-1
     * and sets the other rows to -INFINITY, because beam search ignores dead
     * beams (at the first step every beam but one is dead). */
    int logit_rows;
};

/* Allocates the state and projects memory[mem_len, d] to cross-attention keys
 * and values for every layer. Returns 0, or -1 with a message. */
int model_decoder_state_init(const struct model *model, struct model_decoder_state *state, int rows,
                             int capacity, const float *memory, int mem_len, char *error);

/* Decodes one token per row: tokens[rows] at position state->length;
 * writes logits[rows, vocab] and advances length. Returns 0, or -1 when the
 * state is full or a token is invalid. */
int model_decoder_step(const struct model *model, struct model_decoder_state *state, const int *tokens,
                       float *logits, char *error);

/* Limits the logits of later steps to tokens [begin, end) plus extra (-1:
 * none); begin >= end restores every token. The masked entries are
 * -INFINITY, exactly as a constraint that forbids them would leave them.
 * When the scratch for the range cannot be allocated, every token stays. */
void model_decoder_state_restrict(struct model_decoder_state *state, int begin, int end, int extra);

/* Makes row r continue the history of row parents[r] (beam search). */
void model_decoder_state_reorder(const struct model *model, struct model_decoder_state *state, const int *parents);

/* Frees the buffers; safe on a zeroed struct. */
void model_decoder_state_free(struct model_decoder_state *state);

/* logits[rows, vocab] = x[rows, d] after decoder.norm times the output projection. */
void model_decoder_logits(const struct model *model, float *x, int rows, float *logits);

#endif
