/*
 * End-to-end training on a tiny synthetic pattern: every user's sequence
 * follows next = f(previous) for a fixed permutation f of 12 items. Checks
 * that the trainer learns it to near-zero loss, that saved weights reload
 * bit for bit and give the same outputs (and match the inference forward),
 * that two runs with one seed are identical, and that a run interrupted by a
 * checkpoint and resumed equals the uninterrupted run bit for bit.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "encoder.h"
#include "model.h"
#include "safetensors.h"
#include "train_checkpoint.h"
#include "train_data.h"
#include "train_loop.h"
#include "train_model.h"

enum { N_ITEMS = 12, N_USERS = 48, SEQ = 6, MAX_B = 48 };

static int next_item(int item)
{
    return (5 * item) % N_ITEMS + 1;
}

static void make_data(struct train_sequences *s)
{
    s->n_users = N_USERS;
    s->n_items = N_ITEMS;
    s->n_interactions = (long)N_USERS * SEQ;
    s->offsets = malloc((N_USERS + 1) * sizeof(long));
    s->items = malloc((size_t)N_USERS * SEQ * sizeof(int));
    assert_non_null(s->offsets);
    assert_non_null(s->items);
    for (int u = 0; u <= N_USERS; u++)
        s->offsets[u] = (long)u * SEQ;
    for (int u = 0; u < N_USERS; u++) {
        int item = u % N_ITEMS + 1;
        for (int t = 0; t < SEQ; t++) {
            s->items[u * SEQ + t] = item;
            item = next_item(item);
        }
    }
}

static void make_model(struct train_model *m, float dropout)
{
    struct model_config c;
    char error[MODEL_ERROR_SIZE];

    model_config_defaults(&c);
    c.vocab_size = N_ITEMS + 1;
    c.d_model = 16;
    c.n_heads = 2;
    c.n_encoder_layers = 1;
    c.n_decoder_layers = 0;
    c.d_ff = 32;
    c.max_len = SEQ;
    c.norm = MODEL_NORM_PRE;
    c.item_begin = 1;
    c.item_end = N_ITEMS + 1;
    assert_int_equal(train_model_create(m, &c, MAX_B, SEQ, 0, 5, error), 0);
    m->dropout = dropout;
}

static void configure(struct train_loop_config *lc, struct optim_config *oc, int epochs, int validate)
{
    optim_config_defaults(oc);
    oc->lr = 1e-2f;
    oc->warmup_steps = 5;
    oc->weight_decay = 0.0f;
    *lc = (struct train_loop_config){
        .epochs = epochs,
        .batch_size = 16,
        .patience = 0,
        .seed = 77,
        .validation = {.max_users = 0, .n_negatives = validate ? 20 : 0, .seed = 3},
    };
}

/* Runs a whole training; the caller frees the model. */
static void train(struct train_model *m, const struct train_sequences *data, float dropout, int epochs, int validate)
{
    struct train_loop_config lc;
    struct optim_config oc;
    struct train_session s;
    char error[MODEL_ERROR_SIZE];

    make_model(m, dropout);
    configure(&lc, &oc, epochs, validate);
    assert_int_equal(train_session_init(&s, m, data, &lc, &oc, error), 0);
    assert_int_equal(train_session_run(&s, error), 0);
    train_session_free(&s);
}

/* The mean item loss over every user's training sequence, without dropout. */
static float training_loss(struct train_model *m, const struct train_sequences *data)
{
    struct train_seq_batch sb;
    int users[N_USERS];

    for (int u = 0; u < N_USERS; u++)
        users[u] = u;
    assert_int_equal(train_seq_batch_alloc(&sb, MAX_B, SEQ), 0);
    train_seq_batch_fill_train(&sb, data, users, N_USERS);
    float loss = train_model_forward(m, &sb.batch, 0);
    train_seq_batch_free(&sb);
    return loss;
}

