/*
 * Hot model reload during a real run. A corrupt file, installed and then
 * announced with SIGHUP, is rejected and counted while the running model
 * keeps serving. A good file with changed weights, installed without a
 * signal so that the file watch must notice it, is swapped in between
 * batches. On each partition no intent of the old model follows one of the
 * new, and no other version appears.
 */
#include "harness.h"

#include "model.h"
#include "model_bundle.h"
#include "safetensors.h"
#include "test_ops_util.h"

#define CLICKS 2400
#define BODY_SIZE (1 << 20)

static const char *extra_config = "batching:\n  max_events: 200\n  max_wait_ms: 100\n"
                                  "intents:\n  emit: every_update\n";

struct files {
    char live[400];    /* model.path of the run */
    char good[400];    /* next/model.safetensors: changed weights */
    char corrupt[400]; /* bad/model.safetensors: the first half of the default model */
    char v0[MODEL_BUNDLE_VERSION_SIZE], v1[MODEL_BUNDLE_VERSION_SIZE], bad[MODEL_BUNDLE_VERSION_SIZE];
};

static void version_of(const char *path, char *out)
{
    struct model_bundle bundle;
    char error[MODEL_ERROR_SIZE];
    if (model_bundle_load(&bundle, path, NULL, error) != 0)
        fail_msg("%s", error);
    snprintf(out, MODEL_BUNDLE_VERSION_SIZE, "%s", bundle.version);
    model_bundle_free(&bundle);
}

/* Writes the default model with one propensity bias moved by 1e-3. */
static void write_changed_model(const char *path)
{
    struct model model;
    char *tokenizer = NULL;
    char error[MODEL_ERROR_SIZE];
    if (model_safetensors_load(&model, harness_model_path(), MODEL_LOAD_COPY, &tokenizer, error) != 0)
        fail_msg("%s", error);
    assert_non_null(model.params.propensity_bias);
    model.params.propensity_bias[0] += 1e-3f;
    if (model_safetensors_save(&model, path, tokenizer, error) != 0)
        fail_msg("%s", error);
    free(tokenizer);
    model_free(&model);
}

static void prepare_files(struct harness *h, struct files *f)
{
    snprintf(f->live, sizeof f->live, "%s/model.safetensors", h->dir);
    snprintf(f->good, sizeof f->good, "%s/next/model.safetensors", h->dir);
    snprintf(f->corrupt, sizeof f->corrupt, "%s/bad/model.safetensors", h->dir);
    assert_int_equal(harness_system("mkdir -p %s/next %s/bad && cp %s %s", h->dir, h->dir, harness_model_path(),
                                    f->live),
                     0);
    assert_int_equal(harness_system("head -c $(( $(stat -c %%s %s) / 2 )) %s > %s", f->live, f->live, f->corrupt), 0);
    write_changed_model(f->good);
    version_of(f->live, f->v0);
    version_of(f->good, f->v1); /* same file name, so the version differs by content only */
    assert_string_not_equal(f->v0, f->v1);
    ops_edit_file(h->config_path, harness_model_path(), f->live);
}

static void produce_clicks(struct harness *h, const struct harness_click *clicks, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++)
        harness_produce_click(h, &clicks[i]);
    harness_flush(h);
}

static double model_info(const char *body, const char *version)
{
    char series[200];
    snprintf(series, sizeof series, "intentd_model_info{version=\"%s\"}", version);
    return ops_sample(body, series);
}

