#include "offer_setup.h"

void offer_setup_policy_options(const struct intentd_config *cfg, struct offer_policy_options *options)
{
    offer_policy_options_defaults(options);
    options->rate_per_s = cfg->offers.global_rate_limit_per_s;
    options->burst = cfg->offers.global_rate_limit_per_s > 1.0 ? cfg->offers.global_rate_limit_per_s : 1.0;
    options->holdout_percent = 0.0;
    options->unknown_consent_grants = cfg->offers.consent_default == CONFIG_CONSENT_GRANT;
}

void offer_setup_rule(const struct config_trigger *trigger, struct offer_rule *rule)
{
    *rule = (struct offer_rule){
        .name = trigger->name,
        .cooldown_ms = trigger->cooldown_ms,
        .max_offers = (uint32_t)trigger->max_offers,
        .window_ms = trigger->per_window_ms,
        .holdout_percent = trigger->holdout_percent,
    };
}

int offer_setup_max_items(const struct config_trigger *trigger)
{
    return trigger->max_items < OFFER_MAX_ITEMS ? trigger->max_items : OFFER_MAX_ITEMS;
}

void offer_setup_generate(const struct config_trigger *trigger, const struct model_config *config,
                          const struct tokenizer *tokenizer, const int32_t *banned, int n_banned,
                          struct model_generate_options *options)
{
    model_generate_defaults(options);
    options->method = trigger->beam_width > 1 ? MODEL_GENERATE_BEAM : MODEL_GENERATE_GREEDY;
    options->beam_width = trigger->beam_width > 1 ? trigger->beam_width : 1;
    options->max_tokens = offer_setup_max_items(trigger) + 1;
    options->bos = TOKENIZER_START;
    options->eos = TOKENIZER_SEP;
    options->constraints.banned = banned;
    options->constraints.n_banned = n_banned;
    options->constraints.no_repeat = 1;
    options->constraints.allowed_begin = config->item_begin;
    options->constraints.allowed_end = tokenizer->layout.item_bucket_begin;
    /* The default model often ends a bundle after one item; min_items keeps
     * eos out until the bundle has that many, while items remain. */
    options->constraints.min_tokens = trigger->min_items;
}

int offer_setup_collect_items(const int *tokens, int n, int max_items, int32_t *items)
{
    int count = 0;

    for (int i = 0; i < n && count < max_items; i++) {
        if (tokens[i] != TOKENIZER_SEP)
            items[count++] = tokens[i];
    }
    return count;
}

int offer_setup_wants_items(const struct config_trigger *trigger, const struct model_config *config,
                            const struct tokenizer *tokenizer)
{
    return config->n_decoder_layers > 0 && offer_setup_max_items(trigger) > 0 &&
           tokenizer->layout.item_bucket_begin > config->item_begin;
}

int offer_setup_items(const struct model *model, struct model_arena *arena, const struct tokenizer *tokenizer,
                      const struct config_trigger *trigger, const float *hidden, int length, const int32_t *banned,
                      int n_banned, int32_t *items, char *error)
{
    struct model_generate_options options;
    int tokens[OFFER_MAX_ITEMS + 1];
    int n_tokens = 0;

    offer_setup_generate(trigger, &model->config, tokenizer, banned, n_banned, &options);
    if (model_generate(model, arena, hidden, length, &options, tokens, &n_tokens, NULL, error) != 0)
        return -1;
    return offer_setup_collect_items(tokens, n_tokens, offer_setup_max_items(trigger), items);
}
