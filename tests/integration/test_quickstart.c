/*
 * End-to-end test of deploy/quickstart.sh on a slice of the bundled data.
 * The quick start runs its own broker, on a free port of its own and in a
 * scratch directory, so the test broker of INTENTD_TEST_BOOTSTRAP is not
 * touched. It runs twice (the second run must not need a reinstall and must
 * show results again), leaves intentd and the broker up the second time with
 * the metrics endpoint on, which must report ready and count the slice, and
 * then 'quickstart.sh stop' must stop both.
 *
 * The apt step is skipped (INTENTD_SKIP_INSTALL=1, tests/run installs the
 * packages) and the binary under test is used instead of a new build
 * (INTENTD_QUICKSTART_BINARY), so the script's build step is not covered here.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <setjmp.h>
#include <cmocka.h>

#include "test_ops_util.h"

#define SLICE 3000
#define SCRIPT INTENTD_SOURCE_DIR "/deploy/quickstart.sh"
#define BROKER_SCRIPT INTENTD_SOURCE_DIR "/deploy/kafka/broker.sh"

struct quickstart {
    char dir[256];   /* the quick start's --dir */
    char out[300];   /* captured output of the last run */
    int port;
};

static struct quickstart qs;

/* Succeeds if a TCP socket can bind 127.0.0.1:port; port 0 picks one. */
static int bind_port(int port, int *bound)
{
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                               .sin_port = htons((uint16_t)port)};
    socklen_t len = sizeof addr;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    int ok = bind(fd, (struct sockaddr *)&addr, sizeof addr) == 0 &&
             getsockname(fd, (struct sockaddr *)&addr, &len) == 0;
    close(fd);
    if (!ok)
        return -1;
    *bound = ntohs(addr.sin_port);
    return 0;
}

/* Returns a port p such that p and p+1 (the controller) are free now. */
static int free_port_pair(void)
{
    for (int attempt = 0; attempt < 50; attempt++) {
        int port, next;
        if (bind_port(0, &port) == 0 && port < 65534 && bind_port(port + 1, &next) == 0)
            return port;
    }
    fail_msg("found no two adjacent free ports on 127.0.0.1 in 50 attempts");
    return -1;
}

