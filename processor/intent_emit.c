#include "intent_emit.h"

#include <math.h>

#include "state_embedding.h"

/* Returns 1 if the embedding moved more than min_move from the stored one, or
 * if no stored vector can be compared with it. */
static int embedding_moved(const struct intentd_config *cfg, const struct state_store *store,
                           const struct state_user *user, const struct intent_emit_candidate *candidate)
{
    const struct state_embedding *last = state_store_embedding(store, user);

    if (last == NULL || candidate->d_model != state_store_embedding_dim(store))
        return 1;
    double distance = state_embedding_distance(last, candidate->embedding, candidate->d_model);
    if (distance < 0.0)
        return 1;
    return distance > cfg->intents.min_move;
}

int intent_emit_decide(const struct intentd_config *cfg, const struct state_store *store,
                       const struct state_user *user, const struct intent_emit_candidate *candidate)
{
    int first = user->last_intent_ms == 0;

    switch (cfg->intents.emit) {
    case CONFIG_EMIT_ON_CHANGE:
        return first || fabsf(candidate->propensity - user->last_propensity) >= cfg->intents.min_change ||
               candidate->top_category != user->last_top_category;
    case CONFIG_EMIT_INTERVAL:
        return first || candidate->event_ms - user->last_intent_ms >= cfg->intents.interval_ms;
    case CONFIG_EMIT_ON_MOVE:
        return first || embedding_moved(cfg, store, user, candidate);
    default:
        return 1;
    }
}

void intent_emit_remember(const struct state_store *store, struct state_user *user,
                          const struct intent_emit_candidate *candidate)
{
    user->last_intent_ms = candidate->event_ms;
    user->last_propensity = candidate->propensity;
    user->last_top_category = candidate->top_category;

    struct state_embedding *slot = state_store_embedding(store, user);
    if (slot == NULL)
        return;
    if (candidate->d_model == state_store_embedding_dim(store))
        state_embedding_store(slot, candidate->embedding, candidate->d_model);
    else
        state_embedding_clear(slot);
}
