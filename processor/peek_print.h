/*
 * Record lines of intentd peek: one line per Kafka record, "KIND key=value
 * ...", decoded by the role the config gives the record's topic (offers,
 * intents, dead_letter, and with Avro inputs clickstream, reviews and
 * consents). Every line ends with the record's partition and offset. Times
 * are ISO-8601 UTC and text is quoted with escapes. A null field or an
 * empty list prints as "-". A record that cannot be decoded prints as a
 * "record" line with its key, size and the decode error.
 */
#ifndef INTENTD_PEEK_PRINT_H
#define INTENTD_PEEK_PRINT_H

#include <librdkafka/rdkafka.h>

#include "codec.h"
#include "config.h"

/* Prints record m of cfg's topics to stdout as one line. */
void peek_print_record(const struct intentd_config *cfg, const codec_t *codec, const rd_kafka_message_t *m);

#endif
