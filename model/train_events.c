/*
 * The training loop of train_events.h: shuffled mini-batches of samples,
 * AdamW, validation after each epoch, early stopping on the validation
 * score, checkpoints in the train_checkpoint format, and the final save.
 *
 * Determinism: as train_loop.h. The sample order depends only on (seed,
 * epoch), and dropout draws on the model's generator, saved in checkpoints.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "model.h"
#include "safetensors.h"
#include "train_checkpoint.h"
#include "train_events.h"
#include "train_layers.h"

/* Samples per sorting window: batches are cut from windows of this many
 * batches sorted by kind and window length, so that a batch pads less. */
#define EVENTS_BUCKET_BATCHES 16

/* Sort key of a sample within its window: batches of one kind (with
 * next-event labels, or a review's sentiment only) and similar length. One
 * kind per batch keeps the large item and decoder gradients of event samples
 * from shrinking, through clipping, the sentiment gradient of reviews. */
struct train_events_key {
    int kind;
    long length;
    int position;
    int32_t sample;
};

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int train_events_session_init(struct train_events_session *s, struct train_model *model,
                              const struct train_events_data *data, const struct tokenizer *tokenizer,
                              const struct train_events_config *config, const struct optim_config *opt_config,
                              char *error)
{
    memset(s, 0, sizeof *s);
    s->config = *config;
    s->data = data;
    s->tokenizer = tokenizer;
    s->core.model = model;
    s->core.best_epoch = -1;
    s->order_epoch = -1;

    if (config->batch_size < 1 || config->batch_size > model->max_B) {
        snprintf(error, MODEL_ERROR_SIZE, "invalid batch size %d: expected 1 to %d (the model's max_B)",
                 config->batch_size, model->max_B);
        return -1;
    }
    if (config->epochs < 1) {
        snprintf(error, MODEL_ERROR_SIZE, "invalid epochs %d: expected 1 or more", config->epochs);
        return -1;
    }
    s->order = malloc((size_t)data->n_train * sizeof(int32_t));
    s->keys = malloc((size_t)config->batch_size * EVENTS_BUCKET_BATCHES * sizeof *s->keys);
    s->core.best_params = model_alloc_floats(model->params.count);
    if (!s->order || !s->keys || !s->core.best_params ||
        train_events_batch_alloc(&s->batch, model->max_B, model->max_T, data->options.offer_items) != 0) {
        snprintf(error, MODEL_ERROR_SIZE, "out of memory setting up training on %ld samples", data->n_train);
        train_events_session_free(s);
        return -1;
    }
    s->batches_per_epoch = (data->n_train + config->batch_size - 1) / config->batch_size;

    struct optim_config oc = *opt_config;
    if (oc.total_steps == 0)
        oc.total_steps = s->batches_per_epoch * config->epochs;
    if (optim_adamw_init(&s->core.opt, &oc, &model->params, error) != 0) {
        train_events_session_free(s);
        return -1;
    }
    return 0;
}

void train_events_session_free(struct train_events_session *s)
{
    optim_adamw_free(&s->core.opt);
    train_events_batch_free(&s->batch);
    free(s->order);
    free(s->keys);
    free(s->core.best_params);
    memset(s, 0, sizeof *s);
}

int train_events_session_resume(struct train_events_session *s, const char *path, char *error)
{
    if (train_checkpoint_load(&s->core, path, error) != 0)
        return -1;
    if (s->core.batch_index > s->batches_per_epoch) {
        snprintf(error, MODEL_ERROR_SIZE, "checkpoint %.300s stopped at batch %ld of an epoch, but this data has %ld "
                 "batches per epoch: resume with the inputs and options of the checkpointed run",
                 path, s->core.batch_index, s->batches_per_epoch);
        return -1;
    }
    s->best.score = s->core.best_hr10;
    s->order_epoch = -1;
    return 0;
}

static int compare_keys(const void *a, const void *b)
{
    const struct train_events_key *x = a, *y = b;
    if (x->kind != y->kind)
        return x->kind < y->kind ? -1 : 1;
    if (x->length != y->length)
        return x->length < y->length ? -1 : 1;
    return x->position < y->position ? -1 : x->position > y->position;
}

static struct train_events_key sample_key(const struct train_events_session *s, int32_t sample, int position)
{
    const struct train_events_data *d = s->data;
    int user = d->train_user[sample], cut = d->train_cut[sample];
    long begin = d->user_begin[user];
    long first = begin > 0 ? d->token_end[begin - 1] : 0;
    long length = d->token_end[begin + cut - 1] - first;

    return (struct train_events_key){cut >= d->train_length[user], length < s->batch.T ? length : s->batch.T,
                                     position, sample};
}

/* The epoch's order depends only on (seed, epoch), so a resumed run
 * rebuilds it without storing it. */
static void shuffle_epoch(struct train_events_session *s)
{
    const struct train_events_data *d = s->data;
    uint64_t rng = s->config.seed * 0x9E3779B97F4A7C15ULL + (uint64_t)s->core.epoch;
    int window = s->config.batch_size * EVENTS_BUCKET_BATCHES;

    for (long i = 0; i < d->n_train; i++)
        s->order[i] = (int32_t)i;
    train_shuffle(s->order, (int)d->n_train, &rng);
    for (long begin = 0; begin < d->n_train; begin += window) {
        int n = d->n_train - begin < window ? (int)(d->n_train - begin) : window;
        for (int i = 0; i < n; i++)
            s->keys[i] = sample_key(s, s->order[begin + i], i);
        qsort(s->keys, (size_t)n, sizeof s->keys[0], compare_keys);
        for (int i = 0; i < n; i++)
            s->order[begin + i] = s->keys[i].sample;
    }
}

