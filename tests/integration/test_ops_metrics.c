/*
 * The metrics and health endpoints of intentd run, scraped during a real run
 * on a Taobao slice with poison records mixed in:
 *   - every counter equals what the topics hold afterwards (input records,
 *     dead letters by reason, intents, offers by rule);
 *   - /readyz returns 503 (or the port is still closed) before it returns
 *     200, and at its first 200 every changelog record has been restored;
 *   - consumer lag per clickstream partition is reported and reaches 0;
 *   - a Kafka password from ${ENV} and a registry password written in the
 *     config appear in no log line, metric or check-config output;
 *   - with more group members than partitions, the member left without
 *     partitions is ready too, so it does not hold up a rollout.
 */
#include "harness.h"

#include "test_ops_util.h"

#define CLICKS 2000
#define BODY_SIZE (1 << 20)
#define CHANGELOG_PADDING 300000

static const char *secret_env = "ops-env-secret-7f3a9c";
static const char *secret_literal = "ops-literal-secret-51d2e8";

static const char *extra_config =
    "batching:\n  max_events: 400\n  max_wait_ms: 100\n"
    "intents:\n  emit: every_update\n"
    "offers:\n  consent_default: grant\n  holdout_percent: 0\n  global_rate_limit_per_s: 0\n"
    "triggers:\n"
    "  - name: cart_abandon\n"
    "    when: {event: cart, no: purchase, within: 1m}\n"
    "    cooldown: 10m\n    max_offers: 3\n    per_window: 1d\n    holdout_percent: 20\n"
    "    template:\n      en: \"Still thinking? {items}: {discount}% off\"\n"
    "    discount_percent: 15\n    max_items: 3\n"
    "log:\n  level: debug\n";

static uint8_t *click_frame(struct harness *h, const char *user, size_t *len)
{
    codec_click_event_t event = {.user_id = (char *)user, .item_id = "1", .category_id = "2",
                                 .action = CODEC_ACTION_VIEW, .timestamp_ms = 1511658000000LL,
                                 .consent = CODEC_CONSENT_GIVEN};
    uint8_t *frame;
    codec_error_t err;
    if (codec_encode_click(h->codec, &event, &frame, len, &err) != CODEC_OK)
        fail_msg("%s", err.message);
    return frame;
}

/* Sends three kinds of poison to the clickstream; returns how many. */
static int produce_poison(struct harness *h)
{
    size_t len;
    uint8_t *frame = click_frame(h, "poison-truncated", &len);
    harness_produce(h, h->clickstream, "poison-truncated", 16, frame, len / 2);
    free(frame);
    harness_produce(h, h->clickstream, "poison-empty", 12, "", 0);
    uint8_t junk[40];
    for (int i = 0; i < 40; i++)
        junk[i] = (uint8_t)(0x7f + i * 37);
    harness_produce(h, h->clickstream, "poison-junk", 11, junk, sizeof junk);
    return 3;
}

/* Adds the two secrets to the harness config: a SASL password taken from
 * the environment and a registry password written literally. */
static void add_secrets(struct harness *h)
{
    char kafka[256];
    snprintf(kafka, sizeof kafka,
             "kafka:\n  properties:\n    sasl.username: \"ops\"\n    sasl.password: \"${INTENTD_OPS_SECRET}\"\n"
             "    debug: \"conf,generic\"\n    statistics.interval.ms: \"500\"\n");
    ops_edit_file(h->config_path, "kafka:\n", kafka);
    char schemas[128];
    snprintf(schemas, sizeof schemas, "schemas:\n  registry_auth: \"ops:%s\"\n", secret_literal);
    ops_edit_file(h->config_path, "schemas:\n", schemas);
    setenv("INTENTD_OPS_SECRET", secret_env, 1);
}

static double metric(const char *body, const char *fmt, const char *label)
{
    char series[256];
    snprintf(series, sizeof series, fmt, label);
    return ops_sample(body, series);
}

