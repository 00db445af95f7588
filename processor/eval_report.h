/*
 * Outputs of `intentd eval`: the metrics as JSON, a self-contained HTML
 * report and a short text summary. One result per model (A/B when two).
 */
#ifndef INTENTD_EVAL_REPORT_H
#define INTENTD_EVAL_REPORT_H

#include <stdio.h>

#include "eval_run.h"

/* Writes results[n] as JSON to path. Returns 0, or -1 with a message in
 * error[EVAL_ERROR_SIZE]. */
int eval_report_json(const struct eval_result *results, size_t n, const char *path, char *error);

/* Writes the HTML report (inline CSS and SVG, no scripts, no external
 * resources) to path. Every number of the JSON output appears in it with
 * the same rounding: rates and scores with 4 decimals, counts as integers.
 * Returns 0, or -1 with a message. */
int eval_report_html(const struct eval_result *results, size_t n, const char *path, char *error);

/* Prints a few lines per model to out. */
void eval_report_summary(FILE *out, const struct eval_result *results, size_t n);

/* Hit rate of a rule's treatment (group 0) or holdout (group 1) offers. */
double eval_rule_hit_rate(const struct eval_rule_result *rule, int group);

#endif
