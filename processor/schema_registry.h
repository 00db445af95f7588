/*
 * Client of a Confluent-compatible schema registry: fetches the Avro schema of
 * a schema id with GET {url}/schemas/ids/{id} and caches it.
 *
 * Schema ids are immutable in the registry, so a schema once found is cached
 * for the life of the client and is never requested again. A "not found"
 * response is remembered for not_found_ttl_ms, because a flood of records with
 * one bad id would otherwise send one request each.
 *
 * Results tell whose fault a failure is. NOT_FOUND and UNSUPPORTED are the
 * record's: its id names no Avro schema. UNAVAILABLE is the registry's or the
 * configuration's (no connection, time-out, HTTP 5xx or 429, rejected
 * credentials, a response that is not the registry's JSON): the record may be
 * fine and must be read again later.
 *
 * The credentials in auth are a secret: no error message and no URL this
 * client returns contains them.
 *
 * Threading: one thread at a time per client; requests block that thread for
 * at most timeout_ms.
 */
#ifndef INTENTD_SCHEMA_REGISTRY_H
#define INTENTD_SCHEMA_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#define SCHEMA_REGISTRY_ERROR_SIZE 512

enum schema_registry_result {
    SCHEMA_REGISTRY_FOUND = 0,
    SCHEMA_REGISTRY_NOT_FOUND,   /* HTTP 404 with error_code 40403: no schema has this id */
    SCHEMA_REGISTRY_UNSUPPORTED, /* the id names a schema that is not Avro (schemaType PROTOBUF or JSON) */
    SCHEMA_REGISTRY_UNAVAILABLE, /* no usable response; retry later */
};

struct schema_registry_options {
    const char *url;         /* base URL, http:// or https://, e.g. http://127.0.0.1:8081 */
    const char *auth;        /* "user:password" for HTTP basic auth, or NULL or "" for none */
    long connect_timeout_ms; /* TCP and TLS connect; 0 means 1000 */
    long timeout_ms;         /* whole request; 0 means 3000 */
    /* After an UNAVAILABLE result, ids not in the cache get UNAVAILABLE
     * without a request for this long, so a down registry costs one time-out
     * per window and not one per record. 0 turns it off; -1 means 1000. */
    long fail_fast_ms;
    long not_found_ttl_ms;   /* how long a NOT_FOUND result is reused; 0 turns it off, -1 means 60000 */
};

/* Fills options with the defaults above for url and auth. */
void schema_registry_options_defaults(struct schema_registry_options *options, const char *url, const char *auth);

struct schema_registry;

/* Creates a client. Returns NULL with a message in error when url is not an
 * http:// or https:// URL or libcurl cannot start. Free with
 * schema_registry_free. */
struct schema_registry *schema_registry_new(const struct schema_registry_options *options, char *error,
                                            size_t error_size);

void schema_registry_free(struct schema_registry *registry);

/*
 * Looks up the writer schema of id, from the cache or the registry. On
 * SCHEMA_REGISTRY_FOUND *schema points at the schema's JSON text, owned by the
 * client and valid until schema_registry_free. Every other result leaves a
 * message naming the id and the registry URL in error.
 */
enum schema_registry_result schema_registry_get(struct schema_registry *registry, uint32_t id, const char **schema,
                                                char *error, size_t error_size);

/* Returns 1 when id's schema is cached, so schema_registry_get sends no request. */
int schema_registry_cached(const struct schema_registry *registry, uint32_t id);

/* Number of HTTP requests sent since creation. */
uint64_t schema_registry_requests(const struct schema_registry *registry);

/* The base URL without any user:password@ part, for logs. */
const char *schema_registry_url(const struct schema_registry *registry);

/* Short name of a result ("unavailable"). */
const char *schema_registry_result_name(enum schema_registry_result result);

#endif