/* Counters against the topics read back after the stop. */
static void check_counts(struct harness *h, const char *body)
{
    struct harness_records clicks = {0}, reviews = {0}, dlq = {0}, intents = {0}, offers = {0};
    harness_read_topic(h->clickstream, &clicks);
    harness_read_topic(h->reviews, &reviews);
    harness_read_topic(h->dead_letter, &dlq);
    harness_read_topic(h->intents, &intents);
    harness_read_topic(h->offers, &offers);

    assert_true(metric(body, "intentd_events_consumed_total{topic=\"%s\"}", h->clickstream) == (double)clicks.count);
    assert_true(metric(body, "intentd_events_consumed_total{topic=\"%s\"}", h->reviews) == (double)reviews.count);
    assert_true(metric(body, "intentd_intents_written_total%s", "") == (double)intents.count);
    assert_true(intents.count > 0);

    /* Every consumed record was in exactly one committed batch. Users are
     * counted per batch, timer-only ones included, so they have no bound
     * from the records. */
    double records = (double)(clicks.count + reviews.count);
    assert_true(metric(body, "intentd_batch_size_records_sum%s", "") == records);
    assert_true(metric(body, "intentd_batch_size_users_sum%s", "") > 0);

    /* dead letters by the reason header the records carry */
    const char *reasons[] = {"empty_value", "invalid_frame", "malformed_body", "unknown_schema_id"};
    size_t total = 0;
    for (size_t r = 0; r < sizeof reasons / sizeof reasons[0]; r++) {
        size_t n = 0;
        char value[64];
        for (size_t i = 0; i < dlq.count; i++)
            n += strcmp(harness_header(&dlq.items[i], "intentd.reason", value, sizeof value), reasons[r]) == 0;
        assert_true(metric(body, "intentd_dead_letters_total{reason=\"%s\"}", reasons[r]) == (double)n);
        total += n;
    }
    assert_int_equal(total, dlq.count);

    /* every written offer is fired or held out */
    double written = metric(body, "intentd_offers_total{rule=\"%s\",outcome=\"fired\"}", "cart_abandon") +
                     metric(body, "intentd_offers_total{rule=\"%s\",outcome=\"holdout\"}", "cart_abandon");
    assert_true(written == (double)offers.count);
    assert_true(offers.count > 0);
    assert_true(metric(body, "intentd_transactions_total{result=\"%s\"}", "aborted") == 0);
    assert_true(metric(body, "intentd_transactions_total{result=\"%s\"}", "committed") > 0);
    assert_true(metric(body, "intentd_model_latency_seconds_count%s", "") > 0);
    printf("metrics match the topics: %zu clicks, %zu dead letters, %zu intents, %zu offers\n", clicks.count,
           dlq.count, intents.count, offers.count);

    harness_records_free(&clicks);
    harness_records_free(&reviews);
    harness_records_free(&dlq);
    harness_records_free(&intents);
    harness_records_free(&offers);
}

/* Order of changelog records: by key, then by position in the topic read. */
static const struct harness_records *sorted_records;

static int by_key_then_position(const void *a, const void *b)
{
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    const struct harness_record *x = &sorted_records->items[i], *y = &sorted_records->items[j];
    size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
    int c = memcmp(x->key, y->key, n);

    if (c != 0)
        return c;
    if (x->key_len != y->key_len)
        return x->key_len < y->key_len ? -1 : 1;
    return i < j ? -1 : i > j;
}

/* Users a restore of the changelog must end with: keys whose last record
 * is a value, not a tombstone. A key stays in one partition, so the read
 * order of its records is their offset order. */
static size_t live_keys(const struct harness_records *changelog)
{
    size_t *order = malloc(changelog->count * sizeof *order), live = 0;
    assert_non_null(order);
    for (size_t i = 0; i < changelog->count; i++)
        order[i] = i;
    sorted_records = changelog;
    qsort(order, changelog->count, sizeof *order, by_key_then_position);

    for (size_t k = 0; k < changelog->count; k++) {
        const struct harness_record *x = &changelog->items[order[k]];
        const struct harness_record *next = k + 1 < changelog->count ? &changelog->items[order[k + 1]] : NULL;
        int last_of_key = !next || next->key_len != x->key_len || memcmp(next->key, x->key, x->key_len) != 0;
        live += last_of_key && x->value != NULL;
    }
    free(order);
    return live;
}

/* Appends n tombstones of unknown users to changelog partition 0 only, so
 * that partition restores long after the other two: readiness given at the
 * first restored task would then show in the restored count. */