/* Per partition in offset order the intents carry v0 and then v1 only. */
static void check_intent_versions(struct harness *h, const struct files *f)
{
    struct harness_records intents = {0};
    harness_read_topic(h->intents, &intents);
    size_t n0 = 0, n1 = 0;
    int switched[HARNESS_PARTITIONS] = {0};

    for (size_t i = 0; i < intents.count; i++) {
        codec_user_intent_t intent;
        codec_error_t err;
        const struct harness_record *r = &intents.items[i];
        if (codec_decode_intent(h->codec, r->value, r->len, &intent, &err) != CODEC_OK)
            fail_msg("intent %zu does not decode: %s", i, err.message);
        if (strcmp(intent.model_version, f->v1) == 0) {
            switched[r->partition] = 1;
            n1++;
        } else if (strcmp(intent.model_version, f->v0) == 0) {
            if (switched[r->partition])
                fail_msg("partition %d: an intent of the old model after one of the new", (int)r->partition);
            n0++;
        } else {
            fail_msg("intent with unexpected model version %s", intent.model_version);
        }
        codec_intent_clear(&intent);
    }
    printf("intents: %zu of %s, then %zu of %s\n", n0, f->v0, n1, f->v1);
    assert_true(n0 > 0);
    assert_true(n1 > 0);
    harness_records_free(&intents);
}

static void reload_keeps_old_on_bad_and_swaps_good(void **state)
{
    (void)state;
    struct harness h;
    struct files f;
    harness_init(&h, "ops-reload", extra_config);
    int port = ops_port(1);
    ops_enable_metrics(h.config_path, port);
    prepare_files(&h, &f);

    struct harness_click *clicks = calloc(CLICKS, sizeof *clicks);
    assert_int_equal(harness_read_taobao(clicks, CLICKS), CLICKS);
    char *body = malloc(BODY_SIZE);

    /* phase 1: the first model */
    produce_clicks(&h, clicks, 0, 1000);
    pid_t pid = harness_start(&h, NULL, "run");
    harness_wait_caught_up(&h, pid, "run", 240);
    char series[200];
    snprintf(series, sizeof series, "intentd_events_consumed_total{topic=\"%s\"}", h.clickstream);
    assert_true(ops_wait_sample(port, series, 1000, 30, body, BODY_SIZE) == 1000);
    assert_true(model_info(body, f.v0) == 1);

    /* phase 2: a corrupt file and SIGHUP; the reload happens after the next batch */
    assert_int_equal(rename(f.corrupt, f.live), 0);
    kill(pid, SIGHUP);
    produce_clicks(&h, clicks, 1000, 1200);
    double failed = ops_wait_sample(port, "intentd_model_reload_total{result=\"failed\"}", 1, 30, body, BODY_SIZE);
    assert_true(failed == 1);
    assert_true(model_info(body, f.v0) == 1);
    assert_true(ops_sample(body, "intentd_model_reload_total{result=\"ok\"}") == 0);
    harness_assert_running(&h, pid, "run");

    /* phase 3: a good file, no signal: the file watch must pick it up */
    assert_int_equal(rename(f.good, f.live), 0);
    double ok = NAN;
    for (size_t from = 1200; from < 1600 && ok != 1; from += 50) {
        produce_clicks(&h, clicks, from, from + 50);
        ok = ops_wait_sample(port, "intentd_model_reload_total{result=\"ok\"}", 1, 1, body, BODY_SIZE);
    }
    assert_true(ok == 1);
    assert_true(model_info(body, f.v1) == 1);
    assert_true(isnan(model_info(body, f.v0)));
    assert_true(ops_sample(body, "intentd_model_reload_total{result=\"failed\"}") == 1); /* not retried */

    /* phase 4: more input under the new model */
    produce_clicks(&h, clicks, 1600, CLICKS);
    harness_wait_caught_up(&h, pid, "run", 240);
    assert_int_equal(harness_stop(pid, 60), 0);
    check_intent_versions(&h, &f);

    char path[512];
    snprintf(path, sizeof path, "%s/run.log", h.dir);
    char *log = ops_read_file(path);
    assert_non_null(strstr(log, "model reload failed"));
    assert_non_null(strstr(log, f.live)); /* the rejected path is named */
    free(log);
    free(body);
    free(clicks);
    harness_free(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reload_keeps_old_on_bad_and_swaps_good),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
