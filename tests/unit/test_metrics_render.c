/* Unit tests of the metrics endpoint: the Prometheus text rendering (format,
 * values, label escaping, histograms), the readiness decision and the HTTP
 * server's routes on a loopback port. */
#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "health_check.h"
#include "metrics_render.h"
#include "metrics_server.h"

static struct metrics_snapshot *new_snapshot(void)
{
    struct metrics_snapshot *s = calloc(1, sizeof *s);
    assert_non_null(s);
    s->published = 1;
    s->running = 1;
    s->input_topics[0] = "click";
    s->input_topics[1] = "reviews";
    s->n_rules = 1;
    s->rule_names[0] = "cart_abandon";
    snprintf(s->model_version, sizeof s->model_version, "m-1");
    return s;
}

static char *render(const struct metrics_snapshot *s)
{
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(metrics_render(s, &text, &len), 0);
    assert_int_equal(strlen(text), len);
    return text;
}

/* Value of the sample whose name and labels are exactly series, or NAN. */
static double sample(const char *text, const char *series)
{
    size_t n = strlen(series);
    for (const char *line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        if (strncmp(line, series, n) == 0 && line[n] == ' ')
            return strtod(line + n + 1, NULL);
    }
    return NAN;
}

/* Every sample line is NAME[{...}] VALUE, and its family was declared by a
 * TYPE line before it. */
static void test_format_is_valid_exposition(void **state)
{
    (void)state;
    struct metrics_snapshot *s = new_snapshot();
    char *text = render(s);
    char declared[64][96];
    int n_declared = 0, samples = 0;

    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        if (strncmp(line, "# TYPE ", 7) == 0) {
            assert_true(n_declared < 64);
            sscanf(line + 7, "%95s", declared[n_declared++]);
            continue;
        }
        if (line[0] == '#')
            continue;
        char name[96];
        size_t name_len = strcspn(line, "{ ");
        assert_true(name_len > 0 && name_len < sizeof name);
        memcpy(name, line, name_len);
        name[name_len] = '\0';
        const char *space = strrchr(line, ' ');
        assert_non_null(space);
        char *end;
        strtod(space + 1, &end);
        assert_true(*end == '\0');
        int found = 0;
        for (int i = 0; i < n_declared; i++) {
            size_t dl = strlen(declared[i]);
            if (strncmp(name, declared[i], dl) == 0 &&
                (name[dl] == '\0' || strcmp(name + dl, "_bucket") == 0 || strcmp(name + dl, "_sum") == 0 ||
                 strcmp(name + dl, "_count") == 0))
                found = 1;
        }
        if (!found)
            fail_msg("sample %s has no TYPE line before it", name);
        samples++;
    }
    assert_true(samples > 20);
    free(text);
    free(s);
}

