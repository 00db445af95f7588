/* Unit tests of the checks a hot model reload applies before a swap. A file
 * with changed weights and the same tokenizer is accepted with a new
 * version. A truncated file is rejected, and so is a model whose tokenizer
 * maps ids to other tokens, unless a tokenizer change is allowed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "model.h"
#include "model_bundle.h"
#include "reload_model.h"
#include "safetensors.h"

#define DEFAULT_MODEL INTENTD_SOURCE_DIR "/model/default/intentd-default.safetensors"

struct fixture {
    char dir[256];
    char path[300];
    struct model_bundle running;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    char error[MODEL_ERROR_SIZE];
    snprintf(f->dir, sizeof f->dir, "%s/intentd-reload-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->path, sizeof f->path, "%s/model.safetensors", f->dir);
    if (model_bundle_load(&f->running, DEFAULT_MODEL, NULL, error) != 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    unlink(f->path);
    rmdir(f->dir);
    model_bundle_free(&f->running);
    free(f);
    return 0;
}

/* Writes the default model to path with edit applied to its weights and
 * tokenizer JSON. */
static void write_model(const char *path, void (*edit)(struct model *, char *))
{
    struct model model;
    char *tokenizer = NULL;
    char error[MODEL_ERROR_SIZE];
    if (model_safetensors_load(&model, DEFAULT_MODEL, MODEL_LOAD_COPY, &tokenizer, error) != 0)
        fail_msg("%s", error);
    edit(&model, tokenizer);
    if (model_safetensors_save(&model, path, tokenizer, error) != 0)
        fail_msg("%s", error);
    free(tokenizer);
    model_free(&model);
}

static void nudge_bias(struct model *model, char *tokenizer)
{
    (void)tokenizer;
    model->params.propensity_bias[0] += 1e-3f;
}

/* Swaps the names of the first two known categories: same layout and sizes,
 * but two ids now mean each other's category. */
static void swap_categories(struct model *model, char *tokenizer)
{
    (void)model;
    char *list = strstr(tokenizer, "\"categories\":[\"");
    assert_non_null(list);
    char *a = list + strlen("\"categories\":[\"");
    char *a_end = strchr(a, '"');
    char *b = a_end + 3; /* past "," and the opening quote */
    char *b_end = strchr(b, '"');
    size_t la = (size_t)(a_end - a), lb = (size_t)(b_end - b);
    char first[64], second[64];
    assert_true(la < sizeof first && lb < sizeof second);
    memcpy(first, a, la);
    memcpy(second, b, lb);
    /* write "second","first" into the same span */
    memcpy(a, second, lb);
    a[lb] = '"';
    a[lb + 1] = ',';
    a[lb + 2] = '"';
    memcpy(a + lb + 3, first, la);
}

static void test_changed_weights_are_accepted(void **state)
{
    struct fixture *f = *state;
    char error[MODEL_ERROR_SIZE];
    write_model(f->path, nudge_bias);
    struct model_bundle *next = reload_model_load(f->path, "", &f->running, 0, error);
    if (!next)
        fail_msg("%s", error);
    assert_string_not_equal(next->version, f->running.version);
    model_bundle_free(next);
    free(next);
}

static void test_truncated_file_is_refused(void **state)
{
    struct fixture *f = *state;
    char error[MODEL_ERROR_SIZE];
    write_model(f->path, nudge_bias);
    assert_int_equal(truncate(f->path, 4096), 0);
    assert_null(reload_model_load(f->path, "", &f->running, 0, error));
    assert_non_null(strstr(error, f->path));
}

static void test_other_tokenizer_is_refused_unless_allowed(void **state)
{
    struct fixture *f = *state;
    char error[MODEL_ERROR_SIZE];
    write_model(f->path, swap_categories);

    assert_null(reload_model_load(f->path, "", &f->running, 0, error));
    assert_non_null(strstr(error, "tokenizer differs"));

    struct model_bundle *next = reload_model_load(f->path, "", &f->running, 1, error);
    if (!next)
        fail_msg("%s", error);
    model_bundle_free(next);
    free(next);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_changed_weights_are_accepted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated_file_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_other_tokenizer_is_refused_unless_allowed, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
