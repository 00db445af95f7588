/*
 * intentd topics create|check against a real broker. Each test writes its own
 * config with topic names that end in the pid, the time and a letter per
 * test, so reruns against one broker never see an earlier run's topics.
 * cmd_topics() runs in-process with stdout and stderr captured, and the
 * resulting topics are read back through the Admin API.
 *
 * Needs INTENTD_TEST_BOOTSTRAP=HOST:PORT (tests/run sets it) and fails when
 * it is unset or the broker does not respond.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <librdkafka/rdkafka.h>

#include "commands.h"
#include "kafka_admin.h"

#define TIMEOUT_MS 30000
#define OUTPUT_SIZE 65536

/* Topic names of one test's config, in the order of the topics section. */
struct topic_names {
    char clickstream[128];
    char reviews[128];
    char intents[128];
    char offers[128];
    char consents[128];
    char changelog[128];
    char dead_letter[128];
};

struct topics_fixture {
    struct topic_names names;
    char config_path[256];
    char output[OUTPUT_SIZE];
};

static const char *bootstrap(void)
{
    const char *servers = getenv("INTENTD_TEST_BOOTSTRAP");

    if (!servers || !servers[0])
        fail_msg("INTENTD_TEST_BOOTSTRAP is not set: start a broker (deploy/kafka/broker.sh start) "
                 "and export INTENTD_TEST_BOOTSTRAP=127.0.0.1:PORT, or run tests/run");
    return servers;
}

static rd_kafka_t *new_admin(void)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char error[1024];

    if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap(), error, sizeof error) != RD_KAFKA_CONF_OK)
        fail_msg("bootstrap.servers: %s", error);
    rd_kafka_t *admin = kafka_admin_new(conf, error, sizeof error);
    if (!admin)
        fail_msg("%s", error);
    return admin;
}

/* Fills names with the default topic names plus a suffix unique to this run
 * and test. consents is left empty when with_consents is 0. */
static void make_names(struct topic_names *names, char test_letter, int with_consents)
{
    char suffix[64];

    snprintf(suffix, sizeof suffix, "%ld-%ld-%c", (long)getpid(), (long)time(NULL), test_letter);
    snprintf(names->clickstream, sizeof names->clickstream, "clickstream-%s", suffix);
    snprintf(names->reviews, sizeof names->reviews, "reviews-%s", suffix);
    snprintf(names->intents, sizeof names->intents, "user-intents-%s", suffix);
    snprintf(names->offers, sizeof names->offers, "offers-%s", suffix);
    snprintf(names->consents, sizeof names->consents, with_consents ? "consents-%s" : "%.0s", suffix);
    snprintf(names->changelog, sizeof names->changelog, "intentd-state-changelog-%s", suffix);
    snprintf(names->dead_letter, sizeof names->dead_letter, "intentd-dead-letter-%s", suffix);
}

/* Writes a config naming the fixture's topics. bootstrap_servers is the
 * value for kafka.bootstrap_servers. */
static void write_config_with(struct topics_fixture *fixture, const char *bootstrap_servers, int partitions,
                              const char *kafka_properties)
{
    const struct topic_names *names = &fixture->names;

    snprintf(fixture->config_path, sizeof fixture->config_path, "%s/intentd-test-%s.yaml", P_tmpdir,
             names->dead_letter);
    FILE *file = fopen(fixture->config_path, "w");
    if (!file)
        fail_msg("cannot write %s", fixture->config_path);
    fprintf(file,
            "kafka:\n"
            "  bootstrap_servers: \"%s\"\n"
            "  properties: %s\n"
            "topics:\n"
            "  clickstream: \"%s\"\n"
            "  reviews: \"%s\"\n"
            "  intents: \"%s\"\n"
            "  offers: \"%s\"\n"
            "  consents: \"%s\"\n"
            "  changelog: \"%s\"\n"
            "  dead_letter: \"%s\"\n"
            "  partitions: %d\n"
            "  replication_factor: 1\n",
            bootstrap_servers, kafka_properties, names->clickstream, names->reviews, names->intents, names->offers, names->consents,
            names->changelog, names->dead_letter, partitions);
    assert_int_equal(fclose(file), 0);
}

