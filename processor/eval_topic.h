/*
 * Recorded events read from a Kafka topic for intentd eval: every committed
 * record of every partition, from the start up to the end offsets taken when
 * the read begins, decoded with the local schema catalogue. The event-time
 * filter of the load (--from, --to) selects the range.
 */
#ifndef INTENTD_EVAL_TOPIC_H
#define INTENTD_EVAL_TOPIC_H

#include "codec.h"
#include "config.h"
#include "replay_input.h"

/* Reads topic into load. Records that do not decode as a ClickEvent or a
 * ReviewEvent count as bad lines named TOPIC/PARTITION@OFFSET. Returns 0, or
 * -1 with a message (broker unreachable, topic missing, strict mode). */
int eval_read_topic(struct replay_load *load, const struct intentd_config *cfg, const char *bootstrap,
                    const char *topic, const codec_t *codec, char *error);

#endif
