/* Avro input through a schema registry, with partition pauses; see app_registry.h. */
#include "app_registry.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "log.h"
#include "stream_pause.h"
#include "stream_task.h"

/* The records intentd reads from its input topics. */
static const char *const INPUT_RECORDS[] = {"io.intentd.ClickEvent", "io.intentd.ReviewEvent", "io.intentd.Consent"};

/* One input topic-partition stopped at a record whose schema the registry did not return. */
struct paused_partition {
    char *topic;
    int32_t partition;
    int64_t offset;     /* the first unprocessed record */
    uint32_t schema_id;
    int paused;         /* 0 once resumed, until the record at offset is admitted */
    int seek_pending;   /* rewind to offset after the batch commits */
    long backoff_ms;    /* current wait between two registry requests */
    double retry_at_s;  /* monotonic seconds */
    double paused_at_s; /* monotonic seconds of the first pause */
};

struct app_registry {
    struct schema_registry *client;
    codec_t *codec;
    struct paused_partition *paused;
    size_t n_paused, paused_capacity;
    struct app_registry_stats stats;
};

/* ---- reader schemas ---- */

static int input_record(const char *name)
{
    for (size_t i = 0; i < sizeof INPUT_RECORDS / sizeof INPUT_RECORDS[0]; i++) {
        if (name && strcmp(name, INPUT_RECORDS[i]) == 0)
            return 1;
    }
    return 0;
}

/* Adds the reader schema file of one catalogue entry under id. */
static int add_reader(codec_t *codec, const char *dir, const char *file, uint32_t id, char *error, size_t size)
{
    char path[PATH_MAX];
    json_error_t json_error;

    snprintf(path, sizeof path, "%s/%s", dir, file);
    json_t *schema = json_load_file(path, 0, &json_error);
    char *text = schema ? json_dumps(schema, JSON_COMPACT) : NULL;
    json_decref(schema);
    if (!text) {
        snprintf(error, size, "reading reader schema %.300s failed: %s", path, json_error.text);
        return -1;
    }

    codec_error_t err;
    int status = codec_catalogue_add(codec, id, text, 1, &err);
    free(text);
    if (status != CODEC_OK) {
        snprintf(error, size, "reader schema %.300s: %s", path, err.message);
        return -1;
    }
    return 0;
}

/* Loads the "reader" entries of the input records from dir/catalogue.json. */
static int load_readers(codec_t *codec, const char *dir, char *error, size_t size)
{
    char path[PATH_MAX];
    json_error_t json_error;

    snprintf(path, sizeof path, "%s/catalogue.json", dir);
    json_t *root = json_load_file(path, 0, &json_error);
    json_t *entries = json_object_get(root, "schemas");
    if (!json_is_array(entries)) {
        snprintf(error, size, "reading %.300s failed: %s; set schemas.local_dir to the folder with catalogue.json "
                 "and the reader schemas", path, root ? "no \"schemas\" array" : json_error.text);
        json_decref(root);
        return -1;
    }

    uint32_t next_id = APP_REGISTRY_READER_ID_BASE;
    size_t i;
    json_t *entry;
    int status = 0;
    json_array_foreach(entries, i, entry) {
        const char *record = json_string_value(json_object_get(entry, "record"));
        const char *file = json_string_value(json_object_get(entry, "file"));
        if (!json_is_true(json_object_get(entry, "reader")) || !input_record(record) || !file)
            continue;
        if ((status = add_reader(codec, dir, file, next_id++, error, size)) != 0)
            break;
    }
    json_decref(root);
    return status;
}

struct app_registry *app_registry_new(const struct intentd_config *cfg, const struct schema_registry_options *options,
                                      char *error, size_t error_size)
{
    struct app_registry *registry = calloc(1, sizeof *registry);
    codec_error_t err;

    if (!registry) {
        snprintf(error, error_size, "out of memory");
        return NULL;
    }
    registry->client = schema_registry_new(options, error, error_size);
    if (!registry->client) {
        app_registry_free(registry);
        return NULL;
    }
    if (codec_open(NULL, &registry->codec, &err) != CODEC_OK) {
        snprintf(error, error_size, "creating the registry codec failed: %s", err.message);
        app_registry_free(registry);
        return NULL;
    }
    if (load_readers(registry->codec, cfg->schemas.local_dir, error, error_size) != 0) {
        app_registry_free(registry);
        return NULL;
    }
    return registry;
}

