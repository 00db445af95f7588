/*
 * HTML report of `intentd eval`: one file with inline CSS and inline SVG,
 * no scripts and no external resources, so it opens offline.
 */
#include <stdio.h>
#include <string.h>

#include "eval_report.h"

#define CHART_W 420
#define CHART_H 260
#define MARGIN 40

static const char *const model_colours[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd"};

static void write_escaped(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*s, f);
        }
    }
}

static double chart_x(double v) { return MARGIN + v * (CHART_W - 2 * MARGIN); }
static double chart_y(double v) { return CHART_H - MARGIN - v * (CHART_H - 2 * MARGIN); }

static void chart_axes(FILE *f, const char *x_label, const char *y_label)
{
    fprintf(f, "<svg width='%d' height='%d' role='img'>", CHART_W, CHART_H);
    fprintf(f, "<rect x='0' y='0' width='%d' height='%d' fill='#fff'/>", CHART_W, CHART_H);
    for (int t = 0; t <= 4; t++) {
        double v = t / 4.0;
        fprintf(f, "<line x1='%.1f' y1='%.1f' x2='%.1f' y2='%.1f' stroke='#ddd'/>", chart_x(0), chart_y(v), chart_x(1),
                chart_y(v));
        fprintf(f, "<text x='%d' y='%.1f' font-size='10' text-anchor='end'>%.2f</text>", MARGIN - 4, chart_y(v) + 3, v);
    }
    fprintf(f, "<text x='%d' y='%d' font-size='11' text-anchor='middle'>%s</text>", CHART_W / 2, CHART_H - 6,
            x_label);
    fprintf(f, "<text x='12' y='%d' font-size='11' transform='rotate(-90 12 %d)' text-anchor='middle'>%s</text>",
            CHART_H / 2, CHART_H / 2, y_label);
}

/* HR@K against K for each model and both protocols (sampled dashed). */
static void chart_hit_rates(FILE *f, const struct eval_result *results, size_t n)
{
    chart_axes(f, "K", "HR@K");
    for (int k = 0; k < EVAL_N_CUTOFFS; k++)
        fprintf(f, "<text x='%.1f' y='%d' font-size='10' text-anchor='middle'>%d</text>",
                chart_x((double)k / (EVAL_N_CUTOFFS - 1)), CHART_H - MARGIN + 14, eval_cutoffs[k]);
    for (size_t m = 0; m < n; m++) {
        for (int protocol = 0; protocol < 2; protocol++) {
            const struct eval_ranking *ranking = protocol ? &results[m].sampled : &results[m].full;
            fprintf(f, "<polyline fill='none' stroke='%s' stroke-width='2'%s points='", model_colours[m % 4],
                    protocol ? " stroke-dasharray='5,3'" : "");
            for (int k = 0; k < EVAL_N_CUTOFFS; k++)
                fprintf(f, "%.1f,%.1f ", chart_x((double)k / (EVAL_N_CUTOFFS - 1)),
                        chart_y(eval_hit_rate(ranking, k)));
            fputs("'/>", f);
        }
    }
    fputs("</svg>", f);
}

/* Mean predicted against observed rate per non-empty bin, with the diagonal. */
static void chart_calibration(FILE *f, const struct eval_result *results, size_t n)
{
    chart_axes(f, "mean predicted propensity", "observed purchase rate");
    fprintf(f, "<line x1='%.1f' y1='%.1f' x2='%.1f' y2='%.1f' stroke='#999' stroke-dasharray='4,4'/>", chart_x(0),
            chart_y(0), chart_x(1), chart_y(1));
    for (size_t m = 0; m < n; m++) {
        fprintf(f, "<polyline fill='none' stroke='%s' stroke-width='2' points='", model_colours[m % 4]);
        for (int b = 0; b < EVAL_CALIBRATION_BINS; b++) {
            const struct eval_calibration_bin *bin = &results[m].calibration[b];
            if (bin->count)
                fprintf(f, "%.1f,%.1f ", chart_x(bin->sum_predicted / (double)bin->count),
                        chart_y(bin->sum_observed / (double)bin->count));
        }
        fputs("'/>", f);
    }
    fputs("</svg>", f);
}