static void test_counters_appear_with_labels(void **state)
{
    (void)state;
    struct metrics_snapshot *s = new_snapshot();
    s->counters.records[0] = 7;
    s->counters.records[1] = 3;
    s->counters.dead_letters[APP_DLQ_MALFORMED_BODY] = 2;
    s->counters.intents = 11;
    s->counters.intents_suppressed = 4;
    s->counters.kv_cache_hits = 13;
    s->counters.kv_cache_builds = 8;
    s->counters.offers[0][OFFER_COOLDOWN] = 5;
    s->loop.transactions_committed = 9;
    s->loop.transactions_aborted = 1;
    s->store.users = 6;
    s->reloads[METRICS_RELOAD_FAILED] = 2;
    s->start_time_s = 1700000000.0;
    s->lag.entries[0] = (struct metrics_lag){.topic = "click", .partition = 2, .lag = 17};
    s->lag.count = 1;
    char *text = render(s);

    assert_true(sample(text, "intentd_events_consumed_total{topic=\"click\"}") == 7);
    assert_true(sample(text, "intentd_events_consumed_total{topic=\"reviews\"}") == 3);
    assert_true(isnan(sample(text, "intentd_events_consumed_total{topic=\"(null)\"}")));
    assert_true(sample(text, "intentd_dead_letters_total{reason=\"malformed_body\"}") == 2);
    assert_true(sample(text, "intentd_dead_letters_total{reason=\"empty_value\"}") == 0);
    assert_true(sample(text, "intentd_intents_written_total") == 11);
    assert_true(sample(text, "intentd_intents_suppressed_total") == 4);
    assert_true(sample(text, "intentd_kv_cache_hits_total") == 13);
    assert_true(sample(text, "intentd_kv_cache_builds_total") == 8);
    assert_true(sample(text, "intentd_offers_total{rule=\"cart_abandon\",outcome=\"cooldown\"}") == 5);
    assert_true(sample(text, "intentd_offers_total{rule=\"cart_abandon\",outcome=\"fired\"}") == 0);
    assert_true(sample(text, "intentd_transactions_total{result=\"committed\"}") == 9);
    assert_true(sample(text, "intentd_transactions_total{result=\"aborted\"}") == 1);
    assert_true(sample(text, "intentd_state_users") == 6);
    assert_true(sample(text, "intentd_model_info{version=\"m-1\"}") == 1);
    assert_true(sample(text, "intentd_model_reload_total{result=\"failed\"}") == 2);
    assert_true(sample(text, "intentd_process_start_time_seconds") == 1700000000.0);
    assert_true(sample(text, "intentd_consumer_lag{topic=\"click\",partition=\"2\"}") == 17);
    free(text);
    free(s);
}

static void test_histogram_buckets_are_cumulative(void **state)
{
    (void)state;
    struct metrics_snapshot *s = new_snapshot();
    app_histogram_observe(&s->counters.model_seconds, app_latency_bounds, 0.003);
    app_histogram_observe(&s->counters.model_seconds, app_latency_bounds, 0.7);
    app_histogram_observe(&s->counters.model_seconds, app_latency_bounds, 30.0);
    char *text = render(s);

    assert_true(sample(text, "intentd_model_latency_seconds_bucket{le=\"0.001\"}") == 0);
    assert_true(sample(text, "intentd_model_latency_seconds_bucket{le=\"0.005\"}") == 1);
    assert_true(sample(text, "intentd_model_latency_seconds_bucket{le=\"0.5\"}") == 1);
    assert_true(sample(text, "intentd_model_latency_seconds_bucket{le=\"1\"}") == 2);
    assert_true(sample(text, "intentd_model_latency_seconds_bucket{le=\"10\"}") == 2);
    assert_true(sample(text, "intentd_model_latency_seconds_bucket{le=\"+Inf\"}") == 3);
    assert_true(sample(text, "intentd_model_latency_seconds_count") == 3);
    assert_true(fabs(sample(text, "intentd_model_latency_seconds_sum") - 30.703) < 1e-9);
    free(text);
    free(s);
}

static void test_label_values_are_escaped(void **state)
{
    (void)state;
    struct metrics_snapshot *s = new_snapshot();
    s->rule_names[0] = "a\"b\\c\nd";
    char *text = render(s);
    assert_non_null(strstr(text, "intentd_offers_total{rule=\"a\\\"b\\\\c\\nd\",outcome=\"fired\"} 0\n"));
    free(text);

    char cut[6];
    assert_string_equal(metrics_escape_label("\"\"\"\"", cut, sizeof cut), "\\\"\\\"");
    free(s);
}

static void test_ready_only_when_every_task_restored(void **state)
{
    (void)state;
    struct metrics_snapshot *s = new_snapshot();
    char reason[128];

    s->published = 0;
    assert_int_equal(health_ready(s, reason, sizeof reason), 0);
    s->published = 1;
    assert_int_equal(health_ready(s, reason, sizeof reason), 0); /* no tasks */
    assert_non_null(strstr(reason, "no partitions"));
    s->loop.active_tasks = 2;
    s->loop.restoring_tasks = 1;
    assert_int_equal(health_ready(s, reason, sizeof reason), 0);
    assert_non_null(strstr(reason, "1 of 3"));
    s->loop.restoring_tasks = 0;
    assert_int_equal(health_ready(s, reason, sizeof reason), 1);
    s->running = 0;
    assert_int_equal(health_ready(s, reason, sizeof reason), 0);
    assert_non_null(strstr(reason, "stopped"));
    free(s);
}

