/*
 * The next-item training loop over item sequences (SASRec-style): one
 * sequence per user, the next item predicted at every position with a full
 * softmax over all items, mini-batches in a per-epoch shuffled order, AdamW,
 * validation HR@10 after each epoch, early stopping, and checkpoints that
 * resume exactly.
 *
 * Determinism: for a given seed, config, data file, OpenBLAS thread count and
 * loss thread count (train_model_set_loss_threads), two runs on the same
 * machine and build produce bit-identical weights. The shuffle order depends
 * only on (seed, epoch), dropout draws on the generator state saved in
 * checkpoints, and every reduction of ours runs in a fixed order. Not
 * covered: other OpenBLAS versions, thread counts or CPU kernels (sgemm may
 * sum in another order), and other compilers or flags. The unit tests check
 * two runs, and a resumed run, on tiny shapes with OpenBLAS at its default
 * thread count.
 */
#ifndef INTENTD_TRAIN_LOOP_H
#define INTENTD_TRAIN_LOOP_H

#include <stdint.h>

#include "optim_adamw.h"
#include "train_data.h"
#include "train_item_features.h"
#include "train_item_graph.h"
#include "train_smooth.h"
#include "train_eval.h"
#include "train_model.h"

/* Reported after every step and after each validation. */
struct train_progress {
    int epoch, epochs;        /* 0-based epoch, and the limit */
    long step, total_steps;   /* updates done, and planned */
    float loss;               /* mean item loss of the last batch */
    float lr, grad_norm;
    double tokens_per_second; /* predicted positions per second over the run so far */
    double eta_seconds;       /* estimate for the remaining planned steps at that speed */
    int validated;            /* 1 when this report carries a validation result */
    struct train_eval_result validation;
    int improved;             /* validation HR@10 beat the best so far */
};

typedef void (*train_progress_fn)(const struct train_progress *progress, void *user);

struct train_loop_config {
    int epochs;
    int batch_size;
    int patience;                /* stop after this many epochs without a better validation HR@10; 0: never */
    uint64_t seed;               /* shuffle order; the model's dropout seed is set at train_model_create */
    int pad_left;                /* batch layout, see struct train_seq_batch; also used for validation */
    struct train_eval_config validation; /* max_users 0 evaluates all; full is ignored */
    long max_steps;              /* stop after this many updates in total (0: no limit) */
    float input_replace;         /* probability of replacing each input item of a training batch
                                    (train_seq_batch_replace_inputs); 0: off */
    float replace_exponent;      /* 0: replacements are drawn uniformly over the items; else item i with
                                    weight (1 + its training count)^replace_exponent */
    float negative_exponent;     /* 0: the sampled losses draw their negatives uniformly; else item i with
                                    weight (1 + its training count)^negative_exponent, with the logQ
                                    correction (train_model.negative_cdf) */
    int noise_tokens;            /* > 0: replaced inputs become one of this many noise tokens, the
                                    vocabulary ids right after the items, instead of a drawn item */
    int user_tokens;             /* 1: each row opens with its user's own token, the vocabulary ids
                                    after the items and noise tokens (train_seq_batch.user_token_base),
                                    so the vocabulary needs n_users more ids; 0: off */
    float user_replace;          /* with user_tokens, probability of replacing a row's user token by a
                                    random user's (train_seq_batch_replace_users) */
    int item_features_tail;      /* > 0: each item's embedding adds shared popularity and recency vectors
                                    (train_item_features.h), recency counting occurrences in the last
                                    item_features_tail positions of a training part; 0: off */
    struct train_item_graph_config item_graph; /* window > 0: item rows are smoothed with their neighbours'
                                    (train_item_graph.h); window 0: off */
    struct train_smooth_config smooth; /* n_windows > 0: after training, the best item-graph smoothing
                                    by validation HR@10 is applied to the best weights (train_smooth.h);
                                    not when max_steps ends the run, which keeps the last weights */
    float ema_decay;             /* 0: off. In [0, 1): validation, the best weights and the weights
                                    left in the model are an exponential moving average of the
                                    weights, ema = decay * ema + (1 - decay) * weights after each update */
    const char *checkpoint_path; /* written after every epoch and every checkpoint_every steps; NULL: none */
    long checkpoint_every;
    train_progress_fn progress;  /* may be NULL */
    void *progress_user;
};

/* Training state. The session borrows the model and the data, which must
 * outlive it; it owns the optimizer, batch buffers and the best weights. */
struct train_session {
    struct train_loop_config config;
    struct train_model *model;
    const struct train_sequences *data;
    struct optim_adamw opt;
    struct train_seq_batch batch;

    int *users;              /* users with at least 2 training items */
    double *replace_cdf;     /* [n_items + 1] cumulative replacement weights, NULL when uniform */
    double *negative_cdf;    /* [n_items + 1] cumulative negative weights lent to the model, NULL when uniform */
    struct train_item_features features; /* with item_features_tail > 0 */
    struct train_item_graph graph;       /* with item_graph.window > 0 */
    int n_users;
    int *order;              /* this epoch's shuffled copy of users */
    int order_epoch;         /* epoch that order belongs to, -1 for none */
    long batches_per_epoch;

    /* position; saved in checkpoints */
    int epoch;
    long batch_index;        /* next batch within the epoch */
    float best_hr10;
    int best_epoch;          /* -1 before the first validation */
    int bad_epochs;
    int finished;
    float *best_params;      /* [params.count] weights of the best epoch */
    float *ema;              /* [params.count] moving average of the weights, NULL when ema_decay is 0 */
    struct train_smooth_result smoothed; /* set at the end of a run with smooth.n_windows > 0 */

    float grad_norm;         /* of the last step, before clipping */
    double elapsed_seconds;  /* training time of this process, for tokens/s */
    long positions_done;
};

/* Sets up a session. If opt_config->total_steps is 0 it is set to epochs x
 * batches per epoch. Returns 0, or -1 with a message in error[MODEL_ERROR_SIZE]. */
int train_session_init(struct train_session *s, struct train_model *model, const struct train_sequences *data,
                       const struct train_loop_config *config, const struct optim_config *opt_config, char *error);
void train_session_free(struct train_session *s);

/* Runs one update on the next batch. After the last batch of an epoch it
 * moves on to the next epoch without validating (train_session_run validates
 * at each epoch end). Returns the batch's item loss. */
float train_session_step(struct train_session *s);

/* Trains until the epoch limit, max_steps or early stopping, then copies the
 * best validated weights (if any) into the model. Resumes from the session's
 * position, so it can follow train_checkpoint_load. Returns 0, or -1 with a
 * message (a failed checkpoint write or validation). */
int train_session_run(struct train_session *s, char *error);

#endif
