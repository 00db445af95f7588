/*
 * The file readers of train_input.h: Taobao UserBehavior CSV, review CSV and
 * SASRec sequences.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train_csv.h"
#include "train_input.h"

/* Parses a whole decimal integer; returns 0, or -1 when s is not one. */
static int parse_int64(const char *s, long long *out)
{
    char *end;

    if (!s[0])
        return -1;
    errno = 0;
    *out = strtoll(s, &end, 10);
    return errno != 0 || *end != '\0' ? -1 : 0;
}

/* Reports a bad record "path:line: detail". Returns -1 when the read must stop. */
static int bad(struct train_input_stats *stats, int strict, const char *path, long line, const char *detail,
               char *error)
{
    char message[MODEL_ERROR_SIZE];
    snprintf(message, sizeof message, "%.200s:%ld: %s", path, line, detail);
    return train_input_bad_record(stats, strict, message, error);
}

static FILE *open_input(const char *path, char *error)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        snprintf(error, MODEL_ERROR_SIZE, "cannot open %.300s: %s", path, strerror(errno));
    return f;
}

static int taobao_behavior(const char *s)
{
    if (strcmp(s, "pv") == 0)
        return TOKENIZER_ACTION_VIEW;
    if (strcmp(s, "fav") == 0)
        return TOKENIZER_ACTION_FAVOURITE;
    if (strcmp(s, "cart") == 0)
        return TOKENIZER_ACTION_ADD_TO_CART;
    if (strcmp(s, "buy") == 0)
        return TOKENIZER_ACTION_PURCHASE;
    return -1;
}

/* Converts one Taobao record into fields; returns 0, or -1 with a detail. */
static int taobao_fields(struct train_csv *csv, struct train_input_fields *f, char *detail)
{
    long long seconds;

    if (csv->n_fields != 5) {
        snprintf(detail, MODEL_ERROR_SIZE, "expected 5 fields (user_id,item_id,category_id,behavior,timestamp), "
                 "found %d", csv->n_fields);
        return -1;
    }
    int action = taobao_behavior(csv->fields[3]);
    if (action < 0) {
        snprintf(detail, MODEL_ERROR_SIZE, "invalid behavior '%.40s': expected pv, fav, cart or buy",
                 csv->fields[3]);
        return -1;
    }
    if (parse_int64(csv->fields[4], &seconds) != 0 || seconds < 0 || seconds > INT64_MAX / 1000) {
        snprintf(detail, MODEL_ERROR_SIZE, "invalid timestamp '%.40s': expected Unix seconds", csv->fields[4]);
        return -1;
    }
    if (!csv->fields[1][0] || !csv->fields[2][0]) {
        snprintf(detail, MODEL_ERROR_SIZE, "missing %s id", csv->fields[1][0] ? "category" : "item");
        return -1;
    }
    *f = (struct train_input_fields){
        .user_id = csv->fields[0], .item_id = csv->fields[1], .category_id = csv->fields[2],
        .action = (enum tokenizer_action)action, .timestamp_ms = seconds * 1000, .label = -1,
    };
    return 0;
}

int train_input_read_taobao(struct train_input_log *log, const char *path, int strict,
                            struct train_input_stats *stats, char *error)
{
    struct train_csv csv;
    char detail[MODEL_ERROR_SIZE];
    struct train_input_fields fields;
    int result = 0, status;

    FILE *f = open_input(path, error);
    if (!f)
        return -1;
    train_csv_init(&csv, f, ',');
    while ((status = train_csv_read(&csv, detail, sizeof detail)) != 0) {
        stats->records++;
        if (status < 0 || taobao_fields(&csv, &fields, detail) != 0 || train_input_add(log, &fields, detail) != 0) {
            if (bad(stats, strict, path, csv.record_line, detail, error) != 0) {
                result = -1;
                break;
            }
            continue;
        }
        stats->events++;
    }
    train_csv_free(&csv);
    fclose(f);
    return result;
}

/* Column positions of a review CSV, -1 when absent. */
struct review_columns {
    int label, review, category, user, item, rating, timestamp;
    int n;
};

static int find_columns(struct train_csv *csv, struct review_columns *c, char *detail)
{
    *c = (struct review_columns){-1, -1, -1, -1, -1, -1, -1, csv->n_fields};
    for (int i = 0; i < csv->n_fields; i++) {
        const char *name = csv->fields[i];
        int *slot = strcmp(name, "label") == 0       ? &c->label
                    : strcmp(name, "review") == 0    ? &c->review
                    : strcmp(name, "cat") == 0       ? &c->category
                    : strcmp(name, "user_id") == 0   ? &c->user
                    : strcmp(name, "item_id") == 0   ? &c->item
                    : strcmp(name, "rating") == 0    ? &c->rating
                    : strcmp(name, "timestamp") == 0 ? &c->timestamp
                                                     : NULL;
        if (slot)
            *slot = i;
    }
    if (c->label < 0 || c->review < 0) {
        snprintf(detail, MODEL_ERROR_SIZE, "invalid header: expected columns 'label' and 'review' "
                 "(optional: cat, user_id, item_id, rating, timestamp)");
        return -1;
    }
    return 0;
}