/* Runs a shell command; returns its exit status, or -1 if it did not exit. */
static int run_shell(const char *fmt, ...)
{
    char command[2048];
    va_list args;
    va_start(args, fmt);
    vsnprintf(command, sizeof command, fmt, args);
    va_end(args);
    int status = system(command);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Runs the quick start with extra options; its output goes to qs.out. */
static int run_quickstart(const char *extra)
{
    return run_shell("INTENTD_SKIP_INSTALL=1 INTENTD_QUICKSTART_BINARY='%s' '%s' --slice %d --port %d --dir '%s' "
                     "--timeout 240 %s >'%s' 2>&1",
                     INTENTD_BINARY, SCRIPT, SLICE, qs.port, qs.dir, extra, qs.out);
}

static char *read_output(void)
{
    FILE *f = fopen(qs.out, "rb");
    assert_non_null(f);
    static char text[1 << 20];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    return text;
}

/* Returns the number after "label:" in the summary, or -1 if absent. */
static long summary_value(const char *text, const char *label)
{
    const char *at = strstr(text, label);
    if (!at)
        return -1;
    return strtol(at + strlen(label), NULL, 10);
}

static void print_output_on_failure(const char *text)
{
    fprintf(stderr, "---- quickstart.sh output ----\n%s\n----\n", text);
}

/* Checks the summary of one successful run. */
static void check_summary(int status)
{
    char *text = read_output();
    if (status != 0)
        print_output_on_failure(text);
    assert_int_equal(status, 0);

    long replayed = summary_value(text, "events replayed:");
    long processed = summary_value(text, "events processed:");
    long intents = summary_value(text, "intents written:");
    long offers = summary_value(text, "offers written:");
    assert_int_equal(replayed, SLICE);
    assert_int_equal(processed, replayed);
    assert_true(intents > 0);
    assert_true(offers > 0);
    assert_non_null(strstr(text, "synthetic"));
    assert_non_null(strstr(text, "  offer user="));
}

/* Succeeds if a TCP connection to the first HOST:PORT of bootstrap opens.
 * Only numeric IPv4 hosts and localhost are understood. */
static int broker_reachable(const char *bootstrap)
{
    char host[128];
    int port;
    if (sscanf(bootstrap, "%127[^:,]:%d", host, &port) != 2)
        return -1;
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (strcmp(host, "localhost") == 0)
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    else if (inet_pton(AF_INET, host, &addr.sin_addr) != 1)
        return -1;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    int ok = connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0;
    close(fd);
    return ok ? 0 : -1;
}

/* The quick start brings its own broker, but like every broker test this one
 * fails when the test broker is missing, so a broken setup is never a pass. */
static int setup(void **state)
{
    (void)state;
    const char *bootstrap = getenv("INTENTD_TEST_BOOTSTRAP");
    if (!bootstrap || !*bootstrap) {
        fprintf(stderr, "INTENTD_TEST_BOOTSTRAP is not set: run the broker tests through tests/run, or start a "
                        "broker with deploy/kafka/broker.sh and export INTENTD_TEST_BOOTSTRAP=127.0.0.1:PORT\n");
        return -1;
    }
    if (broker_reachable(bootstrap) != 0) {
        fprintf(stderr, "the test broker INTENTD_TEST_BOOTSTRAP=%s is not reachable; start it with "
                        "deploy/kafka/broker.sh start\n", bootstrap);
        return -1;
    }
    snprintf(qs.dir, sizeof qs.dir, "/tmp/intentd-quickstart-XXXXXX");
    if (!mkdtemp(qs.dir))
        return -1;
    snprintf(qs.out, sizeof qs.out, "%s.out", qs.dir);
    /* A free port cannot be the test broker's, which is listening. */
    qs.port = free_port_pair();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    run_shell("'%s' stop --dir '%s' >/dev/null 2>&1", SCRIPT, qs.dir);
    run_shell("rm -rf '%s' '%s'", qs.dir, qs.out);
    return 0;
}

static void quickstart_first_run(void **state)
{
    (void)state;
    check_summary(run_quickstart(""));
}

static void quickstart_second_run(void **state)
{
    (void)state;
    int metrics_port = 0;
    assert_int_equal(bind_port(0, &metrics_port), 0);
    char extra[64];
    snprintf(extra, sizeof extra, "--keep-running --metrics-port %d", metrics_port);
    check_summary(run_quickstart(extra));

    int broker = run_shell("'%s' status --dir '%s/kafka' >/dev/null 2>&1", BROKER_SCRIPT, qs.dir);
    assert_int_equal(broker, 0);

    /* The quick start waited until every event was consumed, so intentd is
     * ready and its counters, summed over the input topics, equal the slice. */
    static char body[1 << 20];
    assert_int_equal(ops_http_get(metrics_port, "/readyz", body, sizeof body), 200);
    assert_int_equal(ops_http_get(metrics_port, "/metrics", body, sizeof body), 200);
    double consumed = 0.0;
    int series = 0;
    for (const char *line = strstr(body, "\nintentd_events_consumed_total{"); line;
         line = strstr(line + 1, "\nintentd_events_consumed_total{")) {
        const char *value = strchr(line, '}');
        assert_non_null(value);
        consumed += strtod(value + 1, NULL);
        series++;
    }
    assert_true(series >= 2); /* clickstream and reviews */
    assert_true(consumed == (double)SLICE);
}

static void quickstart_stop(void **state)
{
    (void)state;
    char pid_file[300];
    struct stat st;

    assert_int_equal(run_shell("'%s' stop --dir '%s' >'%s' 2>&1", SCRIPT, qs.dir, qs.out), 0);

    /* broker.sh status exits 3 when no broker runs on the directory. */
    int broker = run_shell("'%s' status --dir '%s/kafka' >/dev/null 2>&1", BROKER_SCRIPT, qs.dir);
    assert_int_equal(broker, 3);
    snprintf(pid_file, sizeof pid_file, "%s/intentd.pid", qs.dir);
    assert_int_not_equal(stat(pid_file, &st), 0);
    assert_non_null(strstr(read_output(), "stopped intentd"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(quickstart_first_run),
        cmocka_unit_test(quickstart_second_run),
        cmocka_unit_test(quickstart_stop),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
