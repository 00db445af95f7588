/*
 * intentd check-config: exit status, the printed config on stdout with
 * secrets masked, and errors on stderr.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "commands.h"

#define EXAMPLE INTENTD_SOURCE_DIR "/config/intentd.example.yaml"

struct run_result {
    int status;
    char *out; /* captured stdout, malloc'd */
    char *err; /* captured stderr, malloc'd */
};

static char *read_all(FILE *file)
{
    fflush(file);
    long len = ftell(file);
    char *text = calloc((size_t)len + 1, 1);
    assert_non_null(text);
    rewind(file);
    assert_int_equal(fread(text, 1, (size_t)len, file), (size_t)len);
    return text;
}

/* Runs cmd_check_config with stdout and stderr redirected to temporary files. */
static struct run_result run(int argc, char **argv)
{
    struct run_result result;
    FILE *out = tmpfile(), *err = tmpfile();
    assert_non_null(out);
    assert_non_null(err);

    fflush(stdout);
    fflush(stderr);
    int saved_out = dup(STDOUT_FILENO), saved_err = dup(STDERR_FILENO);
    dup2(fileno(out), STDOUT_FILENO);
    dup2(fileno(err), STDERR_FILENO);
    result.status = cmd_check_config(argc, argv);
    fflush(stdout);
    fflush(stderr);
    dup2(saved_out, STDOUT_FILENO);
    dup2(saved_err, STDERR_FILENO);
    close(saved_out);
    close(saved_err);

    fseek(out, 0, SEEK_END);
    fseek(err, 0, SEEK_END);
    result.out = read_all(out);
    result.err = read_all(err);
    fclose(out);
    fclose(err);
    return result;
}

static void free_result(struct run_result *result)
{
    free(result->out);
    free(result->err);
}

static char *write_temp(const char *text)
{
    char *path = strdup("/tmp/intentd-test-config-XXXXXX");
    assert_non_null(path);
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

static void example_prints_exit_zero(void **state)
{
    char *argv[] = {"check-config", EXAMPLE, NULL};
    (void)state;

    struct run_result result = run(2, argv);
    assert_int_equal(result.status, 0);
    assert_non_null(strstr(result.out, "  intents: \"user-intents\"\n"));
    assert_non_null(strstr(result.out, "triggers:\n  - name: \"cart_abandonment\"\n"));
    assert_string_equal(result.err, "");
    free_result(&result);
}

static void bad_file_exit_two(void **state)
{
    char *path = write_temp("log:\n  level: info\n  colour: red\n");
    char *argv[] = {"check-config", path, NULL};
    (void)state;

    struct run_result result = run(2, argv);
    assert_int_equal(result.status, 2);
    assert_string_equal(result.out, "");
    assert_non_null(strstr(result.err, ":3:3: log.colour: unknown key"));
    unlink(path);
    free(path);
    free_result(&result);
}

static void secrets_masked_on_stdout(void **state)
{
    char *path = write_temp("kafka:\n  properties:\n    sasl.password: ${INTENTD_CLI_TEST_PW}\n"
                            "    sasl.username: svc\n");
    char *argv[] = {"check-config", path, NULL};
    (void)state;

    setenv("INTENTD_CLI_TEST_PW", "pa55word-xyz", 1);
    struct run_result result = run(2, argv);
    assert_int_equal(result.status, 0);
    assert_null(strstr(result.out, "pa55word-xyz"));
    assert_non_null(strstr(result.out, "    sasl.password: \"********\"\n"));
    assert_non_null(strstr(result.out, "    sasl.username: \"svc\"\n"));
    unlink(path);
    free(path);
    free_result(&result);
}

static void help_exit_zero(void **state)
{
    char *argv[] = {"check-config", "--help", NULL};
    (void)state;

    struct run_result result = run(2, argv);
    assert_int_equal(result.status, 0);
    assert_non_null(strstr(result.out, "usage: intentd check-config FILE"));
    free_result(&result);
}

static void usage_errors_exit_two(void **state)
{
    char *no_file[] = {"check-config", NULL};
    char *two_files[] = {"check-config", "a.yaml", "b.yaml", NULL};
    char *bad_option[] = {"check-config", "--verbose", NULL};
    char *missing[] = {"check-config", "/nonexistent/intentd.yaml", NULL};
    (void)state;

    struct run_result result = run(1, no_file);
    assert_int_equal(result.status, 2);
    free_result(&result);
    result = run(3, two_files);
    assert_int_equal(result.status, 2);
    free_result(&result);
    result = run(2, bad_option);
    assert_int_equal(result.status, 2);
    assert_non_null(strstr(result.err, "unknown option '--verbose'"));
    free_result(&result);
    result = run(2, missing);
    assert_int_equal(result.status, 2);
    assert_non_null(strstr(result.err, "/nonexistent/intentd.yaml: cannot open"));
    free_result(&result);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(example_prints_exit_zero),
        cmocka_unit_test(bad_file_exit_two),
        cmocka_unit_test(secrets_masked_on_stdout),
        cmocka_unit_test(help_exit_zero),
        cmocka_unit_test(usage_errors_exit_two),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