/* Horizontal bars: candidates, then each policy outcome, of one rule. */
static void chart_funnel(FILE *f, const struct eval_rule_result *rule)
{
    const int bar_h = 18, label_w = 110, width = 420;
    uint64_t max = rule->candidates ? rule->candidates : 1;

    fprintf(f, "<svg width='%d' height='%d' role='img'>", width,
            (OFFER_OUTCOME_COUNT + 1) * (bar_h + 4) + 4);
    for (int k = -1; k < OFFER_OUTCOME_COUNT; k++) {
        uint64_t value = k < 0 ? rule->candidates : rule->outcomes[k];
        const char *label = k < 0 ? "candidates" : offer_outcome_name((enum offer_outcome)k);
        int y = (k + 1) * (bar_h + 4) + 2;
        double w = (double)(width - label_w - 70) * (double)value / (double)max;
        fprintf(f, "<text x='%d' y='%d' font-size='11' text-anchor='end'>%s</text>", label_w - 6, y + 13, label);
        fprintf(f, "<rect x='%d' y='%d' width='%.1f' height='%d' fill='%s'/>", label_w, y, w, bar_h,
                k < 0 ? "#888" : (k == OFFER_FIRED ? "#2ca02c" : (k == OFFER_HOLDOUT ? "#1f77b4" : "#d62728")));
        fprintf(f, "<text x='%.1f' y='%d' font-size='11'>%llu</text>", label_w + w + 4, y + 13,
                (unsigned long long)value);
    }
    fputs("</svg>", f);
}

static void table_ranking(FILE *f, const struct eval_result *results, size_t n, int sampled)
{
    fputs("<table><tr><th>model</th><th>ranked</th>", f);
    for (int k = 0; k < EVAL_N_CUTOFFS; k++)
        fprintf(f, "<th>HR@%d</th><th>NDCG@%d</th>", eval_cutoffs[k], eval_cutoffs[k]);
    fputs("</tr>", f);
    for (size_t m = 0; m < n; m++) {
        const struct eval_ranking *ranking = sampled ? &results[m].sampled : &results[m].full;
        fputs("<tr><td>", f);
        write_escaped(f, results[m].model);
        fprintf(f, "</td><td>%llu</td>", (unsigned long long)ranking->count);
        for (int k = 0; k < EVAL_N_CUTOFFS; k++)
            fprintf(f, "<td>%.4f</td><td>%.4f</td>", eval_hit_rate(ranking, k), eval_ndcg(ranking, k));
        fputs("</tr>", f);
    }
    fputs("</table>", f);
}

static void table_overview(FILE *f, const struct eval_result *results, size_t n)
{
    fputs("<table><tr><th>model</th><th>events</th><th>users</th><th>scored events</th><th>unknown targets</th>"
          "<th>next-action accuracy</th><th>majority baseline</th><th>majority action</th>"
          "<th>propensity AUC</th><th>positives</th><th>seconds</th><th>events/s</th></tr>",
          f);
    for (size_t m = 0; m < n; m++) {
        const struct eval_result *r = &results[m];
        fputs("<tr><td>", f);
        write_escaped(f, r->model);
        fprintf(f, "</td><td>%llu</td><td>%llu</td><td>%llu</td><td>%llu</td><td>%.4f</td><td>%.4f</td><td>%s</td>",
                (unsigned long long)r->events, (unsigned long long)r->users, (unsigned long long)r->scored,
                (unsigned long long)r->unknown_targets, r->action_accuracy, r->majority_accuracy,
                tokenizer_action_name(r->majority_action));
        if (r->auc >= 0)
            fprintf(f, "<td>%.4f</td>", r->auc);
        else
            fputs("<td>n/a (one class)</td>", f);
        fprintf(f, "<td>%llu</td><td>%.4f</td><td>%.4f</td></tr>", (unsigned long long)r->propensity_positives,
                r->seconds, r->events_per_s);
    }
    fputs("</table>", f);
}

