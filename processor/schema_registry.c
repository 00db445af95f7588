/* Confluent schema registry client over libcurl; see schema_registry.h. */
#include "schema_registry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

/* A registry response larger than this is not a schema we can use. */
#define MAX_RESPONSE_BYTES (4u << 20)
/* Confluent's error code for "schema not found" in a 404 body. */
#define ERROR_CODE_SCHEMA_NOT_FOUND 40403

struct cached_schema {
    uint32_t id;
    char *schema;
};

struct missing_id {
    uint32_t id;
    double expires_s; /* monotonic seconds */
};

struct schema_registry {
    CURL *curl;
    char *base_url;    /* as configured, without a trailing '/' */
    char *display_url; /* base_url without user:password@ */
    struct schema_registry_options options;
    struct cached_schema *cache;
    size_t n_cache, cache_capacity;
    struct missing_id *missing;
    size_t n_missing, missing_capacity;
    double unavailable_until_s;
    char last_unavailable[SCHEMA_REGISTRY_ERROR_SIZE];
    uint64_t requests;
};

/* The body of one response. */
struct response {
    char *data;
    size_t len;
    int too_large;
};

static double monotonic_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void schema_registry_options_defaults(struct schema_registry_options *options, const char *url, const char *auth)
{
    *options = (struct schema_registry_options){
        .url = url,
        .auth = auth,
        .connect_timeout_ms = 1000,
        .timeout_ms = 3000,
        .fail_fast_ms = 1000,
        .not_found_ttl_ms = 60000,
    };
}

const char *schema_registry_result_name(enum schema_registry_result result)
{
    switch (result) {
    case SCHEMA_REGISTRY_FOUND:
        return "found";
    case SCHEMA_REGISTRY_NOT_FOUND:
        return "not_found";
    case SCHEMA_REGISTRY_UNSUPPORTED:
        return "unsupported";
    case SCHEMA_REGISTRY_UNAVAILABLE:
        return "unavailable";
    }
    return "unknown";
}

/* Copies url without a trailing '/' and, for display, without user:password@. */
static int copy_urls(struct schema_registry *registry, const char *url)
{
    size_t len = strlen(url);
    while (len > 0 && url[len - 1] == '/')
        len--;
    registry->base_url = strndup(url, len);
    registry->display_url = strndup(url, len);
    if (!registry->base_url || !registry->display_url)
        return -1;

    char *scheme_end = strstr(registry->display_url, "://");
    char *host = scheme_end ? scheme_end + 3 : registry->display_url;
    char *slash = strchr(host, '/');
    char *at = strchr(host, '@');
    if (at && (!slash || at < slash))
        memmove(host, at + 1, strlen(at + 1) + 1);
    return 0;
}

static size_t collect_body(char *data, size_t size, size_t count, void *opaque)
{
    struct response *response = opaque;
    size_t n = size * count;

    if (response->len + n > MAX_RESPONSE_BYTES) {
        response->too_large = 1;
        return 0; /* makes libcurl stop with CURLE_WRITE_ERROR */
    }
    char *grown = realloc(response->data, response->len + n + 1);
    if (!grown)
        return 0;
    memcpy(grown + response->len, data, n);
    response->len += n;
    grown[response->len] = '\0';
    response->data = grown;
    return n;
}

struct schema_registry *schema_registry_new(const struct schema_registry_options *options, char *error,
                                            size_t error_size)
{
    if (!options->url || (strncmp(options->url, "http://", 7) != 0 && strncmp(options->url, "https://", 8) != 0)) {
        snprintf(error, error_size, "schema registry URL \"%.200s\" is invalid; expected http://HOST:PORT or "
                 "https://HOST:PORT", options->url ? options->url : "");
        return NULL;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(error, error_size, "initialising libcurl failed");
        return NULL;
    }

    struct schema_registry *registry = calloc(1, sizeof *registry);
    if (!registry || copy_urls(registry, options->url) != 0 || !(registry->curl = curl_easy_init())) {
        snprintf(error, error_size, "out of memory creating the schema registry client");
        schema_registry_free(registry);
        return NULL;
    }
    registry->options = *options;
    if (registry->options.connect_timeout_ms <= 0)
        registry->options.connect_timeout_ms = 1000;
    if (registry->options.timeout_ms <= 0)
        registry->options.timeout_ms = 3000;
    if (registry->options.fail_fast_ms < 0)
        registry->options.fail_fast_ms = 1000;
    if (registry->options.not_found_ttl_ms < 0)
        registry->options.not_found_ttl_ms = 60000;
    return registry;
}

