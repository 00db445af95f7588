/*
 * The `user item` sequence reader, the leave-one-out split and the
 * next-item batches.
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

#include "train_data.h"

static void write_file(char *path, const char *text)
{
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* user 7: 4 items, user 2: 2 items (lines interleaved), user 9: 3 items */
static const char SAMPLE[] = "7 10\n7 11\n2 5\n7 12\n9 1\n2 6\n9 2\n7 13\n9 3\n";

/* Reads SAMPLE through a temporary file, as the trainer reads its data. */
static void read_sample(struct train_sequences *s)
{
    char path[] = "/tmp/test_train_data_XXXXXX", error[MODEL_ERROR_SIZE];

    write_file(path, SAMPLE);
    assert_int_equal(train_sequences_read(s, path, error), 0);
    unlink(path);
}

static void reads_users_in_order(void **state)
{
    (void)state;
    struct train_sequences s;

    read_sample(&s);

    assert_int_equal(s.n_users, 3);
    assert_int_equal(s.n_items, 13);
    assert_int_equal(s.n_interactions, 9);
    /* user 7 first, its items in file order */
    assert_int_equal(s.offsets[1] - s.offsets[0], 4);
    assert_int_equal(s.items[0], 10);
    assert_int_equal(s.items[3], 13);
    assert_int_equal(s.items[s.offsets[1]], 5);
    assert_int_equal(s.items[s.offsets[1] + 1], 6);

    /* split: 4 items -> 2 train + valid + test; 2 items -> all train */
    assert_int_equal(train_split_train_length(&s, 0), 2);
    assert_true(train_split_has_holdout(&s, 0));
    assert_int_equal(train_split_train_length(&s, 1), 2);
    assert_false(train_split_has_holdout(&s, 1));
    train_sequences_free(&s);
}

static void rejects_bad_lines(void **state)
{
    (void)state;
    char path[] = "/tmp/test_train_data_XXXXXX", path2[] = "/tmp/test_train_data_XXXXXX";
    char error[MODEL_ERROR_SIZE];
    struct train_sequences s;

    write_file(path, "1 2\n1 x\n");
    assert_int_equal(train_sequences_read(&s, path, error), -1);
    assert_non_null(strstr(error, "line 2"));
    unlink(path);

    write_file(path2, "1 0\n");
    assert_int_equal(train_sequences_read(&s, path2, error), -1);
    unlink(path2);

    assert_int_equal(train_sequences_read(&s, "/nonexistent/file", error), -1);
    assert_non_null(strstr(error, "cannot open"));
}

static void batches_shift_targets(void **state)
{
    (void)state;
    char path[] = "/tmp/test_train_data_XXXXXX", error[MODEL_ERROR_SIZE];
    struct train_sequences s;
    struct train_seq_batch sb;

    /* user 0: 1 2 3 4 5 6 (train 1..4), user 1: 7 8 9 (train 7) */
    write_file(path, "1 1\n1 2\n1 3\n1 4\n1 5\n1 6\n2 7\n2 8\n2 9\n3 1\n3 2\n");
    assert_int_equal(train_sequences_read(&s, path, error), 0);
    unlink(path);
    assert_int_equal(train_seq_batch_alloc(&sb, 4, 2), 0);

    /* training: inputs are the last T of (train minus its last item) */
    int users[2] = {0, 2};
    train_seq_batch_fill_train(&sb, &s, users, 2);
    assert_int_equal(sb.batch.B, 2);
    assert_int_equal(sb.batch.T, 2);
    assert_int_equal(sb.lengths[0], 2);
    assert_int_equal(sb.tokens[0], 2);
    assert_int_equal(sb.tokens[1], 3);
    assert_int_equal(sb.targets[0], 3);
    assert_int_equal(sb.targets[1], 4);
    /* user 2 (items 1 2, no holdout): input 1, target 2, then padding */
    assert_int_equal(sb.lengths[1], 1);
    assert_int_equal(sb.tokens[2], 1);
    assert_int_equal(sb.targets[2], 2);
    assert_int_equal(sb.tokens[3], 0);
    assert_int_equal(sb.targets[3], -1);

    /* evaluation: the validation input ends at the last training item, the
     * test input at the validation item */
    int eval_users[1] = {0};
    train_seq_batch_fill_eval(&sb, &s, eval_users, 1, TRAIN_HOLDOUT_VALID);
    assert_int_equal(sb.tokens[0], 3);
    assert_int_equal(sb.tokens[1], 4);
    assert_null(sb.batch.item_targets);
    train_seq_batch_fill_eval(&sb, &s, eval_users, 1, TRAIN_HOLDOUT_TEST);
    assert_int_equal(sb.tokens[0], 4);
    assert_int_equal(sb.tokens[1], 5);

    /* left padding: rows are T long, items at the end, pad tokens count */
    sb.pad_left = 1;
    train_seq_batch_fill_train(&sb, &s, users, 2);
    assert_int_equal(sb.batch.T, 2);
    assert_int_equal(sb.lengths[1], 2);
    assert_int_equal(sb.tokens[2], 0);
    assert_int_equal(sb.targets[2], -1);
    assert_int_equal(sb.tokens[3], 1);
    assert_int_equal(sb.targets[3], 2);
    train_seq_batch_fill_eval(&sb, &s, eval_users, 1, TRAIN_HOLDOUT_TEST);
    assert_int_equal(sb.tokens[1], 5);

    train_seq_batch_free(&sb);
    train_sequences_free(&s);
}

