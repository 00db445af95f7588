#include "train_csv.h"

#include <stdlib.h>
#include <string.h>

void train_csv_init(struct train_csv *csv, FILE *file, char delimiter)
{
    memset(csv, 0, sizeof *csv);
    csv->file = file;
    csv->delimiter = delimiter;
    csv->line = 1;
}

void train_csv_free(struct train_csv *csv)
{
    free(csv->buffer);
    csv->buffer = NULL;
    csv->capacity = 0;
}

static int push_byte(struct train_csv *csv, size_t *used, int c)
{
    if (*used + 1 >= csv->capacity) {
        size_t capacity = csv->capacity ? csv->capacity * 2 : 4096;
        char *grown = realloc(csv->buffer, capacity);
        if (!grown)
            return -1;
        csv->buffer = grown;
        csv->capacity = capacity;
    }
    csv->buffer[(*used)++] = (char)c;
    return 0;
}

/* Closes the current field: NUL-terminates it and starts the next one. */
static int end_field(struct train_csv *csv, size_t *used)
{
    if (push_byte(csv, used, '\0') != 0)
        return -1;
    if (csv->n_fields >= TRAIN_CSV_MAX_FIELDS)
        return -2;
    int f = csv->n_fields;
    csv->lengths[f] = *used - 1 - csv->offsets[f];
    csv->n_fields++;
    if (csv->n_fields < TRAIN_CSV_MAX_FIELDS)
        csv->offsets[csv->n_fields] = *used;
    return 0;
}

static void skip_line(struct train_csv *csv)
{
    int c;
    while ((c = getc(csv->file)) != EOF && c != '\n') {
    }
    csv->line++;
}

/* Drops a UTF-8 byte-order mark (EF BB BF) at the start of each field. */
static void strip_boms(struct train_csv *csv)
{
    for (int f = 0; f < csv->n_fields; f++) {
        char *s = csv->buffer + csv->offsets[f];
        if (csv->lengths[f] >= 3 && (unsigned char)s[0] == 0xEF && (unsigned char)s[1] == 0xBB &&
            (unsigned char)s[2] == 0xBF) {
            csv->offsets[f] += 3;
            csv->lengths[f] -= 3;
        }
        csv->fields[f] = csv->buffer + csv->offsets[f];
    }
}

enum csv_state { FIELD_START, UNQUOTED, QUOTED, AFTER_QUOTE };

int train_csv_read(struct train_csv *csv, char *error, size_t error_size)
{
    size_t used = 0;
    enum csv_state state = FIELD_START;
    int c, status;

    csv->n_fields = 0;
    csv->offsets[0] = 0;
    csv->record_line = csv->line;
    c = getc(csv->file);
    if (c == EOF)
        return 0;

    for (;; c = getc(csv->file)) {
        if (c == EOF) {
            if (state == QUOTED) {
                snprintf(error, error_size, "unterminated quoted field (the quote opened in this record "
                         "is never closed)");
                return -1;
            }
            break;
        }
        if (state == QUOTED) {
            if (c == '"') {
                state = AFTER_QUOTE;
                continue;
            }
            if (c == '\n')
                csv->line++;
            if (push_byte(csv, &used, c) != 0)
                goto oom;
            continue;
        }
        if (c == '\r')
            continue; /* CRLF, or a stray CR: never part of an unquoted field */
        if (c == '\n') {
            csv->line++;
            break;
        }
        if (c == csv->delimiter) {
            if ((status = end_field(csv, &used)) != 0) {
                if (status == -2)
                    skip_line(csv);
                goto field_error;
            }
            state = FIELD_START;
            continue;
        }
        if (state == AFTER_QUOTE) {
            if (c == '"') {
                if (push_byte(csv, &used, '"') != 0)
                    goto oom;
                state = QUOTED;
                continue;
            }
            snprintf(error, error_size, "invalid character '%c' after a closing quote: expected a "
                     "delimiter or the end of the line", c);
            skip_line(csv);
            return -1;
        }
        if (state == FIELD_START && c == '"') {
            state = QUOTED;
            continue;
        }
        state = UNQUOTED;
        if (push_byte(csv, &used, c) != 0)
            goto oom;
    }

    if ((status = end_field(csv, &used)) != 0)
        goto field_error;
    strip_boms(csv);
    return 1;

field_error:
    if (status == -1)
        goto oom;
    snprintf(error, error_size, "more than %d fields", TRAIN_CSV_MAX_FIELDS);
    return -1;
oom:
    snprintf(error, error_size, "out of memory reading a record");
    return -1;
}