void schema_registry_free(struct schema_registry *registry)
{
    if (!registry)
        return;
    if (registry->curl)
        curl_easy_cleanup(registry->curl);
    for (size_t i = 0; i < registry->n_cache; i++)
        free(registry->cache[i].schema);
    free(registry->cache);
    free(registry->missing);
    free(registry->base_url);
    free(registry->display_url);
    free(registry);
}

static const char *find_cached(const struct schema_registry *registry, uint32_t id)
{
    for (size_t i = 0; i < registry->n_cache; i++) {
        if (registry->cache[i].id == id)
            return registry->cache[i].schema;
    }
    return NULL;
}

int schema_registry_cached(const struct schema_registry *registry, uint32_t id)
{
    return find_cached(registry, id) != NULL;
}

uint64_t schema_registry_requests(const struct schema_registry *registry)
{
    return registry->requests;
}

const char *schema_registry_url(const struct schema_registry *registry)
{
    return registry->display_url;
}

/* Takes over schema (malloc'ed). Returns the cached copy, or NULL when out of memory. */
static const char *cache_schema(struct schema_registry *registry, uint32_t id, char *schema)
{
    if (registry->n_cache == registry->cache_capacity) {
        size_t capacity = registry->cache_capacity ? registry->cache_capacity * 2 : 16;
        struct cached_schema *grown = realloc(registry->cache, capacity * sizeof *grown);
        if (!grown) {
            free(schema);
            return NULL;
        }
        registry->cache = grown;
        registry->cache_capacity = capacity;
    }
    registry->cache[registry->n_cache++] = (struct cached_schema){.id = id, .schema = schema};
    return schema;
}

/* Returns 1 when id got NOT_FOUND less than not_found_ttl_ms ago. Expired entries are dropped. */
static int recently_missing(struct schema_registry *registry, uint32_t id, double now)
{
    for (size_t i = 0; i < registry->n_missing; i++) {
        if (registry->missing[i].id != id)
            continue;
        if (registry->missing[i].expires_s > now)
            return 1;
        registry->missing[i] = registry->missing[--registry->n_missing];
        return 0;
    }
    return 0;
}

static void remember_missing(struct schema_registry *registry, uint32_t id, double now)
{
    if (registry->options.not_found_ttl_ms == 0)
        return;
    if (registry->n_missing == registry->missing_capacity) {
        size_t capacity = registry->missing_capacity ? registry->missing_capacity * 2 : 16;
        struct missing_id *grown = realloc(registry->missing, capacity * sizeof *grown);
        if (!grown)
            return; /* only a cache: the next lookup sends a request again */
        registry->missing = grown;
        registry->missing_capacity = capacity;
    }
    registry->missing[registry->n_missing++] =
        (struct missing_id){.id = id, .expires_s = now + registry->options.not_found_ttl_ms / 1000.0};
}

/* Reads the error_code member of a Confluent error body, or 0. */
static long error_code_of(const struct response *response)
{
    if (!response->data)
        return 0;
    json_t *root = json_loadb(response->data, response->len, 0, NULL);
    long code = (long)json_integer_value(json_object_get(root, "error_code"));
    json_decref(root);
    return code;
}

/* Interprets a 200 response: {"schema": "...", "schemaType": "AVRO"}. */
static enum schema_registry_result parse_found(struct schema_registry *registry, uint32_t id,
                                               const struct response *response, const char **schema, char *error,
                                               size_t error_size)
{
    json_t *root = response->data ? json_loadb(response->data, response->len, 0, NULL) : NULL;
    const char *text = json_string_value(json_object_get(root, "schema"));
    const char *type = json_string_value(json_object_get(root, "schemaType"));

    if (!text) {
        json_decref(root);
        snprintf(error, error_size, "schema registry %s returned HTTP 200 for schema id %u but no \"schema\" "
                 "string; check that schemas.registry_url points at the registry's Confluent API",
                 registry->display_url, id);
        return SCHEMA_REGISTRY_UNAVAILABLE;
    }
    if (type && strcmp(type, "AVRO") != 0) {
        snprintf(error, error_size, "schema id %u in schema registry %s is a %.32s schema; intentd reads Avro only",
                 id, registry->display_url, type);
        json_decref(root);
        return SCHEMA_REGISTRY_UNSUPPORTED;
    }

    char *copy = strdup(text);
    json_decref(root);
    *schema = copy ? cache_schema(registry, id, copy) : NULL;
    if (!*schema) {
        snprintf(error, error_size, "out of memory caching schema id %u", id);
        return SCHEMA_REGISTRY_UNAVAILABLE;
    }
    return SCHEMA_REGISTRY_FOUND;
}