static void pad_changelog_partition(struct harness *h, int n)
{
    char key[32];
    for (int i = 0; i < n; i++) {
        int len = snprintf(key, sizeof key, "filler-%d", i);
        rd_kafka_resp_err_t err;
        while ((err = rd_kafka_producev(h->producer, RD_KAFKA_V_TOPIC(h->changelog), RD_KAFKA_V_PARTITION(0),
                                        RD_KAFKA_V_KEY(key, (size_t)len), RD_KAFKA_V_VALUE(NULL, 0),
                                        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END)) ==
               RD_KAFKA_RESP_ERR__QUEUE_FULL)
            rd_kafka_poll(h->producer, 100);
        assert_int_equal(err, RD_KAFKA_RESP_ERR_NO_ERROR);
    }
    harness_flush(h);
}

/* Once the group has committed everything, the statistics (every 500 ms
 * here) must report each clickstream partition with a lag of 0. */
static void check_lag(struct harness *h, int port, char *body)
{
    char series[256];
    for (int p = 0; p < HARNESS_PARTITIONS; p++) {
        snprintf(series, sizeof series, "intentd_consumer_lag{topic=\"%s\",partition=\"%d\"}", h->clickstream, p);
        assert_true(ops_wait_sample(port, series, 0, 10, body, BODY_SIZE) == 0);
    }
}

/* Polls /readyz from process start; returns the number of "not ready"
 * results (503 or refused) seen before the first 200, and leaves the
 * /metrics body scraped right after that 200 in body. */
static int wait_ready(struct harness *h, pid_t pid, int port, char *body, int *saw_503, int *saw_restoring)
{
    int not_ready = 0;
    for (int i = 0; i < 1200; i++) {
        harness_assert_running(h, pid, "restore");
        int status = ops_http_get(port, "/readyz", body, BODY_SIZE);
        if (status == 200) {
            assert_int_equal(ops_http_get(port, "/metrics", body, BODY_SIZE), 200);
            return not_ready;
        }
        if (status == 503) {
            *saw_503 = 1;
            *saw_restoring += strstr(body, "restoring") != NULL;
        }
        else
            assert_int_equal(status, -1);
        not_ready++;
        usleep(50000);
    }
    fail_msg("intentd never became ready within 60 s; see %s/restore.log", h->dir);
    return -1;
}

static void assert_no_secret(const char *where, const char *text)
{
    if (strstr(text, secret_env) || strstr(text, secret_literal))
        fail_msg("a secret appears in %s", where);
}

static void metrics_readiness_and_secrets(void **state)
{
    (void)state;
    struct harness h;
    harness_init(&h, "ops-metrics", extra_config);
    int port = ops_port(0);
    ops_enable_metrics(h.config_path, port);
    add_secrets(&h);

    struct harness_click *clicks = calloc(CLICKS, sizeof *clicks);
    size_t n_clicks = harness_read_taobao(clicks, CLICKS);
    assert_int_equal(n_clicks, CLICKS);
    for (size_t i = 0; i < n_clicks; i++)
        harness_produce_click(&h, &clicks[i]);
    int n_poison = produce_poison(&h);
    harness_flush(&h);

    /* run 1: process everything, scrape until the last batch is published */
    pid_t pid = harness_start(&h, NULL, "run");
    harness_wait_caught_up(&h, pid, "run", 240);
    char *body = malloc(BODY_SIZE);
    char series[256];
    snprintf(series, sizeof series, "intentd_events_consumed_total{topic=\"%s\"}", h.clickstream);
    double consumed = ops_wait_sample(port, series, (double)(n_clicks + (size_t)n_poison), 30, body, BODY_SIZE);
    assert_true(consumed == (double)(n_clicks + (size_t)n_poison));
    assert_int_equal(ops_http_get(port, "/healthz", body + BODY_SIZE / 2, BODY_SIZE / 2), 200);
    assert_int_equal(ops_http_get(port, "/readyz", body + BODY_SIZE / 2, BODY_SIZE / 2), 200);
    assert_int_equal(ops_http_get(port, "/metrics", body, BODY_SIZE), 200);
    assert_no_secret("the metrics of run 1", body);
    check_lag(&h, port, body);
    assert_int_equal(harness_stop(pid, 60), 0);
    check_counts(&h, body);

    /* run 2: restores the changelog; ready only once all of it is read */
    pad_changelog_partition(&h, CHANGELOG_PADDING);
    struct harness_records changelog = {0};
    harness_read_topic(h.changelog, &changelog);
    assert_true(changelog.count > 0);
    pid = harness_start(&h, NULL, "restore");
    int saw_503 = 0, saw_restoring = 0;
    int not_ready = wait_ready(&h, pid, port, body, &saw_503, &saw_restoring);
    printf("readiness: %d not-ready results (%d of them 503 restoring) before 200; %zu changelog records\n",
           not_ready, saw_restoring, changelog.count);
    assert_true(not_ready > 0);
    assert_true(saw_503);
    assert_true(ops_sample(body, "intentd_tasks{state=\"restoring\"}") == 0);
    assert_true(ops_sample(body, "intentd_tasks{state=\"active\"}") == HARNESS_PARTITIONS);
    size_t users = live_keys(&changelog);
    assert_true(users > 0);
    assert_true(users < changelog.count); /* the padding tombstones are no users */
    assert_true(ops_sample(body, "intentd_restored_users_total") == (double)users);
    assert_no_secret("the metrics of run 2", body);
    assert_int_equal(harness_stop(pid, 60), 0);

    /* secrets: logs of both runs and check-config's output */
    char path[512];
    const char *logs[] = {"run", "restore"};
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/%s.log", h.dir, logs[i]);
        char *log = ops_read_file(path);
        assert_non_null(strstr(log, "librdkafka")); /* the debug log was on, so there was a chance to leak */
        assert_no_secret(path, log);
        free(log);
    }
    snprintf(path, sizeof path, "%s/check-config.log", h.dir);
    assert_int_equal(harness_system("%s check-config %s > %s 2>&1", INTENTD_BINARY, h.config_path, path), 0);
    char *printed = ops_read_file(path);
    assert_non_null(strstr(printed, "sasl.password")); /* the key is printed, its value masked */
    assert_no_secret("check-config output", printed);
    free(printed);

    harness_records_free(&changelog);
    free(body);
    free(clicks);
    harness_free(&h);
}

