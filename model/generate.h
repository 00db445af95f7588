/*
 * Offer generation with the decoder: greedy, beam search, and top-k / top-p
 * sampling, attending to one user's encoder output.
 *
 * The decoder input starts with options.bos; generated tokens follow. A
 * sequence ends when it emits options.eos or reaches options.max_tokens.
 * Constraints mask logits before every choice.
 */
#ifndef INTENTD_MODEL_GENERATE_H
#define INTENTD_MODEL_GENERATE_H

#include <stdint.h>

#include "arena.h"
#include "model.h"

enum model_generate_method {
    MODEL_GENERATE_GREEDY = 0,
    MODEL_GENERATE_BEAM = 1,
    MODEL_GENERATE_SAMPLE = 2, /* top-k and / or top-p with temperature */
};

/* Called after the built-in constraints with the tokens generated so far in
 * this sequence (bos excluded); set logits[id] = -INFINITY to forbid id. */
typedef void (*model_constraint_fn)(void *user, const int *tokens, int n_tokens, float *logits, int vocab);

struct model_constraints {
    const int *banned;     /* token ids never generated (items already bought) */
    int n_banned;
    int no_repeat;         /* 1: a token appears at most once per sequence */
    const int *prefix;     /* the sequence must start with these tokens */
    int prefix_len;
    int allowed_begin;     /* when allowed_end > allowed_begin, only tokens in */
    int allowed_end;       /* [allowed_begin, allowed_end) and eos may be generated */
    int min_tokens;        /* eos is forbidden until this many tokens were generated (bos excluded) */
    model_constraint_fn hook;
    void *hook_user;
};

struct model_generate_options {
    enum model_generate_method method;
    int max_tokens;        /* generated tokens, bos excluded */
    int bos, eos;
    int beam_width;        /* beam search: beams kept per step */
    int top_k;             /* sampling: keep the k most likely tokens (0: all) */
    float top_p;           /* sampling: keep the smallest set with probability >= top_p (1: all) */
    float temperature;     /* sampling: logits are divided by it; must be > 0 */
    uint64_t seed;         /* sampling: same seed, same output */
    int use_cache;         /* 1: key/value cache, O(length) per token; 0: recompute the whole prefix */
    struct model_constraints constraints;
};

/* Fills options with: greedy, max_tokens 8, bos 0, eos 1, beam_width 4,
 * top_k 0, top_p 1, temperature 1, seed 0, use_cache 1, no constraints. */
void model_generate_defaults(struct model_generate_options *options);

/*
 * Generates one sequence for memory[mem_len, d] (one user's encoder hidden
 * states). Writes up to options->max_tokens ids to tokens (eos included when
 * emitted), their count to *n_tokens and the sum of log-probabilities of the
 * chosen tokens (after masking) to *score (may be NULL). arena is scratch for
 * the recompute path. Returns 0, or -1 with a message.
 */
int model_generate(const struct model *model, struct model_arena *arena, const float *memory, int mem_len,
                   const struct model_generate_options *options, int *tokens, int *n_tokens, float *score,
                   char *error);

/* Applies the constraints to logits[vocab] of a sequence that has generated
 * tokens[n] so far (step n). */
void model_apply_constraints(const struct model_constraints *constraints, int eos, const int *tokens, int n,
                             float *logits, int vocab);

#endif