/* Sends GET /schemas/ids/{id}. Returns the libcurl result; *status is the HTTP status. */
static CURLcode send_request(struct schema_registry *registry, uint32_t id, struct response *response, long *status,
                             char *curl_error)
{
    char url[2048];
    CURL *curl = registry->curl;
    struct curl_slist *headers = curl_slist_append(NULL, "Accept: application/vnd.schemaregistry.v1+json, "
                                                         "application/vnd.schemaregistry+json, application/json");

    snprintf(url, sizeof url, "%s/schemas/ids/%u", registry->base_url, id);
    curl_easy_reset(curl);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, registry->options.connect_timeout_ms);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, registry->options.timeout_ms);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, response);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, curl_error);
    if (registry->options.auth && registry->options.auth[0]) {
        curl_easy_setopt(curl, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(curl, CURLOPT_USERPWD, registry->options.auth);
    }

    curl_error[0] = '\0';
    registry->requests++;
    CURLcode code = curl_easy_perform(curl);
    *status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, status);
    curl_slist_free_all(headers);
    return code;
}

/* Classifies a non-200 HTTP status. */
static enum schema_registry_result classify_status(struct schema_registry *registry, uint32_t id, long status,
                                                   const struct response *response, char *error, size_t error_size)
{
    long code = error_code_of(response);

    if (status == 404 && code == ERROR_CODE_SCHEMA_NOT_FOUND) {
        snprintf(error, error_size, "schema id %u was not found in schema registry %s (HTTP 404, error_code %ld)",
                 id, registry->display_url, code);
        return SCHEMA_REGISTRY_NOT_FOUND;
    }
    /* A 404 without the registry's own error code means the URL is not a
     * registry's Confluent API, which is no fault of the record. */
    const char *hint = status == 401 || status == 403 ? "; check schemas.registry_auth"
                       : status == 404                ? "; check that schemas.registry_url is the base URL of the "
                                                        "registry's Confluent API"
                                                      : "";
    snprintf(error, error_size, "schema registry %s returned HTTP %ld for schema id %u%s", registry->display_url,
             status, id, hint);
    return SCHEMA_REGISTRY_UNAVAILABLE;
}

static enum schema_registry_result fetch(struct schema_registry *registry, uint32_t id, const char **schema,
                                         char *error, size_t error_size)
{
    struct response response = {0};
    char curl_error[CURL_ERROR_SIZE];
    long status = 0;
    enum schema_registry_result result;

    CURLcode code = send_request(registry, id, &response, &status, curl_error);
    if (code != CURLE_OK) {
        snprintf(error, error_size, "requesting schema id %u from schema registry %s failed: %s", id,
                 registry->display_url,
                 response.too_large ? "the response is larger than 4 MiB"
                 : curl_error[0]    ? curl_error
                                    : curl_easy_strerror(code));
        result = SCHEMA_REGISTRY_UNAVAILABLE;
    } else if (status == 200) {
        result = parse_found(registry, id, &response, schema, error, error_size);
    } else {
        result = classify_status(registry, id, status, &response, error, error_size);
    }
    free(response.data);
    return result;
}

enum schema_registry_result schema_registry_get(struct schema_registry *registry, uint32_t id, const char **schema,
                                                char *error, size_t error_size)
{
    *schema = find_cached(registry, id);
    if (*schema)
        return SCHEMA_REGISTRY_FOUND;

    double now = monotonic_s();
    if (recently_missing(registry, id, now)) {
        snprintf(error, error_size, "schema id %u was not found in schema registry %s (result cached for %ld ms)",
                 id, registry->display_url, registry->options.not_found_ttl_ms);
        return SCHEMA_REGISTRY_NOT_FOUND;
    }
    if (now < registry->unavailable_until_s) {
        snprintf(error, error_size, "schema id %u not requested, because the last request failed less than %ld ms "
                 "ago (%s)", id, registry->options.fail_fast_ms, registry->last_unavailable);
        return SCHEMA_REGISTRY_UNAVAILABLE;
    }

    enum schema_registry_result result = fetch(registry, id, schema, error, error_size);
    if (result == SCHEMA_REGISTRY_NOT_FOUND)
        remember_missing(registry, id, now);
    if (result == SCHEMA_REGISTRY_UNAVAILABLE && registry->options.fail_fast_ms > 0) {
        registry->unavailable_until_s = monotonic_s() + registry->options.fail_fast_ms / 1000.0;
        snprintf(registry->last_unavailable, sizeof registry->last_unavailable, "%s", error);
    }
    return result;
}