static void table_calibration(FILE *f, const struct eval_result *r)
{
    fputs("<table><tr><th>bin</th><th>count</th><th>mean predicted</th><th>observed rate</th></tr>", f);
    for (int b = 0; b < EVAL_CALIBRATION_BINS; b++) {
        const struct eval_calibration_bin *bin = &r->calibration[b];
        fprintf(f, "<tr><td>%.4f to %.4f</td><td>%llu</td>", (double)b / EVAL_CALIBRATION_BINS,
                (double)(b + 1) / EVAL_CALIBRATION_BINS, (unsigned long long)bin->count);
        if (bin->count)
            fprintf(f, "<td>%.4f</td><td>%.4f</td></tr>", bin->sum_predicted / (double)bin->count,
                    bin->sum_observed / (double)bin->count);
        else
            fputs("<td>-</td><td>-</td></tr>", f);
    }
    fputs("</table>", f);
}

static void section_offers(FILE *f, const struct eval_result *r)
{
    fprintf(f, "<p>Hit: an offered item viewed, clicked, carted or bought within %lld ms after the offer. "
               "Items were generated for the first %llu FIRED or HOLDOUT offers; %llu later ones got none and "
               "are not in the hit rates.</p>",
            (long long)r->options.hit_window_ms, (unsigned long long)r->options.max_offers,
            (unsigned long long)r->offers_skipped);
    if (r->n_rules == 0) {
        fputs("<p>No trigger rules (no --config, or triggers: []).</p>", f);
        return;
    }
    fputs("<table><tr><th>rule</th><th>candidates</th>", f);
    for (int k = 0; k < OFFER_OUTCOME_COUNT; k++)
        fprintf(f, "<th>%s</th>", offer_outcome_name((enum offer_outcome)k));
    fputs("<th>treatment generated</th><th>treatment hits</th><th>treatment hit rate</th><th>holdout generated</th>"
          "<th>holdout hits</th><th>holdout hit rate</th><th>uplift</th></tr>",
          f);
    for (size_t i = 0; i < r->n_rules; i++) {
        const struct eval_rule_result *rule = &r->rules[i];
        fputs("<tr><td>", f);
        write_escaped(f, rule->name);
        fprintf(f, "</td><td>%llu</td>", (unsigned long long)rule->candidates);
        for (int k = 0; k < OFFER_OUTCOME_COUNT; k++)
            fprintf(f, "<td>%llu</td>", (unsigned long long)rule->outcomes[k]);
        fprintf(f, "<td>%llu</td><td>%llu</td><td>%.4f</td><td>%llu</td><td>%llu</td><td>%.4f</td><td>%.4f</td></tr>",
                (unsigned long long)rule->generated[0], (unsigned long long)rule->hits[0],
                eval_rule_hit_rate(rule, 0), (unsigned long long)rule->generated[1],
                (unsigned long long)rule->hits[1], eval_rule_hit_rate(rule, 1),
                eval_rule_hit_rate(rule, 0) - eval_rule_hit_rate(rule, 1));
    }
    fputs("</table><div class='charts'>", f);
    for (size_t i = 0; i < r->n_rules; i++) {
        fputs("<figure>", f);
        chart_funnel(f, &r->rules[i]);
        fputs("<figcaption>offer funnel of rule ", f);
        write_escaped(f, r->rules[i].name);
        fputs("</figcaption></figure>", f);
    }
    fputs("</div>", f);
}

static void write_legend(FILE *f, const struct eval_result *results, size_t n)
{
    fputs("<p class='legend'>", f);
    for (size_t m = 0; m < n; m++) {
        fprintf(f, "<span style='color:%s'>&#9632; %s: ", model_colours[m % 4], n > 1 ? (m ? "B" : "A") : "model");
        write_escaped(f, results[m].model);
        fputs("</span> ", f);
    }
    fputs("(solid: full catalogue, dashed: sampled)</p>", f);
}