static void pattern_is_learned(void **state)
{
    (void)state;
    static struct train_model m;
    struct train_sequences data;
    char error[MODEL_ERROR_SIZE];

    make_data(&data);
    make_model(&m, 0.0f);
    float before = training_loss(&m, &data);
    train_model_free(&m);

    train(&m, &data, 0.0f, 80, 0);
    float after = training_loss(&m, &data);
    assert_true(before > 1.5f); /* about log(12) for an untrained model */
    assert_true(after < 0.05f);

    struct train_eval_config ec = {.max_users = 0, .n_negatives = 100, .seed = 9, .full = 1};
    struct train_eval_result r;
    assert_int_equal(train_eval_ranking(&m, &data, TRAIN_HOLDOUT_TEST, &ec, &r, error), 0);
    assert_int_equal(r.users, N_USERS);
    assert_true(r.hr10 > 0.99);
    assert_true(r.full_hr10 > 0.99);
    assert_true(r.full_ndcg10 > 0.95);

    train_model_free(&m);
    train_sequences_free(&data);
}

/* Users of three items (one training item) whose test items occur 30, 10,
 * 5, 1 and 0 times in the training parts: the evaluation splits them into
 * the five count buckets, and the buckets add up to the totals. */
static void eval_splits_by_training_count(void **state)
{
    (void)state;
    static struct train_model m;
    static const int groups[][4] = {
        /* users, training item, validation item, test item */
        {30, 1, 6, 1}, {10, 2, 6, 2}, {5, 3, 6, 3}, {1, 4, 6, 4}, {2, 7, 6, 8},
    };
    static const int expected_users[TRAIN_EVAL_COUNT_BUCKETS] = {2, 1, 5, 10, 30};
    struct train_sequences data = {.n_users = 48, .n_items = N_ITEMS, .n_interactions = 48 * 3};
    char error[MODEL_ERROR_SIZE];

    data.offsets = malloc(49 * sizeof(long));
    data.items = malloc(48 * 3 * sizeof(int));
    assert_non_null(data.offsets);
    assert_non_null(data.items);
    int u = 0;
    for (size_t g = 0; g < sizeof groups / sizeof groups[0]; g++) {
        for (int k = 0; k < groups[g][0]; k++, u++) {
            data.offsets[u] = (long)u * 3;
            for (int j = 0; j < 3; j++)
                data.items[u * 3 + j] = groups[g][j + 1];
        }
    }
    data.offsets[48] = 48 * 3;
    assert_int_equal(u, 48);

    make_model(&m, 0.0f);
    struct train_eval_config ec = {.max_users = 0, .n_negatives = 5, .seed = 4};
    struct train_eval_result r;
    assert_int_equal(train_eval_ranking(&m, &data, TRAIN_HOLDOUT_TEST, &ec, &r, error), 0);
    assert_int_equal(r.users, 48);

    int users = 0;
    double hits = 0.0, gains = 0.0;
    for (int b = 0; b < TRAIN_EVAL_COUNT_BUCKETS; b++) {
        assert_int_equal(r.by_count[b].users, expected_users[b]);
        users += r.by_count[b].users;
        hits += r.by_count[b].hr10 * r.by_count[b].users;
        gains += r.by_count[b].ndcg10 * r.by_count[b].users;
    }
    assert_int_equal(users, r.users);
    assert_true(fabs(hits - r.hr10 * r.users) < 1e-9);
    assert_true(fabs(gains - r.ndcg10 * r.users) < 1e-9);
    /* 5 negatives: every rank is below 10, so every bucket hits */
    assert_true(fabs(r.hr10 - 1.0) < 1e-12);

    train_model_free(&m);
    train_sequences_free(&data);
}

static void assert_same_result(const struct train_eval_result *a, const struct train_eval_result *b)
{
    assert_int_equal(a->users, b->users);
    assert_true(a->hr10 == b->hr10);
    assert_true(a->ndcg10 == b->ndcg10);
    assert_true(a->full_hr10 == b->full_hr10);
    assert_true(a->full_ndcg10 == b->full_ndcg10);
}

/* An ensemble ranks by the sum of its members' logits: two copies of a
 * model rank as the model does, and so does the model with a member whose
 * item embeddings are zero (all its logits are 0). */