#define MEMBERS (HARNESS_PARTITIONS + 1)

/* Starts MEMBERS processes in one group. /readyz must return 200 on every
 * one, and exactly one of them must own no partition. */
static void standby_member_ready(void **state)
{
    (void)state;
    struct harness h;
    harness_init(&h, "ops-standby", NULL);
    char *body = malloc(BODY_SIZE);
    char base_config[512], config[MEMBERS][512], name[MEMBERS][32], txn[32];
    pid_t pid[MEMBERS];
    snprintf(base_config, sizeof base_config, "%s", h.config_path);

    for (int m = 0; m < MEMBERS; m++) {
        snprintf(config[m], sizeof config[m], "%s/member-%d.yaml", h.dir, m);
        snprintf(name[m], sizeof name[m], "member-%d", m);
        snprintf(txn, sizeof txn, "txn-member-%d", m);
        snprintf(h.config_path, sizeof h.config_path, "%s", config[m]);
        harness_write_config(&h, txn, NULL);
        ops_enable_metrics(config[m], ops_port(m));
    }
    snprintf(h.config_path, sizeof h.config_path, "%s", base_config);
    for (int m = 0; m < MEMBERS; m++)
        pid[m] = harness_start(&h, config[m], name[m]);

    /* Until every member is ready and the partitions are spread over them. */
    int ready = 0, active_total = 0, standby = 0;
    for (int i = 0; i < 1200 && !(ready == MEMBERS && active_total == HARNESS_PARTITIONS); i++) {
        ready = active_total = standby = 0;
        for (int m = 0; m < MEMBERS; m++) {
            harness_assert_running(&h, pid[m], name[m]);
            if (ops_http_get(ops_port(m), "/readyz", body, BODY_SIZE) != 200)
                continue;
            ready++;
            standby += strstr(body, "no partitions assigned") != NULL;
            assert_int_equal(ops_http_get(ops_port(m), "/metrics", body, BODY_SIZE), 200);
            active_total += (int)ops_sample(body, "intentd_tasks{state=\"active\"}");
        }
        usleep(100000);
    }
    printf("members ready %d of %d, standby %d, active tasks %d\n", ready, MEMBERS, standby, active_total);
    assert_int_equal(ready, MEMBERS);
    assert_int_equal(active_total, HARNESS_PARTITIONS);
    assert_int_equal(standby, 1);

    for (int m = 0; m < MEMBERS; m++)
        assert_int_equal(harness_stop(pid[m], 60), 0);
    free(body);
    harness_free(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(metrics_readiness_and_secrets),
        cmocka_unit_test(standby_member_ready),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
