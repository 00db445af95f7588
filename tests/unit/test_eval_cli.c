/*
 * `intentd eval` end to end through cmd_eval: a JSON Lines file read by the
 * replay reader, the hand-built model saved as safetensors, JSON and HTML
 * written, and usage errors.
 */
#include "test_eval_support.h"

#include <jansson.h>
#include <stdio.h>
#include <unistd.h>

#include "commands.h"
#include "safetensors.h"

struct fixture {
    char dir[64];
    char events[128], model[128], json[128], html[128];
};

/* The same stream as test_eval_stream(), as JSON Lines. */
static const char *const stream_lines =
    "{\"type\":\"click\",\"user_id\":\"u1\",\"item_id\":\"i1\",\"category_id\":\"c1\",\"action\":\"VIEW\",\"timestamp\":1000}\n"
    "{\"type\":\"click\",\"user_id\":\"u2\",\"item_id\":\"i2\",\"category_id\":\"c1\",\"action\":\"VIEW\",\"timestamp\":1500}\n"
    "{\"type\":\"click\",\"user_id\":\"u1\",\"item_id\":\"i3\",\"category_id\":\"c1\",\"action\":\"VIEW\",\"timestamp\":2000}\n"
    "{\"type\":\"click\",\"user_id\":\"u2\",\"item_id\":\"i1\",\"category_id\":\"c1\",\"action\":\"VIEW\",\"timestamp\":2500}\n"
    "{\"type\":\"click\",\"user_id\":\"u1\",\"item_id\":\"i4\",\"category_id\":\"c1\",\"action\":\"PURCHASE\","
    "\"timestamp\":3000}\n";

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    struct model_bundle bundle;
    char error[MODEL_ERROR_SIZE];

    snprintf(f->dir, sizeof f->dir, "/tmp/test_eval_cli_XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->events, sizeof f->events, "%s/events.jsonl", f->dir);
    snprintf(f->model, sizeof f->model, "%s/hand.safetensors", f->dir);
    snprintf(f->json, sizeof f->json, "%s/out.json", f->dir);
    snprintf(f->html, sizeof f->html, "%s/out.html", f->dir);

    FILE *out = fopen(f->events, "w");
    assert_non_null(out);
    fputs(stream_lines, out);
    fclose(out);

    test_eval_bundle(&bundle, "hand");
    int rc = test_eval_save(&bundle, f->model, error);
    if (rc != 0)
        print_error("saving the model: %s\n", error);
    assert_int_equal(rc, 0);
    model_bundle_free(&bundle);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    unlink(f->events);
    unlink(f->model);
    unlink(f->json);
    unlink(f->html);
    rmdir(f->dir);
    free(f);
    return 0;
}

static int run_eval(int argc, const char **argv)
{
    return cmd_eval(argc, (char **)argv);
}

/* The file run gives the hand-computed metrics of test_eval_run.c. */
static void jsonl_run_by_hand(void **state)
{
    struct fixture *f = *state;
    const char *argv[] = {"eval", "--jsonl", f->events, "--model", f->model, "--out-json", f->json,
                          "--out-html", f->html, "--quiet"};
    assert_int_equal(run_eval(10, argv), 0);

    json_error_t jerr;
    json_t *root = json_load_file(f->json, 0, &jerr);
    assert_non_null(root);
    json_t *model = json_array_get(json_object_get(root, "models"), 0);
    assert_int_equal(json_integer_value(json_object_get(model, "events")), 5);
    assert_int_equal(json_integer_value(json_object_get(model, "scored_events")), 3);
    json_t *full = json_object_get(json_object_get(model, "next_item"), "full_catalogue");
    assert_float_equal(json_real_value(json_object_get(full, "hr@1")), 1.0 / 3.0, 1e-9);
    assert_float_equal(json_real_value(json_object_get(full, "hr@5")), 1.0, 1e-9);
    json_t *action = json_object_get(model, "next_action");
    assert_float_equal(json_real_value(json_object_get(action, "accuracy")), 2.0 / 3.0, 1e-9);
    json_decref(root);
    assert_int_equal(access(f->html, R_OK), 0);
}

static void usage_errors_exit_two(void **state)
{
    struct fixture *f = *state;
    const char *no_input[] = {"eval", "--model", f->model};
    const char *bad_horizon[] = {"eval", "--jsonl", f->events, "--horizon", "0"};
    const char *bad_window[] = {"eval", "--jsonl", f->events, "--hit-window", "soon"};
    const char *three_models[] = {"eval", "--jsonl", f->events, "--model", "a", "--model", "b", "--model", "c"};

    assert_int_equal(run_eval(3, no_input), 2);
    assert_int_equal(run_eval(5, bad_horizon), 2);
    assert_int_equal(run_eval(5, bad_window), 2);
    assert_int_equal(run_eval(9, three_models), 2);
}

static void missing_model_fails(void **state)
{
    struct fixture *f = *state;
    const char *argv[] = {"eval", "--jsonl", f->events, "--model", "/nonexistent/model.safetensors", "--quiet"};
    assert_int_equal(run_eval(6, argv), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(jsonl_run_by_hand),
        cmocka_unit_test(usage_errors_exit_two),
        cmocka_unit_test(missing_model_fails),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
