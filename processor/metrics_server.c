#include "metrics_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "health_check.h"
#include "metrics_render.h"

struct metrics_server {
    struct MHD_Daemon *daemon;
    struct metrics_board *board;
};

/* Queues body (copied) with status and content type. */
static enum MHD_Result reply(struct MHD_Connection *connection, unsigned int status, const char *content_type,
                             const char *body)
{
    struct MHD_Response *response =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!response)
        return MHD_NO;
    MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    enum MHD_Result result = MHD_queue_response(connection, status, response);
    MHD_destroy_response(response);
    return result;
}

static enum MHD_Result serve_metrics(struct metrics_server *server, struct MHD_Connection *connection)
{
    struct metrics_snapshot *snapshot = malloc(sizeof *snapshot);
    char *text = NULL;
    size_t len = 0;

    if (!snapshot)
        return reply(connection, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain", "out of memory\n");
    metrics_board_read(server->board, snapshot);
    int rendered = metrics_render(snapshot, &text, &len);
    free(snapshot);
    if (rendered != 0)
        return reply(connection, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain", "out of memory\n");

    /* MUST_FREE hands text to libmicrohttpd, which frees it after sending. */
    struct MHD_Response *response = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
    if (!response) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, METRICS_CONTENT_TYPE);
    enum MHD_Result result = MHD_queue_response(connection, MHD_HTTP_OK, response);
    MHD_destroy_response(response);
    return result;
}

static enum MHD_Result serve_ready(struct metrics_server *server, struct MHD_Connection *connection)
{
    struct metrics_snapshot *snapshot = malloc(sizeof *snapshot);
    char reason[256], body[300];

    if (!snapshot)
        return reply(connection, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain", "out of memory\n");
    metrics_board_read(server->board, snapshot);
    int ready = health_ready(snapshot, reason, sizeof reason);
    free(snapshot);
    snprintf(body, sizeof body, "%s\n", reason);
    return reply(connection, ready ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain", body);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *connection, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **request_state)
{
    struct metrics_server *server = cls;
    (void)version;
    (void)upload_data;
    (void)upload_data_size;
    (void)request_state;

    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return reply(connection, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain", "use GET\n");
    if (strcmp(url, "/metrics") == 0)
        return serve_metrics(server, connection);
    if (strcmp(url, "/healthz") == 0)
        return reply(connection, MHD_HTTP_OK, "text/plain", "ok\n");
    if (strcmp(url, "/readyz") == 0)
        return serve_ready(server, connection);
    return reply(connection, MHD_HTTP_NOT_FOUND, "text/plain", "not found; try /metrics, /healthz or /readyz\n");
}

struct metrics_server *metrics_server_start(const char *bind, int port, struct metrics_board *board, char *error,
                                            size_t size)
{
    struct sockaddr_storage address;
    unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD;

    memset(&address, 0, sizeof address);
    struct sockaddr_in *v4 = (struct sockaddr_in *)&address;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&address;
    if (inet_pton(AF_INET, bind, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
    } else if (inet_pton(AF_INET6, bind, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        flags |= MHD_USE_IPv6;
    } else {
        snprintf(error, size, "metrics.bind '%s' is not a numeric IPv4 or IPv6 address; use for example 0.0.0.0",
                 bind);
        return NULL;
    }

    struct metrics_server *server = calloc(1, sizeof *server);
    if (!server) {
        snprintf(error, size, "out of memory starting the metrics server");
        return NULL;
    }
    server->board = board;
    server->daemon = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, on_request, server, MHD_OPTION_SOCK_ADDR,
                                      (struct sockaddr *)&address, MHD_OPTION_END);
    if (!server->daemon) {
        snprintf(error, size, "starting the metrics server on %s:%d failed (%s); pick a free metrics.port", bind, port,
                 errno ? strerror(errno) : "unknown error");
        free(server);
        return NULL;
    }
    return server;
}

void metrics_server_stop(struct metrics_server *server)
{
    if (!server)
        return;
    MHD_stop_daemon(server->daemon);
    free(server);
}
