/*
 * Multitask event training (train_events.h) on a tiny synthetic event file:
 * the labels of a sample, fitting to near-zero loss through the session the
 * CLI runs, save and reload with equal outputs, loading through the
 * processor's model_bundle_load, exact resume from a checkpoint, and
 * determinism for a seed.
 */
#include "test_model_util.h"

#include "encoder.h"
#include "linear_packed.h"
#include "model_bundle.h"
#include "train_events.h"

/* Six users repeat one session; six review-only users carry sentiment. */
static char *write_inputs(const char *dir, char **reviews_path)
{
    static const char *session[] = {"i1,c1,pv", "i2,c1,pv", "i2,c1,cart", "i2,c1,buy", "i3,c2,pv", "i4,c2,pv"};
    char *path = malloc(strlen(dir) + 32), *rpath = malloc(strlen(dir) + 32);
    assert_non_null(path);
    assert_non_null(rpath);
    sprintf(path, "%s/ub.csv", dir);
    sprintf(rpath, "%s/reviews.csv", dir);

    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    for (int u = 0; u < 6; u++)
        for (int e = 0; e < 6; e++)
            fprintf(f, "u%d,%s,%d\n", u, session[e], 1000 + 60 * e);
    fclose(f);

    f = fopen(rpath, "wb");
    assert_non_null(f);
    fprintf(f, "cat,label,review\n");
    for (int r = 0; r < 6; r++)
        fprintf(f, "c2,%d,%s\n", r % 2, r % 2 ? "很好 good" : "很差 bad");
    fclose(f);
    *reviews_path = rpath;
    return path;
}

struct fixture {
    char *dir;
    struct train_input_log log;
    struct train_events_data data;
    struct tokenizer *tok;
    struct model_config config;
};

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof *fx);
    struct train_input_stats stats = {0};
    struct train_events_options options;
    char error[MODEL_ERROR_SIZE], *reviews;

    assert_non_null(fx);
    fx->dir = test_make_dir();
    char *taobao = write_inputs(fx->dir, &reviews);
    train_input_init(&fx->log);
    fx->log.holdout_every = 0; /* every review trains */
    assert_int_equal(train_input_read_taobao(&fx->log, taobao, 1, &stats, error), 0);
    assert_int_equal(train_input_read_reviews(&fx->log, reviews, 1, &stats, error), 0);
    free(taobao);
    free(reviews);

    train_events_options_defaults(&options);
    options.bpe_merges = 8;
    options.vocab.item_buckets = 4;
    options.vocab.category_buckets = 2;
    assert_int_equal(train_events_data_split(&fx->data, &fx->log, &options, error), 0);
    assert_int_equal(train_events_build_tokenizer(&fx->data, &fx->log, &fx->tok, error), 0);
    assert_int_equal(train_events_data_encode(&fx->data, &fx->log, fx->tok, error), 0);

    model_config_defaults(&fx->config);
    fx->config.d_model = 16;
    fx->config.n_heads = 2;
    fx->config.n_encoder_layers = 1;
    fx->config.n_decoder_layers = 1;
    fx->config.d_ff = 32;
    fx->config.max_len = 32;
    tokenizer_configure_model(fx->tok, &fx->config);
    fx->config.n_sentiments = 2;
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    tokenizer_free(fx->tok);
    train_events_data_free(&fx->data);
    train_input_free(&fx->log);
    test_remove_dir(fx->dir);
    free(fx);
    return 0;
}

static void split_and_samples(void **state)
{
    struct fixture *fx = *state;
    struct train_events_data *d = &fx->data;

    assert_int_equal(d->n_users, 12);
    assert_int_equal(d->n_valid_next, 6);    /* the six session users hold out their last event */
    assert_int_equal(d->n_valid_sentiment, 0);
    assert_int_equal(d->n_train, 6 * 4 + 6); /* cuts 1..4 of each session, plus each review */
    assert_int_equal(d->train_length[0], 5);
}