static void test_standby_member_ready(void **state)
{
    (void)state;
    struct metrics_snapshot *s = new_snapshot();
    char reason[128];

    /* In the group with an empty assignment: more members than partitions. */
    s->published = 1;
    s->loop.assignments = 1;
    s->loop.in_group = 1;
    assert_int_equal(health_ready(s, reason, sizeof reason), 1);
    assert_non_null(strstr(reason, "no partitions assigned"));

    /* Out of the group after a lost assignment: not ready until it rejoins. */
    s->loop.in_group = 0;
    assert_int_equal(health_ready(s, reason, sizeof reason), 0);
    assert_non_null(strstr(reason, "not in the consumer group"));
    s->loop.in_group = 1;

    /* Partitions that arrive later still gate readiness on their restore. */
    s->loop.restoring_tasks = 1;
    assert_int_equal(health_ready(s, reason, sizeof reason), 0);
    assert_non_null(strstr(reason, "restoring"));
    free(s);
}

/* GETs path from 127.0.0.1:port; returns the status code, the body in body. */
static int http_get(int port, const char *path, char *body, size_t size)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&addr, sizeof addr), 0);
    char request[256];
    int n = snprintf(request, sizeof request, "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", path);
    assert_int_equal(write(fd, request, (size_t)n), n);

    char response[65536];
    size_t len = 0;
    ssize_t got;
    while (len < sizeof response - 1 && (got = read(fd, response + len, sizeof response - 1 - len)) > 0)
        len += (size_t)got;
    close(fd);
    response[len] = '\0';
    int status = 0;
    sscanf(response, "HTTP/1.%*d %d", &status);
    const char *start = strstr(response, "\r\n\r\n");
    snprintf(body, size, "%s", start ? start + 4 : "");
    return status;
}

static void test_server_routes(void **state)
{
    (void)state;
    struct metrics_board board;
    char error[256], body[65536];
    int port = 20000 + (int)(getpid() % 20000);
    assert_int_equal(metrics_board_init(&board), 0);
    struct metrics_server *server = metrics_server_start("127.0.0.1", port, &board, error, sizeof error);
    if (!server)
        fail_msg("%s", error);

    assert_int_equal(http_get(port, "/healthz", body, sizeof body), 200);
    assert_int_equal(http_get(port, "/readyz", body, sizeof body), 503);
    assert_non_null(strstr(body, "starting"));
    assert_int_equal(http_get(port, "/nope", body, sizeof body), 404);

    struct metrics_snapshot *s = new_snapshot();
    s->loop.active_tasks = 3;
    s->counters.intents = 42;
    metrics_board_publish(&board, s);
    assert_int_equal(http_get(port, "/readyz", body, sizeof body), 200);
    assert_int_equal(http_get(port, "/metrics", body, sizeof body), 200);
    assert_true(sample(body, "intentd_intents_written_total") == 42);

    metrics_server_stop(server);
    metrics_board_destroy(&board);
    free(s);
}

static void test_server_rejects_a_bad_address(void **state)
{
    (void)state;
    struct metrics_board board;
    char error[256];
    assert_int_equal(metrics_board_init(&board), 0);
    assert_null(metrics_server_start("localhost", 9464, &board, error, sizeof error));
    assert_non_null(strstr(error, "metrics.bind 'localhost'"));
    metrics_board_destroy(&board);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_is_valid_exposition),
        cmocka_unit_test(test_counters_appear_with_labels),
        cmocka_unit_test(test_histogram_buckets_are_cumulative),
        cmocka_unit_test(test_label_values_are_escaped),
        cmocka_unit_test(test_ready_only_when_every_task_restored),
        cmocka_unit_test(test_standby_member_ready),
        cmocka_unit_test(test_server_routes),
        cmocka_unit_test(test_server_rejects_a_bad_address),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