void app_registry_free(struct app_registry *registry)
{
    if (!registry)
        return;
    schema_registry_free(registry->client);
    codec_close(registry->codec);
    for (size_t i = 0; i < registry->n_paused; i++)
        free(registry->paused[i].topic);
    free(registry->paused);
    free(registry);
}

void app_registry_get_stats(const struct app_registry *registry, struct app_registry_stats *stats)
{
    *stats = registry->stats;
    stats->paused_partitions = 0;
    for (size_t i = 0; i < registry->n_paused; i++)
        stats->paused_partitions += registry->paused[i].paused;
}

const char *app_registry_url(const struct app_registry *registry)
{
    return schema_registry_url(registry->client);
}

/* ---- paused partitions ---- */

static struct paused_partition *find_paused(struct app_registry *registry, const char *topic, int32_t partition)
{
    for (size_t i = 0; i < registry->n_paused; i++) {
        struct paused_partition *p = &registry->paused[i];
        if (p->partition == partition && strcmp(p->topic, topic) == 0)
            return p;
    }
    return NULL;
}

static void remove_paused(struct app_registry *registry, struct paused_partition *p)
{
    free(p->topic);
    *p = registry->paused[--registry->n_paused];
}

/* Returns the entry of topic/partition, adding one with the first wait; NULL when out of memory. */
static struct paused_partition *add_paused(struct app_registry *registry, const char *topic, int32_t partition,
                                           double now)
{
    struct paused_partition *p = find_paused(registry, topic, partition);
    if (p) {
        p->backoff_ms = p->backoff_ms * 2 > APP_REGISTRY_BACKOFF_MAX_MS ? APP_REGISTRY_BACKOFF_MAX_MS
                                                                          : p->backoff_ms * 2;
        return p;
    }
    if (registry->n_paused == registry->paused_capacity) {
        size_t capacity = registry->paused_capacity ? registry->paused_capacity * 2 : 8;
        struct paused_partition *grown = realloc(registry->paused, capacity * sizeof *grown);
        if (!grown)
            return NULL;
        registry->paused = grown;
        registry->paused_capacity = capacity;
    }
    char *copy = strdup(topic);
    if (!copy)
        return NULL;
    p = &registry->paused[registry->n_paused++];
    *p = (struct paused_partition){
        .topic = copy,
        .partition = partition,
        .backoff_ms = APP_REGISTRY_BACKOFF_MIN_MS,
        .paused_at_s = now,
    };
    return p;
}

/* Pauses topic/partition at offset. A failure stops the loop, because
 * reading on could commit past the unprocessed record. */
static void pause_at(struct app_registry *registry, struct stream_loop *loop, const char *topic, int32_t partition,
                     int64_t offset, uint32_t schema_id, const char *why)
{
    char error[STREAM_ERROR_SIZE];
    double now = stream_now();
    struct paused_partition *p = add_paused(registry, topic, partition, now);
    if (!p) {
        snprintf(error, sizeof error, "out of memory pausing %s partition %d at offset %lld", topic, (int)partition,
                 (long long)offset);
        stream_pause_fail(loop, error);
        return;
    }
    p->offset = offset;
    p->schema_id = schema_id;
    p->paused = 1;
    p->seek_pending = 1;
    p->retry_at_s = now + p->backoff_ms / 1000.0;
    registry->stats.pauses++;

    if (stream_pause_partition(loop, topic, partition, 1, error, sizeof error) != 0) {
        stream_pause_fail(loop, error);
        return;
    }
    log_warn("pausing partition: %s topic=%s partition=%d offset=%lld schema_id=%u registry=%s next_retry_ms=%ld",
             why, topic, (int)partition, (long long)offset, schema_id, schema_registry_url(registry->client),
             p->backoff_ms);
}

/* ---- admission of one record ---- */

