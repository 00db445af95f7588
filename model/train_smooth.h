/*
 * Item-graph smoothing chosen after training. Every combination of the
 * listed windows, shrinks and alphas (train_item_graph.h) is applied to the
 * trained item embeddings and scored on the validation items. The
 * combination with the best validation HR@10 stays in the model. When none
 * beats the weights as trained, they stay unsmoothed. The test items play
 * no part in the choice.
 *
 * Smoothing moves each rarely seen item towards the items next to it in the
 * training sequences, whose vectors had many more updates. The saved
 * weights contain the smoothed rows, so inference is unchanged.
 */
#ifndef INTENTD_TRAIN_SMOOTH_H
#define INTENTD_TRAIN_SMOOTH_H

#include "train_data.h"
#include "train_eval.h"
#include "train_item_graph.h"
#include "train_model.h"

#define TRAIN_SMOOTH_CHOICES 4

struct train_smooth_config {
    int n_windows, windows[TRAIN_SMOOTH_CHOICES]; /* n_windows 0: no smoothing */
    int n_shrinks;
    float shrinks[TRAIN_SMOOTH_CHOICES];
    int n_alphas;
    float alphas[TRAIN_SMOOTH_CHOICES];
    int max_neighbors; /* per item; 0: all */
};

struct train_smooth_result {
    struct train_item_graph_config chosen; /* window 0: none beat the trained weights */
    double hr10;                           /* validation HR@10 of the weights left in the model */
    double unsmoothed_hr10;                /* validation HR@10 of the weights as trained */
    int tried;                             /* combinations scored */
};

/* Checks c: each list has 1 to TRAIN_SMOOTH_CHOICES values (the windows
 * may have 0, which turns smoothing off), and every combination is a valid
 * item graph (train_item_graph_check). Returns 0, or -1 with a message in
 * error[MODEL_ERROR_SIZE]. */
int train_smooth_check(const struct train_smooth_config *c, char *error);

/* Scores every combination on the validation items of s with validation
 * (pad_left and user_token_base as trained) and leaves the best weights in
 * m. Returns 0, or -1 with a message in error[MODEL_ERROR_SIZE]. On error
 * the weights are as trained. */
int train_smooth_select(struct train_model *m, const struct train_sequences *s,
                        const struct train_smooth_config *config, const struct train_eval_config *validation,
                        struct train_smooth_result *result, char *error);

#endif