static const char *column(struct train_csv *csv, int index)
{
    return index >= 0 ? csv->fields[index] : NULL;
}

/* Converts one review record; user_key receives a generated user id when
 * the file has none. Returns 0, or -1 with a detail. */
static int review_fields(struct train_csv *csv, const struct review_columns *c, struct train_input_fields *f,
                         char *user_key, char *detail)
{
    long long label, rating = 0, seconds = 0;

    if (csv->n_fields != c->n) {
        snprintf(detail, MODEL_ERROR_SIZE, "expected %d fields as in the header, found %d", c->n, csv->n_fields);
        return -1;
    }
    if (parse_int64(csv->fields[c->label], &label) != 0 || (label != 0 && label != 1)) {
        snprintf(detail, MODEL_ERROR_SIZE, "invalid label '%.40s': expected 0 or 1", csv->fields[c->label]);
        return -1;
    }
    if (!csv->fields[c->review][0]) {
        snprintf(detail, MODEL_ERROR_SIZE, "empty review text");
        return -1;
    }
    if (c->rating >= 0 && csv->fields[c->rating][0] &&
        (parse_int64(csv->fields[c->rating], &rating) != 0 || rating < 1 || rating > 5)) {
        snprintf(detail, MODEL_ERROR_SIZE, "invalid rating '%.40s': expected 1 to 5", csv->fields[c->rating]);
        return -1;
    }
    if (c->timestamp >= 0 && csv->fields[c->timestamp][0] &&
        (parse_int64(csv->fields[c->timestamp], &seconds) != 0 || seconds < 0 || seconds > INT64_MAX / 1000)) {
        snprintf(detail, MODEL_ERROR_SIZE, "invalid timestamp '%.40s': expected Unix seconds",
                 csv->fields[c->timestamp]);
        return -1;
    }

    const char *user = column(csv, c->user);
    if (!user || !user[0]) {
        snprintf(user_key, 64, "review-%ld", csv->record_line);
        user = user_key;
    }
    *f = (struct train_input_fields){
        .user_id = user, .item_id = column(csv, c->item), .category_id = column(csv, c->category),
        .action = TOKENIZER_ACTION_REVIEW, .timestamp_ms = seconds * 1000, .rating = (int)rating,
        .label = (int)label, .text = csv->fields[c->review], .text_len = csv->lengths[c->review],
    };
    return 0;
}

int train_input_read_reviews(struct train_input_log *log, const char *path, int strict,
                             struct train_input_stats *stats, char *error)
{
    struct train_csv csv;
    struct review_columns columns;
    struct train_input_fields fields;
    char detail[MODEL_ERROR_SIZE], user_key[64];
    int result = -1, status;

    FILE *f = open_input(path, error);
    if (!f)
        return -1;
    train_csv_init(&csv, f, ',');
    status = train_csv_read(&csv, detail, sizeof detail);
    if (status <= 0 || find_columns(&csv, &columns, detail) != 0) {
        snprintf(error, MODEL_ERROR_SIZE, "%.200s:1: %s", path, status == 0 ? "empty file: expected a header" : detail);
        goto done;
    }
    while ((status = train_csv_read(&csv, detail, sizeof detail)) != 0) {
        stats->records++;
        if (status < 0 || review_fields(&csv, &columns, &fields, user_key, detail) != 0 ||
            train_input_add(log, &fields, detail) != 0) {
            if (bad(stats, strict, path, csv.record_line, detail, error) != 0)
                goto done;
            continue;
        }
        stats->events++;
    }
    result = 0;
done:
    train_csv_free(&csv);
    fclose(f);
    return result;
}

int train_input_read_sequences(struct train_input_log *log, const char *path, int strict,
                               struct train_input_stats *stats, char *error)
{
    char line[1024], user[300], item[300], extra[2], detail[MODEL_ERROR_SIZE];
    long number = 0;
    int result = 0;

    FILE *f = open_input(path, error);
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f)) {
        number++;
        if (line[strspn(line, " \t\r\n")] == '\0')
            continue; /* blank line */
        stats->records++;
        struct train_input_fields fields = {.user_id = user, .item_id = item, .action = TOKENIZER_ACTION_VIEW,
                                            .label = -1};
        int ok = strchr(line, '\n') || feof(f);
        if (!ok)
            snprintf(detail, sizeof detail, "line longer than %zu bytes", sizeof line - 1);
        else if (sscanf(line, "%299s %299s %1s", user, item, extra) != 2) {
            snprintf(detail, sizeof detail, "expected 'user item', found '%.60s'", line);
            ok = 0;
        } else if (train_input_add(log, &fields, detail) != 0)
            ok = 0;
        if (!ok) {
            while (!strchr(line, '\n') && fgets(line, sizeof line, f)) {
            }
            if (bad(stats, strict, path, number, detail, error) != 0) {
                result = -1;
                break;
            }
            continue;
        }
        stats->events++;
    }
    fclose(f);
    return result;
}
