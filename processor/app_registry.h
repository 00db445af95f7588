/*
 * Avro input through a schema registry (schemas.source: registry).
 *
 * The schema id of each input frame is looked up in the registry (cached
 * forever once found). The schema is added to a codec of its own that
 * contains the reader schemas of the input records, so a producer's older or
 * newer writer schema is resolved to our reader schema by the Avro rules. The reader schemas are
 * the catalogue's "reader" entries, kept under ids from
 * APP_REGISTRY_READER_ID_BASE up, which a Confluent registry never assigns
 * (its ids are positive 32-bit signed integers).
 *
 * When the registry is unavailable the record is not bad: its topic-partition
 * is paused at the record, nothing from that partition is processed in this
 * batch, and after the batch commits the partition is rewound to the record.
 * A later call of app_registry_on_idle requests the schema again, after a wait
 * that doubles from APP_REGISTRY_BACKOFF_MIN_MS to APP_REGISTRY_BACKOFF_MAX_MS,
 * and resumes the partition once the registry responds. Other partitions keep
 * flowing, and committed offsets never pass the paused record.
 *
 * Threading: the stream loop's thread only.
 */
#ifndef INTENTD_APP_REGISTRY_H
#define INTENTD_APP_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "app_event.h"
#include "codec.h"
#include "config.h"
#include "schema_registry.h"
#include "stream_loop.h"

#define APP_REGISTRY_READER_ID_BASE 0x80000000u
#define APP_REGISTRY_BACKOFF_MIN_MS 100
#define APP_REGISTRY_BACKOFF_MAX_MS 10000

/* Decision for one input record. */
enum app_registry_admission {
    APP_REGISTRY_DECODE = 0,  /* decode it with the codec returned */
    APP_REGISTRY_DEAD_LETTER, /* bad record: reason and detail are set */
    APP_REGISTRY_DEFER,       /* its partition is paused at or before it: leave it unprocessed */
};

struct app_registry_stats {
    uint64_t pauses;       /* times a partition was paused because the registry was unavailable */
    uint64_t retries;      /* registry requests after a pause that found it still unavailable */
    int paused_partitions; /* partitions paused now */
};

struct app_registry;

/* Creates the registry client from cfg->schemas and loads the reader schemas
 * of the input records from cfg->schemas.local_dir/catalogue.json. Returns
 * NULL with a message in error[error_size] on failure. */
struct app_registry *app_registry_new(const struct intentd_config *cfg, const struct schema_registry_options *options,
                                      char *error, size_t error_size);

void app_registry_free(struct app_registry *registry);

/*
 * Decides what happens to record. On APP_REGISTRY_DECODE *codec is the codec
 * to decode it with (it contains the record's writer schema unless the frame is
 * invalid or a tombstone, which the decoder then reports). On
 * APP_REGISTRY_DEFER the record's partition has been paused on loop.
 */
enum app_registry_admission app_registry_admit(struct app_registry *registry, struct stream_loop *loop,
                                               const rd_kafka_message_t *record, const codec_t **codec,
                                               enum app_dead_letter_reason *reason, char *detail,
                                               size_t detail_size);

/* After a commit: rewinds each partition paused in the batch to its paused record. */
void app_registry_on_commit(struct app_registry *registry, struct stream_loop *loop);

/* After an abort: the loop has rewound every partition to its committed
 * offset, which is at or before each paused record, so no rewind is left to do. */
void app_registry_on_abort(struct app_registry *registry);

/* Between batches: requests the schema of each paused partition whose wait
 * is over again, and resumes the partitions the registry responds for. */
void app_registry_on_idle(struct app_registry *registry, struct stream_loop *loop);

/* Drops the pauses of partition p of every input topic (the task was revoked). */
void app_registry_forget_partition(struct app_registry *registry, int32_t partition);

void app_registry_get_stats(const struct app_registry *registry, struct app_registry_stats *stats);

/* The registry URL without credentials, for logs. */
const char *app_registry_url(const struct app_registry *registry);

#endif
