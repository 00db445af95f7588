#include "metrics_publish.h"

#include <stdio.h>
#include <string.h>

void metrics_fill_snapshot(const struct app *app, struct metrics_snapshot *snapshot)
{
    const struct intentd_config *cfg = app->cfg;

    snapshot->published = 1;
    snapshot->running = 1;
    /* Committed batches only, so a scrape between two commits never counts
     * an open batch that may still abort; restores happen outside batches. */
    snapshot->counters = app->committed_counters;
    snapshot->counters.restored_users = app->counters.restored_users;
    snapshot->counters.restore_seconds = app->counters.restore_seconds;
    snapshot->counters.aborted_batches = app->counters.aborted_batches;
    if (app->loop)
        stream_loop_get_stats(app->loop, &snapshot->loop);
    state_store_get_stats(app->store, &snapshot->store);
    snapshot->has_registry = app->registry != NULL;
    if (app->registry)
        app_registry_get_stats(app->registry, &snapshot->registry);
    snprintf(snapshot->model_version, sizeof snapshot->model_version, "%s", app->bundle->version);

    snapshot->input_topics[APP_INPUT_CLICKSTREAM] = cfg->topics.clickstream;
    snapshot->input_topics[APP_INPUT_REVIEWS] = cfg->topics.reviews;
    snapshot->input_topics[APP_INPUT_CONSENTS] = cfg->topics.consents[0] ? cfg->topics.consents : NULL;
    snapshot->n_rules = cfg->n_triggers < APP_MAX_RULES ? (int)cfg->n_triggers : APP_MAX_RULES;
    for (int r = 0; r < snapshot->n_rules; r++)
        snapshot->rule_names[r] = cfg->triggers[r].name;
}
