/*
 * The schema registry client against a registry server the test runs on
 * 127.0.0.1: found, not found, connection refused, HTTP 500 and 429, a
 * time-out, the cache, basic auth, and that credentials never reach an error
 * message.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "../support/registry_server.h"
#include "schema_registry.h"

#define CLICK_AVSC INTENTD_SOURCE_DIR "/schemas/click_event.avsc"

struct fixture {
    struct registry_server server;
    char url[128];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    registry_server_init(&f->server);
    if (registry_server_add_file(&f->server, 7, CLICK_AVSC) != 0 || registry_server_start(&f->server, 0) != 0) {
        print_error("starting the test registry failed\n");
        return -1;
    }
    snprintf(f->url, sizeof f->url, "http://127.0.0.1:%u", (unsigned)f->server.port);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    registry_server_free(&f->server);
    free(f);
    return 0;
}

/* A client without the fail-fast window, so each lookup that misses the cache sends a request. */
static struct schema_registry *client(const char *url, const char *auth)
{
    struct schema_registry_options options;
    char error[SCHEMA_REGISTRY_ERROR_SIZE];
    schema_registry_options_defaults(&options, url, auth);
    options.fail_fast_ms = 0;
    options.timeout_ms = 500;
    struct schema_registry *registry = schema_registry_new(&options, error, sizeof error);
    if (!registry)
        fail_msg("schema_registry_new: %s", error);
    return registry;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void found_returns_schema(void **state)
{
    struct fixture *f = *state;
    struct schema_registry *registry = client(f->url, NULL);
    const char *schema = NULL;
    char error[SCHEMA_REGISTRY_ERROR_SIZE];

    assert_int_equal(schema_registry_get(registry, 7, &schema, error, sizeof error), SCHEMA_REGISTRY_FOUND);
    json_t *got = json_loads(schema, 0, NULL);
    json_t *expected = json_load_file(CLICK_AVSC, 0, NULL);
    assert_non_null(got);
    assert_true(json_equal(got, expected));
    json_decref(got);
    json_decref(expected);
    schema_registry_free(registry);
}

static void cache_hit_sends_no_request(void **state)
{
    struct fixture *f = *state;
    struct schema_registry *registry = client(f->url, NULL);
    const char *first = NULL, *second = NULL;
    char error[SCHEMA_REGISTRY_ERROR_SIZE];
    unsigned before = registry_server_requests(&f->server);

    assert_int_equal(schema_registry_get(registry, 7, &first, error, sizeof error), SCHEMA_REGISTRY_FOUND);
    assert_true(schema_registry_cached(registry, 7));
    assert_int_equal(schema_registry_get(registry, 7, &second, error, sizeof error), SCHEMA_REGISTRY_FOUND);
    assert_ptr_equal(first, second);
    assert_int_equal(registry_server_requests(&f->server) - before, 1);
    assert_int_equal(schema_registry_requests(registry), 1);
    schema_registry_free(registry);
}

static void unknown_id_is_not_found(void **state)
{
    struct fixture *f = *state;
    struct schema_registry *registry = client(f->url, NULL);
    const char *schema = NULL;
    char error[SCHEMA_REGISTRY_ERROR_SIZE];

    assert_int_equal(schema_registry_get(registry, 99, &schema, error, sizeof error), SCHEMA_REGISTRY_NOT_FOUND);
    assert_non_null(strstr(error, "99"));
    assert_non_null(strstr(error, f->url));
    /* the result is reused for not_found_ttl_ms */
    assert_int_equal(schema_registry_get(registry, 99, &schema, error, sizeof error), SCHEMA_REGISTRY_NOT_FOUND);
    assert_int_equal(schema_registry_requests(registry), 1);
    schema_registry_free(registry);
}

static void refused_connection_is_unavailable(void **state)
{
    (void)state;
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u", (unsigned)registry_server_free_port());
    struct schema_registry *registry = client(url, NULL);
    const char *schema = NULL;
    char error[SCHEMA_REGISTRY_ERROR_SIZE];

    assert_int_equal(schema_registry_get(registry, 7, &schema, error, sizeof error), SCHEMA_REGISTRY_UNAVAILABLE);
    assert_null(schema);
    assert_non_null(strstr(error, url));
    schema_registry_free(registry);
}

static void server_errors_are_unavailable(void **state)
{
    struct fixture *f = *state;
    struct schema_registry *registry = client(f->url, NULL);
    const char *schema = NULL;
    char error[SCHEMA_REGISTRY_ERROR_SIZE];

    registry_server_set_failure(&f->server, 500, 0);
    assert_int_equal(schema_registry_get(registry, 7, &schema, error, sizeof error), SCHEMA_REGISTRY_UNAVAILABLE);
    assert_non_null(strstr(error, "HTTP 500"));
    registry_server_set_failure(&f->server, 429, 0);
    assert_int_equal(schema_registry_get(registry, 7, &schema, error, sizeof error), SCHEMA_REGISTRY_UNAVAILABLE);
    assert_non_null(strstr(error, "HTTP 429"));
    registry_server_set_failure(&f->server, 0, 0);
    assert_int_equal(schema_registry_get(registry, 7, &schema, error, sizeof error), SCHEMA_REGISTRY_FOUND);
    schema_registry_free(registry);
}

static void slow_response_times_out(void **state)
{
    struct fixture *f = *state;
    struct schema_registry *registry = client(f->url, NULL); /* timeout_ms 500 */
    const char *schema = NULL;
    char error[SCHEMA_REGISTRY_ERROR_SIZE];

    registry_server_set_failure(&f->server, 0, 1500);
    double started = now_s();
    enum schema_registry_result result = schema_registry_get(registry, 7, &schema, error, sizeof error);
    double elapsed = now_s() - started;
    registry_server_set_failure(&f->server, 0, 0);

    assert_int_equal(result, SCHEMA_REGISTRY_UNAVAILABLE);
    assert_true(elapsed < 1.2);
    assert_false(schema_registry_cached(registry, 7));
    schema_registry_free(registry);
}

static void fail_fast_skips_requests(void **state)
{
    (void)state;
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u", (unsigned)registry_server_free_port());
    struct schema_registry_options options;
    char error[SCHEMA_REGISTRY_ERROR_SIZE];
    schema_registry_options_defaults(&options, url, NULL);
    options.fail_fast_ms = 60000;
    struct schema_registry *registry = schema_registry_new(&options, error, sizeof error);
    assert_non_null(registry);
    const char *schema = NULL;

    assert_int_equal(schema_registry_get(registry, 7, &schema, error, sizeof error), SCHEMA_REGISTRY_UNAVAILABLE);
    assert_int_equal(schema_registry_get(registry, 8, &schema, error, sizeof error), SCHEMA_REGISTRY_UNAVAILABLE);
    assert_int_equal(schema_registry_requests(registry), 1);
    schema_registry_free(registry);
}

static void basic_auth_is_sent(void **state)
{
    struct fixture *f = *state;
    struct schema_registry *registry = client(f->url, "alice:s3cret:with-colon");
    const char *schema = NULL;
    char error[SCHEMA_REGISTRY_ERROR_SIZE];

    assert_int_equal(schema_registry_get(registry, 7, &schema, error, sizeof error), SCHEMA_REGISTRY_FOUND);
    pthread_mutex_lock(&f->server.lock);
    assert_string_equal(f->server.last_user, "alice");
    assert_string_equal(f->server.last_password, "s3cret:with-colon");
    pthread_mutex_unlock(&f->server.lock);
    schema_registry_free(registry);
}

static void secret_not_in_errors(void **state)
{
    struct fixture *f = *state;
    const char *schema = NULL;
    char error[SCHEMA_REGISTRY_ERROR_SIZE];

    struct schema_registry *registry = client(f->url, "alice:hunter2");
    registry_server_set_failure(&f->server, 401, 0);
    assert_int_equal(schema_registry_get(registry, 7, &schema, error, sizeof error), SCHEMA_REGISTRY_UNAVAILABLE);
    registry_server_set_failure(&f->server, 0, 0);
    assert_non_null(strstr(error, "schemas.registry_auth"));
    assert_null(strstr(error, "hunter2"));
    schema_registry_free(registry);

    /* credentials written into the URL itself */
    char url[160];
    snprintf(url, sizeof url, "http://bob:hunter3@127.0.0.1:%u", (unsigned)registry_server_free_port());
    registry = client(url, NULL);
    assert_int_equal(schema_registry_get(registry, 7, &schema, error, sizeof error), SCHEMA_REGISTRY_UNAVAILABLE);
    assert_null(strstr(error, "hunter3"));
    assert_null(strstr(schema_registry_url(registry), "hunter3"));
    assert_non_null(strstr(schema_registry_url(registry), "http://127.0.0.1:"));
    schema_registry_free(registry);
}

static void other_schema_types_unsupported(void **state)
{
    struct fixture *f = *state;
    struct schema_registry *registry = client(f->url, NULL);
    const char *schema = NULL;
    char error[SCHEMA_REGISTRY_ERROR_SIZE];

    registry_server_add(&f->server, 21, "syntax = \"proto3\"; message Click { string user_id = 1; }", "PROTOBUF");
    assert_int_equal(schema_registry_get(registry, 21, &schema, error, sizeof error), SCHEMA_REGISTRY_UNSUPPORTED);
    assert_non_null(strstr(error, "PROTOBUF"));
    schema_registry_free(registry);
}

static void wrong_path_is_unavailable(void **state)
{
    struct fixture *f = *state;
    char url[160];
    snprintf(url, sizeof url, "%s/not-the-api", f->url);
    struct schema_registry *registry = client(url, NULL);
    const char *schema = NULL;
    char error[SCHEMA_REGISTRY_ERROR_SIZE];

    /* The test server returns 404 with error_code 40403 for any unknown
     * path, so make it return 404 with another error code instead. */
    registry_server_set_failure(&f->server, 404, 0);
    assert_int_equal(schema_registry_get(registry, 7, &schema, error, sizeof error), SCHEMA_REGISTRY_UNAVAILABLE);
    registry_server_set_failure(&f->server, 0, 0);
    assert_non_null(strstr(error, "schemas.registry_url"));
    schema_registry_free(registry);
}

static void invalid_url_rejected(void **state)
{
    (void)state;
    struct schema_registry_options options;
    char error[SCHEMA_REGISTRY_ERROR_SIZE];
    schema_registry_options_defaults(&options, "127.0.0.1:8081", NULL);
    assert_null(schema_registry_new(&options, error, sizeof error));
    assert_non_null(strstr(error, "http://"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(found_returns_schema),
        cmocka_unit_test(cache_hit_sends_no_request),
        cmocka_unit_test(unknown_id_is_not_found),
        cmocka_unit_test(refused_connection_is_unavailable),
        cmocka_unit_test(server_errors_are_unavailable),
        cmocka_unit_test(slow_response_times_out),
        cmocka_unit_test(fail_fast_skips_requests),
        cmocka_unit_test(basic_auth_is_sent),
        cmocka_unit_test(secret_not_in_errors),
        cmocka_unit_test(other_schema_types_unsupported),
        cmocka_unit_test(wrong_path_is_unavailable),
        cmocka_unit_test(invalid_url_rejected),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
