/*
 * Recorded events for training: an in-memory log filled from files (Taobao
 * UserBehavior CSV, review CSV, SASRec `user item` sequences) or event by
 * event (train_input_add), which `intentd train` uses for JSON Lines input.
 *
 * Bad lines: each reader checks every record. A bad record is skipped and
 * counted in the stats (the first TRAIN_INPUT_KEPT_ERRORS messages are kept,
 * each starting with "FILE:LINE: "), or, with strict set, the read stops and
 * returns -1 with that message.
 */
#ifndef INTENTD_TRAIN_INPUT_H
#define INTENTD_TRAIN_INPUT_H

#include <stddef.h>
#include <stdint.h>

#include "model_config.h"
#include "tokenizer.h"

#define TRAIN_INPUT_KEPT_ERRORS 5

/* One event. Item and category are indexes into the log's id maps (-1: none). */
struct train_input_event {
    int32_t user;          /* index into train_input_log.users */
    int32_t item, category;
    int64_t timestamp_ms;  /* event time; events of one user are ordered by (timestamp_ms, order) */
    int64_t order;         /* input position, for ties and for inputs without times */
    int8_t action;         /* enum tokenizer_action */
    int8_t rating;         /* 1..5, or 0: none */
    int8_t label;          /* sentiment label 0 negative, 1 positive, or -1: none */
    uint8_t holdout;       /* 1: the label is kept for validation only */
    char *text;            /* owned, NUL-terminated review text or search query, or NULL */
    uint32_t text_len;
};

struct train_input_log {
    struct tokenizer_idmap users, items, categories;
    struct train_input_event *events;
    size_t n_events, capacity;
    int64_t next_order;
    long next_review;      /* labelled reviews read so far, for the holdout choice */
    int holdout_every;     /* every holdout_every-th labelled review is held out (0: none); default 10 */
};

/* Counts of one read. */
struct train_input_stats {
    long records;          /* records read, header excluded */
    long events;           /* events added */
    long bad;              /* records skipped */
    int kept;              /* messages in errors */
    char errors[TRAIN_INPUT_KEPT_ERRORS][MODEL_ERROR_SIZE];
};

void train_input_init(struct train_input_log *log);
void train_input_free(struct train_input_log *log);

/* Fields of one event for train_input_add; absent strings are NULL. */
struct train_input_fields {
    const char *user_id;     /* required */
    const char *item_id;
    const char *category_id;
    enum tokenizer_action action;
    int64_t timestamp_ms;
    int rating;              /* 1..5, or 0 */
    int label;               /* 0, 1, or -1 */
    const char *text;
    size_t text_len;
};

/* Adds one event (copies every string). A labelled review becomes a holdout
 * when it is the holdout_every-th labelled review since the log was created,
 * which keeps every tenth review of a file sorted by category in each
 * category. Returns 0, or -1 with a message when an id is empty, longer than
 * TOKENIZER_MAX_ID_BYTES or not UTF-8, a field is out of range, or memory
 * runs out. */
int train_input_add(struct train_input_log *log, const struct train_input_fields *fields, char *error);

/* Readers. Each appends to log and adds to stats (zero it first). Return 0,
 * or -1 with a message: the file cannot be read, or strict is set and a
 * record is bad. */

/* Taobao UserBehavior: `user_id,item_id,category_id,behavior,timestamp`, no
 * header, behavior pv / fav / cart / buy, timestamp in Unix seconds. */
int train_input_read_taobao(struct train_input_log *log, const char *path, int strict,
                            struct train_input_stats *stats, char *error);

/* Review CSV with a header naming the columns: `label` (0 or 1) and `review`
 * required; `cat`, `user_id`, `item_id`, `rating` (1..5) and `timestamp`
 * (Unix seconds) optional. A review without a user id is its own user. */
int train_input_read_reviews(struct train_input_log *log, const char *path, int strict,
                             struct train_input_stats *stats, char *error);

/* SASRec sequences: `user item` per line, in time order per user; each line
 * is a view of the item. */
int train_input_read_sequences(struct train_input_log *log, const char *path, int strict,
                               struct train_input_stats *stats, char *error);

/* Records a bad record in stats (first messages kept). Returns -1 with the
 * message in error when strict, else 0. For readers outside this module. */
int train_input_bad_record(struct train_input_stats *stats, int strict, const char *message, char *error);

#endif
