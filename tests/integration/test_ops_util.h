/*
 * Helpers of the operations tests: a loopback HTTP client for the metrics
 * and health endpoints, sample lookup in the Prometheus text, and config
 * edits. Included by the operations tests after harness.h and by the
 * quick-start test.
 */
#ifndef INTENTD_TEST_OPS_UTIL_H
#define INTENTD_TEST_OPS_UTIL_H

#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <sys/socket.h>

/* A port for this test process: distinct per pid and per slot. */
static inline int ops_port(int slot)
{
    return 21000 + (int)(getpid() % 8000) * 4 + slot;
}

/* GETs path from 127.0.0.1:port. Returns the HTTP status, or -1 when the
 * connection is refused; the body goes to body[size]. */
static inline int ops_http_get(int port, const char *path, char *body, size_t size)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        close(fd);
        return -1;
    }
    char request[256];
    int n = snprintf(request, sizeof request, "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", path);
    assert_int_equal(write(fd, request, (size_t)n), n);

    size_t capacity = 1 << 20, len = 0;
    char *response = malloc(capacity);
    assert_non_null(response);
    ssize_t got;
    while (len < capacity - 1 && (got = read(fd, response + len, capacity - 1 - len)) > 0)
        len += (size_t)got;
    close(fd);
    response[len] = '\0';
    int status = 0;
    sscanf(response, "HTTP/1.%*d %d", &status);
    const char *start = strstr(response, "\r\n\r\n");
    snprintf(body, size, "%s", start ? start + 4 : "");
    free(response);
    return status;
}

/* Value of the sample named exactly series ("name{labels}"), or NAN. */
static inline double ops_sample(const char *text, const char *series)
{
    size_t n = strlen(series);
    for (const char *line = text; line && *line;) {
        if (strncmp(line, series, n) == 0 && line[n] == ' ')
            return strtod(line + n + 1, NULL);
        const char *next = strchr(line, '\n');
        line = next ? next + 1 : NULL;
    }
    return NAN;
}

/* Scrapes /metrics until series equals want or timeout_s passes; the body
 * of the last scrape stays in body. Returns the last value seen. */
static inline double ops_wait_sample(int port, const char *series, double want, int timeout_s, char *body,
                                     size_t size)
{
    double value = NAN;
    for (int i = 0; i < timeout_s * 10; i++) {
        if (ops_http_get(port, "/metrics", body, size) == 200) {
            value = ops_sample(body, series);
            if (value == want)
                return value;
        }
        usleep(100000);
    }
    return value;
}

/* Replaces the first occurrence of from with to in the file at path. */
static inline void ops_edit_file(const char *path, const char *from, const char *to)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char *text = calloc(1, 1 << 20);
    size_t len = fread(text, 1, (1 << 20) - 1, f);
    fclose(f);
    text[len] = '\0';
    char *at = strstr(text, from);
    if (!at)
        fail_msg("%s does not contain \"%s\"", path, from);
    f = fopen(path, "w");
    assert_non_null(f);
    fwrite(text, 1, (size_t)(at - text), f);
    fputs(to, f);
    fputs(at + strlen(from), f);
    fclose(f);
    free(text);
}

/* Turns the metrics endpoint of the harness config on at 127.0.0.1:port. */
static inline void ops_enable_metrics(const char *config_path, int port)
{
    char to[128];
    snprintf(to, sizeof to, "metrics:\n  port: %d\n  bind: \"127.0.0.1\"\n", port);
    ops_edit_file(config_path, "metrics:\n  port: 0\n", to);
}

/* Reads a whole file into a new NUL-terminated buffer (caller frees). */
static inline char *ops_read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = malloc((size_t)size + 1);
    assert_non_null(text);
    size_t got = fread(text, 1, (size_t)size, f);
    fclose(f);
    text[got] = '\0';
    return text;
}

#endif
