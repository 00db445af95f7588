/*
 * JSON output of `intentd eval`, written with jansson.
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "eval_report.h"

double eval_rule_hit_rate(const struct eval_rule_result *rule, int group)
{
    return rule->generated[group] ? (double)rule->hits[group] / (double)rule->generated[group] : 0.0;
}

static json_t *ranking_json(const struct eval_ranking *ranking)
{
    json_t *o = json_object();
    char key[16];

    json_object_set_new(o, "count", json_integer((json_int_t)ranking->count));
    for (int k = 0; k < EVAL_N_CUTOFFS; k++) {
        snprintf(key, sizeof key, "hr@%d", eval_cutoffs[k]);
        json_object_set_new(o, key, json_real(eval_hit_rate(ranking, k)));
        snprintf(key, sizeof key, "ndcg@%d", eval_cutoffs[k]);
        json_object_set_new(o, key, json_real(eval_ndcg(ranking, k)));
    }
    return o;
}

static json_t *propensity_json(const struct eval_result *r)
{
    json_t *o = json_object();
    json_t *bins = json_array();

    json_object_set_new(o, "horizon_events", json_integer(r->options.propensity_horizon));
    json_object_set_new(o, "auc", r->auc >= 0 ? json_real(r->auc) : json_null());
    json_object_set_new(o, "positives", json_integer((json_int_t)r->propensity_positives));
    for (int b = 0; b < EVAL_CALIBRATION_BINS; b++) {
        const struct eval_calibration_bin *bin = &r->calibration[b];
        json_t *jb = json_object();
        json_object_set_new(jb, "lower", json_real((double)b / EVAL_CALIBRATION_BINS));
        json_object_set_new(jb, "upper", json_real((double)(b + 1) / EVAL_CALIBRATION_BINS));
        json_object_set_new(jb, "count", json_integer((json_int_t)bin->count));
        json_object_set_new(jb, "mean_predicted",
                            bin->count ? json_real(bin->sum_predicted / (double)bin->count) : json_null());
        json_object_set_new(jb, "observed_rate",
                            bin->count ? json_real(bin->sum_observed / (double)bin->count) : json_null());
        json_array_append_new(bins, jb);
    }
    json_object_set_new(o, "calibration", bins);
    return o;
}

static json_t *rule_json(const struct eval_rule_result *rule)
{
    json_t *o = json_object();

    json_object_set_new(o, "name", json_string(rule->name));
    json_object_set_new(o, "candidates", json_integer((json_int_t)rule->candidates));
    for (int k = 0; k < OFFER_OUTCOME_COUNT; k++)
        json_object_set_new(o, offer_outcome_name((enum offer_outcome)k),
                            json_integer((json_int_t)rule->outcomes[k]));
    json_object_set_new(o, "treatment_generated", json_integer((json_int_t)rule->generated[0]));
    json_object_set_new(o, "treatment_hits", json_integer((json_int_t)rule->hits[0]));
    json_object_set_new(o, "treatment_hit_rate", json_real(eval_rule_hit_rate(rule, 0)));
    json_object_set_new(o, "holdout_generated", json_integer((json_int_t)rule->generated[1]));
    json_object_set_new(o, "holdout_hits", json_integer((json_int_t)rule->hits[1]));
    json_object_set_new(o, "holdout_hit_rate", json_real(eval_rule_hit_rate(rule, 1)));
    json_object_set_new(o, "uplift", json_real(eval_rule_hit_rate(rule, 0) - eval_rule_hit_rate(rule, 1)));
    return o;
}

static json_t *result_json(const struct eval_result *r)
{
    json_t *o = json_object();
    json_t *item = json_object();
    json_t *action = json_object();
    json_t *offers = json_object();
    json_t *rules = json_array();
    char key[32];

    json_object_set_new(o, "model", json_string(r->model));
    json_object_set_new(o, "events", json_integer((json_int_t)r->events));
    json_object_set_new(o, "users", json_integer((json_int_t)r->users));
    json_object_set_new(o, "scored_events", json_integer((json_int_t)r->scored));
    json_object_set_new(o, "seconds", json_real(r->seconds));
    json_object_set_new(o, "events_per_s", json_real(r->events_per_s));

    json_object_set_new(item, "unknown_targets", json_integer((json_int_t)r->unknown_targets));
    json_object_set_new(item, "full_catalogue", ranking_json(&r->full));
    snprintf(key, sizeof key, "sampled_%d", r->options.sampled_negatives);
    json_object_set_new(item, key, ranking_json(&r->sampled));
    json_object_set_new(o, "next_item", item);

    json_object_set_new(action, "accuracy", json_real(r->action_accuracy));
    json_object_set_new(action, "majority_baseline", json_real(r->majority_accuracy));
    json_object_set_new(action, "majority_action", json_string(tokenizer_action_name(r->majority_action)));
    json_object_set_new(o, "next_action", action);

    json_object_set_new(o, "propensity", propensity_json(r));

    json_object_set_new(offers, "hit_window_ms", json_integer(r->options.hit_window_ms));
    json_object_set_new(offers, "max_offers", json_integer((json_int_t)r->options.max_offers));
    json_object_set_new(offers, "offers_without_items", json_integer((json_int_t)r->offers_skipped));
    for (size_t i = 0; i < r->n_rules; i++)
        json_array_append_new(rules, rule_json(&r->rules[i]));
    json_object_set_new(offers, "rules", rules);
    json_object_set_new(o, "offers", offers);
    return o;
}

int eval_report_json(const struct eval_result *results, size_t n, const char *path, char *error)
{
    json_t *root = json_object();
    json_t *models = json_array();

    for (size_t i = 0; i < n; i++)
        json_array_append_new(models, result_json(&results[i]));
    json_object_set_new(root, "models", models);
    int rc = json_dump_file(root, path, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
    json_decref(root);
    if (rc != 0) {
        snprintf(error, EVAL_ERROR_SIZE, "writing %s failed: check that its directory exists and is writable", path);
        return -1;
    }
    return 0;
}