static void write_config(struct topics_fixture *fixture, const char *bootstrap_servers, int partitions)
{
    write_config_with(fixture, bootstrap_servers, partitions, "{}");
}

/* Runs "intentd topics ACTION --config FILE [--bootstrap B]" in-process,
 * with stdout and stderr captured into fixture->output, which is then
 * echoed so a failing test shows what the command printed. Returns the
 * command's exit status. */
static int run_topics(struct topics_fixture *fixture, const char *action, const char *bootstrap_override)
{
    char *argv[] = {"topics", (char *)action, "--config", fixture->config_path, NULL, NULL, NULL};
    int argc = 4;

    if (bootstrap_override) {
        argv[argc++] = "--bootstrap";
        argv[argc++] = (char *)bootstrap_override;
    }

    FILE *capture = tmpfile();
    assert_non_null(capture);
    fflush(stdout);
    fflush(stderr);
    int saved_stdout = dup(STDOUT_FILENO);
    int saved_stderr = dup(STDERR_FILENO);
    dup2(fileno(capture), STDOUT_FILENO);
    dup2(fileno(capture), STDERR_FILENO);

    int status = cmd_topics(argc, argv);

    fflush(stdout);
    fflush(stderr);
    dup2(saved_stdout, STDOUT_FILENO);
    dup2(saved_stderr, STDERR_FILENO);
    close(saved_stdout);
    close(saved_stderr);

    rewind(capture);
    size_t length = fread(fixture->output, 1, OUTPUT_SIZE - 1, capture);
    fixture->output[length] = '\0';
    fclose(capture);
    printf("---- intentd topics %s (exit %d) ----\n%s----\n", action, status, fixture->output);
    return status;
}

static int count_occurrences(const char *text, const char *needle)
{
    int count = 0;

    for (const char *at = strstr(text, needle); at; at = strstr(at + 1, needle))
        count++;
    return count;
}

static void describe(rd_kafka_t *admin, const char *name, struct kafka_topic_info *info)
{
    char error[1024];

    if (kafka_admin_describe_topics(admin, &name, 1, info, TIMEOUT_MS, error, sizeof error) != 0)
        fail_msg("describing %s failed: %s", name, error);
}

/* Creates one topic directly, bypassing intentd, to set up a wrong cluster. */
static void precreate(rd_kafka_t *admin, const char *name, int partitions, int compacted)
{
    struct kafka_topic_spec spec = {.name = name, .partitions = partitions, .replication_factor = 1,
                                    .compacted = compacted};
    struct kafka_create_result result;
    struct kafka_topic_info info = {0};
    char error[1024];

    if (kafka_admin_create_topics(admin, &spec, 1, &result, TIMEOUT_MS, error, sizeof error) != 0)
        fail_msg("broker at %s did not create topic %s: %s", bootstrap(), name, error);
    assert_int_equal(result.status, KAFKA_TOPIC_CREATED);
    for (int attempt = 0; attempt < 40 && !info.exists; attempt++) {
        describe(admin, name, &info);
        if (!info.exists)
            usleep(250 * 1000);
    }
    assert_true(info.exists);
}

static int setup(void **state)
{
    struct topics_fixture *fixture = calloc(1, sizeof *fixture);

    *state = fixture;
    return fixture ? 0 : -1;
}

static int teardown(void **state)
{
    struct topics_fixture *fixture = *state;

    if (fixture->config_path[0])
        unlink(fixture->config_path);
    free(fixture);
    return 0;
}

