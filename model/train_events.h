/*
 * Multitask training on recorded events: what `intentd train` runs.
 *
 * Data. Each user's events are ordered by (time, input order) and
 * tokenized with tokenizer_encode_event as the processor does (review
 * sentiment is never an input token, text capped at max_text_tokens); the
 * user's token stream is their concatenation. A user with 3 or more events
 * keeps the last one for validation (split by time); the others train on
 * all of theirs. Every labelled review flagged holdout (see train_input.h)
 * is a sentiment validation sample and never a training label.
 *
 * Samples. A sample is a user cut after their k-th event: the input is the
 * last max_len tokens of events 1..k, and the heads read the pooled state
 * at its last position, as when serving. Labels:
 *   item       at the last token of every event in the window, the item
 *              token of the following event (known item or bucket);
 *   action     action of event k+1;
 *   category   category of event k+1 (head index = token - category_begin);
 *   propensity 1 when one of events k+1 .. k+propensity_window is a purchase;
 *   sentiment  label of event k when it is a labelled review;
 *   decoder    START i1 .. in SEP, where i1 .. in (n <= offer_items) are the
 *              next distinct known items (never buckets) after event k,
 *              the sequence the processor's offer generation produces.
 * Labels only look at the user's training events. A training sample needs at
 * least one label.
 */
#ifndef INTENTD_TRAIN_EVENTS_H
#define INTENTD_TRAIN_EVENTS_H

#include <stdint.h>

#include "optim_adamw.h"
#include "tokenizer.h"
#include "train_input.h"
#include "train_loop.h"
#include "train_model.h"

struct train_events_options {
    int max_text_tokens;    /* text tokens per event (16, the processor's cap) */
    int offer_items;        /* decoder items per target (4) */
    int propensity_window;  /* events after the cut that count for propensity (5) */
    int bpe_merges;         /* 2000 */
    long bpe_max_bytes;     /* text bytes the BPE learns from (8 MiB): texts are taken user by user, users in
                               order of first appearance, and a text that would pass the cap is skipped */
    struct tokenizer_build_options vocab;
};

void train_events_options_defaults(struct train_events_options *options);

/* Per-user token streams and the samples cut from them. */
struct train_events_data {
    int n_users;
    long n_events, n_tokens;
    long *user_begin;    /* [n_users + 1]: user u's events are [user_begin[u], user_begin[u+1]) */
    int *train_length;   /* [n_users] events used for training */
    int32_t *event_index; /* [n_events] log index of each event in user, time order */
    long *token_end;     /* [n_events] end of the event's tokens in tokens; begin is the previous end */
    int32_t *tokens;     /* [n_tokens] */
    int8_t *action, *label;
    uint8_t *holdout;
    int32_t *item_token, *category_token; /* -1: none */

    /* samples as (user, k) pairs */
    long n_train, n_valid_next, n_valid_sentiment;
    int32_t *train_user, *train_cut;
    int32_t *valid_next_user;                       /* cut at n - 1 */
    int32_t *valid_sentiment_user, *valid_sentiment_cut;
    struct train_events_options options;
};

/* Orders the log's events per user and splits them; fills everything above
 * the tokens. Returns 0, or -1 with a message in error[MODEL_ERROR_SIZE]. */
int train_events_data_split(struct train_events_data *d, const struct train_input_log *log,
                            const struct train_events_options *options, char *error);

/* Builds the tokenizer from the training events of a split: item and
 * category counts, and BPE merges learned from their texts (holdout reviews
 * excluded). Returns 0 and *out, or -1 with a message. */
int train_events_build_tokenizer(const struct train_events_data *d, const struct train_input_log *log,
                                 struct tokenizer **out, char *error);

/* Tokenizes every event and lists the samples. Returns 0, or -1 with a
 * message naming the user and event when an event cannot be encoded. */
int train_events_data_encode(struct train_events_data *d, const struct train_input_log *log,
                             const struct tokenizer *tokenizer, char *error);

void train_events_data_free(struct train_events_data *d);

/* Batch buffers for up to max_B samples of T encoder positions. */
struct train_events_batch {
    int max_B, T, T_dec;
    int *tokens, *lengths, *item_targets;     /* [max_B * T], [max_B], [max_B * T] */
    int *dec_tokens, *dec_lengths, *dec_targets; /* [max_B * T_dec], [max_B], [max_B * T_dec] */
    int *action, *category, *sentiment;       /* [max_B] */
    float *propensity;                        /* [max_B] */
    struct train_batch batch;
};

