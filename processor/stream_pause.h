/*
 * Pause, rewind and resume of one input topic-partition of the stream loop,
 * for handlers that must stop reading a partition at a record they cannot
 * process yet (a schema registry that does not respond). The topic may be the
 * driver topic or a companion topic; the loop's own task pause on
 * restore is separate and unaffected.
 *
 * Threading: the stream loop's thread only, outside librdkafka callbacks.
 */
#ifndef INTENTD_STREAM_PAUSE_H
#define INTENTD_STREAM_PAUSE_H

#include <stddef.h>
#include <stdint.h>

#include "stream_loop.h"

/* Pauses (pause != 0) or resumes fetching of topic/partition. Returns 0, or -1
 * with a message in error when the partition is not assigned to the loop. */
int stream_pause_partition(struct stream_loop *loop, const char *topic, int32_t partition, int pause, char *error,
                           size_t error_size);

/* Moves the consume position of topic/partition to offset, so the next record
 * read from it is the one at offset. Call with no transaction open or after
 * the records before offset are part of it, because records already fetched
 * past offset are dropped. Returns 0, or -1 with a message in error. */
int stream_pause_seek(struct stream_loop *loop, const char *topic, int32_t partition, int64_t offset, char *error,
                      size_t error_size);

/* Returns the first offset of topic/partition as last reported to the
 * consumer by the broker, or -1 when not known yet. Sends no request. */
int64_t stream_pause_log_start(struct stream_loop *loop, const char *topic, int32_t partition);

/* Stops the loop with message as its fatal error, as the loop does for
 * fencing, because continuing could commit past an unprocessed record. */
void stream_pause_fail(struct stream_loop *loop, const char *message);

#endif