static void test_broker_reachable(void **state)
{
    (void)state;
    rd_kafka_t *admin = new_admin();
    const struct rd_kafka_metadata *metadata = NULL;

    rd_kafka_resp_err_t err = rd_kafka_metadata(admin, 1, NULL, &metadata, 10000);
    if (err)
        fail_msg("broker at %s did not respond to a Metadata request within 10 s: %s; "
                 "start it with deploy/kafka/broker.sh start", bootstrap(), rd_kafka_err2str(err));
    assert_true(metadata->broker_cnt >= 1);
    rd_kafka_metadata_destroy(metadata);
    rd_kafka_destroy(admin);
}

static void test_create_then_check(void **state)
{
    struct topics_fixture *fixture = *state;
    const struct topic_names *names = &fixture->names;

    make_names(&fixture->names, 'a', 1);
    write_config(fixture, bootstrap(), 3);

    assert_int_equal(run_topics(fixture, "create", NULL), 0);
    assert_int_equal(count_occurrences(fixture->output, ": created ("), 7);
    assert_int_equal(run_topics(fixture, "check", NULL), 0);
    assert_non_null(strstr(fixture->output, "7 topics, 0 problems"));

    const struct {
        const char *name;
        int compacted;
    } expected[] = {
        {names->clickstream, 0}, {names->reviews, 0},   {names->intents, 1},     {names->offers, 0},
        {names->consents, 1},    {names->changelog, 1}, {names->dead_letter, 0},
    };
    rd_kafka_t *admin = new_admin();
    for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++) {
        struct kafka_topic_info info;

        describe(admin, expected[i].name, &info);
        print_message("topic %s: exists=%d partitions=%d cleanup.policy=%s\n", expected[i].name, info.exists,
                      info.partitions, info.cleanup_policy);
        assert_true(info.exists);
        assert_int_equal(info.partitions, 3);
        assert_int_equal(info.replication_factor, 1);
        assert_int_equal(info.compacted, expected[i].compacted);
    }
    rd_kafka_destroy(admin);
}

static void test_create_twice_reports_existing(void **state)
{
    struct topics_fixture *fixture = *state;

    make_names(&fixture->names, 'b', 1);
    write_config(fixture, bootstrap(), 2);

    assert_int_equal(run_topics(fixture, "create", NULL), 0);
    assert_int_equal(run_topics(fixture, "create", NULL), 0);
    assert_int_equal(count_occurrences(fixture->output, ": already exists"), 7);
    assert_int_equal(count_occurrences(fixture->output, ": created ("), 0);
}

static void test_bootstrap_option_overrides(void **state)
{
    struct topics_fixture *fixture = *state;

    /* Port 1 on 127.0.0.1 has no broker; only --bootstrap can make this work. */
    make_names(&fixture->names, 'c', 0);
    write_config(fixture, "127.0.0.1:1", 1);

    assert_int_equal(run_topics(fixture, "create", bootstrap()), 0);
    assert_non_null(strstr(fixture->output, "6 topics, 0 problems"));
    assert_null(strstr(fixture->output, "consents"));
}

static void test_check_missing_topics(void **state)
{
    struct topics_fixture *fixture = *state;

    make_names(&fixture->names, 'd', 1);
    write_config(fixture, bootstrap(), 1);

    assert_int_equal(run_topics(fixture, "check", NULL), 1);
    assert_int_equal(count_occurrences(fixture->output, "does not exist"), 7);
}

static void test_check_not_copartitioned(void **state)
{
    struct topics_fixture *fixture = *state;
    const struct topic_names *names = &fixture->names;
    char expected[512];

    make_names(&fixture->names, 'e', 1);
    write_config(fixture, bootstrap(), 6);
    rd_kafka_t *admin = new_admin();
    precreate(admin, names->reviews, 3, 0);
    rd_kafka_destroy(admin);

    /* create leaves the existing reviews topic alone and then reports it. */
    assert_int_equal(run_topics(fixture, "create", NULL), 1);
    assert_int_equal(run_topics(fixture, "check", NULL), 1);
    snprintf(expected, sizeof expected,
             "%s has 6 partitions, %s has 3: input topics must be co-partitioned by user id; "
             "recreate %s with 6 partitions",
             names->clickstream, names->reviews, names->reviews);
    assert_non_null(strstr(fixture->output, expected));
    assert_non_null(strstr(fixture->output, "1 problem\n"));
}

