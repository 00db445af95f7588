/*
 * Helpers shared by the model tests: random models, temporary case
 * directories, and running the Python reference scripts in tests/ref/.
 * Header-only so that each test executable stays one .c file.
 */
#ifndef INTENTD_TEST_MODEL_UTIL_H
#define INTENTD_TEST_MODEL_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <ftw.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model.h"
#include "safetensors.h"

static inline uint64_t test_random_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* Uniform in [-1, 1). */
static inline float test_uniform(uint64_t *state)
{
    return (float)((double)(test_random_next(state) >> 11) / 4503599627370496.0 - 1.0);
}

static inline struct model_config test_config(int vocab)
{
    struct model_config c;
    model_config_defaults(&c);
    c.vocab_size = vocab;
    c.item_begin = 10;
    c.item_end = vocab;
    c.n_actions = 4;
    c.n_categories = 5;
    c.n_sentiments = 2;
    return c;
}

/* Creates a model whose every parameter is random, including layer-norm
 * gains and attention biases that PyTorch initialises to constants, so the
 * tests exercise every tensor. */
static inline void test_random_model(struct model *m, const struct model_config *c, uint64_t seed)
{
    char error[MODEL_ERROR_SIZE];
    assert_int_equal(model_create(m, c, seed, error), 0);

    uint64_t state = seed * 7919 + 1;
    for (int i = 0; i < m->params.n_tensors; i++) {
        const struct model_tensor_info *t = &m->params.tensors[i];
        float *w = m->params.data + t->offset;
        int is_gain = strstr(t->name, "norm") && strstr(t->name, ".weight");
        for (size_t j = 0; j < t->count; j++) {
            if (is_gain)
                w[j] = 1.0f + 0.3f * test_uniform(&state);
            else if (t->ndim == 1)
                w[j] = 0.2f * test_uniform(&state);
            else
                w[j] += 0.05f * test_uniform(&state);
        }
    }
}

/* Indices of the k largest of values[0 .. n), largest first. */
static inline void test_top_indices(const double *values, int n, int k, int *out)
{
    for (int j = 0; j < k; j++) {
        int best = -1;
        for (int i = 0; i < n; i++) {
            int listed = 0;
            for (int t = 0; t < j; t++)
                listed |= out[t] == i;
            if (!listed && (best < 0 || values[i] > values[best]))
                best = i;
        }
        out[j] = best;
    }
}

static inline void test_random_tokens(int *tokens, size_t n, int vocab, uint64_t *state)
{
    for (size_t i = 0; i < n; i++)
        tokens[i] = (int)(test_random_next(state) % (uint64_t)vocab);
}

static inline char *test_make_dir(void)
{
    char *dir = strdup("/tmp/intentd-model-test-XXXXXX");
    assert_non_null(dir);
    assert_non_null(mkdtemp(dir));
    return dir;
}

static inline int test_remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static inline void test_remove_dir(char *dir)
{
    nftw(dir, test_remove_entry, 8, FTW_DEPTH | FTW_PHYS);
    free(dir);
}

static inline json_t *test_int_array(const int *values, int n)
{
    json_t *array = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(array, json_integer(values[i]));
    return array;
}

static inline json_t *test_int_matrix(const int *values, int rows, int cols)
{
    json_t *outer = json_array();
    for (int r = 0; r < rows; r++)
        json_array_append_new(outer, test_int_array(values + (size_t)r * cols, cols));
    return outer;
}

/* Writes dir/model.safetensors and dir/inputs.json for the reference scripts.
 * tgt may be NULL. */
static inline void test_write_case(const char *dir, const struct model *m, const int *tokens, const int *lengths,
                                   int batch, int seq_len, const int *tgt, int tgt_len)
{
    char path[512], error[MODEL_ERROR_SIZE];

    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    assert_int_equal(model_safetensors_save(m, path, NULL, error), 0);

    json_t *root = json_object();
    json_object_set_new(root, "tokens", test_int_matrix(tokens, batch, seq_len));
    json_object_set_new(root, "lengths", test_int_array(lengths, batch));
    if (tgt)
        json_object_set_new(root, "tgt", test_int_matrix(tgt, batch, tgt_len));
    snprintf(path, sizeof path, "%s/inputs.json", dir);
    assert_int_equal(json_dump_file(root, path, JSON_COMPACT), 0);
    json_decref(root);
}

/* Runs /usr/bin/python3 tests/ref/SCRIPT DIR and fails the test when it does
 * not exit 0 (for example when numpy or torch is not installed). */
static inline void test_run_reference(const char *script, const char *dir)
{
    char command[1024];
    snprintf(command, sizeof command, "cd '%s/tests/ref' && /usr/bin/python3 '%s' '%s'", INTENTD_SOURCE_DIR, script,
             dir);
    int status = system(command);
    if (status != 0)
        fprintf(stderr, "reference script failed (exit status %d): %s\n", status, command);
    assert_int_equal(status, 0);
}

/* Reads dir/NAME.f32, which must hold exactly count floats. Caller frees. */
static inline float *test_read_f32(const char *dir, const char *name, size_t count)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s.f32", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        fprintf(stderr, "missing reference output %s\n", path);
    assert_non_null(f);

    float *data = malloc((count + 1) * sizeof(float));
    assert_non_null(data);
    size_t n = fread(data, sizeof(float), count + 1, f);
    fclose(f);
    assert_int_equal(n, count);
    return data;
}

/* Max |a - b| over count floats; NaN counts as infinitely far. */
static inline double test_max_diff(const float *a, const float *b, size_t count)
{
    double worst = 0.0;
    for (size_t i = 0; i < count; i++) {
        double diff = fabs((double)a[i] - (double)b[i]);
        if (!(diff <= worst))
            worst = isnan(diff) ? INFINITY : diff;
    }
    return worst;
}

#endif
