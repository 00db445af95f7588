#include "train_loop.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "train_checkpoint.h"

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int train_session_init(struct train_session *s, struct train_model *model, const struct train_sequences *data,
                       const struct train_loop_config *config, const struct optim_config *opt_config, char *error)
{
    memset(s, 0, sizeof *s);
    s->config = *config;
    s->model = model;
    s->data = data;
    s->best_epoch = -1;
    s->order_epoch = -1;

    if (config->batch_size < 1 || config->batch_size > model->max_B) {
        snprintf(error, MODEL_ERROR_SIZE, "invalid batch_size %d: expected 1 to %d (the model's max_B)",
                 config->batch_size, model->max_B);
        return -1;
    }
    if (model->config.item_begin != 1 || model->config.item_end != data->n_items + 1) {
        snprintf(error, MODEL_ERROR_SIZE, "invalid item range [%d, %d): expected [1, %d) for %d items",
                 model->config.item_begin, model->config.item_end, data->n_items + 1, data->n_items);
        return -1;
    }

    if (config->noise_tokens < 0 || (long)data->n_items + 1 + config->noise_tokens > model->config.vocab_size) {
        snprintf(error, MODEL_ERROR_SIZE,
                 "invalid noise_tokens %d: the vocabulary of %d ids has room for %d after the %d items",
                 config->noise_tokens, model->config.vocab_size, model->config.vocab_size - data->n_items - 1,
                 data->n_items);
        return -1;
    }
    long needed = (long)data->n_items + 1 + config->noise_tokens + (config->user_tokens ? data->n_users : 0);
    if (config->user_tokens && needed > model->config.vocab_size) {
        snprintf(error, MODEL_ERROR_SIZE,
                 "user_tokens needs %ld vocabulary ids (padding, %d items, %d noise tokens, %d users) but the "
                 "model has %d: raise vocab_size",
                 needed, data->n_items, config->noise_tokens, data->n_users, model->config.vocab_size);
        return -1;
    }
    if (!(config->ema_decay >= 0.0f && config->ema_decay < 1.0f)) {
        snprintf(error, MODEL_ERROR_SIZE, "invalid ema_decay %g: expected 0 (off) or a value in (0, 1)",
                 (double)config->ema_decay);
        return -1;
    }

    s->users = malloc((size_t)(data->n_users > 0 ? data->n_users : 1) * sizeof(int));
    s->order = malloc((size_t)(data->n_users > 0 ? data->n_users : 1) * sizeof(int));
    s->best_params = model_alloc_floats(model->params.count);
    if (!s->users || !s->order || !s->best_params || train_seq_batch_alloc(&s->batch, model->max_B, model->max_T)) {
        snprintf(error, MODEL_ERROR_SIZE, "out of memory setting up training for %d users", data->n_users);
        train_session_free(s);
        return -1;
    }
    if (config->ema_decay > 0.0f) {
        s->ema = model_alloc_floats(model->params.count);
        if (!s->ema) {
            snprintf(error, MODEL_ERROR_SIZE, "out of memory for the moving average of %zu weights",
                     model->params.count);
            train_session_free(s);
            return -1;
        }
        memcpy(s->ema, model->params.data, model->params.count * sizeof(float));
    }
    if (config->replace_exponent != 0.0f) {
        s->replace_cdf = train_split_count_cdf(data, config->replace_exponent);
        if (!s->replace_cdf) {
            snprintf(error, MODEL_ERROR_SIZE, "out of memory for the replacement weights of %d items",
                     data->n_items);
            train_session_free(s);
            return -1;
        }
    }
    if (config->negative_exponent != 0.0f) {
        s->negative_cdf = train_split_count_cdf(data, config->negative_exponent);
        if (!s->negative_cdf) {
            snprintf(error, MODEL_ERROR_SIZE, "out of memory for the negative weights of %d items", data->n_items);
            train_session_free(s);
            return -1;
        }
        train_model_set_negative_weights(model, s->negative_cdf);
    }
    if (config->item_features_tail > 0 &&
        train_item_features_init(&s->features, data, model->config.d_model, config->item_features_tail, error) != 0) {
        train_session_free(s);
        return -1;
    }
    if (config->smooth.n_windows > 0 && train_smooth_check(&config->smooth, error) != 0) {
        train_session_free(s);
        return -1;
    }
    if (config->item_graph.window > 0) {
        if (train_item_graph_init(&s->graph, data, &config->item_graph, model->params.embedding,
                                  model->config.d_model, error) != 0) {
            train_session_free(s);
            return -1;
        }
        s->graph.threads = model->loss_threads;
    }
    s->batch.pad_left = config->pad_left;
    if (config->user_tokens)
        s->batch.user_token_base = data->n_items + 1 + config->noise_tokens;
    for (int u = 0; u < data->n_users; u++)
        if (train_split_train_length(data, u) >= 2)
            s->users[s->n_users++] = u;
    if (s->n_users == 0) {
        snprintf(error, MODEL_ERROR_SIZE, "no user has 2 or more training items; nothing to train on");
        train_session_free(s);
        return -1;
    }
    s->batches_per_epoch = (s->n_users + config->batch_size - 1) / config->batch_size;

    struct optim_config oc = *opt_config;
    if (oc.total_steps == 0)
        oc.total_steps = s->batches_per_epoch * config->epochs;
    if (optim_adamw_init(&s->opt, &oc, &model->params, error) != 0) {
        train_session_free(s);
        return -1;
    }
    return 0;
}