float train_events_session_step(struct train_events_session *s)
{
    struct train_model *m = s->core.model;
    const struct train_events_data *d = s->data;
    int size = s->config.batch_size;
    int32_t users[size], cuts[size];

    if (s->order_epoch != s->core.epoch) {
        shuffle_epoch(s);
        s->order_epoch = s->core.epoch;
    }

    long begin = s->core.batch_index * size;
    int n = d->n_train - begin < size ? (int)(d->n_train - begin) : size;
    for (int i = 0; i < n; i++) {
        users[i] = d->train_user[s->order[begin + i]];
        cuts[i] = d->train_cut[s->order[begin + i]];
    }
    train_events_batch_fill(&s->batch, d, s->tokenizer, users, cuts, NULL, n, 0);
    if (m->config.n_decoder_layers == 0)
        s->batch.batch.T_dec = 0;

    train_model_zero_grad(m);
    float loss = train_model_forward(m, &s->batch.batch, 1);
    train_model_backward(m, &s->batch.batch);
    s->core.grad_norm = optim_adamw_step(&s->core.opt, m->params.data, m->grads.data);

    s->core.batch_index++;
    for (int i = 0; i < n; i++)
        s->tokens_done += s->batch.lengths[i];
    return loss;
}

static void fill_progress(const struct train_events_session *s, struct train_events_progress *p)
{
    memset(p, 0, sizeof *p);
    p->epoch = s->core.epoch;
    p->epochs = s->config.epochs;
    p->step = s->core.opt.step;
    p->total_steps = s->core.opt.config.total_steps;
    p->losses = s->core.model->losses;
    p->lr = optim_learning_rate(&s->core.opt.config, s->core.opt.step > 0 ? s->core.opt.step - 1 : 0);
    p->grad_norm = s->core.grad_norm;
}

static void report_step(struct train_events_session *s, long steps_here)
{
    struct train_events_progress p;

    if (!s->config.progress)
        return;
    fill_progress(s, &p);
    if (s->elapsed_seconds > 0.0) {
        p.tokens_per_second = (double)s->tokens_done / s->elapsed_seconds;
        p.eta_seconds = s->elapsed_seconds / (double)steps_here * (double)(p.total_steps - p.step);
    }
    s->config.progress(&p, s->config.progress_user);
}

/* Validation, early stopping and the checkpoint at the end of an epoch. */
static int end_epoch(struct train_events_session *s, double run_start, char *error)
{
    struct train_events_progress p;
    struct train_model *m = s->core.model;

    fill_progress(s, &p);
    if (train_events_evaluate(m, s->data, s->tokenizer, s->config.eval_max_samples, &p.validation, error) != 0)
        return -1;
    p.validated = 1;
    /* Without validation samples every epoch counts as the best, so the last
     * weights are kept and early stopping never triggers. */
    int no_samples = p.validation.next_samples == 0 && p.validation.sentiment_samples == 0;
    if (s->core.best_epoch < 0 || p.validation.score > s->core.best_hr10 || no_samples) {
        s->core.best_hr10 = (float)p.validation.score;
        s->core.best_epoch = s->core.epoch;
        s->core.bad_epochs = 0;
        s->best = p.validation;
        memcpy(s->core.best_params, m->params.data, m->params.count * sizeof(float));
        p.improved = 1;
    } else {
        s->core.bad_epochs++;
    }

    s->core.epoch++;
    s->core.batch_index = 0;
    if (s->core.epoch >= s->config.epochs || (s->config.patience > 0 && s->core.bad_epochs >= s->config.patience))
        s->core.finished = 1;
    if (s->config.time_limit_seconds > 0 && now_seconds() - run_start >= s->config.time_limit_seconds &&
        !s->core.finished)
        s->stopped_by_time = 1;
    p.stopping = s->core.finished || s->stopped_by_time;
    if (s->config.progress)
        s->config.progress(&p, s->config.progress_user);
    if (s->config.checkpoint_path)
        return train_checkpoint_save(&s->core, s->config.checkpoint_path, error);
    return 0;
}

int train_events_session_run(struct train_events_session *s, char *error)
{
    double run_start = now_seconds();
    long steps_here = 0;

    while (!s->core.finished && !s->stopped_by_time && s->core.epoch < s->config.epochs) {
        if (s->config.max_steps > 0 && s->core.opt.step >= s->config.max_steps)
            break;

        double t0 = now_seconds();
        train_events_session_step(s);
        s->elapsed_seconds += now_seconds() - t0;
        steps_here++;
        report_step(s, steps_here);

        if (s->core.batch_index >= s->batches_per_epoch && end_epoch(s, run_start, error) != 0)
            return -1;
    }
    if (s->config.checkpoint_path && !s->core.finished && s->core.batch_index > 0 &&
        train_checkpoint_save(&s->core, s->config.checkpoint_path, error) != 0)
        return -1;
    if (s->core.best_epoch >= 0 && !s->config.keep_last_weights)
        memcpy(s->core.model->params.data, s->core.best_params, s->core.model->params.count * sizeof(float));
    return 0;
}

int train_events_save(const struct train_model *m, const struct tokenizer *tokenizer, const char *path,
                      char *error)
{
    struct model view;
    char *json = NULL;

    if (tokenizer_to_json(tokenizer, &json, error) != 0)
        return -1;
    memset(&view, 0, sizeof view);
    view.config = m->config;
    view.params = m->params;
    view.params.owns_data = 0;
    int result = model_safetensors_save(&view, path, json, error);
    free(json);
    return result;
}
