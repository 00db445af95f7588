/*
 * JSON Lines input of `intentd train --events FILE`: one ClickEvent or
 * ReviewEvent per line, with the Avro field names (user_id, item_id,
 * category_id, action, query, timestamp in Unix milliseconds; reviews:
 * rating, text). A line with a "text" member is a review, any other a
 * click. Reviews may carry a "label" member (0 or 1); without it a rating
 * of 4 or 5 is positive, 1 or 2 negative, and 3 unlabelled.
 *
 * Avro object container files of ClickEvent or ReviewEvent records (any
 * writer schema with those field names) are read too; a file is Avro when it
 * starts with the container magic "Obj" 0x01. Their reviews get labels from
 * the rating as above.
 */
#include <avro.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_train_input.h"
#include "codec_json.h"

static enum tokenizer_action tokenizer_action_of(codec_action_t action)
{
    switch (action) {
    case CODEC_ACTION_CLICK:
        return TOKENIZER_ACTION_CLICK;
    case CODEC_ACTION_FAVOURITE:
        return TOKENIZER_ACTION_FAVOURITE;
    case CODEC_ACTION_ADD_TO_CART:
        return TOKENIZER_ACTION_ADD_TO_CART;
    case CODEC_ACTION_PURCHASE:
        return TOKENIZER_ACTION_PURCHASE;
    case CODEC_ACTION_SEARCH:
        return TOKENIZER_ACTION_SEARCH;
    default:
        return TOKENIZER_ACTION_VIEW;
    }
}

/* The optional "label" member: 0 or 1, -1 when absent, -2 when invalid. */
static int review_label(const char *line, size_t len, int rating)
{
    json_t *root = json_loadb(line, len, 0, NULL);
    json_t *label = root ? json_object_get(root, "label") : NULL;
    int result = rating >= 4 ? 1 : (rating >= 1 && rating <= 2 ? 0 : -1);

    if (label && !json_is_null(label)) {
        json_int_t value = json_is_integer(label) ? json_integer_value(label) : -2;
        result = value == 0 || value == 1 ? (int)value : -2;
    }
    json_decref(root);
    return result;
}

static int is_review(const char *line, size_t len)
{
    json_t *root = json_loadb(line, len, 0, NULL);
    int review = root && json_object_get(root, "text") != NULL;
    json_decref(root);
    return review;
}

/* Adds one line; returns 0, or -1 with a detail. */
static int add_line(struct train_input_log *log, const char *line, size_t len, char *detail)
{
    codec_json_mapping_t mapping;
    codec_error_t err;

    codec_json_mapping_default(&mapping);
    if (is_review(line, len)) {
        codec_review_event_t review = {0};
        if (codec_json_decode_review(&mapping, (const uint8_t *)line, len, &review, &err) != CODEC_OK) {
            snprintf(detail, MODEL_ERROR_SIZE, "invalid ReviewEvent: %s", err.message);
            return -1;
        }
        int label = review_label(line, len, review.has_rating ? review.rating : 0);
        struct train_input_fields f = {
            .user_id = review.user_id, .item_id = review.item_id, .category_id = review.category_id,
            .action = TOKENIZER_ACTION_REVIEW, .timestamp_ms = review.timestamp_ms,
            .rating = review.has_rating ? review.rating : 0, .label = label < 0 ? -1 : label,
            .text = review.text, .text_len = review.text ? strlen(review.text) : 0,
        };
        int result = label == -2 ? -1 : train_input_add(log, &f, detail);
        if (label == -2)
            snprintf(detail, MODEL_ERROR_SIZE, "invalid label: expected 0 or 1");
        codec_review_clear(&review);
        return result;
    }

    codec_click_event_t click = {0};
    if (codec_json_decode_click(&mapping, (const uint8_t *)line, len, &click, &err) != CODEC_OK) {
        snprintf(detail, MODEL_ERROR_SIZE, "invalid ClickEvent: %s", err.message);
        return -1;
    }
    struct train_input_fields f = {
        .user_id = click.user_id, .item_id = click.item_id, .category_id = click.category_id,
        .action = tokenizer_action_of(click.action), .timestamp_ms = click.timestamp_ms, .label = -1,
        .text = click.query, .text_len = click.query ? strlen(click.query) : 0,
    };
    int result = train_input_add(log, &f, detail);
    codec_click_clear(&click);
    return result;
}

int cmd_train_read_json_lines(struct train_input_log *log, const char *path, int strict,
                              struct train_input_stats *stats, char *error)
{
    char *line = NULL, detail[MODEL_ERROR_SIZE], message[MODEL_ERROR_SIZE];
    size_t capacity = 0;
    ssize_t len;
    long number = 0;
    int result = 0;

    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(error, MODEL_ERROR_SIZE, "cannot open %.300s: %m", path);
        return -1;
    }
    while ((len = getline(&line, &capacity, f)) >= 0) {
        number++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (line[strspn(line, " \t")] == '\0')
            continue;
        stats->records++;
        if (add_line(log, line, (size_t)len, detail) == 0) {
            stats->events++;
            continue;
        }
        snprintf(message, sizeof message, "%.200s:%ld: %s", path, number, detail);
        if (train_input_bad_record(stats, strict, message, error) != 0) {
            result = -1;
            break;
        }
    }
    free(line);
    fclose(f);
    return result;
}

