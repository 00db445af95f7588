/*
 * Item-sequence data for next-item training: reads the `user item` format
 * (one interaction per line, 1-based ids, each user's lines in time order, as
 * the SASRec data files) and builds the leave-one-out split and mini-batches.
 *
 * Token ids: item i (1-based) is token i; token 0 is padding, so a model for
 * this data has vocab_size = n_items + 1 and items [1, n_items + 1).
 */
#ifndef INTENTD_TRAIN_DATA_H
#define INTENTD_TRAIN_DATA_H

#include <stdint.h>

#include "train_model.h"

struct train_sequences {
    int n_users, n_items;
    long n_interactions;
    long *offsets; /* [n_users + 1]; user u's items are items[offsets[u] .. offsets[u+1]) */
    int *items;    /* item ids 1..n_items in time order */
};

/* Reads path. Users are renumbered 0..n_users-1 in order of first appearance;
 * a user's lines need not be adjacent but keep their relative order. Returns
 * 0, or -1 with a message naming the file and line in error[MODEL_ERROR_SIZE]. */
int train_sequences_read(struct train_sequences *s, const char *path, char *error);
void train_sequences_free(struct train_sequences *s);

/* Leave-one-out split, as in SASRec: a user with n >= 3 interactions trains on
 * the first n - 2, validates on item n - 1 and tests on item n; a user with
 * fewer trains on all and is not evaluated. */
int train_split_train_length(const struct train_sequences *s, int user);
int train_split_has_holdout(const struct train_sequences *s, int user);

/* Which held-out item an evaluation input predicts. */
enum train_holdout { TRAIN_HOLDOUT_VALID = 0, TRAIN_HOLDOUT_TEST = 1 };

/* Buffers of one next-item batch: B sequences of up to T positions. */
struct train_seq_batch {
    int max_B, T;
    int pad_left;      /* 1: every sequence is T tokens, the items at the end after
                          token 0 padding that counts as input (SASRec's layout, so
                          the newest item is always at position T - 1) */
    int user_token_base; /* 0: off. Else every row opens with user u's own token,
                            user_token_base + u (u indexes train_sequences), before
                            its items: a learned per-user input that every position
                            attends to, as the user embedding of SSE-PT (Wu et al.,
                            RecSys 2020). Its target is the row's first item. */
    int *tokens;       /* [max_B, T] */
    int *lengths;      /* [max_B] */
    int *targets;      /* [max_B, T] */
    struct train_batch batch;
};

int train_seq_batch_alloc(struct train_seq_batch *sb, int max_B, int T);
void train_seq_batch_free(struct train_seq_batch *sb);

/* Fills a training batch from users[0..n): inputs are the last T training
 * items but one, targets the item after each input (SASRec's shifted
 * sequence); padding has target -1. By default sequences start at position 0
 * and are padded at the end (masked keys), and the batch's T is the longest
 * input in it. With pad_left every row is T long. Users with fewer than 2
 * training items must not be passed. */
void train_seq_batch_fill_train(struct train_seq_batch *sb, const struct train_sequences *s, const int *users, int n);

/* Fills an evaluation batch: the input is the last T items before the held-out
 * item (training items, plus the validation item when predicting the test
 * item). No targets. */
void train_seq_batch_fill_eval(struct train_seq_batch *sb, const struct train_sequences *s, const int *users, int n,
                               enum train_holdout holdout);

/* Replaces each input item (token > 0, below user_token_base when that is
 * set) of the filled batch, independently
 * with probability p, by an item drawn uniformly from [1, n_items]; padding
 * and targets are left alone. This regularises the item embeddings, because
 * the model cannot rely on any single input item. Returns the number of
 * replaced tokens. */
int train_seq_batch_replace_inputs(struct train_seq_batch *sb, int n_items, float p, uint64_t *rng);

/* The same, with item i drawn with probability (cdf[i] - cdf[i - 1]) /
 * cdf[n_items], cdf[0] = 0 and non-decreasing. */
int train_seq_batch_replace_inputs_cdf(struct train_seq_batch *sb, const double *cdf, int n_items, float p,
                                       uint64_t *rng);

/* The same with each replaced input set to a token drawn uniformly from
 * [first_token, first_token + n_tokens): noise tokens outside the item
 * range, which no real input uses. With one token this is BERT's masking. */
int train_seq_batch_noise_inputs(struct train_seq_batch *sb, int first_token, int n_tokens, float p, uint64_t *rng);

/* Returns counts[n_items + 1]: how often each item occurs in the training
 * parts of all users, the data the updates learn from. NULL when out of memory;
 * the caller frees it. */
int *train_split_training_counts(const struct train_sequences *s);

/* Returns cdf[n_items + 1] for train_seq_batch_replace_inputs_cdf with item
 * i weighted (1 + c_i)^exponent, where c_i is its count in the training
 * parts. A negative exponent draws rarely seen items more often than
 * uniformly. Returns NULL when out of memory. The caller frees the table. */
double *train_split_count_cdf(const struct train_sequences *s, double exponent);

/* Replaces the user token that opens each row (user_token_base > 0),
 * independently with probability p, by the token of a user drawn uniformly
 * from [0, n_users): SSE-PT's stochastic shared embeddings, which keep the
 * model from leaning on a user's token alone. Returns the number replaced. */
int train_seq_batch_replace_users(struct train_seq_batch *sb, int n_users, float p, uint64_t *rng);

/* Draws an id in [1, n] with probability (cdf[i] - cdf[i - 1]) / cdf[n]
 * (a table of train_split_count_cdf). */
int train_draw_cdf(const double *cdf, int n, uint64_t *rng);

/* Shuffles a[n] in place with a Fisher-Yates pass driven by the generator. */
void train_shuffle(int *a, int n, uint64_t *rng);

#endif
