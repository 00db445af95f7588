/*
 * The send loop of `intentd replay`: events in order, paced by --speed and
 * --rate, encoded and produced keyed by user id to topics.clickstream or
 * topics.reviews.
 */
#ifndef INTENTD_REPLAY_SEND_H
#define INTENTD_REPLAY_SEND_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "codec.h"
#include "config.h"
#include "replay_event.h"

struct replay_send_options {
    const struct intentd_config *cfg;
    const codec_t *codec;                /* for Avro output; NULL for JSON */
    const char *bootstrap;               /* replaces kafka.bootstrap_servers if not NULL or empty */
    double speed;                        /* 0: as fast as possible; 1: original timing */
    double rate;                         /* events per second limit; 0: none */
    int dry_run;                         /* 1: encode and count, produce nothing, no pacing */
    int event_time_records;              /* 1: Kafka record timestamp = event time; 0: send time */
    volatile sig_atomic_t *stop;         /* set by a signal handler to stop early; may be NULL */
};

struct replay_send_result {
    uint64_t clicks;   /* events sent to topics.clickstream (delivered, unless dry run) */
    uint64_t reviews;  /* events sent to topics.reviews */
    double elapsed_s;  /* from the first send to the last delivery */
    int interrupted;   /* 1 when *stop ended the loop */
};

/* Sends events->items[0 .. count-1] in order. Returns 0, or -1 with a
 * message in error (REPLAY_ERROR_SIZE bytes); result contains the counts
 * so far in both cases. */
int replay_send_events(const struct replay_send_options *options, const struct replay_events *events, size_t count,
                       struct replay_send_result *result, char *error);

#endif
