/*
 * Dead-letter records: the original key and value bytes (values over 512 KiB
 * cut to that size), with
 * headers that say why and where from:
 *   intentd.reason            reason name, e.g. "malformed_body"
 *   intentd.error             detail message
 *   intentd.source.topic      topic of the original record
 *   intentd.source.partition  decimal
 *   intentd.source.offset     decimal
 *   intentd.source.timestamp  record timestamp, Unix ms, decimal
 *   intentd.value.size        original length, when the value was cut
 *   intentd.value.truncated   "true" when the value was cut to 512 KiB
 * The original headers are kept before these.
 */
#ifndef INTENTD_APP_DEAD_LETTER_H
#define INTENTD_APP_DEAD_LETTER_H

#include <librdkafka/rdkafka.h>

#include "app_event.h"

/* Produces the dead-letter copy of record to topic inside the producer's open
 * transaction. Returns 0, or -1 with a message when the produce call failed
 * (the batch must then abort). */
int app_dead_letter_produce(rd_kafka_t *producer, const char *topic, const rd_kafka_message_t *record,
                            enum app_dead_letter_reason reason, const char *detail, char *error,
                            size_t error_size);

#endif
