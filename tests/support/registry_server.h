/*
 * A small schema registry for tests: serves GET /schemas/ids/{id} of the
 * Confluent REST API on 127.0.0.1 with libmicrohttpd, from schemas the test
 * adds (for example the .avsc files of schemas/). A test can stop and start
 * it on the same port, make it respond with an error status or late, and read
 * the credentials of the last request. It can also fail the first request for
 * each id, so that every new id meets an unavailable registry once.
 *
 * Responses follow the Confluent API: 200 {"schema": "<schema text>"} (plus
 * "schemaType" for types other than Avro), and 404
 * {"error_code": 40403, "message": ...} for an unknown id.
 *
 * Included by one test file each (static functions), like harness.h.
 */
#ifndef INTENTD_TEST_REGISTRY_SERVER_H
#define INTENTD_TEST_REGISTRY_SERVER_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <jansson.h>
#include <microhttpd.h>

#define REGISTRY_SERVER_MAX_SCHEMAS 128

struct registry_server_schema {
    uint32_t id;
    char *text;
    char *type; /* NULL for Avro */
    unsigned requests;
};

struct registry_server {
    struct MHD_Daemon *daemon;
    uint16_t port;
    pthread_mutex_t lock; /* guards everything below; the daemon's thread reads it */
    struct registry_server_schema schemas[REGISTRY_SERVER_MAX_SCHEMAS];
    size_t n_schemas;
    unsigned status;          /* 0: respond normally; else respond to every request with this status */
    unsigned delay_ms;        /* wait before responding */
    int fail_first_request;   /* 1: the first request for each id gets HTTP 503 */
    unsigned requests;
    char last_user[128];      /* basic auth of the last request, "" when none */
    char last_password[128];
};

static inline void registry_server_init(struct registry_server *s)
{
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->lock, NULL);
}

/* Adds a schema (text is copied); type NULL means Avro. */
static inline void registry_server_add(struct registry_server *s, uint32_t id, const char *text, const char *type)
{
    pthread_mutex_lock(&s->lock);
    if (s->n_schemas < REGISTRY_SERVER_MAX_SCHEMAS) {
        s->schemas[s->n_schemas++] = (struct registry_server_schema){
            .id = id, .text = strdup(text), .type = type ? strdup(type) : NULL};
    }
    pthread_mutex_unlock(&s->lock);
}

/* Adds the schema in file path under id. Returns 0, or -1 when unreadable. */
static inline int registry_server_add_file(struct registry_server *s, uint32_t id, const char *path)
{
    json_error_t error;
    json_t *schema = json_load_file(path, 0, &error);
    char *text = schema ? json_dumps(schema, JSON_COMPACT) : NULL;
    json_decref(schema);
    if (!text)
        return -1;
    registry_server_add(s, id, text, NULL);
    free(text);
    return 0;
}

static inline void registry_server_set_failure(struct registry_server *s, unsigned status, unsigned delay_ms)
{
    pthread_mutex_lock(&s->lock);
    s->status = status;
    s->delay_ms = delay_ms;
    pthread_mutex_unlock(&s->lock);
}

static inline unsigned registry_server_requests(struct registry_server *s)
{
    pthread_mutex_lock(&s->lock);
    unsigned n = s->requests;
    pthread_mutex_unlock(&s->lock);
    return n;
}

static inline enum MHD_Result registry_server_send(struct MHD_Connection *connection, unsigned status,
                                                   json_t *body)
{
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    struct MHD_Response *response =
        MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(response, "Content-Type", "application/vnd.schemaregistry.v1+json");
    enum MHD_Result result = MHD_queue_response(connection, status, response);
    MHD_destroy_response(response);
    return result;
}

static inline void registry_server_note_auth(struct registry_server *s, struct MHD_Connection *connection)
{
    char *password = NULL;
    char *user = MHD_basic_auth_get_username_password(connection, &password);
    snprintf(s->last_user, sizeof s->last_user, "%s", user ? user : "");
    snprintf(s->last_password, sizeof s->last_password, "%s", password ? password : "");
    MHD_free(user);
    MHD_free(password);
}

/* The daemon's request handler (libmicrohttpd's MHD_AccessHandlerCallback). */
static inline enum MHD_Result registry_server_handle(void *cls, struct MHD_Connection *connection, const char *url,
                                                     const char *method, const char *version,
                                                     const char *upload_data, size_t *upload_data_size,
                                                     void **request_state)
{
    struct registry_server *s = cls;
    (void)version, (void)upload_data, (void)upload_data_size, (void)request_state;

    pthread_mutex_lock(&s->lock);
    s->requests++;
    registry_server_note_auth(s, connection);
    unsigned status = s->status, delay_ms = s->delay_ms;
    unsigned id = 0;
    int parsed = strcmp(method, "GET") == 0 && sscanf(url, "/schemas/ids/%u", &id) == 1;
    struct registry_server_schema *found = NULL;
    for (size_t i = 0; parsed && i < s->n_schemas; i++) {
        if (s->schemas[i].id == id)
            found = &s->schemas[i];
    }
    if (found && found->requests++ == 0 && s->fail_first_request)
        status = 503;
    json_t *body = NULL;
    if (status == 0 && found) {
        body = json_pack("{s:s}", "schema", found->text);
        if (found->type)
            json_object_set_new(body, "schemaType", json_string(found->type));
    }
    pthread_mutex_unlock(&s->lock);

    if (delay_ms)
        usleep(delay_ms * 1000u);
    if (status != 0)
        return registry_server_send(connection, status,
                                    json_pack("{s:i,s:s}", "error_code", (int)status * 100 + 1, "message", "failure"));
    if (!body)
        return registry_server_send(connection, 404,
                                    json_pack("{s:i,s:s}", "error_code", 40403, "message", "Schema not found"));
    return registry_server_send(connection, 200, body);
}

/* Starts serving on 127.0.0.1:port (0 picks a free port, stored in s->port).
 * Returns 0, or -1 when the port cannot be bound. */
static inline int registry_server_start(struct registry_server *s, uint16_t port)
{
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons(port)};
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    s->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, port, NULL, NULL,
                                 registry_server_handle, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&address,
                                 MHD_OPTION_LISTENING_ADDRESS_REUSE, 1U, MHD_OPTION_END);
    if (!s->daemon)
        return -1;
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : port;
    return 0;
}

static inline void registry_server_stop(struct registry_server *s)
{
    if (s->daemon)
        MHD_stop_daemon(s->daemon);
    s->daemon = NULL;
}

static inline void registry_server_free(struct registry_server *s)
{
    registry_server_stop(s);
    for (size_t i = 0; i < s->n_schemas; i++) {
        free(s->schemas[i].text);
        free(s->schemas[i].type);
    }
    pthread_mutex_destroy(&s->lock);
}

/* Returns a loopback port that nothing listens on right now. */
static inline uint16_t registry_server_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = 0};
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof address;
    uint16_t port = 0;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&address, sizeof address) == 0 &&
        getsockname(fd, (struct sockaddr *)&address, &len) == 0)
        port = ntohs(address.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

#endif