static void write_body(FILE *f, const struct eval_result *results, size_t n)
{
    const struct eval_options *o = &results[0].options;

    fputs("<h1>intentd eval</h1>", f);
    if (n > 1)
        fputs("<p>A/B comparison: both models ran over the same events with the same options.</p>", f);
    write_legend(f, results, n);
    fputs("<h2>Overview</h2>", f);
    table_overview(f, results, n);
    fputs("<h2>Next item</h2><p>Only events whose user had a prior event are scored; targets that are not known "
          "items of the model are counted as unknown targets and not ranked.</p>",
          f);
    fputs("<h3>Full catalogue (rank among all known items)</h3>", f);
    table_ranking(f, results, n, 0);
    fprintf(f, "<h3>Sampled protocol (target among %d items sampled uniformly from items the user never "
               "interacted with, seed %llu)</h3>",
            o->sampled_negatives, (unsigned long long)o->seed);
    table_ranking(f, results, n, 1);
    fputs("<div class='charts'><figure>", f);
    chart_hit_rates(f, results, n);
    fputs("<figcaption>HR@K, full catalogue (solid) and sampled (dashed)</figcaption></figure><figure>", f);
    chart_calibration(f, results, n);
    fputs("<figcaption>calibration of the purchase propensity</figcaption></figure></div>", f);
    for (size_t m = 0; m < n; m++) {
        fprintf(f, "<h2>Propensity calibration, %s: ", n > 1 ? (m ? "B" : "A") : "model");
        write_escaped(f, results[m].model);
        fprintf(f, "</h2><p>Label: the user purchases within the next %d events (this one included).</p>",
                results[m].options.propensity_horizon);
        table_calibration(f, &results[m]);
    }
    for (size_t m = 0; m < n; m++) {
        fprintf(f, "<h2>Offer simulation, %s: ", n > 1 ? (m ? "B" : "A") : "model");
        write_escaped(f, results[m].model);
        fputs("</h2>", f);
        section_offers(f, &results[m]);
    }
}

int eval_report_html(const struct eval_result *results, size_t n, const char *path, char *error)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        snprintf(error, EVAL_ERROR_SIZE, "cannot open %s for writing: check that its directory exists", path);
        return -1;
    }
    fputs("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>intentd eval</title><style>"
          "body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:1em 0}"
          "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#f3f3f3}"
          "td:first-child{text-align:left}.charts{display:flex;flex-wrap:wrap;gap:1em}"
          "figure{margin:0}figcaption{font-size:12px;color:#555}"
          "</style></head><body>",
          f);
    write_body(f, results, n);
    fputs("</body></html>\n", f);
    if (fclose(f) != 0) {
        snprintf(error, EVAL_ERROR_SIZE, "writing %s failed", path);
        return -1;
    }
    return 0;
}

void eval_report_summary(FILE *out, const struct eval_result *results, size_t n)
{
    for (size_t m = 0; m < n; m++) {
        const struct eval_result *r = &results[m];
        fprintf(out, "model %s: %llu events, %llu users, %llu scored, %.0f events/s\n", r->model,
                (unsigned long long)r->events, (unsigned long long)r->users, (unsigned long long)r->scored,
                r->events_per_s);
        fprintf(out, "  next item full catalogue: HR@10 %.4f NDCG@10 %.4f (%llu ranked, %llu unknown targets)\n",
                eval_hit_rate(&r->full, 2), eval_ndcg(&r->full, 2), (unsigned long long)r->full.count,
                (unsigned long long)r->unknown_targets);
        fprintf(out, "  next item sampled %d:      HR@10 %.4f NDCG@10 %.4f\n", r->options.sampled_negatives,
                eval_hit_rate(&r->sampled, 2), eval_ndcg(&r->sampled, 2));
        fprintf(out, "  next action accuracy %.4f (majority baseline %.4f, %s)\n", r->action_accuracy,
                r->majority_accuracy, tokenizer_action_name(r->majority_action));
        if (r->auc >= 0)
            fprintf(out, "  propensity AUC %.4f", r->auc);
        else
            fputs("  propensity AUC n/a (one class only)", out);
        fprintf(out, " (purchase within %d events, %llu positives)\n", r->options.propensity_horizon,
                (unsigned long long)r->propensity_positives);
        for (size_t i = 0; i < r->n_rules; i++) {
            const struct eval_rule_result *rule = &r->rules[i];
            fprintf(out, "  rule %s: %llu fired, %llu held out, hit rate %.4f vs %.4f, uplift %+.4f\n", rule->name,
                    (unsigned long long)rule->outcomes[OFFER_FIRED], (unsigned long long)rule->outcomes[OFFER_HOLDOUT],
                    eval_rule_hit_rate(rule, 0), eval_rule_hit_rate(rule, 1),
                    eval_rule_hit_rate(rule, 0) - eval_rule_hit_rate(rule, 1));
        }
    }
}
