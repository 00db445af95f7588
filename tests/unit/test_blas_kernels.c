/* OpenBLAS kernel selection: main() calls model_blas_select_kernels first, as
 * intentd does, so the checks below run in the restarted process when this
 * CPU needed one. */
#include "test_model_util.h"

#include <stdlib.h>
#include <string.h>

#include "blas_kernels.h"
#include "kernels.h"

static void fill(float *x, size_t n, uint64_t seed)
{
    uint64_t state = seed;
    for (size_t i = 0; i < n; i++)
        x[i] = test_uniform(&state);
}

static void generic_names_recognised(void **state)
{
    (void)state;
    static const char *const generic[] = {"Prescott", "Core2", "Penryn", "Dunnington", "Nehalem",
                                          "Atom", "Katmai", "Coppermine", "Northwood", "Banias",
                                          "PRESCOTT", "prescott"};
    static const char *const native[] = {"SkylakeX", "Haswell", "Zen", "SandyBridge", "CooperLake"};

    for (size_t i = 0; i < sizeof generic / sizeof generic[0]; i++)
        assert_true(model_blas_is_generic(generic[i]));
    for (size_t i = 0; i < sizeof native / sizeof native[0]; i++)
        assert_false(model_blas_is_generic(native[i]));
}

static void loaded_kernels_not_generic(void **state)
{
    (void)state;
    if (!model_blas_preferred_kernels())
        return; /* without AVX2, OpenBLAS keeps its own choice */

    /* OpenBLAS picked a good set itself, or main() restarted this process
     * with OPENBLAS_CORETYPE and OpenBLAS honoured it. */
    assert_false(model_blas_is_generic(model_blas_kernels()));
}

static void operator_choice_kept(void **state)
{
    (void)state;
    char *argv[] = {"test_blas_kernels", NULL};
    char note[256] = "x";
    const char *before = getenv("OPENBLAS_CORETYPE");
    char saved[64];
    snprintf(saved, sizeof saved, "%s", before ? before : "");

    /* With OPENBLAS_CORETYPE set the call returns at once, whatever OpenBLAS
     * loaded: no restart and no note. */
    assert_int_equal(setenv("OPENBLAS_CORETYPE", "Prescott", 1), 0);
    model_blas_select_kernels(argv, note, sizeof note);
    assert_string_equal(note, "");
    assert_string_equal(getenv("OPENBLAS_CORETYPE"), "Prescott");

    if (before)
        setenv("OPENBLAS_CORETYPE", saved, 1);
    else
        unsetenv("OPENBLAS_CORETYPE");
}

static void item_head_sgemm_matches_naive(void **state)
{
    (void)state;
    /* The item head's shape: a chunk of users against every item embedding,
     * on whatever kernels were selected. */
    enum { USERS = 64, ITEMS = 1031, D = 64 };
    float *h = malloc(sizeof(float) * USERS * D), *e = malloc(sizeof(float) * ITEMS * D);
    float *scores = malloc(sizeof(float) * USERS * ITEMS), *ref = malloc(sizeof(float) * USERS * ITEMS);
    assert_non_null(h);
    assert_non_null(e);
    assert_non_null(scores);
    assert_non_null(ref);
    fill(h, (size_t)USERS * D, 7);
    fill(e, (size_t)ITEMS * D, 8);

    model_sgemm(0, 1, USERS, ITEMS, D, 1.0f, h, D, e, D, 0.0f, scores, ITEMS);
    model_sgemm_naive(0, 1, USERS, ITEMS, D, 1.0f, h, D, e, D, 0.0f, ref, ITEMS);
    assert_true(test_max_diff(scores, ref, (size_t)USERS * ITEMS) < 1e-4);

    free(h);
    free(e);
    free(scores);
    free(ref);
}

int main(int argc, char **argv)
{
    char note[512];

    (void)argc;
    model_blas_select_kernels(argv, note, sizeof note);
    if (note[0])
        fprintf(stderr, "test_blas_kernels: %s\n", note);
    fprintf(stderr, "test_blas_kernels: OpenBLAS kernels %s, OPENBLAS_CORETYPE=%s\n", model_blas_kernels(),
            getenv("OPENBLAS_CORETYPE") ? getenv("OPENBLAS_CORETYPE") : "(unset)");

    const struct CMUnitTest tests[] = {
        cmocka_unit_test(generic_names_recognised),
        cmocka_unit_test(loaded_kernels_not_generic),
        cmocka_unit_test(operator_choice_kept),
        cmocka_unit_test(item_head_sgemm_matches_naive),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