static void ensemble_sums_member_logits(void **state)
{
    (void)state;
    static struct train_model a, zero;
    struct train_sequences data;
    char error[MODEL_ERROR_SIZE];
    struct train_eval_config ec = {.max_users = 0, .n_negatives = 30, .seed = 9, .full = 1};
    struct train_eval_result alone, twice, with_zero;

    make_data(&data);
    make_model(&a, 0.0f);
    make_model(&zero, 0.0f);
    memset(zero.params.embedding, 0, (size_t)zero.config.vocab_size * zero.config.d_model * sizeof(float));
    struct train_model *copies[] = {&a, &a}, *pair[] = {&a, &zero};

    assert_int_equal(train_eval_ranking(&a, &data, TRAIN_HOLDOUT_TEST, &ec, &alone, error), 0);
    /* an untrained model ranks some targets in the top 10 and some below */
    assert_true(alone.hr10 > 0.0);
    assert_true(alone.hr10 < 1.0);
    assert_int_equal(train_eval_ranking_ensemble(copies, 2, &data, TRAIN_HOLDOUT_TEST, &ec, &twice, error), 0);
    assert_int_equal(train_eval_ranking_ensemble(pair, 2, &data, TRAIN_HOLDOUT_TEST, &ec, &with_zero, error), 0);
    assert_same_result(&twice, &alone);
    assert_same_result(&with_zero, &alone);

    train_model_free(&a);
    train_model_free(&zero);
    train_sequences_free(&data);
}

static void save_and_reload_match(void **state)
{
    (void)state;
    static struct train_model m, copy;
    struct train_sequences data;
    struct model loaded;
    char error[MODEL_ERROR_SIZE], path[] = "/tmp/test_train_fit_XXXXXX";
    int users[N_USERS];

    make_data(&data);
    train(&m, &data, 0.1f, 5, 0);
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(train_save_model(&m, path, error), 0);
    assert_int_equal(model_safetensors_load(&loaded, path, MODEL_LOAD_COPY, NULL, error), 0);
    unlink(path);

    /* identical weights, in the same layout */
    assert_int_equal(loaded.params.count, m.params.count);
    assert_memory_equal(loaded.params.data, m.params.data, m.params.count * sizeof(float));

    /* a fresh trainer with the reloaded weights gives identical outputs */
    struct train_seq_batch sb;
    for (int u = 0; u < N_USERS; u++)
        users[u] = u;
    assert_int_equal(train_seq_batch_alloc(&sb, MAX_B, SEQ), 0);
    train_seq_batch_fill_eval(&sb, &data, users, N_USERS, TRAIN_HOLDOUT_TEST);
    make_model(&copy, 0.0f);
    memcpy(copy.params.data, loaded.params.data, m.params.count * sizeof(float));
    train_model_encode(&m, &sb.batch);
    train_model_encode(&copy, &sb.batch);
    size_t n = (size_t)sb.batch.B * sb.batch.T * m.config.d_model;
    assert_memory_equal(m.enc_out, copy.enc_out, n * sizeof(float));

    /* the inference encoder computes the same function (other summation
     * order, so within float tolerance) at every valid position */
    struct model_arena arena = {0};
    float *hidden = malloc(n * sizeof(float));
    assert_non_null(hidden);
    assert_int_equal(model_encode(&loaded, &arena, sb.batch.tokens, sb.batch.lengths, sb.batch.B, sb.batch.T, hidden,
                                  NULL, error),
                     0);
    double worst = 0.0;
    for (int b = 0; b < sb.batch.B; b++)
        for (int t = 0; t < sb.lengths[b]; t++)
            for (int i = 0; i < m.config.d_model; i++) {
                size_t k = ((size_t)b * sb.batch.T + t) * m.config.d_model + i;
                worst = fmax(worst, fabs((double)hidden[k] - m.enc_out[k]));
            }
    assert_true(worst < 1e-4);

    free(hidden);
    model_arena_free(&arena);
    model_free(&loaded);
    train_seq_batch_free(&sb);
    train_model_free(&m);
    train_model_free(&copy);
    train_sequences_free(&data);
}

