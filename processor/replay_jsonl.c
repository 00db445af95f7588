/*
 * JSON Lines of ClickEvent and ReviewEvent objects; the "type" member names the record.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "codec_json.h"
#include "replay_input.h"

/* Reads the "type" member; returns REPLAY_CLICK, REPLAY_REVIEW, or -1 with
 * a reason. */
static int line_kind(const char *line, size_t len, char *reason)
{
    json_error_t json_error;
    json_t *root = json_loadb(line, len, 0, &json_error);

    if (!root) {
        snprintf(reason, REPLAY_ERROR_SIZE, "invalid JSON at column %d: %s", json_error.column, json_error.text);
        return -1;
    }
    const char *type = json_string_value(json_object_get(root, "type"));
    int kind = -1;
    if (type && strcmp(type, "click") == 0)
        kind = REPLAY_CLICK;
    else if (type && strcmp(type, "review") == 0)
        kind = REPLAY_REVIEW;
    else
        snprintf(reason, REPLAY_ERROR_SIZE, "missing or invalid \"type\": expected \"click\" or \"review\"");
    json_decref(root);
    return kind;
}

/* Decodes one line into e; returns 0, or -1 with a reason. */
static int parse_line(const char *line, size_t len, struct replay_event *e, char *reason)
{
    codec_json_mapping_t mapping;
    codec_error_t err;
    int kind = line_kind(line, len, reason);

    if (kind < 0)
        return -1;
    codec_json_mapping_default(&mapping);
    e->kind = (enum replay_kind)kind;
    int status = kind == REPLAY_CLICK
                     ? codec_json_decode_click(&mapping, (const uint8_t *)line, len, &e->u.click, &err)
                     : codec_json_decode_review(&mapping, (const uint8_t *)line, len, &e->u.review, &err);
    if (status != CODEC_OK) {
        snprintf(reason, REPLAY_ERROR_SIZE, "invalid %s: %s", kind == REPLAY_CLICK ? "ClickEvent" : "ReviewEvent",
                 err.message);
        return -1;
    }
    return 0;
}

int replay_read_jsonl(struct replay_load *load, const char *path, char *error)
{
    char *line = NULL, reason[REPLAY_ERROR_SIZE];
    size_t capacity = 0;
    ssize_t len;
    long number = 0;
    int result = 0;

    FILE *file = fopen(path, "rb");
    if (!file) {
        snprintf(error, REPLAY_ERROR_SIZE, "cannot open JSON Lines file %.300s: %s", path, strerror(errno));
        return -1;
    }
    while ((len = getline(&line, &capacity, file)) >= 0) {
        struct replay_event e = {0};

        number++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (line[strspn(line, " \t")] == '\0')
            continue; /* blank line */
        if (parse_line(line, (size_t)len, &e, reason) != 0) {
            if (replay_bad_line(load->bad, path, number, reason, error) != 0) {
                result = -1;
                break;
            }
            continue;
        }
        if (replay_load_add(load, &e, error) != 0) {
            result = -1;
            break;
        }
    }
    free(line);
    fclose(file);
    return result;
}
