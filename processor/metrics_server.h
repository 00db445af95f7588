/*
 * The HTTP endpoint of the streaming job, on libmicrohttpd's own thread:
 *   GET /metrics  the last published snapshot, Prometheus text format
 *   GET /healthz  200 while the process runs
 *   GET /readyz   200 when health_ready() returns 1, else 503 with the reason
 * Other paths return 404, other methods 405.
 *
 * Threading: requests are served on the server's thread and read only the
 * board (under its mutex); the stream thread never waits for a request.
 */
#ifndef INTENTD_METRICS_SERVER_H
#define INTENTD_METRICS_SERVER_H

#include <stddef.h>

#include "metrics_snapshot.h"

struct metrics_server;

/* Listens on bind:port (bind is a numeric IPv4 or IPv6 address) and serves
 * board, which must outlive the server. Returns the server, or NULL with a
 * message in error[size] naming the address. */
struct metrics_server *metrics_server_start(const char *bind, int port, struct metrics_board *board, char *error,
                                            size_t size);

/* Stops the server thread and frees the server; NULL is allowed. */
void metrics_server_stop(struct metrics_server *server);

#endif