static void same_seed_same_weights(void **state)
{
    (void)state;
    static struct train_model a, b;
    struct train_sequences data;

    make_data(&data);
    train(&a, &data, 0.2f, 4, 1);
    train(&b, &data, 0.2f, 4, 1);
    assert_memory_equal(a.params.data, b.params.data, a.params.count * sizeof(float));
    train_model_free(&a);
    train_model_free(&b);
    train_sequences_free(&data);
}

/* Interrupt after 7 updates (inside epoch 3 of 6, after two validations),
 * reload the checkpoint into fresh objects and finish: the weights, the
 * optimizer moments and the early-stopping state equal the uninterrupted
 * run's bit for bit. */
static void check_resume(float ema_decay, int item_features_tail, int graph_window)
{
    static struct train_model whole, first, second;
    struct train_sequences data;
    struct train_loop_config lc;
    struct optim_config oc;
    struct train_session sw, s1, s2;
    char error[MODEL_ERROR_SIZE], path[] = "/tmp/test_train_ckpt_XXXXXX";

    make_data(&data);
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);

    make_model(&whole, 0.2f);
    configure(&lc, &oc, 6, 1);
    lc.ema_decay = ema_decay;
    lc.item_features_tail = item_features_tail;
    lc.item_graph = (struct train_item_graph_config){.window = graph_window, .max_neighbors = 2, .alpha = 0.5f,
                                                     .shrink = 2.0f};
    assert_int_equal(train_session_init(&sw, &whole, &data, &lc, &oc, error), 0);
    assert_int_equal(train_session_run(&sw, error), 0);

    make_model(&first, 0.2f);
    lc.max_steps = 7;
    lc.checkpoint_path = path;
    assert_int_equal(train_session_init(&s1, &first, &data, &lc, &oc, error), 0);
    assert_int_equal(train_session_run(&s1, error), 0);
    assert_int_equal(s1.opt.step, 7);
    train_session_free(&s1);
    train_model_free(&first);

    make_model(&second, 0.2f);
    lc.max_steps = 0;
    lc.checkpoint_path = NULL;
    assert_int_equal(train_session_init(&s2, &second, &data, &lc, &oc, error), 0);
    float *initial = malloc(second.params.count * sizeof(float));
    assert_non_null(initial);
    memcpy(initial, second.params.data, second.params.count * sizeof(float));
    assert_int_equal(train_checkpoint_load(&s2, path, error), 0);
    unlink(path);
    assert_int_equal(s2.opt.step, 7);
    assert_int_equal(s2.epoch, 2);
    assert_int_equal(s2.batch_index, 1);
    assert_true(memcmp(initial, second.params.data, second.params.count * sizeof(float)) != 0);
    free(initial);
    assert_int_equal(train_session_run(&s2, error), 0);

    assert_int_equal(s2.opt.step, sw.opt.step);
    assert_int_equal(s2.best_epoch, sw.best_epoch);
    assert_true(s2.best_hr10 == sw.best_hr10);
    assert_memory_equal(second.params.data, whole.params.data, whole.params.count * sizeof(float));
    assert_memory_equal(s2.opt.m, sw.opt.m, whole.params.count * sizeof(float));
    assert_memory_equal(s2.opt.v, sw.opt.v, whole.params.count * sizeof(float));
    assert_true(second.rng == whole.rng);
    if (ema_decay > 0.0f)
        assert_memory_equal(s2.ema, sw.ema, whole.params.count * sizeof(float));
    for (int k = 0; item_features_tail > 0 && k < TRAIN_ITEM_FEATURES; k++) {
        size_t n = (size_t)sw.features.n_bins[k] * sw.features.d * sizeof(float);
        assert_memory_equal(s2.features.vectors[k], sw.features.vectors[k], n);
        assert_memory_equal(s2.features.v[k], sw.features.v[k], n);
    }
    if (graph_window > 0)
        assert_memory_equal(s2.graph.own, sw.graph.own, ((size_t)data.n_items + 1) * sw.graph.d * sizeof(float));

    train_session_free(&sw);
    train_session_free(&s2);
    train_model_free(&whole);
    train_model_free(&second);
    train_sequences_free(&data);
}

static void resume_equals_uninterrupted(void **state)
{
    (void)state;
    check_resume(0.0f, 0, 0);
}