void train_session_free(struct train_session *s)
{
    optim_adamw_free(&s->opt);
    train_seq_batch_free(&s->batch);
    free(s->users);
    free(s->replace_cdf);
    if (s->negative_cdf && s->model && s->model->negative_cdf == s->negative_cdf)
        train_model_set_negative_weights(s->model, NULL);
    free(s->negative_cdf);
    free(s->order);
    free(s->best_params);
    free(s->ema);
    train_item_features_free(&s->features);
    train_item_graph_free(&s->graph);
    memset(s, 0, sizeof *s);
}

/* Users per sorting window: batches are cut from windows of this many
 * batches whose users are sorted by length, so a batch contains sequences of
 * similar length and its padded width (the longest one) wastes less work. */
#define TRAIN_BUCKET_BATCHES 16

struct keyed_user {
    int length, position, user;
};

static int compare_keyed(const void *a, const void *b)
{
    const struct keyed_user *x = a, *y = b;
    if (x->length != y->length)
        return x->length < y->length ? -1 : 1;
    return x->position < y->position ? -1 : x->position > y->position;
}

/* The epoch's order depends only on (seed, epoch), so a resumed run
 * rebuilds it without storing it. */
static void shuffle_epoch(struct train_session *s)
{
    uint64_t rng = s->config.seed * 0x9E3779B97F4A7C15ULL + (uint64_t)s->epoch;
    int window = s->config.batch_size * TRAIN_BUCKET_BATCHES;
    struct keyed_user keyed[window];

    memcpy(s->order, s->users, (size_t)s->n_users * sizeof(int));
    train_shuffle(s->order, s->n_users, &rng);

    for (int begin = 0; begin < s->n_users; begin += window) {
        int n = s->n_users - begin < window ? s->n_users - begin : window;
        for (int i = 0; i < n; i++) {
            int u = s->order[begin + i];
            keyed[i] = (struct keyed_user){train_split_train_length(s->data, u), i, u};
        }
        qsort(keyed, (size_t)n, sizeof keyed[0], compare_keyed);
        for (int i = 0; i < n; i++)
            s->order[begin + i] = keyed[i].user;
    }
}

float train_session_step(struct train_session *s)
{
    struct train_model *m = s->model;
    int size = s->config.batch_size;

    if (s->batch_index >= s->batches_per_epoch) {
        /* a caller stepping by hand past the epoch end; no validation here */
        s->epoch++;
        s->batch_index = 0;
    }
    if (s->order_epoch != s->epoch) {
        shuffle_epoch(s);
        s->order_epoch = s->epoch;
    }

    long begin = s->batch_index * size;
    int n = s->n_users - begin < size ? (int)(s->n_users - begin) : size;
    train_seq_batch_fill_train(&s->batch, s->data, s->order + begin, n);
    /* drawn from the model's generator, which checkpoints save, so a resumed run replaces the same tokens */
    if (s->config.noise_tokens > 0)
        train_seq_batch_noise_inputs(&s->batch, s->data->n_items + 1, s->config.noise_tokens, s->config.input_replace,
                                     &m->rng);
    else if (s->replace_cdf)
        train_seq_batch_replace_inputs_cdf(&s->batch, s->replace_cdf, s->data->n_items, s->config.input_replace,
                                           &m->rng);
    else
        train_seq_batch_replace_inputs(&s->batch, s->data->n_items, s->config.input_replace, &m->rng);
    train_seq_batch_replace_users(&s->batch, s->data->n_users, s->config.user_replace, &m->rng);

    train_model_zero_grad(m);
    train_model_forward(m, &s->batch.batch, 1);
    train_model_backward(m, &s->batch.batch);
    if (s->config.item_graph.window > 0) {
        train_item_graph_backward(&s->graph, m->grads.embedding);
        train_item_graph_load_own(&s->graph, m->params.embedding);
    }
    s->grad_norm = optim_adamw_step(&s->opt, m->params.data, m->grads.data);
    if (s->config.item_features_tail > 0)
        train_item_features_step(&s->features, m->params.embedding, m->grads.embedding,
                                 optim_learning_rate(&s->opt.config, s->opt.step - 1), s->opt.config.beta1,
                                 s->opt.config.beta2, s->opt.config.eps);
    if (s->config.item_graph.window > 0)
        train_item_graph_compose(&s->graph, m->params.embedding);
    if (s->ema) {
        float decay = s->config.ema_decay;
        for (size_t i = 0; i < m->params.count; i++)
            s->ema[i] = decay * s->ema[i] + (1.0f - decay) * m->params.data[i];
    }

    s->batch_index++;
    s->positions_done += m->losses.item_count;
    return m->losses.item;
}