/* The labels of user 0 cut after two events (view i1, view i2). */
static void batch_labels(void **state)
{
    struct fixture *fx = *state;
    struct train_events_batch b;
    const struct tokenizer_layout *l = &fx->tok->layout;
    int32_t user = 0, cut = 2;

    assert_int_equal(train_events_batch_alloc(&b, 4, 32, 4), 0);
    train_events_batch_fill(&b, &fx->data, fx->tok, &user, &cut, NULL, 1, 0);
    int i2 = tokenizer_item_token(fx->tok, "i2"), i3 = tokenizer_item_token(fx->tok, "i3");
    assert_int_equal(b.lengths[0], 6); /* action, category, item for each event */
    assert_int_equal(b.item_targets[2], i2);
    assert_int_equal(b.item_targets[5], i2);
    assert_int_equal(b.item_targets[4], -1);
    assert_int_equal(b.action[0], TOKENIZER_ACTION_ADD_TO_CART);
    assert_int_equal(b.category[0], tokenizer_category_token(fx->tok, "c1") - l->category_begin);
    assert_true(b.propensity[0] == 1.0f);
    assert_int_equal(b.sentiment[0], -1);
    /* the next distinct known items within the training events: i2, i3 (i4 is held out) */
    assert_int_equal(b.dec_tokens[0], TOKENIZER_START);
    assert_int_equal(b.dec_targets[0], i2);
    assert_int_equal(b.dec_targets[1], i3);
    assert_int_equal(b.dec_targets[2], TOKENIZER_SEP);
    assert_int_equal(b.dec_lengths[0], 3);
    train_events_batch_free(&b);
}

static void run_training(struct fixture *fx, struct train_model *m, struct train_events_config *lc,
                         const char *resume)
{
    struct train_events_session s;
    struct optim_config oc;
    char error[MODEL_ERROR_SIZE];

    optim_config_defaults(&oc);
    oc.lr = 0.01f;
    oc.weight_decay = 0.0f;
    assert_int_equal(train_model_create(m, &fx->config, lc->batch_size, fx->config.max_len, 5, 7, error), 0);
    assert_int_equal(train_events_session_init(&s, m, &fx->data, fx->tok, lc, &oc, error), 0);
    if (resume)
        assert_int_equal(train_events_session_resume(&s, resume, error), 0);
    assert_int_equal(train_events_session_run(&s, error), 0);
    train_events_session_free(&s);
}

static struct train_events_config loop_config(int epochs)
{
    return (struct train_events_config){.epochs = epochs, .batch_size = 8, .seed = 3};
}

/* The largest batch-mean losses over the training samples, without dropout. */
static struct train_losses full_batch_losses(struct fixture *fx, struct train_model *m)
{
    struct train_events_batch b;
    assert_int_equal(train_events_batch_alloc(&b, m->max_B, fx->config.max_len, 4), 0);
    struct train_losses worst = {0};
    for (long begin = 0; begin < fx->data.n_train; begin += m->max_B) {
        int n = fx->data.n_train - begin < m->max_B ? (int)(fx->data.n_train - begin) : m->max_B;
        train_events_batch_fill(&b, &fx->data, fx->tok, fx->data.train_user + begin, fx->data.train_cut + begin,
                                NULL, n, 0);
        train_model_forward(m, &b.batch, 0);
        worst.item = fmaxf(worst.item, m->losses.item);
        worst.action = fmaxf(worst.action, m->losses.action);
        worst.sentiment = fmaxf(worst.sentiment, m->losses.sentiment);
        worst.token = fmaxf(worst.token, m->losses.token);
    }
    train_events_batch_free(&b);
    return worst;
}

static void fits_to_near_zero(void **state)
{
    struct fixture *fx = *state;
    struct train_model m;
    struct train_events_config lc = loop_config(60);
    lc.keep_last_weights = 1;

    run_training(fx, &m, &lc, NULL);
    struct train_losses worst = full_batch_losses(fx, &m);
    assert_true(worst.item < 0.05f);
    assert_true(worst.action < 0.05f);
    assert_true(worst.sentiment < 0.05f);
    assert_true(worst.token < 0.05f);
    train_model_free(&m);
}

/* Pooled states and heads of the same sequences through two models. */
static void assert_same_outputs(const struct model *a, const struct model *b, const int *tokens, int length)
{
    int d = a->config.d_model;
    float pa[64], pb[64], prop_a, prop_b;
    struct model_arena arena = {0};
    char error[MODEL_ERROR_SIZE];

    assert_int_equal(model_encode(a, &arena, tokens, &length, 1, length, NULL, pa, error), 0);
    assert_int_equal(model_encode(b, &arena, tokens, &length, 1, length, NULL, pb, error), 0);
    for (int i = 0; i < d; i++)
        assert_true(pa[i] == pb[i]);
    model_heads(a, pa, 1, &(struct model_head_outputs){.propensity = &prop_a});
    model_heads(b, pb, 1, &(struct model_head_outputs){.propensity = &prop_b});
    assert_true(prop_a == prop_b);
    assert_true(isfinite(prop_a));
    model_arena_free(&arena);
}

