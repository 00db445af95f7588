/*
 * Metrics of `intentd eval`: ranking hits and NDCG at fixed cutoffs, ROC AUC
 * and a calibration table. Pure functions on caller buffers, no I/O.
 */
#ifndef INTENTD_EVAL_METRICS_H
#define INTENTD_EVAL_METRICS_H

#include <stddef.h>
#include <stdint.h>

#define EVAL_N_CUTOFFS 4
#define EVAL_CALIBRATION_BINS 10

/* The K of HR@K and NDCG@K: 1, 5, 10, 20. */
extern const int eval_cutoffs[EVAL_N_CUTOFFS];

/* Sums of one ranking protocol over the scored events. */
struct eval_ranking {
    uint64_t count;               /* ranked targets */
    double hits[EVAL_N_CUTOFFS];  /* targets with rank < K */
    double ndcg[EVAL_N_CUTOFFS];  /* sum of 1 / log2(rank + 2) over targets with rank < K */
};

struct eval_calibration_bin {
    uint64_t count;
    double sum_predicted;
    double sum_observed;
};

/* Counts the candidates that rank ahead of the target: those with a higher
 * score, and also those with an equal score, so a model that gives every
 * item the same score gets no hits. The result is the 0-based rank. */
long eval_rank_count(const float *scores, size_t n, float target_score, size_t target_index);

/* Adds one target at 0-based rank. */
void eval_ranking_add(struct eval_ranking *ranking, long rank);

/* HR@K or NDCG@K as a mean over ranking->count (0 when nothing was ranked). */
double eval_hit_rate(const struct eval_ranking *ranking, int cutoff_index);
double eval_ndcg(const struct eval_ranking *ranking, int cutoff_index);

/* ROC AUC of scores against 0/1 labels, ties counted as one half
 * (Mann-Whitney U). Returns -1 when one class is absent or n is 0, or
 * -2 when memory runs out. */
double eval_auc(const float *scores, const uint8_t *labels, size_t n);

/* Fills bins[EVAL_CALIBRATION_BINS]: bin b holds the scores in
 * [b/10, (b+1)/10), the last bin includes 1. Scores outside [0, 1] are
 * clamped. */
void eval_calibration(const float *scores, const uint8_t *labels, size_t n,
                      struct eval_calibration_bin bins[EVAL_CALIBRATION_BINS]);

#endif
