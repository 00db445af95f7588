/*
 * intentd eval reading its events from a Kafka topic: every committed
 * clickstream record of a real Taobao slice is evaluated, and a poison record
 * is reported as a bad line instead of stopping the run.
 */
#include "harness.h"

#include <jansson.h>

#define CLICKS 800

static void eval_reads_topic_range(void **state)
{
    (void)state;
    struct harness h;
    harness_init(&h, "evaltopic", NULL);

    struct harness_click *clicks = calloc(CLICKS, sizeof *clicks);
    assert_int_equal(harness_read_taobao(clicks, CLICKS), CLICKS);
    for (size_t i = 0; i < CLICKS; i++)
        harness_produce_click(&h, &clicks[i]);
    harness_produce(&h, h.clickstream, "poison", 6, "garbage", 7);
    harness_flush(&h);

    char json_path[512];
    snprintf(json_path, sizeof json_path, "%s/eval.json", h.dir);
    int status = harness_system("%s eval --from-topic %s --config %s --model %s --quiet --max-offers 0 "
                                "--out-json %s > %s/eval.log 2>&1",
                                INTENTD_BINARY, h.clickstream, h.config_path, harness_model_path(), json_path, h.dir);
    if (status != 0)
        fail_msg("intentd eval --from-topic exited with %d; see %s/eval.log", status, h.dir);

    json_error_t error;
    json_t *root = json_load_file(json_path, 0, &error);
    if (!root)
        fail_msg("%s: %s", json_path, error.text);
    json_t *models = json_object_get(root, "models");
    json_t *first = json_is_array(models) ? json_array_get(models, 0) : root;
    json_t *events = json_object_get(first, "events");
    if (!json_is_integer(events))
        fail_msg("%s has no integer \"events\" in its first model", json_path);
    assert_int_equal(json_integer_value(events), CLICKS);
    json_decref(root);

    char log_path[512], line[1024];
    snprintf(log_path, sizeof log_path, "%s/eval.log", h.dir);
    FILE *log = fopen(log_path, "r");
    assert_non_null(log);
    int reported = 0;
    while (fgets(line, sizeof line, log))
        reported |= strstr(line, "bad line") != NULL && strstr(line, h.clickstream) != NULL;
    fclose(log);
    assert_true(reported);

    free(clicks);
    harness_free(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(eval_reads_topic_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
