/*
 * Record lines of intentd peek: one line per Kafka record, decoded by the
 * role the config gives the record's topic.
 */
#ifndef INTENTD_PEEK_PRINT_H
#define INTENTD_PEEK_PRINT_H

#include <librdkafka/rdkafka.h>

#include "codec.h"
#include "config.h"

/* Prints record m of cfg's topics to stdout as one line. */
void peek_print_record(const struct intentd_config *cfg, const codec_t *codec, const rd_kafka_message_t *m);

#endif
