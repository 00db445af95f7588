/*
 * Ranking, AUC and calibration metrics of `intentd eval`.
 */
#include <math.h>
#include <stdlib.h>

#include "eval_metrics.h"

const int eval_cutoffs[EVAL_N_CUTOFFS] = {1, 5, 10, 20};

long eval_rank_count(const float *scores, size_t n, float target_score, size_t target_index)
{
    long ahead = 0;

    for (size_t i = 0; i < n; i++) {
        if (i != target_index && scores[i] >= target_score)
            ahead++;
    }
    return ahead;
}

void eval_ranking_add(struct eval_ranking *ranking, long rank)
{
    ranking->count++;
    for (int k = 0; k < EVAL_N_CUTOFFS; k++) {
        if (rank < eval_cutoffs[k]) {
            ranking->hits[k] += 1.0;
            ranking->ndcg[k] += 1.0 / log2((double)rank + 2.0);
        }
    }
}

double eval_hit_rate(const struct eval_ranking *ranking, int cutoff_index)
{
    return ranking->count ? ranking->hits[cutoff_index] / (double)ranking->count : 0.0;
}

double eval_ndcg(const struct eval_ranking *ranking, int cutoff_index)
{
    return ranking->count ? ranking->ndcg[cutoff_index] / (double)ranking->count : 0.0;
}

struct scored_label {
    float score;
    uint8_t label;
};

static int compare_scores(const void *a, const void *b)
{
    float x = ((const struct scored_label *)a)->score;
    float y = ((const struct scored_label *)b)->score;
    return (x > y) - (x < y);
}

double eval_auc(const float *scores, const uint8_t *labels, size_t n)
{
    if (n == 0)
        return -1.0;
    struct scored_label *pairs = malloc(n * sizeof *pairs);
    if (!pairs)
        return -2.0;
    for (size_t i = 0; i < n; i++)
        pairs[i] = (struct scored_label){scores[i], labels[i] ? 1 : 0};
    qsort(pairs, n, sizeof *pairs, compare_scores);

    /* Sum of the positives' ranks (1-based, ties given their mean rank). */
    double rank_sum = 0.0;
    double positives = 0.0;
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        double group_positives = 0.0;
        while (j < n && pairs[j].score == pairs[i].score) {
            group_positives += pairs[j].label;
            j++;
        }
        double mean_rank = ((double)i + 1.0 + (double)j) / 2.0;
        rank_sum += group_positives * mean_rank;
        positives += group_positives;
        i = j;
    }
    free(pairs);

    double negatives = (double)n - positives;
    if (positives == 0.0 || negatives == 0.0)
        return -1.0;
    return (rank_sum - positives * (positives + 1.0) / 2.0) / (positives * negatives);
}

void eval_calibration(const float *scores, const uint8_t *labels, size_t n,
                      struct eval_calibration_bin bins[EVAL_CALIBRATION_BINS])
{
    for (int b = 0; b < EVAL_CALIBRATION_BINS; b++)
        bins[b] = (struct eval_calibration_bin){0, 0.0, 0.0};
    for (size_t i = 0; i < n; i++) {
        double p = scores[i] < 0.0f ? 0.0 : (scores[i] > 1.0f ? 1.0 : scores[i]);
        int b = (int)(p * EVAL_CALIBRATION_BINS);
        if (b >= EVAL_CALIBRATION_BINS)
            b = EVAL_CALIBRATION_BINS - 1;
        bins[b].count++;
        bins[b].sum_predicted += p;
        bins[b].sum_observed += labels[i] ? 1.0 : 0.0;
    }
}