static void report(struct train_session *s, float loss, long steps_here)
{
    struct train_progress p = {0};

    if (!s->config.progress)
        return;
    p.epoch = s->epoch;
    p.epochs = s->config.epochs;
    p.step = s->opt.step;
    p.total_steps = s->opt.config.total_steps;
    p.loss = loss;
    p.lr = optim_learning_rate(&s->opt.config, s->opt.step > 0 ? s->opt.step - 1 : 0);
    p.grad_norm = s->grad_norm;
    if (s->elapsed_seconds > 0.0) {
        p.tokens_per_second = (double)s->positions_done / s->elapsed_seconds;
        p.eta_seconds = s->elapsed_seconds / (double)steps_here * (double)(p.total_steps - p.step);
    }
    s->config.progress(&p, s->config.progress_user);
}

/* Exchanges the model's weights with the moving average, in place. */
static void swap_ema(struct train_session *s)
{
    float *p = s->model->params.data;

    for (size_t i = 0; i < s->model->params.count; i++) {
        float t = p[i];
        p[i] = s->ema[i];
        s->ema[i] = t;
    }
}

/* Returns the run's validation settings in the batch layout it trains with. */
static struct train_eval_config validation_config(const struct train_session *s)
{
    struct train_eval_config vc = s->config.validation;

    vc.full = 0;
    vc.pad_left = s->config.pad_left;
    vc.user_token_base = s->batch.user_token_base;
    return vc;
}

/* Validates, updates the early-stopping state and writes the checkpoint at
 * the end of an epoch, then moves to the next epoch. */
static int end_epoch(struct train_session *s, char *error)
{
    struct train_progress p = {0};
    struct train_model *m = s->model;

    if (s->config.validation.n_negatives > 0) {
        struct train_eval_config vc = validation_config(s);
        if (s->ema)
            swap_ema(s);
        int status = train_eval_ranking(m, s->data, TRAIN_HOLDOUT_VALID, &vc, &p.validation, error);
        if (status != 0) {
            if (s->ema)
                swap_ema(s);
            return -1;
        }
        p.validated = 1;
        if (s->best_epoch < 0 || p.validation.hr10 > s->best_hr10) {
            s->best_hr10 = (float)p.validation.hr10;
            s->best_epoch = s->epoch;
            s->bad_epochs = 0;
            memcpy(s->best_params, m->params.data, m->params.count * sizeof(float));
            p.improved = 1;
        } else {
            s->bad_epochs++;
        }
        if (s->ema)
            swap_ema(s);
    }

    if (s->config.progress) {
        p.epoch = s->epoch;
        p.epochs = s->config.epochs;
        p.step = s->opt.step;
        p.total_steps = s->opt.config.total_steps;
        s->config.progress(&p, s->config.progress_user);
    }

    s->epoch++;
    s->batch_index = 0;
    if (s->epoch >= s->config.epochs || (s->config.patience > 0 && s->bad_epochs >= s->config.patience))
        s->finished = 1;
    if (s->config.checkpoint_path)
        return train_checkpoint_save(s, s->config.checkpoint_path, error);
    return 0;
}

int train_session_run(struct train_session *s, char *error)
{
    long steps_here = 0;

    while (!s->finished && s->epoch < s->config.epochs) {
        if (s->config.max_steps > 0 && s->opt.step >= s->config.max_steps) {
            if (s->config.checkpoint_path)
                return train_checkpoint_save(s, s->config.checkpoint_path, error);
            return 0; /* interrupted on request: the best weights are not restored */
        }

        double t0 = now_seconds();
        float loss = train_session_step(s);
        s->elapsed_seconds += now_seconds() - t0;
        steps_here++;
        report(s, loss, steps_here);

        if (s->batch_index >= s->batches_per_epoch && end_epoch(s, error) != 0)
            return -1;
        if (s->config.checkpoint_path && s->config.checkpoint_every > 0 &&
            s->opt.step % s->config.checkpoint_every == 0 &&
            train_checkpoint_save(s, s->config.checkpoint_path, error) != 0)
            return -1;
    }

    s->finished = 1;
    if (s->best_epoch >= 0)
        memcpy(s->model->params.data, s->best_params, s->model->params.count * sizeof(float));
    else if (s->ema)
        memcpy(s->model->params.data, s->ema, s->model->params.count * sizeof(float));
    if (s->best_epoch >= 0 && s->config.smooth.n_windows > 0) {
        struct train_eval_config vc = validation_config(s);
        return train_smooth_select(s->model, s->data, &s->config.smooth, &vc, &s->smoothed, error);
    }
    return 0;
}