/* Turns a registry lookup into an admission. */
static enum app_registry_admission lookup(struct app_registry *registry, struct stream_loop *loop,
                                          const rd_kafka_message_t *record, uint32_t id,
                                          enum app_dead_letter_reason *reason, char *detail, size_t detail_size)
{
    const char *schema = NULL;
    char error[SCHEMA_REGISTRY_ERROR_SIZE];
    enum schema_registry_result result = schema_registry_get(registry->client, id, &schema, error, sizeof error);

    if (result == SCHEMA_REGISTRY_UNAVAILABLE) {
        pause_at(registry, loop, rd_kafka_topic_name(record->rkt), record->partition, record->offset, id, error);
        return APP_REGISTRY_DEFER;
    }
    if (result == SCHEMA_REGISTRY_NOT_FOUND || result == SCHEMA_REGISTRY_UNSUPPORTED) {
        *reason = result == SCHEMA_REGISTRY_NOT_FOUND ? APP_DLQ_UNKNOWN_SCHEMA : APP_DLQ_INCOMPATIBLE_SCHEMA;
        snprintf(detail, detail_size, "%s", error);
        return APP_REGISTRY_DEAD_LETTER;
    }

    codec_error_t err;
    if (codec_catalogue_add(registry->codec, id, schema, 0, &err) != CODEC_OK) {
        *reason = APP_DLQ_INCOMPATIBLE_SCHEMA;
        snprintf(detail, detail_size, "schema id %u from schema registry %s is not an Avro record schema intentd "
                 "can read: %s", id, schema_registry_url(registry->client), err.message);
        return APP_REGISTRY_DEAD_LETTER;
    }
    return APP_REGISTRY_DECODE;
}

/* Admission of a record of a partition that is not paused. */
static enum app_registry_admission admit_flowing(struct app_registry *registry, struct stream_loop *loop,
                                                 const rd_kafka_message_t *record,
                                                 enum app_dead_letter_reason *reason, char *detail,
                                                 size_t detail_size)
{
    uint32_t id;
    const uint8_t *body;
    size_t body_len;
    codec_error_t err;

    /* Tombstones and invalid frames carry no schema id; the decoder handles them. */
    if (!record->payload ||
        codec_frame_parse(record->payload, record->len, &id, &body, &body_len, &err) != CODEC_OK)
        return APP_REGISTRY_DECODE;

    if (id >= APP_REGISTRY_READER_ID_BASE) {
        *reason = APP_DLQ_UNKNOWN_SCHEMA;
        snprintf(detail, detail_size, "schema id %u is above 2147483647, the largest id a schema registry assigns",
                 id);
        return APP_REGISTRY_DEAD_LETTER;
    }
    if (codec_record_name(registry->codec, id))
        return APP_REGISTRY_DECODE;
    return lookup(registry, loop, record, id, reason, detail, detail_size);
}

enum app_registry_admission app_registry_admit(struct app_registry *registry, struct stream_loop *loop,
                                               const rd_kafka_message_t *record, const codec_t **codec,
                                               enum app_dead_letter_reason *reason, char *detail,
                                               size_t detail_size)
{
    const char *topic = rd_kafka_topic_name(record->rkt);
    struct paused_partition *p = find_paused(registry, topic, record->partition);

    *codec = registry->codec;
    if (p && p->paused)
        return APP_REGISTRY_DEFER; /* records fetched before the pause took effect */
    if (p && record->offset > p->offset && stream_pause_log_start(loop, topic, record->partition) > p->offset) {
        /* Retention deleted the paused record during the pause, so no
         * rewind can reach it. NOTE: no test runs this branch. */
        log_warn("paused record was deleted by retention before it was read, continuing topic=%s partition=%d "
                 "paused_offset=%lld offset=%lld", topic, (int)record->partition, (long long)p->offset,
                 (long long)record->offset);
        remove_paused(registry, p);
        p = NULL;
    }
    if (p && record->offset > p->offset) {
        /* The resumed partition skipped the paused record: read it again
         * rather than commit past it. */
        log_warn("partition resumed past its paused record, rewinding topic=%s partition=%d offset=%lld "
                 "expected_offset=%lld", topic, (int)record->partition, (long long)record->offset,
                 (long long)p->offset);
        pause_at(registry, loop, topic, record->partition, p->offset, p->schema_id, "rewinding to the paused record");
        return APP_REGISTRY_DEFER;
    }

    enum app_registry_admission admission = admit_flowing(registry, loop, record, reason, detail, detail_size);
    if (p && admission != APP_REGISTRY_DEFER && record->offset == p->offset) {
        log_debug("paused record admitted, partition flowing again topic=%s partition=%d offset=%lld paused_ms=%.0f",
                 topic, (int)record->partition, (long long)record->offset, (stream_now() - p->paused_at_s) * 1000.0);
        remove_paused(registry, p);
    }
    return admission;
}