/* The same with the moving average of the weights, which the checkpoint
 * must carry too. */
static void resume_with_ema(void **state)
{
    (void)state;
    check_resume(0.9f, 0, 0);
}

/* The same with shared item-feature vectors, whose Adam state the
 * checkpoint must carry too. */
static void resume_with_item_features(void **state)
{
    (void)state;
    check_resume(0.0f, 2, 0);
}

/* The item graph's own vectors are training state the weights do not hold,
 * so the checkpoint must carry them. */
static void resume_with_item_graph(void **state)
{
    (void)state;
    check_resume(0.0f, 0, 1);
}

/* The weights left in the model are the trained weights smoothed with the
 * chosen combination, or the trained weights when none won. The reported
 * HR@10 is that of the weights left. A run asked to smooth ends with the
 * same weights as a plain run followed by train_smooth_select. */
static void smoothing_is_chosen_on_validation(void **state)
{
    (void)state;
    static struct train_model plain, smoothed;
    struct train_sequences data;
    struct train_loop_config lc;
    struct optim_config oc;
    struct train_session s;
    struct train_smooth_result r;
    struct train_eval_result check;
    char error[MODEL_ERROR_SIZE];
    struct train_smooth_config sc = {.n_windows = 2, .windows = {1, 2}, .n_shrinks = 1, .shrinks = {2.0f},
                                     .n_alphas = 2, .alphas = {0.5f, 1.0f}};

    make_data(&data);
    train(&plain, &data, 0.0f, 1, 1);
    size_t count = plain.params.count;
    float *trained = malloc(count * sizeof(float));
    assert_non_null(trained);
    memcpy(trained, plain.params.data, count * sizeof(float));

    struct train_eval_config vc = {.max_users = 0, .n_negatives = 20, .seed = 3};
    assert_int_equal(train_smooth_select(&plain, &data, &sc, &vc, &r, error), 0);
    assert_int_equal(r.tried, 4);
    assert_true(r.hr10 >= r.unsmoothed_hr10);
    assert_int_equal(train_eval_ranking(&plain, &data, TRAIN_HOLDOUT_VALID, &vc, &check, error), 0);
    assert_true(check.hr10 == r.hr10);

    if (r.chosen.window > 0)
        assert_int_equal(train_item_graph_smooth(&data, &r.chosen, trained, plain.config.d_model, error), 0);
    assert_memory_equal(plain.params.data, trained, count * sizeof(float));

    make_model(&smoothed, 0.0f);
    configure(&lc, &oc, 1, 1);
    lc.smooth = sc;
    assert_int_equal(train_session_init(&s, &smoothed, &data, &lc, &oc, error), 0);
    assert_int_equal(train_session_run(&s, error), 0);
    assert_int_equal(s.smoothed.tried, 4);
    assert_true(s.smoothed.hr10 == r.hr10);
    assert_memory_equal(smoothed.params.data, plain.params.data, count * sizeof(float));

    free(trained);
    train_session_free(&s);
    train_model_free(&plain);
    train_model_free(&smoothed);
    train_sequences_free(&data);
}

/* Broken weights must not look perfect: a NaN score ranks above the
 * target, so a model whose item rows are NaN has no hits. */
static void nan_scores_never_hit(void **state)
{
    (void)state;
    static struct train_model m;
    struct train_sequences data;
    struct train_eval_result r;
    char error[MODEL_ERROR_SIZE];

    make_data(&data);
    train(&m, &data, 0.0f, 20, 0);
    struct train_eval_config ec = {.max_users = 0, .n_negatives = 20, .seed = 4};
    assert_int_equal(train_eval_ranking(&m, &data, TRAIN_HOLDOUT_TEST, &ec, &r, error), 0);
    assert_true(r.hr10 > 0.5);

    for (size_t i = 0; i < (size_t)(N_ITEMS + 1) * m.config.d_model; i++)
        m.params.embedding[i] = NAN;
    assert_int_equal(train_eval_ranking(&m, &data, TRAIN_HOLDOUT_TEST, &ec, &r, error), 0);
    assert_true(r.hr10 == 0.0);
    assert_true(r.ndcg10 == 0.0);

    train_model_free(&m);
    train_sequences_free(&data);
}