static void test_check_uncompacted_changelog(void **state)
{
    struct topics_fixture *fixture = *state;
    const struct topic_names *names = &fixture->names;
    char expected[512];

    make_names(&fixture->names, 'f', 1);
    write_config(fixture, bootstrap(), 2);
    rd_kafka_t *admin = new_admin();
    precreate(admin, names->changelog, 2, 0);
    rd_kafka_destroy(admin);

    assert_int_equal(run_topics(fixture, "create", NULL), 1);
    snprintf(expected, sizeof expected, "topic %s (topics.changelog) has cleanup.policy=delete but must be compacted",
             names->changelog);
    assert_non_null(strstr(fixture->output, expected));
    assert_int_equal(run_topics(fixture, "check", NULL), 1);
    assert_non_null(strstr(fixture->output, expected));
}

static void test_bad_property_named(void **state)
{
    struct topics_fixture *fixture = *state;

    make_names(&fixture->names, 'g', 1);
    write_config_with(fixture, bootstrap(), 1, "{\"no.such.property\": \"1\", \"acks\": \"all\"}");

    assert_int_equal(run_topics(fixture, "check", NULL), 2);
    assert_non_null(strstr(fixture->output, "kafka.properties.no.such.property"));
}

/* Runs the built intentd program, so main's dispatch and exit status are
 * covered too. Returns the exit status, or -1 if it did not exit normally. */
static int run_binary(const struct topics_fixture *fixture, const char *action)
{
    char command[1024];

    snprintf(command, sizeof command, "'%s' topics %s --config '%s'", INTENTD_BINARY, action,
             fixture->config_path);
    int status = system(command);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void test_binary_create_and_check(void **state)
{
    struct topics_fixture *fixture = *state;
    const struct topic_names *names = &fixture->names;
    struct kafka_topic_info info;

    make_names(&fixture->names, 'h', 1);
    write_config(fixture, bootstrap(), 2);

    assert_int_equal(run_binary(fixture, "check"), 1);
    assert_int_equal(run_binary(fixture, "create"), 0);
    assert_int_equal(run_binary(fixture, "check"), 0);

    rd_kafka_t *admin = new_admin();
    describe(admin, names->consents, &info);
    assert_true(info.exists);
    assert_int_equal(info.partitions, 2);
    assert_int_equal(info.compacted, 1);
    rd_kafka_destroy(admin);
}

static void test_usage_errors(void **state)
{
    struct topics_fixture *fixture = *state;
    char *no_config[] = {"topics", "check", NULL};
    char *bad_action[] = {"topics", "delete", "--config", "/nonexistent.yaml", NULL};

    assert_int_equal(cmd_topics(2, no_config), 2);
    assert_int_equal(cmd_topics(4, bad_action), 2);

    snprintf(fixture->config_path, sizeof fixture->config_path, "/nonexistent/intentd.yaml");
    assert_int_equal(run_topics(fixture, "check", NULL), 2);
    fixture->config_path[0] = '\0';
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_broker_reachable),
        cmocka_unit_test_setup_teardown(test_create_then_check, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_twice_reports_existing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bootstrap_option_overrides, setup, teardown),
        cmocka_unit_test_setup_teardown(test_check_missing_topics, setup, teardown),
        cmocka_unit_test_setup_teardown(test_check_not_copartitioned, setup, teardown),
        cmocka_unit_test_setup_teardown(test_check_uncompacted_changelog, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_property_named, setup, teardown),
        cmocka_unit_test_setup_teardown(test_binary_create_and_check, setup, teardown),
        cmocka_unit_test_setup_teardown(test_usage_errors, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
