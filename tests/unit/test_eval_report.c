/*
 * Outputs of `intentd eval`: the HTML report shows every number of the JSON
 * file, loads nothing from the network and shows both models of an A/B run.
 */
#include "test_eval_support.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <unistd.h>

#include "eval_report.h"
#include "eval_run.h"

struct fixture {
    struct eval_result results[2];
    char json_path[64];
    char html_path[64];
    char *html;
};

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = calloc((size_t)size + 1, 1);
    assert_non_null(text);
    assert_int_equal(fread(text, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    return text;
}

/* Runs the two hand-built models A and B (B ranks items in reverse) over
 * the hand-built stream, with one rule, and writes both outputs. */
static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    struct replay_events events;
    struct intentd_config cfg;
    struct config_error err;
    struct eval_options options;
    char error[EVAL_ERROR_SIZE];
    const char *yaml = "offers:\n  consent_default: grant\ntriggers:\n  - name: viewed\n    when: {event: view}\n"
                       "    cooldown: 1s\n    holdout_percent: 50\n";

    test_eval_stream(&events);
    assert_int_equal(config_load_buffer(yaml, strlen(yaml), "test.yaml", &cfg, &err), 0);
    eval_options_defaults(&options);
    options.cfg = &cfg;
    for (int m = 0; m < 2; m++) {
        struct model_bundle bundle;
        test_eval_bundle(&bundle, m ? "model-B" : "model-A");
        if (m) {
            int d = bundle.model.config.d_model, first = bundle.tokenizer->layout.item_begin;
            for (int k = 0; k < 4; k++)
                bundle.model.params.embedding[(size_t)(first + k) * d] = -test_item_scores[k];
        }
        assert_int_equal(eval_run(&bundle, &events, &options, &f->results[m], error), 0);
        model_bundle_free(&bundle);
    }
    config_free(&cfg);
    replay_events_free(&events);

    snprintf(f->json_path, sizeof f->json_path, "/tmp/test_eval_%d.json", (int)getpid());
    snprintf(f->html_path, sizeof f->html_path, "/tmp/test_eval_%d.html", (int)getpid());
    assert_int_equal(eval_report_json(f->results, 2, f->json_path, error), 0);
    assert_int_equal(eval_report_html(f->results, 2, f->html_path, error), 0);
    f->html = read_text(f->html_path);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    unlink(f->json_path);
    unlink(f->html_path);
    free(f->html);
    free(f);
    return 0;
}

/* Walks the JSON tree and checks that every number appears in the HTML
 * with the report's rounding. Returns the count of numbers checked. */
static int check_numbers(const json_t *value, const char *html, const char *key)
{
    char text[64];
    int checked = 0;

    if (json_is_object(value)) {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)value, k, v) checked += check_numbers(v, html, k);
    } else if (json_is_array(value)) {
        size_t i;
        json_t *v;
        json_array_foreach(value, i, v) checked += check_numbers(v, html, key);
    } else if (json_is_integer(value) || json_is_real(value)) {
        const char *found;
        if (json_is_integer(value)) {
            snprintf(text, sizeof text, "%lld", (long long)json_integer_value(value));
            found = strstr(html, text);
        } else {
            /* The JSON keeps 10 significant digits, so a value whose fifth
             * decimal is near 5 may round the other way than the HTML's
             * %.4f of the exact value: accept both neighbours. */
            double v = json_real_value(value), slack = 1e-9 * fabs(v);
            snprintf(text, sizeof text, "%.4f", v);
            found = strstr(html, text);
            for (int side = -1; side <= 1 && !found; side += 2) {
                snprintf(text, sizeof text, "%.4f", v + side * slack);
                found = strstr(html, text);
            }
        }
        if (!found)
            print_error("JSON value %s = %s not found in the HTML\n", key, text);
        assert_non_null(found);
        checked++;
    }
    return checked;
}

static void html_has_json_numbers(void **state)
{
    struct fixture *f = *state;
    json_error_t jerr;
    json_t *root = json_load_file(f->json_path, 0, &jerr);
    assert_non_null(root);

    json_t *models = json_object_get(root, "models");
    assert_int_equal(json_array_size(models), 2);
    assert_true(check_numbers(root, f->html, "") > 100);
    json_decref(root);
}

static void html_loads_nothing_external(void **state)
{
    struct fixture *f = *state;
    assert_null(strstr(f->html, "http://"));
    assert_null(strstr(f->html, "https://"));
    assert_null(strstr(f->html, "<script"));
    assert_null(strstr(f->html, "<link"));
    assert_null(strstr(f->html, "url("));
    assert_non_null(strstr(f->html, "<svg"));
}

static void ab_report_has_both(void **state)
{
    struct fixture *f = *state;
    assert_non_null(strstr(f->html, "A: model-A"));
    assert_non_null(strstr(f->html, "B: model-B"));
    /* B reverses A's item order: targets i3, i1, i4 rank 1, 3, 0, so
     * NDCG@5 = (1/log2(3) + 1/log2(5) + 1) / 3, unlike A's. */
    assert_float_equal(eval_ndcg(&f->results[1].full, 1), (1.0 / log2(3.0) + 1.0 / log2(5.0) + 1.0) / 3.0, 1e-9);
    assert_float_equal(eval_ndcg(&f->results[0].full, 1), (0.5 + 1.0 + 1.0 / log2(5.0)) / 3.0, 1e-9);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(html_has_json_numbers),
        cmocka_unit_test(html_loads_nothing_external),
        cmocka_unit_test(ab_report_has_both),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