/* After one update the average is decay * initial + (1 - decay) * updated. */
static void ema_follows_update_rule(void **state)
{
    (void)state;
    static struct train_model m;
    struct train_sequences data;
    struct train_loop_config lc;
    struct optim_config oc;
    struct train_session s;
    char error[MODEL_ERROR_SIZE];

    make_data(&data);
    make_model(&m, 0.0f);
    configure(&lc, &oc, 2, 0);
    lc.ema_decay = 0.75f;
    assert_int_equal(train_session_init(&s, &m, &data, &lc, &oc, error), 0);
    float *initial = malloc(m.params.count * sizeof(float));
    assert_non_null(initial);
    memcpy(initial, m.params.data, m.params.count * sizeof(float));
    assert_memory_equal(s.ema, initial, m.params.count * sizeof(float));

    train_session_step(&s);
    int mismatches = 0, moved = 0;
    for (size_t i = 0; i < m.params.count; i++) {
        mismatches += s.ema[i] != 0.75f * initial[i] + 0.25f * m.params.data[i];
        moved += m.params.data[i] != initial[i];
    }
    assert_int_equal(mismatches, 0);
    assert_true(moved > 0);

    free(initial);
    train_session_free(&s);
    train_model_free(&m);
    train_sequences_free(&data);
}

static void invalid_ema_decay(void **state)
{
    (void)state;
    static struct train_model m;
    struct train_sequences data;
    struct train_loop_config lc;
    struct optim_config oc;
    struct train_session s;
    char error[MODEL_ERROR_SIZE];

    make_data(&data);
    make_model(&m, 0.0f);
    configure(&lc, &oc, 1, 0);
    lc.ema_decay = 1.0f;
    assert_int_equal(train_session_init(&s, &m, &data, &lc, &oc, error), -1);
    assert_non_null(strstr(error, "ema_decay"));
    train_model_free(&m);
    train_sequences_free(&data);
}

static void checkpoint_rejects_other_config(void **state)
{
    (void)state;
    static struct train_model a, b;
    struct train_sequences data;
    struct train_loop_config lc;
    struct optim_config oc;
    struct train_session sa, sb;
    char error[MODEL_ERROR_SIZE], path[] = "/tmp/test_train_ckpt_XXXXXX";

    make_data(&data);
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    configure(&lc, &oc, 1, 0);

    make_model(&a, 0.0f);
    assert_int_equal(train_session_init(&sa, &a, &data, &lc, &oc, error), 0);
    assert_int_equal(train_checkpoint_save(&sa, path, error), 0);

    make_model(&b, 0.0f);
    b.config.d_ff = 64; /* pretend another architecture */
    assert_int_equal(train_session_init(&sb, &b, &data, &lc, &oc, error), 0);
    assert_int_equal(train_checkpoint_load(&sb, path, error), -1);
    assert_non_null(strstr(error, "another model config"));

    assert_int_equal(train_checkpoint_load(&sb, "/nonexistent/ckpt", error), -1);
    assert_non_null(strstr(error, "cannot open checkpoint"));

    unlink(path);
    train_session_free(&sa);
    train_session_free(&sb);
    train_model_free(&a);
    train_model_free(&b);
    train_sequences_free(&data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pattern_is_learned),
        cmocka_unit_test(eval_splits_by_training_count),
        cmocka_unit_test(save_and_reload_match),
        cmocka_unit_test(same_seed_same_weights),
        cmocka_unit_test(resume_equals_uninterrupted),
        cmocka_unit_test(ensemble_sums_member_logits),
        cmocka_unit_test(resume_with_ema),
        cmocka_unit_test(resume_with_item_features),
        cmocka_unit_test(resume_with_item_graph),
        cmocka_unit_test(smoothing_is_chosen_on_validation),
        cmocka_unit_test(nan_scores_never_hit),
        cmocka_unit_test(ema_follows_update_rule),
        cmocka_unit_test(invalid_ema_decay),
        cmocka_unit_test(checkpoint_rejects_other_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
