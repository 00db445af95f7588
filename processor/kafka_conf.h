/*
 * librdkafka configuration built from the kafka section of the intentd
 * config. Every client the program creates (admin, consumers, producer)
 * starts from kafka_conf_build(), so security settings (SASL, SSL) given as
 * kafka.properties reach all of them.
 */
#ifndef INTENTD_KAFKA_CONF_H
#define INTENTD_KAFKA_CONF_H

#include <stddef.h>

#include <librdkafka/rdkafka.h>

#include "config.h"

/* Builds a new librdkafka configuration: every kafka.properties entry is
 * passed to rd_kafka_conf_set() unchanged and in file order, then
 * bootstrap.servers is set to bootstrap_override if it is non-NULL and
 * non-empty, else to kafka.bootstrap_servers, and client.id to
 * kafka.client_id if that is set. librdkafka's log lines go to log.h.
 * group.id and transactional.id are left to the caller, because only some
 * clients use them.
 *
 * Returns 0 and stores the configuration in *out, which the caller owns
 * (rd_kafka_new() takes it over, or release it with rd_kafka_conf_destroy).
 * Returns -1 and writes a message to error (error_size bytes) that names the
 * rejected property. The value of a secret property is never copied into
 * the message. */
int kafka_conf_build(const struct intentd_config *cfg, const char *bootstrap_override,
                     rd_kafka_conf_t **out, char *error, size_t error_size);

/* Sets one property on conf. Returns 0, or -1 with a message naming key
 * (and value, unless config_property_is_secret(key)). */
int kafka_conf_set(rd_kafka_conf_t *conf, const char *key, const char *value,
                   char *error, size_t error_size);

#endif