int train_events_batch_alloc(struct train_events_batch *b, int max_B, int T, int offer_items);
void train_events_batch_free(struct train_events_batch *b);

/* Fills a batch with samples (users[i], cuts[i]) whose labels look at the
 * first limits[i] events of the user (NULL: training lengths). holdout
 * selects which sentiment labels count: 0 training, 1 validation. */
void train_events_batch_fill(struct train_events_batch *b, const struct train_events_data *d,
                             const struct tokenizer *tokenizer, const int32_t *users, const int32_t *cuts,
                             const int *limits, int n, int holdout);

/* Validation metrics. HR@10 and NDCG@10 rank a held-out known item among
 * all known items [item_begin, item_bucket_begin) (the full catalogue, no
 * sampled negatives); held-out events with an unknown item or none count
 * only for the other metrics. */
struct train_events_metrics {
    long next_samples, item_samples, sentiment_samples; /* item_samples: held-out known items */
    double hr10, ndcg10;
    double action_accuracy, category_accuracy;
    double action_baseline;     /* accuracy of always predicting the most frequent held-out action */
    long action_counts[TOKENIZER_N_ACTIONS]; /* held-out next actions per class */
    double propensity_log_loss; /* against a purchase as the held-out event */
    double sentiment_accuracy;
    double score;               /* sum of the four accuracies that have samples: higher is better */
};

/* Evaluates the validation samples (at most max_samples of each kind, the
 * first ones, 0: all) with the inference path (model_encode, model_heads).
 * Returns 0, or -1 with a message. */
int train_events_evaluate(const struct train_model *m, const struct train_events_data *d,
                          const struct tokenizer *tokenizer, long max_samples, struct train_events_metrics *out,
                          char *error);

struct train_events_progress {
    int epoch, epochs;
    long step, total_steps;
    struct train_losses losses; /* of the last batch */
    float lr, grad_norm;
    double tokens_per_second;   /* input tokens per second over this process's training */
    double eta_seconds;
    int validated;
    struct train_events_metrics validation;
    int improved;
    int stopping;               /* 1 in the last report: early stop, time limit or epoch limit */
};

struct train_events_key;

typedef void (*train_events_progress_fn)(const struct train_events_progress *progress, void *user);

struct train_events_config {
    int epochs, batch_size;
    int patience;               /* epochs without a better validation score before stopping; 0: never */
    uint64_t seed;              /* sample order */
    long max_steps;             /* 0: no limit */
    double time_limit_seconds;  /* stop after the epoch in which it passes; 0: no limit */
    long eval_max_samples;      /* per kind; 0: all */
    const char *checkpoint_path; /* written after every epoch; NULL: none */
    int keep_last_weights;      /* 1: end with the last weights, not the best validated ones */
    train_events_progress_fn progress;
    void *progress_user;
};

/* Training state. core holds the optimizer, the position and the early
 * stopping state in the layout train_checkpoint_save writes (its best_hr10
 * is our validation score), so checkpoints reuse that format. Borrows the
 * model, data and tokenizer. */
struct train_events_session {
    struct train_session core;
    struct train_events_config config;
    const struct train_events_data *data;
    const struct tokenizer *tokenizer;
    struct train_events_batch batch;
    int32_t *order;             /* [n_train] this epoch's sample order */
    struct train_events_key *keys; /* sort scratch of one window */
    int order_epoch;
    long batches_per_epoch;
    double elapsed_seconds;
    long tokens_done;
    struct train_events_metrics best;
    int stopped_by_time;
};

int train_events_session_init(struct train_events_session *s, struct train_model *model,
                              const struct train_events_data *data, const struct tokenizer *tokenizer,
                              const struct train_events_config *config, const struct optim_config *opt_config,
                              char *error);
void train_events_session_free(struct train_events_session *s);

/* Restores a checkpoint written by this session's config. */
int train_events_session_resume(struct train_events_session *s, const char *path, char *error);

/* One update on the next batch of the epoch; returns the total loss. */
float train_events_session_step(struct train_events_session *s);

/* Trains until the epoch limit, max_steps, the time limit or early
 * stopping, then loads the best validated weights into the model (unless
 * keep_last_weights). Returns 0, or -1 with a message. */
int train_events_session_run(struct train_events_session *s, char *error);

/* Writes the model with the tokenizer JSON in its metadata, the file the
 * processor loads (model_bundle_load). Returns 0, or -1 with a message. */
int train_events_save(const struct train_model *m, const struct tokenizer *tokenizer, const char *path,
                      char *error);

#endif
