/* Helpers shared by generate.c and generate_select.c; not part of the API. */
#ifndef INTENTD_MODEL_GENERATE_INTERNAL_H
#define INTENTD_MODEL_GENERATE_INTERNAL_H

#include <stdint.h>

#include "generate.h"

struct generate_candidate {
    float logit;
    int id;
};

/* Index of the largest finite logit, or -1 when every token is masked. */
int generate_argmax(const float *logits, int vocab);

/* In place: logits become log-probabilities; masked (-inf) entries stay -inf. */
void generate_log_softmax(float *logits, int vocab);

/* splitmix64 step. */
uint64_t generate_random(uint64_t *state);

/* Draws a token from logits[vocab] with temperature, top-k and top-p from o;
 * order is scratch [vocab]. Returns -1 when every token is masked. */
int generate_sample(float *logits, int vocab, const struct model_generate_options *o,
                    struct generate_candidate *order, uint64_t *rng);

#endif
