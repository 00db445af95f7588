/*
 * Games quality benchmark: trains a causal encoder (SASRec-style next-item
 * prediction) on the Amazon Games sequences and evaluates HR@10 and NDCG@10
 * with the SASRec protocol. By default the item loss is a softmax over the
 * target and 256 negatives per batch, drawn in proportion to 1 + their
 * training count with the logQ correction (--negative-exponent 0: uniform
 * draws; --loss full: over all items). Training uses dropout 0.5 and
 * attention dropout 0.3, and replaces 30 % of the input items by random
 * items, for up to 200 epochs. After training the item rows are smoothed
 * over the item graph with the window (2, 3 or 5), shrink (30 or 100) and
 * alpha (0.5) that score best on the validation items.
 *
 * Usage: bench_games DATA_FILE [--epochs N] [--batch N] [--max-len N]
 *        [--d-model N] [--d-ff N] [--heads N] [--layers N] [--dropout P]
 *        [--attention-dropout P] [--input-replace P] [--replace-exponent X]
 *        [--noise-tokens N] [--user-tokens 0|1] [--user-replace P] [--ema DECAY] [--lr X]
 *        [--recent-weight X] [--recent-span N]
 *        [--loss full|sampled|bce] [--negatives K] [--negative-exponent X]
 *        [--weight-decay X] [--decay-embedding 0|1] [--norm pre|post] [--patience N] [--threads N]
 *        [--pad left|right] [--seed N] [--max-steps N] [--save PATH] [--load PATH]
 *        [--members PATH,...] [--ensemble N] [--item-features TAIL]
 *        [--graph-window N] [--graph-neighbors N] [--graph-alpha X] [--graph-shrink X]
 *        [--smooth-windows N,...] [--smooth-shrinks X,...] [--smooth-alphas X,...] [--smooth-neighbors N]
 * --replace-exponent X draws the replacement items with weight (1 + training
 * count)^X, and --noise-tokens N draws them from N extra vocabulary ids that
 * no real input uses (train_loop.h). --user-tokens 1 opens each sequence
 * with a token of its own user, replaced by a random user's with
 * probability --user-replace (SSE-PT's personalisation). --load evaluates
 * the weights of PATH, written by --save with the same shape options
 * (--d-model, --d-ff, --heads, --layers, --max-len, --noise-tokens,
 * --user-tokens), and trains nothing. --negative-exponent X draws the
 * negatives of the sampled losses with weight (1 + training count)^X and
 * corrects the logits by log(K q) (train_model.h).
 * --ensemble N (at most 8) trains N models at once, one process each,
 * with seeds --seed, --seed + 1, ... Each member prints its own test
 * metrics in a games_member line when it is done, so the lines come in
 * finishing order before the split lines. The members are then packed into
 * one model of towers (model_towers.h), which the inference encoder runs as
 * any model and which ranks by the mean of the members' logits. The split
 * and summary lines are that model's metrics. A games_ensemble line before
 * them gives the same metrics from the training code's sum of the members'
 * logits, as a check of the packing. A games_towers line gives the CPU
 * seconds the inference encoder takes to score the sampled test protocol
 * with the packed model and with member 0 alone. train_seconds is the wall time
 * until the last member is done. --threads applies to each member: with
 * one member per core, pass --threads 1. With --save PATH the packed model
 * is written to PATH and the members are kept as PATH.member0,
 * PATH.member1, ...
 * --members PATH,... adds the weights of earlier --save runs to the
 * trained or loaded model and evaluates them the same way, packed (not
 * with --ensemble above 1; --save then still writes the first model
 * alone). --load and --members take files of one tower: a packed PATH is
 * rejected, and its PATH.member files are what they evaluate.
 * Paths are checked before training starts.
 * --item-features TAIL adds shared popularity and recency vectors to the
 * item embeddings (train_item_features.h), recency counting the last TAIL
 * training items of each user.
 * --graph-window N (N > 0) also trains with item-graph smoothing
 * (train_item_graph.h): each item row mixes its own vector with the mean
 * of the items at most N positions away in the training sequences (the 32
 * most frequent, --graph-neighbors), with weight alpha * shrink / (shrink +
 * training count); --graph-alpha 0.5 and --graph-shrink 10 by default.
 * --smooth-windows, --smooth-shrinks and --smooth-alphas list the
 * combinations tried once training is done, or on the --load weights, at
 * most four values each; --smooth-windows 0 turns this off.
 * The best by validation HR@10 stays (train_smooth.h; all neighbours unless
 * --smooth-neighbors). A games_smoothing line before the split lines
 * reports the choice (window=0: none beat the trained weights); with
 * --ensemble each member prints its own, with member=K, before its
 * games_member line, whose hr10 and ndcg10 are the smoothed member's and
 * whose valid_hr10 is the best of training, before smoothing. The saved
 * weights are the smoothed ones, so --load of a saved file smooths again
 * unless --smooth-windows 0 (a second smoothing stays only if it beats the
 * loaded weights). --load scores the combinations on the validation sample
 * of --seed + 1: pass the --seed the weights were trained with. A run ended
 * by --max-steps is not smoothed. train_seconds includes the search (a few
 * seconds per combination) and is 0 with --load.
 * Progress goes to stderr. stdout gets (after any games_member lines) the
 * validation and the test metrics split by the held-out item's count in
 * the training data (games_valid_by_train_count, games_by_train_count). The
 * validation line also gives hr10_at_test_mix, its HR@10 with the test
 * items' mix of counts. Then come the run line and, last, the summary. When
 * one model is trained, the run line's valid_hr10 is the best one of
 * training, whose validation draws other negatives (seed --seed + 1) than
 * these lines (seed 2018), so the two differ by the sampling. The summary:
 *   games hr10=... ndcg10=... full_hr10=... full_ndcg10=... train_seconds=... */
