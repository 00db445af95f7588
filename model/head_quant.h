#ifndef INTENTD_MODEL_HEAD_QUANT_H
#define INTENTD_MODEL_HEAD_QUANT_H

#include "model.h"

/*
 * The intent's wide output heads (items, about 10^4 rows, and categories,
 * about 4 * 10^3) in two stages. Stage one scores every output with AVX-512
 * VNNI from an int8 copy of the head's weight rows (one scale per row) and an
 * 8-bit copy of the pooled vector (one scale per vector). That takes a
 * quarter of the instructions and of the bytes of float. Stage two proves which
 * outputs can still be among the k best. From the two scales it bounds the
 * error of every int8 logit. Every output whose int8 logit lies within
 * twice that bound of the k-th best is scored again in float. The k best
 * outputs and their logits are therefore those of the float head (up to the
 * order of float additions); the other logits, and through them the
 * log-sum-exp, keep the int8 rounding.
 */

struct head_quant;

/* Builds m->item_quant (item embedding rows) and m->category_quant (category
 * head with its bias). Without AVX-512 VNNI, or when d_model is not a
 * multiple of 4, builds nothing and the functions below score in float.
 * Returns 0, or -1 with a message in error. */
int model_quant_heads_build(struct model *m, char *error);

void model_head_quant_free(struct head_quant *q);

/* Fills logits and lse like model_item_logits, with a weaker contract that
 * makes it cheaper. The callers list only the first n_ranked items of each
 * row, because later item tokens are hash buckets. Among those, the k largest
 * logits, and every logit that could be among them, are float dot products.
 * Any other logit may be off by up to the row's int8 error bound, and lse[r]
 * is the log-sum-exp of the logits as stored. When top is not NULL,
 * top[r * k + j] is the index of row r's j-th best ranked logit (best first;
 * -1 past n_ranked), with k at most 32. k above 32, or a model without
 * m->item_quant, scores everything in float. Returns the number of logits
 * computed in float. */
long model_item_logits_top(const struct model *m, const float *pooled, int rows, float *logits, float *lse, int k,
                           int n_ranked, int *top);

/* The same for the category head: logits[rows][n_categories] with its bias,
 * the k best of the first n_ranked categories exact. */
long model_category_logits_top(const struct model *m, const float *pooled, int rows, float *logits, float *lse, int k,
                               int n_ranked, int *top);

#endif