/* Replacement touches only input items, draws ids in [1, n_items] and
 * replaces about the requested fraction. */
static void replace_inputs_keeps_padding(void **state)
{
    (void)state;
    enum { B = 64, T = 8, N_ITEMS = 1000 };
    struct train_seq_batch sb;
    uint64_t rng = 9;

    assert_int_equal(train_seq_batch_alloc(&sb, B, T), 0);
    for (int i = 0; i < B * T; i++) {
        int padding = i % T >= 6;
        sb.tokens[i] = padding ? 0 : 1 + i % 7;
        sb.targets[i] = padding ? -1 : 2 + i % 7;
    }
    sb.batch.B = B;
    sb.batch.T = T;

    assert_int_equal(train_seq_batch_replace_inputs(&sb, N_ITEMS, 0.0f, &rng), 0);
    int replaced = train_seq_batch_replace_inputs(&sb, N_ITEMS, 0.25f, &rng);
    int changed = 0, padding_changed = 0, targets_changed = 0, out_of_range = 0;
    for (int i = 0; i < B * T; i++) {
        int padding = i % T >= 6;
        if (padding)
            padding_changed += sb.tokens[i] != 0;
        else
            changed += sb.tokens[i] != 1 + i % 7;
        targets_changed += sb.targets[i] != (padding ? -1 : 2 + i % 7);
        out_of_range += sb.tokens[i] < 0 || sb.tokens[i] > N_ITEMS;
    }
    assert_int_equal(padding_changed, 0);
    assert_int_equal(targets_changed, 0);
    assert_int_equal(out_of_range, 0);
    /* 384 input tokens at p = 0.25: 96 expected, standard deviation 8.5 */
    assert_in_range(replaced, 60, 132);
    assert_true(changed <= replaced);
    assert_true(changed >= replaced - 5);
    train_seq_batch_free(&sb);
}

/* The weights follow the training counts of SAMPLE. Items 10, 11, 5, 6 and
 * 1 occur once in the training parts and the others never: user 7 trains on
 * two items, user 2 on both of its items and user 9 on one. */
static void count_cdf_weights_training_items(void **state)
{
    (void)state;
    struct train_sequences s;

    read_sample(&s);

    double *cdf = train_split_count_cdf(&s, 1.0);
    assert_non_null(cdf);
    double expected = 0.0;
    for (int item = 1; item <= s.n_items; item++) {
        int seen = item == 10 || item == 11 || item == 5 || item == 6 || item == 1;
        expected += seen ? 2.0 : 1.0;
        assert_true(fabs(cdf[item] - expected) < 1e-12);
    }
    free(cdf);

    cdf = train_split_count_cdf(&s, -1.0);
    assert_non_null(cdf);
    assert_true(fabs((cdf[12] - cdf[11]) - 1.0) < 1e-12); /* item 12 is a validation item: count 0 */
    assert_true(fabs((cdf[11] - cdf[10]) - 0.5) < 1e-12); /* item 11: count 1 */
    free(cdf);
    train_sequences_free(&s);
}