#include <cblas.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "blas_kernels.h"
#include "model.h"
#include "model_towers.h"
#include "safetensors.h"
#include "train_checkpoint.h"
#include "train_data.h"
#include "train_eval.h"
#include "train_loop.h"
#include "train_model.h"

#include "bench_games_options.h"

static double clock_seconds(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* The label of this process's progress lines: empty, or "member K: " in a
 * child training one member of an ensemble. */
static char progress_label[32];

static void on_progress(const struct train_progress *p, void *user)
{
    (void)user;
    if (p->validated) {
        fprintf(stderr, "%sepoch %d/%d step %ld valid hr10=%.4f ndcg10=%.4f%s\n", progress_label, p->epoch + 1,
                p->epochs, p->step,
                p->validation.hr10, p->validation.ndcg10, p->improved ? " (best)" : "");
        return;
    }
    if (p->step % 50 == 0)
        fprintf(stderr, "%sepoch %d/%d step %ld/%ld loss %.4f lr %.2e grad_norm %.3f %.0f positions/s eta %.0fs\n",
                progress_label, p->epoch + 1, p->epochs, p->step, p->total_steps, p->loss, p->lr, p->grad_norm,
                p->tokens_per_second, p->eta_seconds);
}

/* Copies the weights of a model written by --save into m. Returns 0, or -1
 * with a message. */
static int load_weights(struct train_model *m, const char *path, char *error)
{
    struct model loaded;

    if (model_safetensors_load(&loaded, path, MODEL_LOAD_COPY, NULL, error) != 0)
        return -1;
    const struct model_config *a = &loaded.config, *b = &m->config;
    int status = 0;
    /* Loaded as one dense model, packed towers would score wrongly. */
    if (a->towers > 1) {
        snprintf(error, MODEL_ERROR_SIZE,
                 "%s is a model of %d towers, which this benchmark cannot train or load: evaluate its members "
                 "with --load %s.member0 --members %s.member1,...",
                 path, a->towers, path, path);
        status = -1;
    } else if (loaded.params.count != m->params.count || a->vocab_size != b->vocab_size || a->d_model != b->d_model ||
        a->n_heads != b->n_heads || a->n_encoder_layers != b->n_encoder_layers || a->d_ff != b->d_ff ||
        a->max_len != b->max_len || a->norm != b->norm) {
        snprintf(error, MODEL_ERROR_SIZE,
                 "%s holds a model of vocabulary %d, d_model %d, %d heads, %d layers, d_ff %d, max_len %d, %s-norm "
                 "but the options give %d, %d, %d, %d, %d, %d, %s-norm: pass the --d-model, --d-ff, --heads, "
                 "--layers, --max-len, --norm, --noise-tokens and --user-tokens it was trained with",
                 path, a->vocab_size, a->d_model, a->n_heads, a->n_encoder_layers, a->d_ff, a->max_len,
                 a->norm == MODEL_NORM_PRE ? "pre" : "post", b->vocab_size, b->d_model, b->n_heads,
                 b->n_encoder_layers, b->d_ff, b->max_len, b->norm == MODEL_NORM_PRE ? "pre" : "post");
        status = -1;
    } else {
        memcpy(m->params.data, loaded.params.data, m->params.count * sizeof(float));
    }
    model_free(&loaded);
    return status;
}

static int check_readable(const char *path, char *error)
{
    if (access(path, R_OK) == 0)
        return 0;
    snprintf(error, MODEL_ERROR_SIZE, "cannot read %.300s: %s (check the --load and --members paths)", path,
             strerror(errno));
    return -1;
}

/* Fails early, before hours of training, on a --members or --load file
 * that cannot be read and on a --save path that cannot be written. A save
 * file created by the check is removed again. */
static int check_paths(const struct options *o, char *error)
{
    char paths[4096], save[4200];

    if (o->load && check_readable(o->load, error) != 0)
        return -1;
    snprintf(paths, sizeof paths, "%s", o->members ? o->members : "");
    for (char *state = NULL, *path = strtok_r(paths, ",", &state); path; path = strtok_r(NULL, ",", &state))
        if (check_readable(path, error) != 0)
            return -1;

    if (!o->save)
        return 0;
    snprintf(save, sizeof save, "%s", o->save);
    int existed = access(save, F_OK) == 0;
    FILE *f = fopen(save, "ab");
    if (!f) {
        snprintf(error, MODEL_ERROR_SIZE, "cannot write %.300s: %s (check the --save path)", save, strerror(errno));
        return -1;
    }
    fclose(f);
    if (!existed)
        remove(save);
    return 0;
}

/* Prints one result split by the held-out item's count in the training
 * data, which shows how much rarely seen items cost. */
static void print_by_count(const char *name, const struct train_eval_result *r)
{
    printf("%s", name);
    for (int b = 0; b < TRAIN_EVAL_COUNT_BUCKETS; b++) {
        const struct train_eval_bucket *bucket = &r->by_count[b];
        int lowest = train_eval_count_floor[b];
        printf(" count%d_share=%.4f count%d_hr10=%.4f count%d_ndcg10=%.4f", lowest,
               r->users > 0 ? (double)bucket->users / r->users : 0.0, lowest, bucket->hr10, lowest, bucket->ndcg10);
    }
}

/* Returns the validation HR@10 with the test items' share of each count
 * bucket. It is close to the test HR@10 when the buckets explain the gap
 * between the two. */
static double hr10_at_mix(const struct train_eval_result *valid, const struct train_eval_result *test)
{
    double hr10 = 0.0;

    for (int b = 0; b < TRAIN_EVAL_COUNT_BUCKETS; b++)
        if (test->users > 0)
            hr10 += valid->by_count[b].hr10 * test->by_count[b].users / test->users;
    return hr10;
}

#define MAX_MEMBERS 8

/* The first vocabulary id of the user tokens, 0 without them (as
 * train_session_init sets train_seq_batch.user_token_base). */
static int user_token_base(const struct options *o, const struct train_sequences *data)
{
    return o->user_tokens ? data->n_items + 1 + o->noise_tokens : 0;
}

/* Creates a model with the shape, dropout and loss of the options. */
static int build_model(struct train_model *model, const struct options *o, const struct train_sequences *data,
                       unsigned long long seed, char *error)
{
    struct model_config config;

    model_config_defaults(&config);
    /* the noise tokens follow the items, outside the item range */
    config.vocab_size = data->n_items + 1 + o->noise_tokens + (o->user_tokens ? data->n_users : 0);
    config.d_model = o->d_model;
    config.n_heads = o->heads;
    config.n_encoder_layers = o->layers;
    config.n_decoder_layers = 0;
    config.d_ff = o->d_ff > 0 ? o->d_ff : 4 * o->d_model;
    config.max_len = o->max_len;
    config.norm = o->pre_norm ? MODEL_NORM_PRE : MODEL_NORM_POST;
    config.encoder_mode = MODEL_ENCODER_CAUSAL;
    config.item_begin = 1;
    config.item_end = data->n_items + 1;
    if (train_model_create(model, &config, o->batch, o->max_len, 0, seed, error) != 0)
        return -1;

    model->dropout = o->dropout;
    model->attention_dropout = o->attention_dropout;
    model->item_recent_weight = o->recent_weight;
    model->item_recent_span = o->recent_span;
    if (train_model_set_item_loss(model, o->loss, o->negatives, error) != 0)
        return -1;
    if (train_model_set_loss_threads(model, o->threads) != 0) {
        snprintf(error, MODEL_ERROR_SIZE, "out of memory for %d loss threads", o->threads);
        return -1;
    }
    return 0;
}

static int init_session(struct train_session *session, struct train_model *model, const struct options *o,
                        const struct train_sequences *data, unsigned long long seed, char *error)
{
    struct optim_config oc;
    optim_config_defaults(&oc);
    oc.lr = o->lr;
    oc.beta2 = 0.98f;
    oc.weight_decay = o->weight_decay;
    oc.decay_embedding = o->decay_embedding;
    oc.warmup_steps = 100;
    oc.schedule = OPTIM_SCHEDULE_COSINE;
    oc.min_lr_ratio = 0.1f;
    oc.clip_norm = 5.0f;

    struct train_loop_config lc = {
        .epochs = o->epochs,
        .batch_size = o->batch,
        .patience = o->patience,
        .seed = seed,
        .pad_left = o->pad_left,
        .validation = {.max_users = 10000, .n_negatives = 100, .seed = seed + 1, .full = 0},
        .max_steps = o->max_steps,
        .ema_decay = o->ema,
        .input_replace = o->input_replace,
        .replace_exponent = o->replace_exponent,
        .negative_exponent = o->negative_exponent,
        .noise_tokens = o->noise_tokens,
        .user_tokens = o->user_tokens,
        .user_replace = o->user_replace,
        .item_features_tail = o->features_tail,
        .item_graph = o->graph,
        .smooth = o->smooth,
        .progress = on_progress,
    };
    return train_session_init(session, model, data, &lc, &oc, error);
}

/* Computes the test and, when valid is not NULL, the validation metrics of
 * the models' summed logits. */
static int evaluate(struct train_model *const *models, int n_models, const struct options *o,
                    const struct train_sequences *data, struct train_eval_result *test,
                    struct train_eval_result *valid, char *error)
{
    struct train_eval_config ec = {.max_users = 10000, .n_negatives = 100, .seed = 2018, .full = 1,
                                   .pad_left = o->pad_left, .user_token_base = user_token_base(o, data)};

    if (train_eval_ranking_ensemble(models, n_models, data, TRAIN_HOLDOUT_TEST, &ec, test, error) != 0)
        return -1;
    return valid ? train_eval_ranking_ensemble(models, n_models, data, TRAIN_HOLDOUT_VALID, &ec, valid, error) : 0;
}

/* Seconds of CPU that the inference encoder takes to score the test users
 * of the sampled protocol with m (the full catalogue left out). */
static double served_seconds(const struct model *m, const struct train_model *shape, const struct options *o,
                             const struct train_sequences *data, char *error)
{
    struct train_eval_config ec = {.max_users = 10000, .n_negatives = 100, .seed = 2018, .full = 0,
                                   .pad_left = o->pad_left, .user_token_base = user_token_base(o, data)};
    struct train_eval_result r;
    double t0 = clock_seconds(CLOCK_PROCESS_CPUTIME_ID);

    if (train_eval_ranking_model(m, shape->max_B, shape->max_T, data, TRAIN_HOLDOUT_TEST, &ec, &r, error) != 0)
        return -1.0;
    return clock_seconds(CLOCK_PROCESS_CPUTIME_ID) - t0;
}

/* Prints a games_towers line: the CPU time of scoring the test users with
 * the packed model against member 0 alone, both by the inference encoder. */
static int print_towers_cost(const struct model *towers, struct train_model *member, const struct options *o,
                             const struct train_sequences *data, char *error)
{
    struct model view;

    train_model_view(member, &view);
    if (model_prepare(&view, error) != 0)
        return -1;
    double member_seconds = served_seconds(&view, member, o, data, error);
    double towers_seconds = member_seconds < 0.0 ? -1.0 : served_seconds(towers, member, o, data, error);
    model_free(&view);
    if (towers_seconds < 0.0)
        return -1;
    printf("games_towers towers=%d d_model=%d served_cpu_seconds=%.2f member_served_cpu_seconds=%.2f\n",
           towers->config.towers, towers->config.d_model, towers_seconds, member_seconds);
    return 0;
}

/* Packs the n members into one model of towers and computes its test and
 * validation metrics with the inference encoder. With save set, writes
 * the packed model there. */
static int evaluate_towers(struct train_model *const *members, int n, const struct options *o,
                           const struct train_sequences *data, const char *save, struct train_eval_result *test,
                           struct train_eval_result *valid, char *error)
{
    struct train_eval_config ec = {.max_users = 10000, .n_negatives = 100, .seed = 2018, .full = 1,
                                   .pad_left = o->pad_left, .user_token_base = user_token_base(o, data)};
    const struct model_params *params[MAX_MEMBERS + 1];
    struct model towers;
    int B = members[0]->max_B, T = members[0]->max_T;

    for (int k = 0; k < n; k++)
        params[k] = &members[k]->params;
    if (model_towers_pack(params, n, &members[0]->config, &towers, error) != 0)
        return -1;
    int status = train_eval_ranking_model(&towers, B, T, data, TRAIN_HOLDOUT_TEST, &ec, test, error) != 0 ||
                         train_eval_ranking_model(&towers, B, T, data, TRAIN_HOLDOUT_VALID, &ec, valid, error) != 0 ||
                         print_towers_cost(&towers, members[0], o, data, error) != 0 ||
                         (save && model_safetensors_save(&towers, save, NULL, error) != 0)
                     ? -1
                     : 0;
    model_free(&towers);
    return status;
}

/* Evaluates n > 1 members as the training code sums them (a games_ensemble
 * line) and packed as towers (into test and valid). */
static int evaluate_members(struct train_model *const *members, int n, const struct options *o,
                            const struct train_sequences *data, const char *save, struct train_eval_result *test,
                            struct train_eval_result *valid, char *error)
{
    struct train_eval_result summed;

    if (evaluate(members, n, o, data, &summed, NULL, error) != 0 ||
        evaluate_towers(members, n, o, data, save, test, valid, error) != 0)
        return -1;
    printf("games_ensemble members=%d hr10=%.4f ndcg10=%.4f full_hr10=%.4f full_ndcg10=%.4f\n", n, summed.hr10,
           summed.ndcg10, summed.full_hr10, summed.full_ndcg10);
    return 0;
}

static void print_split(const struct train_eval_result *test, const struct train_eval_result *valid)
{
    print_by_count("games_valid_by_train_count", valid);
    printf(" hr10=%.4f hr10_at_test_mix=%.4f\n", valid->hr10, hr10_at_mix(valid, test));
    print_by_count("games_by_train_count", test);
    printf("\n");
}

/* The smoothing chosen on validation after training, when it was asked for. */
static void print_smoothing(const char *prefix, const struct train_smooth_result *r)
{
    if (r->tried == 0)
        return;
    printf("games_smoothing %swindow=%d shrink=%g alpha=%g valid_hr10=%.4f unsmoothed_valid_hr10=%.4f tried=%d\n",
           prefix, r->chosen.window, r->chosen.shrink, r->chosen.alpha, r->hr10, r->unsmoothed_hr10, r->tried);
}

static void print_summary(const struct train_eval_result *r, double train_seconds)
{
    printf("games hr10=%.4f ndcg10=%.4f full_hr10=%.4f full_ndcg10=%.4f train_seconds=%.0f\n", r->hr10, r->ndcg10,
           r->full_hr10, r->full_ndcg10, train_seconds);
}

/* Creates a model of the options' shape with the weights of path. */
static int load_model(struct train_model *model, const char *path, const struct options *o,
                      const struct train_sequences *data, char *error)
{
    return build_model(model, o, data, o->seed, error) != 0 || load_weights(model, path, error) != 0 ? -1 : 0;
}

/* Loads the weights of each comma-separated path of list. Returns the model
 * count, or -1 with a message. */
static int load_models(struct train_model *models, int capacity, const char *list, const struct options *o,
                       const struct train_sequences *data, char *error)
{
    char paths[4096];
    int n = 0;

    snprintf(paths, sizeof paths, "%s", list);
    for (char *save = NULL, *path = strtok_r(paths, ",", &save); path; path = strtok_r(NULL, ",", &save)) {
        if (n == capacity) {
            snprintf(error, MODEL_ERROR_SIZE, "more than %d models in %s", capacity, list);
            return -1;
        }
        if (load_model(&models[n], path, o, data, error) != 0)
            return -1;
        n++;
    }
    return n;
}

/* Trains one model (or loads --load), evaluates it together with the
 * models of --members, and prints the results. */
static int run_single(const struct options *o, const struct train_sequences *data, char *error)
{
    struct train_model models[MAX_MEMBERS + 1];
    struct train_model *ensemble[MAX_MEMBERS + 1] = {&models[0]};
    struct train_session session;

    if (build_model(&models[0], o, data, o->seed, error) != 0 || init_session(&session, &models[0], o, data, o->seed,
                                                                              error) != 0)
        return -1;
    if (o->load && load_weights(&models[0], o->load, error) != 0)
        return -1;

    /* CPU time next to wall time: on a shared machine the wall time also
     * measures the other processes. */
    double t0 = clock_seconds(CLOCK_MONOTONIC), cpu0 = clock_seconds(CLOCK_PROCESS_CPUTIME_ID);
    if (!o->load && train_session_run(&session, error) != 0)
        return -1;
    double train_seconds = clock_seconds(CLOCK_MONOTONIC) - t0;
    double train_cpu_seconds = clock_seconds(CLOCK_PROCESS_CPUTIME_ID) - cpu0;
    if (!o->load)
        fprintf(stderr, "%sbest validation epoch %d hr10=%.4f\n", progress_label, session.best_epoch + 1,
                session.best_hr10);

    struct train_smooth_result smoothed = session.smoothed;
    if (o->load && o->smooth.n_windows > 0) {
        struct train_eval_config vc = {.max_users = 10000, .n_negatives = 100, .seed = o->seed + 1,
                                       .pad_left = o->pad_left, .user_token_base = user_token_base(o, data)};
        if (train_smooth_select(&models[0], data, &o->smooth, &vc, &smoothed, error) != 0)
            return -1;
    }

    int n_extra = o->members ? load_models(models + 1, MAX_MEMBERS, o->members, o, data, error) : 0;
    if (n_extra < 0)
        return -1;
    for (int k = 1; k <= n_extra; k++)
        ensemble[k] = &models[k];
    struct train_eval_result r, valid;
    int evaluated = n_extra == 0 ? evaluate(ensemble, 1, o, data, &r, &valid, error)
                                 : evaluate_members(ensemble, n_extra + 1, o, data, NULL, &r, &valid, error);
    if (evaluated != 0)
        return -1;
    if (o->save && train_save_model(&models[0], o->save, error) != 0)
        return -1;

    print_smoothing("", &smoothed);
    print_split(&r, &valid);
    if (o->load)
        printf("games users=%d loaded=%s members=%d\n", r.users, o->load, n_extra + 1);
    else
        printf("games users=%d best_epoch=%d valid_hr10=%.4f steps=%ld train_cpu_seconds=%.0f members=%d\n",
               r.users, session.best_epoch + 1, session.best_hr10, session.opt.step, train_cpu_seconds, n_extra + 1);
    print_summary(&r, train_seconds);

    for (int k = 0; k <= n_extra; k++)
        train_model_free(&models[k]);
    train_session_free(&session);
    return 0;
}

/* In a child process: trains member k (seed o->seed + k), prints its own
 * test metrics and writes its weights to path. Returns the exit status. */
static int train_member(const struct options *o, const struct train_sequences *data, int k, const char *path)
{
    char error[MODEL_ERROR_SIZE];
    struct train_model model;
    struct train_session session;
    struct train_eval_result r;
    struct train_model *self = &model;
    unsigned long long seed = o->seed + (unsigned long long)k;
    double t0 = clock_seconds(CLOCK_MONOTONIC);

    snprintf(progress_label, sizeof progress_label, "member %d: ", k);
    if (build_model(&model, o, data, seed, error) != 0 || init_session(&session, &model, o, data, seed, error) != 0 ||
        train_session_run(&session, error) != 0 || evaluate(&self, 1, o, data, &r, NULL, error) != 0 ||
        train_save_model(&model, path, error) != 0) {
        fprintf(stderr, "bench_games: member %d: %s\n", k, error);
        return 1;
    }
    char prefix[32];
    snprintf(prefix, sizeof prefix, "member=%d ", k);
    print_smoothing(prefix, &session.smoothed);
    printf("games_member member=%d seed=%llu best_epoch=%d valid_hr10=%.4f hr10=%.4f ndcg10=%.4f "
           "train_seconds=%.0f\n",
           k, seed, session.best_epoch + 1, session.best_hr10, r.hr10, r.ndcg10, clock_seconds(CLOCK_MONOTONIC) - t0);
    fflush(stdout);
    train_session_free(&session);
    train_model_free(&model);
    return 0;
}

/* Waits for member k. Returns 0 when it exited with status 0, else -1 and,
 * when error is not NULL, how it ended (its own message, if any, went to
 * stderr). */
static int wait_member(pid_t pid, int k, char *error)
{
    char message[MODEL_ERROR_SIZE];
    int status = 0;

    if (waitpid(pid, &status, 0) != pid)
        snprintf(message, sizeof message, "cannot wait for member %d: %s", k, strerror(errno));
    else if (WIFSIGNALED(status))
        snprintf(message, sizeof message, "member %d (pid %d) was ended by signal %d", k, (int)pid,
                 WTERMSIG(status));
    else if (WEXITSTATUS(status) != 0)
        snprintf(message, sizeof message, "member %d exited with status %d, and its error is above", k,
                 WEXITSTATUS(status));
    else
        return 0;

    if (error)
        memcpy(error, message, sizeof message);
    return -1;
}

/* Removes the members' weight files unless --save keeps them. */
static void remove_members(char paths[][4096], const struct options *o)
{
    for (int k = 0; k < o->ensemble && !o->save; k++)
        remove(paths[k]);
}

/* Trains o->ensemble members at once, one process each (seeds o->seed,
 * o->seed + 1, ...), and evaluates their summed logits. train_seconds is
 * the wall time until the last member has finished. */
static int run_ensemble(const struct options *o, const struct train_sequences *data, char *error)
{
    char paths[MAX_MEMBERS][4096];
    pid_t pids[MAX_MEMBERS];
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    double t0 = clock_seconds(CLOCK_MONOTONIC);
    int started = 0, start_failed = 0, failed = 0;

    for (; started < o->ensemble; started++) {
        int k = started;
        if (o->save)
            snprintf(paths[k], sizeof paths[k], "%s.member%d", o->save, k);
        else
            snprintf(paths[k], sizeof paths[k], "%s/bench_games-%d-member%d.safetensors", tmp, (int)getpid(), k);
        fflush(stdout);
        fflush(stderr);
        pids[k] = fork();
        if (pids[k] == 0)
            _exit(train_member(o, data, k, paths[k]));
        if (pids[k] < 0) {
            snprintf(error, MODEL_ERROR_SIZE, "cannot start member %d: %s", k, strerror(errno));
            start_failed = failed = 1;
            break;
        }
    }

    /* After a failed start the members already running are stopped, so no
     * training outlives the benchmark. */
    for (int k = 0; k < started; k++) {
        if (start_failed)
            kill(pids[k], SIGTERM);
        if (wait_member(pids[k], k, failed ? NULL : error) != 0)
            failed = 1;
    }
    double train_seconds = clock_seconds(CLOCK_MONOTONIC) - t0;

    struct train_model models[MAX_MEMBERS];
    struct train_model *ensemble[MAX_MEMBERS];
    struct train_eval_result r, valid;
    int loaded = 0;
    while (!failed && loaded < o->ensemble) {
        failed = load_model(&models[loaded], paths[loaded], o, data, error) != 0;
        if (!failed) {
            ensemble[loaded] = &models[loaded];
            loaded++;
        }
    }
    if (!failed)
        failed = evaluate_members(ensemble, o->ensemble, o, data, o->save, &r, &valid, error) != 0;

    if (!failed) {
        print_split(&r, &valid);
        printf("games users=%d members=%d towers=%d\n", r.users, o->ensemble, o->ensemble);
        print_summary(&r, train_seconds);
    }
    for (int k = 0; k < loaded; k++)
        train_model_free(&models[k]);
    remove_members(paths, o);
    return failed ? -1 : 0;
}

int main(int argc, char **argv)
{
    struct options o;
    char error[MODEL_ERROR_SIZE];
    struct train_sequences data;
    char note[512];

    model_blas_select_kernels(argv, note, sizeof note);
    if (note[0])
        fprintf(stderr, "bench_games: %s\n", note);
    fprintf(stderr, "bench_games: OpenBLAS kernels %s\n", model_blas_kernels());

    if (argc < 2 || parse_options(&o, argc, argv) != 0) {
        fprintf(stderr, "usage: bench_games DATA_FILE [--epochs N] [--dropout P] ... (see the source header)\n");
        return 2;
    }
    if (o.ensemble < 1 || o.ensemble > MAX_MEMBERS) {
        fprintf(stderr, "bench_games: invalid --ensemble %d: expected a member count from 1 to %d\n", o.ensemble,
                MAX_MEMBERS);
        return 2;
    }
    if (o.ensemble > 1 && (o.load || o.members)) {
        fprintf(stderr, "bench_games: --ensemble trains its members, so evaluate saved weights with --load and "
                        "--members instead, without --ensemble\n");
        return 2;
    }
    if (check_paths(&o, error) != 0) {
        fprintf(stderr, "bench_games: %s\n", error);
        return 2;
    }
    /* The loss splits its large products over its own threads; OpenBLAS
     * threads on top of them would only contend for the same cores. */
    openblas_set_num_threads(1);
    if (train_sequences_read(&data, argv[1], error) != 0) {
        fprintf(stderr, "bench_games: %s\n", error);
        return 1;
    }
    fprintf(stderr, "data: %d users, %d items, %ld interactions\n", data.n_users, data.n_items, data.n_interactions);

    int status = o.ensemble > 1 ? run_ensemble(&o, &data, error) : run_single(&o, &data, error);
    if (status != 0)
        fprintf(stderr, "bench_games: %s\n", error);
    train_sequences_free(&data);
    return status == 0 ? 0 : 1;
}