/* The field's datum, with a ["null", T] union resolved to its branch;
 * NULL when the field is absent. Borrowed from the record. */
static avro_datum_t record_field(avro_datum_t record, const char *name)
{
    avro_datum_t field;

    if (avro_record_get(record, name, &field) != 0)
        return NULL;
    if (is_avro_union(field))
        field = avro_union_current_branch(field);
    return field;
}

/* A string field, NULL when absent or null. */
static const char *record_string(avro_datum_t record, const char *name)
{
    avro_datum_t field = record_field(record, name);
    char *text = NULL;

    if (!is_avro_string(field) || avro_string_get(field, &text) != 0)
        return NULL;
    return text;
}

/* A long or int field; returns 0 and *out, or -1 when absent or null. */
static int record_integer(avro_datum_t record, const char *name, int64_t *out)
{
    avro_datum_t field = record_field(record, name);
    int32_t small;

    if (is_avro_int64(field))
        return avro_int64_get(field, out);
    if (is_avro_int32(field) && avro_int32_get(field, &small) == 0) {
        *out = small;
        return 0;
    }
    return -1;
}

/* The action enum's symbol, or NULL. */
static const char *record_action(avro_datum_t record)
{
    avro_datum_t field = record_field(record, "action");
    return is_avro_enum(field) ? avro_enum_get_name(field) : NULL;
}

/* Adds one Avro record; returns 0, or -1 with a detail. */
static int add_avro_record(struct train_input_log *log, avro_datum_t record, char *detail)
{
    int64_t timestamp = 0, rating = 0;
    const char *text = record_string(record, "text");
    struct train_input_fields f = {
        .user_id = record_string(record, "user_id"), .item_id = record_string(record, "item_id"),
        .category_id = record_string(record, "category_id"), .label = -1,
    };

    if (record_integer(record, "timestamp", &timestamp) != 0) {
        snprintf(detail, MODEL_ERROR_SIZE, "missing timestamp");
        return -1;
    }
    f.timestamp_ms = timestamp;
    if (text) {
        if (record_integer(record, "rating", &rating) == 0 && (rating < 1 || rating > 5)) {
            snprintf(detail, MODEL_ERROR_SIZE, "invalid rating %lld: expected 1 to 5", (long long)rating);
            return -1;
        }
        f.action = TOKENIZER_ACTION_REVIEW;
        f.rating = (int)rating;
        f.label = rating >= 4 ? 1 : (rating >= 1 && rating <= 2 ? 0 : -1);
        f.text = text;
        f.text_len = strlen(text);
        return train_input_add(log, &f, detail);
    }
    const char *symbol = record_action(record);
    int action = symbol ? codec_action_from_symbol(symbol) : -1;
    if (action <= CODEC_ACTION_UNKNOWN) {
        snprintf(detail, MODEL_ERROR_SIZE, "invalid action %s: expected VIEW, CLICK, FAVOURITE, ADD_TO_CART, "
                 "PURCHASE or SEARCH", symbol ? symbol : "(missing)");
        return -1;
    }
    f.action = tokenizer_action_of((codec_action_t)action);
    f.text = record_string(record, "query");
    f.text_len = f.text ? strlen(f.text) : 0;
    return train_input_add(log, &f, detail);
}

/* Reads with the legacy datum interface: in avro-c 1.11.1 a generic value
 * class made from a file reader's writer schema leaks that schema (seen with
 * AddressSanitizer), and the datum reader does not. */
int cmd_train_read_avro(struct train_input_log *log, const char *path, int strict, struct train_input_stats *stats,
                        char *error)
{
    char detail[MODEL_ERROR_SIZE], message[MODEL_ERROR_SIZE];
    avro_file_reader_t reader;
    avro_datum_t record;
    int rc, result = 0;

    if (avro_file_reader(path, &reader) != 0) {
        snprintf(error, MODEL_ERROR_SIZE, "cannot open Avro file %.300s: %.150s", path, avro_strerror());
        return -1;
    }
    while ((rc = avro_file_reader_read(reader, NULL, &record)) == 0) {
        stats->records++;
        int added = add_avro_record(log, record, detail);
        avro_datum_decref(record);
        if (added == 0) {
            stats->events++;
            continue;
        }
        snprintf(message, sizeof message, "%.200s: record %ld: %s", path, stats->records, detail);
        if (train_input_bad_record(stats, strict, message, error) != 0) {
            result = -1;
            break;
        }
    }
    if (result == 0 && rc != EOF) {
        snprintf(error, MODEL_ERROR_SIZE, "reading %.300s failed after record %ld: %.150s", path, stats->records,
                 avro_strerror());
        result = -1;
    }
    avro_file_reader_close(reader);
    return result;
}

int cmd_train_read_events(struct train_input_log *log, const char *path, int strict,
                          struct train_input_stats *stats, char *error)
{
    unsigned char magic[4] = {0};
    FILE *f = fopen(path, "rb");

    if (!f) {
        snprintf(error, MODEL_ERROR_SIZE, "cannot open %.300s: %m", path);
        return -1;
    }
    size_t n = fread(magic, 1, sizeof magic, f);
    fclose(f);
    if (n == 4 && memcmp(magic, "Obj\x01", 4) == 0)
        return cmd_train_read_avro(log, path, strict, stats, error);
    return cmd_train_read_json_lines(log, path, strict, stats, error);
}