/* Weighted replacement draws only items with weight and keeps padding. */
static void replace_inputs_follow_cdf(void **state)
{
    (void)state;
    enum { B = 16, T = 8, N_ITEMS = 6 };
    /* weights: item 2 one part, item 5 three parts, the others none */
    const double cdf[N_ITEMS + 1] = {0.0, 0.0, 1.0, 1.0, 1.0, 4.0, 4.0};
    struct train_seq_batch sb;
    uint64_t rng = 3;
    int drawn[N_ITEMS + 1] = {0};

    assert_int_equal(train_seq_batch_alloc(&sb, B, T), 0);
    for (int i = 0; i < B * T; i++)
        sb.tokens[i] = i % T >= 6 ? 0 : 1;
    sb.batch.B = B;
    sb.batch.T = T;

    int replaced = train_seq_batch_replace_inputs_cdf(&sb, cdf, N_ITEMS, 1.0f, &rng);
    assert_int_equal(replaced, B * 6);
    for (int i = 0; i < B * T; i++) {
        if (i % T >= 6) {
            assert_int_equal(sb.tokens[i], 0);
            continue;
        }
        assert_in_range(sb.tokens[i], 1, N_ITEMS);
        drawn[sb.tokens[i]]++;
    }
    assert_int_equal(drawn[1] + drawn[3] + drawn[4] + drawn[6], 0);
    /* 96 draws at 1:3: 24 of item 2 expected, standard deviation 4.2 */
    assert_in_range(drawn[2], 10, 38);
    assert_int_equal(drawn[2] + drawn[5], B * 6);
    train_seq_batch_free(&sb);
}

/* Noise replacement draws only the noise tokens and keeps padding. */
static void noise_inputs_use_noise_tokens(void **state)
{
    (void)state;
    enum { B = 16, T = 8, FIRST = 101, COUNT = 4 };
    struct train_seq_batch sb;
    uint64_t rng = 11;
    int drawn[COUNT] = {0};

    assert_int_equal(train_seq_batch_alloc(&sb, B, T), 0);
    for (int i = 0; i < B * T; i++)
        sb.tokens[i] = i % T >= 6 ? 0 : 7;
    sb.batch.B = B;
    sb.batch.T = T;

    assert_int_equal(train_seq_batch_noise_inputs(&sb, FIRST, COUNT, 1.0f, &rng), B * 6);
    for (int i = 0; i < B * T; i++) {
        if (i % T >= 6) {
            assert_int_equal(sb.tokens[i], 0);
            continue;
        }
        assert_in_range(sb.tokens[i], FIRST, FIRST + COUNT - 1);
        drawn[sb.tokens[i] - FIRST]++;
    }
    /* 96 draws over 4 tokens: 24 each expected, standard deviation 4.2 */
    for (int k = 0; k < COUNT; k++)
        assert_in_range(drawn[k], 10, 38);
    train_seq_batch_free(&sb);
}

static void shuffle_is_seeded_permutation(void **state)
{
    (void)state;
    int a[50], b[50], seen[50] = {0};
    uint64_t r1 = 5, r2 = 5;

    for (int i = 0; i < 50; i++)
        a[i] = b[i] = i;
    train_shuffle(a, 50, &r1);
    train_shuffle(b, 50, &r2);
    assert_memory_equal(a, b, sizeof a);
    for (int i = 0; i < 50; i++)
        seen[a[i]]++;
    for (int i = 0; i < 50; i++)
        assert_int_equal(seen[i], 1);
}

/* The published size of the SASRec Games data. */
static void reads_games_file(void **state)
{
    (void)state;
    char error[MODEL_ERROR_SIZE];
    struct train_sequences s;

    assert_int_equal(train_sequences_read(&s, INTENTD_DATA_DIR "/amazon_games_sequences.txt", error), 0);
    assert_int_equal(s.n_users, 31013);
    assert_int_equal(s.n_items, 23715);
    assert_int_equal(s.n_interactions, 287107);
    train_sequences_free(&s);
}

/* With user tokens every row opens with its user's token, whose target is
 * the first item shown. The items keep their shifted targets in the T - 1
 * positions left. Item replacement leaves the user token alone, and user
 * replacement changes only the user token. */
