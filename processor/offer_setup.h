/*
 * Offer settings shared by intentd run and intentd eval, so that a simulated
 * campaign decides and generates offers exactly as the live job does: the
 * offer policy built from the config, and the decoder options of one rule.
 */
#ifndef INTENTD_OFFER_SETUP_H
#define INTENTD_OFFER_SETUP_H

#include <stdint.h>

#include "config.h"
#include "generate.h"
#include "model.h"
#include "offer_policy.h"
#include "tokenizer.h"

#define OFFER_MAX_ITEMS 16 /* items in one generated bundle */

/* Fills the policy options from the offers section. The global holdout
 * share stays 0 because the config loader already copies
 * offers.holdout_percent into every rule that sets none; applying both would
 * hold out about twice the configured share. */
void offer_setup_policy_options(const struct intentd_config *cfg, struct offer_policy_options *options);

/* Copies one trigger rule's policy parameters; the name is borrowed. */
void offer_setup_rule(const struct config_trigger *trigger, struct offer_rule *rule);

/* Items to generate for a rule: its max_items, at most OFFER_MAX_ITEMS. */
int offer_setup_max_items(const struct config_trigger *trigger);

/* Fills decoder options for a rule's bundle: beam search (greedy for width
 * 1) from START to SEP over known items only, no repeats, never a banned
 * (already bought) item. banned is borrowed until generation ends. */
void offer_setup_generate(const struct config_trigger *trigger, const struct model_config *config,
                          const struct tokenizer *tokenizer, const int32_t *banned, int n_banned,
                          struct model_generate_options *options);

/* Copies the item tokens of generated tokens[n] (SEP dropped) into items,
 * at most max_items. Returns the count. */
int offer_setup_collect_items(const int *tokens, int n, int max_items, int32_t *items);

/* 1 when the model can generate items for the rule: it has a decoder, the
 * rule's max_items is positive and the vocabulary has known items. */
int offer_setup_wants_items(const struct config_trigger *trigger, const struct model_config *config,
                            const struct tokenizer *tokenizer);

/* Generates a rule's bundle from an encoded window hidden[length, d_model]:
 * offer_setup_generate, model_generate, offer_setup_collect_items. banned:
 * the user's purchases, never offered. Returns the item count, or -1 with the
 * decoder's message in error[MODEL_ERROR_SIZE]. */
int offer_setup_items(const struct model *model, struct model_arena *arena, const struct tokenizer *tokenizer,
                      const struct config_trigger *trigger, const float *hidden, int length, const int32_t *banned,
                      int n_banned, int32_t *items, char *error);

#endif
