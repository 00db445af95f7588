/*
 * The `intentd train` command (cmd_train) end to end on tiny files: exit
 * statuses for usage errors, --strict, a model that the processor loads,
 * the same file for the same seed, and --resume from a checkpoint.
 */
#include "test_model_util.h"

#include "commands.h"
#include "model_bundle.h"

struct paths {
    char *dir;
    char taobao[512], reviews[512], bad[512], out[512], out2[512], checkpoint[512];
};

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int setup(void **state)
{
    struct paths *p = calloc(1, sizeof *p);
    assert_non_null(p);
    p->dir = test_make_dir();
    snprintf(p->taobao, sizeof p->taobao, "%s/ub.csv", p->dir);
    snprintf(p->reviews, sizeof p->reviews, "%s/reviews.csv", p->dir);
    snprintf(p->bad, sizeof p->bad, "%s/bad.csv", p->dir);
    snprintf(p->out, sizeof p->out, "%s/model.safetensors", p->dir);
    snprintf(p->out2, sizeof p->out2, "%s/model2.safetensors", p->dir);
    snprintf(p->checkpoint, sizeof p->checkpoint, "%s/run.ckpt", p->dir);

    FILE *f = fopen(p->taobao, "wb");
    assert_non_null(f);
    for (int u = 0; u < 8; u++)
        for (int e = 0; e < 5; e++)
            fprintf(f, "%d,%d,%d,%s,%d\n", u, 100 + (u + e) % 6, 7 + e % 2, e == 3 ? "buy" : "pv", 1000 + e);
    fclose(f);
    write_text(p->reviews, "cat,label,review\n7,1,很好\n7,0,很差\n8,1,\"好, 喜欢\"\n8,0,不好\n");
    write_text(p->bad, "1,100,7,pv,1000\n1,101,7,jump,1001\n");
    *state = p;
    return 0;
}

static int teardown(void **state)
{
    struct paths *p = *state;
    test_remove_dir(p->dir);
    free(p);
    return 0;
}

static int run(int argc, const char **argv)
{
    return cmd_train(argc, (char **)argv);
}

static int train_tiny(struct paths *p, const char *out, const char *extra1, const char *extra2)
{
    const char *argv[] = {"train", "--taobao", p->taobao, "--reviews", p->reviews, "--out", out, "--epochs", "2",
                          "--d-model", "16", "--heads", "2", "--layers", "1", "--max-len", "16", "--batch-size",
                          "8", "--bpe-merges", "10", "--item-min-count", "1", "--seed", "5", extra1, extra2, NULL};
    int argc = 25 + (extra1 != NULL) + (extra2 != NULL);
    return run(argc, argv);
}

static void usage_errors_exit_2(void **state)
{
    struct paths *p = *state;
    const char *no_out[] = {"train", "--taobao", p->taobao, NULL};
    const char *no_input[] = {"train", "--out", p->out, NULL};
    const char *bad_number[] = {"train", "--taobao", p->taobao, "--out", p->out, "--epochs", "zero", NULL};
    const char *resume_alone[] = {"train", "--taobao", p->taobao, "--out", p->out, "--resume", NULL};

    assert_int_equal(run(3, no_out), 2);
    assert_int_equal(run(3, no_input), 2);
    assert_int_equal(run(7, bad_number), 2);
    assert_int_equal(run(6, resume_alone), 2);
}

static void strict_bad_record_exit_1(void **state)
{
    struct paths *p = *state;
    const char *argv[] = {"train", "--taobao", p->bad, "--out", p->out2, "--strict", NULL};
    assert_int_equal(run(6, argv), 1);
    assert_int_not_equal(access(p->out2, F_OK), 0);
}

static void model_loads_in_processor(void **state)
{
    struct paths *p = *state;
    struct model_bundle bundle;
    char error[MODEL_ERROR_SIZE];

    assert_int_equal(train_tiny(p, p->out, NULL, NULL), 0);
    assert_int_equal(model_bundle_load(&bundle, p->out, NULL, error), 0);
    assert_int_equal(bundle.model.config.d_model, 16);
    assert_int_equal(bundle.model.config.n_encoder_layers, 1);
    assert_true(tokenizer_item_token(bundle.tokenizer, "100") >= bundle.tokenizer->layout.item_begin);
    assert_true(tokenizer_item_token(bundle.tokenizer, "100") < bundle.tokenizer->layout.item_bucket_begin);
    model_bundle_free(&bundle);
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

static void assert_same_file(const char *a, const char *b)
{
    long size_a, size_b;
    unsigned char *x = read_whole(a, &size_a), *y = read_whole(b, &size_b);
    assert_int_equal(size_a, size_b);
    assert_memory_equal(x, y, (size_t)size_a);
    free(x);
    free(y);
}

static void same_seed_same_file(void **state)
{
    struct paths *p = *state;
    assert_int_equal(train_tiny(p, p->out, NULL, NULL), 0);
    assert_int_equal(train_tiny(p, p->out2, NULL, NULL), 0);
    assert_same_file(p->out, p->out2);
}

static void resume_gives_same_file(void **state)
{
    struct paths *p = *state;
    char max_steps[] = "--max-steps=3", checkpoint[600], resumed[512];

    snprintf(checkpoint, sizeof checkpoint, "--checkpoint=%s", p->checkpoint);
    snprintf(resumed, sizeof resumed, "%s/resumed.safetensors", p->dir);
    assert_int_equal(train_tiny(p, p->out, NULL, NULL), 0);
    assert_int_equal(train_tiny(p, p->out2, checkpoint, max_steps), 0);
    assert_int_equal(train_tiny(p, resumed, checkpoint, "--resume"), 0);
    assert_same_file(p->out, resumed);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(usage_errors_exit_2),
        cmocka_unit_test(strict_bad_record_exit_1),
        cmocka_unit_test(model_loads_in_processor),
        cmocka_unit_test(same_seed_same_file),
        cmocka_unit_test(resume_gives_same_file),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
