/*
 * SASRec interaction sequences ("user item" per line) with synthetic times.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replay_input.h"

/* Largest user id accepted; the per-user counters are an array indexed by
 * id, so this bounds their memory (4 bytes per id). */
#define SEQUENCE_MAX_USER_ID 100000000L

struct sequence_counts {
    uint32_t *next; /* next[user]: lines of that user seen so far */
    size_t size;
};

/* Parses a positive decimal id; returns it, or -1. */
static long parse_id(const char *s)
{
    char *end;

    if (s[0] < '0' || s[0] > '9')
        return -1;
    errno = 0;
    long value = strtol(s, &end, 10);
    return *end || errno || value < 1 ? -1 : value;
}

/* Returns the index of the next event of user and counts it, or -1 when
 * out of memory. */
static long long next_index(struct sequence_counts *counts, long user)
{
    if ((size_t)user >= counts->size) {
        size_t size = counts->size ? counts->size : 1024;
        while (size <= (size_t)user)
            size *= 2;
        uint32_t *grown = realloc(counts->next, size * sizeof *grown);
        if (!grown)
            return -1;
        memset(grown + counts->size, 0, (size - counts->size) * sizeof *grown);
        counts->next = grown;
        counts->size = size;
    }
    return counts->next[user]++;
}

/* Splits a line into exactly two whitespace-separated tokens. */
static int split_pair(char *line, char **user, char **item)
{
    const char *space = " \t\r\n";

    *user = strtok(line, space);
    *item = *user ? strtok(NULL, space) : NULL;
    return *user && *item && !strtok(NULL, space) ? 0 : -1;
}

/* Turns one line into an event; returns 0, 1 for a bad line (reason set),
 * or -1 when out of memory. */
static int parse_line(char *line, struct sequence_counts *counts, struct replay_event *e, char *reason)
{
    char *user_text, *item_text;

    if (split_pair(line, &user_text, &item_text) != 0) {
        snprintf(reason, REPLAY_ERROR_SIZE, "expected two ids 'user item'");
        return 1;
    }
    long user = parse_id(user_text), item = parse_id(item_text);
    if (user < 0 || user > SEQUENCE_MAX_USER_ID) {
        snprintf(reason, REPLAY_ERROR_SIZE, "invalid user id '%.40s': expected an integer from 1 to %ld", user_text,
                 SEQUENCE_MAX_USER_ID);
        return 1;
    }
    if (item < 0) {
        snprintf(reason, REPLAY_ERROR_SIZE, "invalid item id '%.40s': expected a positive integer", item_text);
        return 1;
    }
    long long k = next_index(counts, user);
    if (k < 0)
        return -1;

    e->kind = REPLAY_CLICK;
    e->u.click.user_id = strdup(user_text);
    e->u.click.item_id = strdup(item_text);
    e->u.click.action = CODEC_ACTION_VIEW;
    e->u.click.consent = CODEC_CONSENT_UNKNOWN;
    e->u.click.timestamp_ms = (REPLAY_SYNTHETIC_START_S + k * REPLAY_SYNTHETIC_STEP_S) * 1000;
    if (!e->u.click.user_id || !e->u.click.item_id) {
        replay_event_clear(e);
        return -1;
    }
    return 0;
}

int replay_read_sequences(struct replay_load *load, const char *path, char *error)
{
    struct sequence_counts counts = {0};
    char *line = NULL, reason[REPLAY_ERROR_SIZE];
    size_t capacity = 0;
    long number = 0;
    int result = 0;

    FILE *file = fopen(path, "rb");
    if (!file) {
        snprintf(error, REPLAY_ERROR_SIZE, "cannot open sequences file %.300s: %s", path, strerror(errno));
        return -1;
    }
    while (getline(&line, &capacity, file) >= 0) {
        struct replay_event e = {0};

        number++;
        if (line[strspn(line, " \t\r\n")] == '\0')
            continue; /* blank line */
        int status = parse_line(line, &counts, &e, reason);
        if (status < 0 || (status == 0 && replay_load_add(load, &e, error) != 0)) {
            if (status < 0)
                snprintf(error, REPLAY_ERROR_SIZE, "out of memory reading %.300s at line %ld", path, number);
            result = -1;
            break;
        }
        if (status > 0 && replay_bad_line(load->bad, path, number, reason, error) != 0) {
            result = -1;
            break;
        }
    }
    free(line);
    free(counts.next);
    fclose(file);
    return result;
}
