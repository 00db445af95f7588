/*
 * Readers of the recorded inputs of `intentd replay`. Each reader appends
 * the events of one file to a struct replay_load, which applies the
 * event-time filter and numbers events in file order.
 *
 * Bad lines: a line that cannot become an event is passed to
 * replay_bad_line() with its file, line number and reason. It is counted
 * and skipped, or, in strict mode, the reader stops and returns -1 with
 * that message. A reader returns -1 also when the file cannot be opened or
 * memory runs out; error then contains the message (REPLAY_ERROR_SIZE bytes).
 * Readers never print.
 */
#ifndef INTENTD_REPLAY_INPUT_H
#define INTENTD_REPLAY_INPUT_H

#include <stddef.h>
#include <stdint.h>

#include "codec.h"
#include "replay_event.h"

/* Bad lines whose message is kept for printing; later ones are only counted. */
#define REPLAY_BAD_SHOWN 10

/* Event time of the first synthetic event: 2018-01-01T00:00:00Z, in Unix
 * seconds. SASRec sequences and reviews without timestamps start here. */
#define REPLAY_SYNTHETIC_START_S 1514764800LL
/* Spacing of synthetic events: one per minute per user. */
#define REPLAY_SYNTHETIC_STEP_S 60LL

struct replay_bad_lines {
    int strict;        /* 1: the first bad line is fatal */
    uint64_t count;    /* bad lines seen */
    size_t shown;      /* messages kept in messages[] */
    char messages[REPLAY_BAD_SHOWN][REPLAY_ERROR_SIZE];
};

/* Records a bad line as "path:line: reason". Returns 0 to go on, or -1 in
 * strict mode with the message in error. */
int replay_bad_line(struct replay_bad_lines *bad, const char *path, long line, const char *reason, char *error);

struct replay_load {
    struct replay_events *events;  /* borrowed: receives the events */
    struct replay_bad_lines *bad;  /* borrowed */
    int has_from, has_to;
    int64_t from_ms;               /* keep events with time >= from_ms */
    int64_t to_ms;                 /* keep events with time < to_ms */
    uint32_t input;                /* index of the file being read */
    uint64_t sequence;             /* events numbered so far in this file */
    uint64_t filtered;             /* events outside [from, to) */
};

/* Numbers *e, then appends it or, when outside the time filter, releases
 * it. Returns 0, or -1 when out of memory (with a message in error). */
int replay_load_add(struct replay_load *load, struct replay_event *e, char *error);

/* Taobao UserBehavior CSV: user_id,item_id,category_id,behavior,timestamp,
 * no header; behavior pv, fav, cart or buy; timestamp in Unix seconds. */
int replay_read_taobao(struct replay_load *load, const char *path, char *error);

/* Converts the fields of one Taobao record into *click. Returns 0, or -1
 * with the reason in reason (REPLAY_ERROR_SIZE bytes). */
int replay_taobao_parse(char *const *fields, int n_fields, codec_click_event_t *click, char *reason);

/* SASRec sequences: "user item" per line, 1-based integer ids, each user's
 * lines in time order. Each line becomes a VIEW with no category; a user's
 * k-th line (k from 0) gets the time REPLAY_SYNTHETIC_START_S +
 * k * REPLAY_SYNTHETIC_STEP_S. */
int replay_read_sequences(struct replay_load *load, const char *path, char *error);

struct replay_linkage;

/* Review CSV with a header naming the columns cat, label and review, and
 * optionally user_id and item_id (both or neither) and timestamp (Unix
 * seconds). label 1 becomes rating 5 and label 0 rating 1. Without user ids,
 * linkage (loaded from a clickstream file) supplies synthetic ones; it may be
 * NULL when the file has user ids. */
int replay_read_reviews(struct replay_load *load, const char *path, const struct replay_linkage *linkage,
                        char *error);

/* JSON Lines: one object per line with "type": "click" or "review" and the
 * Avro field names of ClickEvent or ReviewEvent (timestamp in Unix ms,
 * action as the Action symbol). */
int replay_read_jsonl(struct replay_load *load, const char *path, char *error);

/* Avro object container file whose records are ClickEvent or ReviewEvent
 * in any version the codec can resolve. The file's writer schema is added
 * to codec under a private id (not thread-safe: call before sharing). */
int replay_read_avro(struct replay_load *load, const char *path, codec_t *codec, char *error);

#endif