/* ---- batch boundaries ---- */

void app_registry_on_commit(struct app_registry *registry, struct stream_loop *loop)
{
    char error[STREAM_ERROR_SIZE];

    for (size_t i = 0; i < registry->n_paused; i++) {
        struct paused_partition *p = &registry->paused[i];
        if (!p->seek_pending)
            continue;
        p->seek_pending = 0;
        if (stream_pause_seek(loop, p->topic, p->partition, p->offset, error, sizeof error) != 0) {
            stream_pause_fail(loop, error);
            return;
        }
    }
}

void app_registry_on_abort(struct app_registry *registry)
{
    for (size_t i = 0; i < registry->n_paused; i++)
        registry->paused[i].seek_pending = 0;
}

/* Requests p's schema again: resumes p when the registry responds, or doubles the wait. */
static void retry_paused(struct app_registry *registry, struct stream_loop *loop, struct paused_partition *p,
                         double now)
{
    const char *schema;
    char error[SCHEMA_REGISTRY_ERROR_SIZE];
    uint64_t requests = schema_registry_requests(registry->client);
    enum schema_registry_result result = schema_registry_get(registry->client, p->schema_id, &schema, error,
                                                             sizeof error);

    if (result == SCHEMA_REGISTRY_UNAVAILABLE) {
        registry->stats.retries++;
        p->backoff_ms = p->backoff_ms * 2 > APP_REGISTRY_BACKOFF_MAX_MS ? APP_REGISTRY_BACKOFF_MAX_MS
                                                                          : p->backoff_ms * 2;
        p->retry_at_s = stream_now() + p->backoff_ms / 1000.0;
        /* A retry that the client's fail-fast window returned sent nothing,
         * so only retries that reached the network are warnings. */
        int sent = schema_registry_requests(registry->client) != requests;
        log_write(sent ? LOG_LEVEL_WARN : LOG_LEVEL_DEBUG,
                  "schema registry still unavailable, partition stays paused: %s topic=%s partition=%d "
                  "offset=%lld schema_id=%u registry=%s next_retry_ms=%ld",
                  error, p->topic, (int)p->partition, (long long)p->offset, p->schema_id,
                  schema_registry_url(registry->client), p->backoff_ms);
        return;
    }

    if (stream_pause_partition(loop, p->topic, p->partition, 0, error, sizeof error) != 0) {
        stream_pause_fail(loop, error);
        return;
    }
    p->paused = 0;
    log_info("schema registry responded, resuming partition topic=%s partition=%d offset=%lld schema_id=%u "
             "result=%s paused_ms=%.0f", p->topic, (int)p->partition, (long long)p->offset, p->schema_id,
             schema_registry_result_name(result), (now - p->paused_at_s) * 1000.0);
}

void app_registry_on_idle(struct app_registry *registry, struct stream_loop *loop)
{
    double now = stream_now();

    for (size_t i = 0; i < registry->n_paused; i++) {
        struct paused_partition *p = &registry->paused[i];
        if (p->paused && !p->seek_pending && now >= p->retry_at_s)
            retry_paused(registry, loop, p, now);
    }
}

void app_registry_forget_partition(struct app_registry *registry, int32_t partition)
{
    for (size_t i = 0; i < registry->n_paused;) {
        if (registry->paused[i].partition == partition)
            remove_paused(registry, &registry->paused[i]);
        else
            i++;
    }
}
