/*
 * A CSV record reader (RFC 4180): fields separated by a delimiter, records
 * by LF or CRLF; a field in double quotes may hold delimiters, line breaks
 * and "" for one quote. A UTF-8 byte-order mark at the start of a field is
 * dropped: it marks an encoding, never text.
 */
#ifndef INTENTD_TRAIN_CSV_H
#define INTENTD_TRAIN_CSV_H

#include <stddef.h>
#include <stdio.h>

#define TRAIN_CSV_MAX_FIELDS 32

struct train_csv {
    FILE *file;               /* borrowed */
    char delimiter;
    long line;                /* line number of the next record's first line, 1-based */
    long record_line;         /* first line of the record last read */
    char *buffer;             /* field bytes of the last record, owned */
    size_t capacity;
    size_t offsets[TRAIN_CSV_MAX_FIELDS];
    size_t lengths[TRAIN_CSV_MAX_FIELDS];
    int n_fields;
    char *fields[TRAIN_CSV_MAX_FIELDS]; /* NUL-terminated, into buffer, valid until the next read */
};

void train_csv_init(struct train_csv *csv, FILE *file, char delimiter);
void train_csv_free(struct train_csv *csv);

/* Reads the next record into csv->fields. Returns 1 for a record, 0 at end
 * of file, or -1 for a bad record with a message in error[error_size]
 * (unterminated quote, a character after a closing quote, more than
 * TRAIN_CSV_MAX_FIELDS fields, out of memory); after a bad record the reader
 * has skipped to the end of that line and can continue. */
int train_csv_read(struct train_csv *csv, char *error, size_t error_size);

#endif