static void user_tokens_open_rows(void **state)
{
    (void)state;
    char path[] = "/tmp/test_train_data_XXXXXX", error[MODEL_ERROR_SIZE];
    enum { BASE = 100, N_USERS = 3 };
    struct train_sequences s;
    struct train_seq_batch sb;
    uint64_t rng = 5;

    /* user 0: 1 2 3 4 5 6 (train 1..4), user 1: 7 8 9 (train 7), user 2: 1 2 (train both) */
    write_file(path, "1 1\n1 2\n1 3\n1 4\n1 5\n1 6\n2 7\n2 8\n2 9\n3 1\n3 2\n");
    assert_int_equal(train_sequences_read(&s, path, error), 0);
    unlink(path);
    assert_int_equal(train_seq_batch_alloc(&sb, 4, 3), 0);
    sb.user_token_base = BASE;

    int users[2] = {0, 2};
    train_seq_batch_fill_train(&sb, &s, users, 2);
    assert_int_equal(sb.batch.T, 3);
    /* user 0: inputs 1 2 3 fit only as 2 3 after the user token */
    assert_int_equal(sb.lengths[0], 3);
    const int tokens0[3] = {BASE + 0, 2, 3}, targets0[3] = {2, 3, 4};
    for (int t = 0; t < 3; t++) {
        assert_int_equal(sb.tokens[t], tokens0[t]);
        assert_int_equal(sb.targets[t], targets0[t]);
    }
    /* user 2: the user token predicts item 1, item 1 predicts item 2, then padding */
    assert_int_equal(sb.lengths[1], 2);
    const int tokens1[3] = {BASE + 2, 1, 0}, targets1[3] = {1, 2, -1};
    for (int t = 0; t < 3; t++) {
        assert_int_equal(sb.tokens[3 + t], tokens1[t]);
        assert_int_equal(sb.targets[3 + t], targets1[t]);
    }

    assert_int_equal(train_seq_batch_replace_inputs(&sb, 13, 1.0f, &rng), 3);
    assert_int_equal(sb.tokens[0], BASE + 0);
    assert_int_equal(sb.tokens[3], BASE + 2);
    assert_int_equal(sb.tokens[5], 0);

    int before[6];
    memcpy(before, sb.tokens, sizeof before);
    assert_int_equal(train_seq_batch_replace_users(&sb, N_USERS, 1.0f, &rng), 2);
    for (int i = 0; i < 2; i++) {
        assert_in_range(sb.tokens[i * 3], BASE, BASE + N_USERS - 1);
        assert_memory_equal(&sb.tokens[i * 3 + 1], &before[i * 3 + 1], 2 * sizeof(int));
    }

    /* evaluation keeps the newest items: the test input of user 0 is 4 5 */
    int eval_users[1] = {0};
    train_seq_batch_fill_eval(&sb, &s, eval_users, 1, TRAIN_HOLDOUT_TEST);
    const int eval0[3] = {BASE + 0, 4, 5};
    for (int t = 0; t < 3; t++)
        assert_int_equal(sb.tokens[t], eval0[t]);

    /* left padding: the user token follows the padding and replacement finds it */
    sb.pad_left = 1;
    train_seq_batch_fill_train(&sb, &s, users, 2);
    assert_int_equal(sb.tokens[3], 0);
    assert_int_equal(sb.tokens[4], BASE + 2);
    assert_int_equal(sb.targets[4], 1);
    assert_int_equal(train_seq_batch_replace_users(&sb, N_USERS, 1.0f, &rng), 2);
    assert_int_equal(sb.tokens[3], 0);
    assert_in_range(sb.tokens[4], BASE, BASE + N_USERS - 1);
    assert_int_equal(sb.tokens[5], 1);

    train_seq_batch_free(&sb);
    train_sequences_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reads_users_in_order),
        cmocka_unit_test(rejects_bad_lines),
        cmocka_unit_test(batches_shift_targets),
        cmocka_unit_test(user_tokens_open_rows),
        cmocka_unit_test(replace_inputs_keeps_padding),
        cmocka_unit_test(count_cdf_weights_training_items),
        cmocka_unit_test(replace_inputs_follow_cdf),
        cmocka_unit_test(noise_inputs_use_noise_tokens),
        cmocka_unit_test(shuffle_is_seeded_permutation),
        cmocka_unit_test(reads_games_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
