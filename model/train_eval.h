/*
 * Next-item ranking metrics with the SASRec protocol (Kang and McAuley,
 * ICDM 2018): the held-out item is ranked among n_negatives items sampled
 * uniformly (with replacement, by rejection) from the items the user never
 * interacted with; HR@10 counts ranks below 10 and NDCG@10 adds
 * 1 / log2(rank + 2) for them. When there are more eligible users than
 * max_users, a fixed-seed sample of max_users is evaluated.
 *
 * The full-catalogue variant ranks the held-out item against every item the
 * user never interacted with. It is not comparable with the sampled numbers
 * or with the SASRec paper.
 */
#ifndef INTENTD_TRAIN_EVAL_H
#define INTENTD_TRAIN_EVAL_H

#include <stdint.h>

#include "model.h"
#include "train_data.h"
#include "train_model.h"

#define TRAIN_EVAL_MAX_MEMBERS 16

struct train_eval_config {
    int max_users;     /* 10000 in the SASRec protocol; 0 evaluates every eligible user */
    int n_negatives;   /* 100 */
    uint64_t seed;     /* user sample and negatives */
    int full;          /* 1: also compute the full-catalogue metrics */
    int pad_left;      /* the batch layout the model was trained with (train_seq_batch) */
    int user_token_base; /* the user tokens the model was trained with (train_seq_batch); 0: none */
};

/* Sampled HR@10 and NDCG@10 split by how often the held-out item occurs in
 * the training part of all users: never, 1-4, 5-9, 10-29 and 30 or more
 * times. Rarely seen items have few updates, so the split shows where a
 * model loses. */
#define TRAIN_EVAL_COUNT_BUCKETS 5
extern const int train_eval_count_floor[TRAIN_EVAL_COUNT_BUCKETS]; /* lowest count of each bucket */

struct train_eval_bucket {
    int users;
    double hr10, ndcg10;
};

struct train_eval_result {
    int users;
    double hr10, ndcg10;           /* sampled */
    double full_hr10, full_ndcg10; /* full catalogue, when requested */
    struct train_eval_bucket by_count[TRAIN_EVAL_COUNT_BUCKETS]; /* sampled, by training count */
};

/* Scores the users' held-out items with the encoder (no dropout). The model's
 * config must have item_begin = 1 and item_end = n_items + 1 (token i is item
 * i). Returns 0, or -1 with a message in error[MODEL_ERROR_SIZE]. */
int train_eval_ranking(struct train_model *m, const struct train_sequences *s, enum train_holdout holdout,
                       const struct train_eval_config *config, struct train_eval_result *result, char *error);

/* Computes the same metrics for an ensemble, which ranks items by the sum
 * of its n_models members' logits (1 to TRAIN_EVAL_MAX_MEMBERS). The members
 * must share the shape (d_model, max_T, max_B) and the item numbering, and
 * each is encoded without dropout. */
int train_eval_ranking_ensemble(struct train_model *const *models, int n_models, const struct train_sequences *s,
                                enum train_holdout holdout, const struct train_eval_config *config,
                                struct train_eval_result *result, char *error);

/* Computes the same metrics with an inference model (model_encode, as the
 * processor encodes), in batches of max_B sequences of at most max_T items.
 * It checks that a saved or packed model (model_towers.h) ranks as the
 * trained one did. The config must have item_begin = 1 and item_end =
 * n_items + 1. */
int train_eval_ranking_model(const struct model *model, int max_B, int max_T, const struct train_sequences *s,
                             enum train_holdout holdout, const struct train_eval_config *config,
                             struct train_eval_result *result, char *error);

#endif
