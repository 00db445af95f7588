/*
 * Review CSV (header cat,label,review and optional user_id, item_id,
 * timestamp columns) into ReviewEvents.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replay_input.h"
#include "replay_linkage.h"
#include "train_csv.h"

/* Column positions from the header; -1 when absent. */
struct review_columns {
    int cat, label, review, user_id, item_id, timestamp;
    int n_fields;
};

static int find_column(const struct train_csv *csv, const char *name)
{
    for (int i = 0; i < csv->n_fields; i++)
        if (strcmp(csv->fields[i], name) == 0)
            return i;
    return -1;
}

/* Reads the header record; returns 0, or -1 with a message. */
static int read_header(struct train_csv *csv, const char *path, struct review_columns *cols, char *error)
{
    char reason[REPLAY_ERROR_SIZE];
    int status = train_csv_read(csv, reason, sizeof reason);

    if (status <= 0) {
        snprintf(error, REPLAY_ERROR_SIZE, "%.300s:1: %s", path, status < 0 ? reason : "empty file, expected a header");
        return -1;
    }
    cols->cat = find_column(csv, "cat");
    cols->label = find_column(csv, "label");
    cols->review = find_column(csv, "review");
    cols->user_id = find_column(csv, "user_id");
    cols->item_id = find_column(csv, "item_id");
    cols->timestamp = find_column(csv, "timestamp");
    cols->n_fields = csv->n_fields;
    if (cols->cat < 0 || cols->label < 0 || cols->review < 0) {
        snprintf(error, REPLAY_ERROR_SIZE, "%.300s:1: the header must name the columns cat, label and review", path);
        return -1;
    }
    if ((cols->user_id < 0) != (cols->item_id < 0)) {
        snprintf(error, REPLAY_ERROR_SIZE, "%.300s:1: the header names only one of user_id and item_id; give both "
                 "or neither", path);
        return -1;
    }
    return 0;
}

/* Parses the optional timestamp field (Unix seconds). */
static int parse_seconds(const char *text, int64_t *seconds)
{
    char *end;

    errno = 0;
    long long value = strtoll(text, &end, 10);
    if (!text[0] || *end || errno || value < 0 || value > 100000000000LL)
        return -1;
    *seconds = value;
    return 0;
}

/* Fills user, item, and time from the columns or from the linkage. */
static int fill_owner(const struct train_csv *csv, const struct review_columns *cols,
                      const struct replay_linkage *linkage, uint64_t index, codec_review_event_t *r, char *reason)
{
    int64_t seconds = REPLAY_SYNTHETIC_START_S + (int64_t)index * REPLAY_SYNTHETIC_STEP_S;

    if (cols->timestamp >= 0 && parse_seconds(csv->fields[cols->timestamp], &seconds) != 0) {
        snprintf(reason, REPLAY_ERROR_SIZE, "invalid timestamp '%.40s': expected Unix seconds",
                 csv->fields[cols->timestamp]);
        return 1;
    }
    if (cols->user_id >= 0) {
        if (!csv->fields[cols->user_id][0] || !csv->fields[cols->item_id][0]) {
            snprintf(reason, REPLAY_ERROR_SIZE, "empty user_id or item_id");
            return 1;
        }
        r->user_id = strdup(csv->fields[cols->user_id]);
        r->item_id = strdup(csv->fields[cols->item_id]);
        r->timestamp_ms = seconds * 1000;
        return 0;
    }

    struct replay_linkage_pick pick;
    replay_linkage_pick(linkage, index, &pick);
    r->user_id = strdup(pick.user_id);
    r->item_id = strdup(pick.item_id);
    free(r->category_id); /* the review's own category gives way to the item's */
    r->category_id = strdup(pick.category_id);
    r->timestamp_ms = cols->timestamp >= 0 ? seconds * 1000 : pick.timestamp_ms;
    return 0;
}

/* Converts one record; returns 0, 1 for a bad record (reason set), -1 when
 * out of memory. index is the record's 0-based position among the data
 * records of the file, blank lines not counted. */
static int parse_review(const struct train_csv *csv, const struct review_columns *cols,
                        const struct replay_linkage *linkage, uint64_t index, codec_review_event_t *r, char *reason)
{
    if (csv->n_fields != cols->n_fields) {
        snprintf(reason, REPLAY_ERROR_SIZE, "expected %d fields as in the header, found %d", cols->n_fields,
                 csv->n_fields);
        return 1;
    }
    const char *label = csv->fields[cols->label];
    if (strcmp(label, "0") != 0 && strcmp(label, "1") != 0) {
        snprintf(reason, REPLAY_ERROR_SIZE, "invalid label '%.40s': expected 0 (negative) or 1 (positive)", label);
        return 1;
    }
    if (!csv->fields[cols->review][0]) {
        snprintf(reason, REPLAY_ERROR_SIZE, "empty review text");
        return 1;
    }

    memset(r, 0, sizeof *r);
    r->has_rating = true;
    r->rating = label[0] == '1' ? 5 : 1;
    r->consent = CODEC_CONSENT_UNKNOWN;
    r->text = strdup(csv->fields[cols->review]);
    r->category_id = strdup(csv->fields[cols->cat]);
    int status = fill_owner(csv, cols, linkage, index, r, reason);
    if (status == 0 && (!r->text || !r->category_id || !r->user_id || !r->item_id))
        status = -1;
    if (status != 0)
        codec_review_clear(r);
    return status;
}

static int read_records(struct replay_load *load, struct train_csv *csv, const char *path,
                        const struct review_columns *cols, const struct replay_linkage *linkage, char *error)
{
    char reason[REPLAY_ERROR_SIZE];
    uint64_t index = 0;
    int status;

    while ((status = train_csv_read(csv, reason, sizeof reason)) != 0) {
        struct replay_event e = {.kind = REPLAY_REVIEW};

        if (status > 0 && csv->n_fields == 1 && csv->fields[0][0] == '\0')
            continue; /* blank line */
        uint64_t record_index = index++;
        if (status > 0) {
            int parsed = parse_review(csv, cols, linkage, record_index, &e.u.review, reason);
            if (parsed < 0) {
                snprintf(error, REPLAY_ERROR_SIZE, "out of memory reading %.300s", path);
                return -1;
            }
            status = parsed == 0 ? 1 : -1;
        }
        if (status < 0) {
            if (replay_bad_line(load->bad, path, csv->record_line, reason, error) != 0)
                return -1;
            continue;
        }
        if (replay_load_add(load, &e, error) != 0)
            return -1;
    }
    return 0;
}

int replay_read_reviews(struct replay_load *load, const char *path, const struct replay_linkage *linkage,
                        char *error)
{
    struct train_csv csv;
    struct review_columns cols;

    FILE *file = fopen(path, "rb");
    if (!file) {
        snprintf(error, REPLAY_ERROR_SIZE, "cannot open reviews file %.300s: %s", path, strerror(errno));
        return -1;
    }
    train_csv_init(&csv, file, ',');
    int result = read_header(&csv, path, &cols, error);
    if (result == 0 && cols.user_id < 0 && !linkage) {
        snprintf(error, REPLAY_ERROR_SIZE, "reviews file %.300s has no user_id and item_id columns; give a "
                 "clickstream file with --reviews-users-from to link reviews to synthetic users", path);
        result = -1;
    }
    if (result == 0)
        result = read_records(load, &csv, path, &cols, linkage, error);
    train_csv_free(&csv);
    fclose(file);
    return result;
}
