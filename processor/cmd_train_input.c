/*
 * JSON Lines input of `intentd train --events FILE`: one ClickEvent or
 * ReviewEvent per line, with the Avro field names (user_id, item_id,
 * category_id, action, query, timestamp in Unix milliseconds; reviews:
 * rating, text). A line with a "text" member is a review, any other a
 * click. Reviews may carry a "label" member (0 or 1); without it a rating
 * of 4 or 5 is positive, 1 or 2 negative, and 3 unlabelled.
 */
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