static void save_reload_equal(void **state)
{
    struct fixture *fx = *state;
    struct train_model m;
    struct train_events_config lc = loop_config(3);
    struct model view = {0}, loaded;
    struct model_bundle bundle;
    char error[MODEL_ERROR_SIZE], path[512], *json = NULL;
    struct tokenizer *tok2 = NULL;

    run_training(fx, &m, &lc, NULL);
    snprintf(path, sizeof path, "%s/model.safetensors", fx->dir);
    assert_int_equal(train_events_save(&m, fx->tok, path, error), 0);
    assert_int_equal(model_safetensors_load(&loaded, path, 0, &json, error), 0);
    assert_non_null(json);
    assert_int_equal(tokenizer_from_json(json, strlen(json), &tok2, error), 0);
    assert_int_equal(tok2->layout.vocab_size, fx->tok->layout.vocab_size);
    assert_int_equal(tokenizer_item_token(tok2, "i3"), tokenizer_item_token(fx->tok, "i3"));

    view.config = m.config;
    view.params = m.params;
    view.params.owns_data = 0;
    int32_t user = 0, cut = 4;
    struct train_events_batch b;
    assert_int_equal(train_events_batch_alloc(&b, 1, 32, 4), 0);
    train_events_batch_fill(&b, &fx->data, fx->tok, &user, &cut, NULL, 1, 0);
    assert_same_outputs(&view, &loaded, b.tokens, b.lengths[0]);
    /* The bundle computes the layers from packed weights, in another order
     * of float additions than sgemm: compare it with a packed view. */
    assert_int_equal(model_bundle_load(&bundle, path, NULL, error), 0);
    assert_int_equal(model_linears_pack(&view, error), 0);
    assert_same_outputs(&view, &bundle.model, b.tokens, b.lengths[0]);
    model_linears_free(&view);

    model_bundle_free(&bundle);
    train_events_batch_free(&b);
    tokenizer_free(tok2);
    free(json);
    model_free(&loaded);
    train_model_free(&m);
}

static unsigned char *read_whole(const char *path, long *size)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    *size = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *bytes = malloc((size_t)*size);
    assert_non_null(bytes);
    assert_int_equal(fread(bytes, 1, (size_t)*size, f), (size_t)*size);
    fclose(f);
    return bytes;
}

/* The final checkpoints (last weights, AdamW moments, best weights, position)
 * of an uninterrupted run and of a run stopped mid-epoch and resumed are
 * byte-identical. */
static void resume_is_exact(void **state)
{
    struct fixture *fx = *state;
    struct train_model whole, first, second;
    struct train_events_config lc = loop_config(4);
    char whole_path[512], part_path[512];
    long whole_size, part_size;

    snprintf(whole_path, sizeof whole_path, "%s/whole.ckpt", fx->dir);
    snprintf(part_path, sizeof part_path, "%s/part.ckpt", fx->dir);
    lc.checkpoint_path = whole_path;
    run_training(fx, &whole, &lc, NULL);

    struct train_events_config part = lc;
    part.checkpoint_path = part_path;
    part.max_steps = 6; /* mid-epoch: 4 updates per epoch */
    run_training(fx, &first, &part, NULL);
    unsigned char *stopped = read_whole(part_path, &part_size);
    part.max_steps = 0;
    run_training(fx, &second, &part, part_path);

    unsigned char *a = read_whole(whole_path, &whole_size), *b = read_whole(part_path, &part_size);
    assert_int_equal(whole_size, part_size);
    assert_memory_equal(a, b, (size_t)whole_size);
    assert_memory_not_equal(a, stopped, (size_t)whole_size);
    assert_memory_equal(whole.params.data, second.params.data, whole.params.count * sizeof(float));
    free(a);
    free(b);
    free(stopped);
    train_model_free(&whole);
    train_model_free(&first);
    train_model_free(&second);
}

static void same_seed_same_weights(void **state)
{
    struct fixture *fx = *state;
    struct train_model a, b;
    struct train_events_config lc = loop_config(2);

    run_training(fx, &a, &lc, NULL);
    run_training(fx, &b, &lc, NULL);
    assert_memory_equal(a.params.data, b.params.data, a.params.count * sizeof(float));
    train_model_free(&a);
    train_model_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(split_and_samples),
        cmocka_unit_test(batch_labels),
        cmocka_unit_test(fits_to_near_zero),
        cmocka_unit_test(save_reload_equal),
        cmocka_unit_test(resume_is_exact),
        cmocka_unit_test(same_seed_same_weights),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
