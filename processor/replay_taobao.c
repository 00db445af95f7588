/*
 * Taobao UserBehavior CSV (user_id,item_id,category_id,behavior,timestamp).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replay_input.h"
#include "train_csv.h"

/* Returns 1 if s is a non-empty string of ASCII digits. */
static int is_decimal_id(const char *s)
{
    if (!s[0])
        return 0;
    return s[strspn(s, "0123456789")] == '\0';
}

static int taobao_action(const char *behavior)
{
    static const struct {
        const char *name;
        codec_action_t action;
    } table[] = {
        {"pv", CODEC_ACTION_VIEW},
        {"fav", CODEC_ACTION_FAVOURITE},
        {"cart", CODEC_ACTION_ADD_TO_CART},
        {"buy", CODEC_ACTION_PURCHASE},
    };

    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strcmp(behavior, table[i].name) == 0)
            return (int)table[i].action;
    return -1;
}

int replay_taobao_parse(char *const *fields, int n_fields, codec_click_event_t *click, char *reason)
{
    static const char *const names[] = {"user_id", "item_id", "category_id"};
    char *end;

    memset(click, 0, sizeof *click);
    if (n_fields != 5) {
        snprintf(reason, REPLAY_ERROR_SIZE, "expected 5 fields (user_id,item_id,category_id,behavior,timestamp), "
                 "found %d", n_fields);
        return -1;
    }
    for (int i = 0; i < 3; i++) {
        if (!is_decimal_id(fields[i])) {
            snprintf(reason, REPLAY_ERROR_SIZE, "invalid %s '%.60s': expected a decimal integer", names[i], fields[i]);
            return -1;
        }
    }
    int action = taobao_action(fields[3]);
    if (action < 0) {
        snprintf(reason, REPLAY_ERROR_SIZE, "invalid behavior '%.60s': expected pv, fav, cart or buy", fields[3]);
        return -1;
    }
    errno = 0;
    long long seconds = strtoll(fields[4], &end, 10);
    if (!fields[4][0] || *end || errno || seconds < 0 || seconds > 100000000000LL) {
        snprintf(reason, REPLAY_ERROR_SIZE, "invalid timestamp '%.60s': expected Unix seconds", fields[4]);
        return -1;
    }

    click->user_id = strdup(fields[0]);
    click->item_id = strdup(fields[1]);
    click->category_id = strdup(fields[2]);
    click->action = (codec_action_t)action;
    click->timestamp_ms = seconds * 1000;
    click->consent = CODEC_CONSENT_UNKNOWN;
    if (!click->user_id || !click->item_id || !click->category_id) {
        codec_click_clear(click);
        snprintf(reason, REPLAY_ERROR_SIZE, "out of memory");
        return -1;
    }
    return 0;
}

int replay_read_taobao(struct replay_load *load, const char *path, char *error)
{
    struct train_csv csv;
    char reason[REPLAY_ERROR_SIZE];
    int status, result = 0;

    FILE *file = fopen(path, "rb");
    if (!file) {
        snprintf(error, REPLAY_ERROR_SIZE, "cannot open Taobao file %.300s: %s", path, strerror(errno));
        return -1;
    }
    train_csv_init(&csv, file, ',');
    while ((status = train_csv_read(&csv, reason, sizeof reason)) != 0) {
        struct replay_event e = {.kind = REPLAY_CLICK};

        if (status > 0 && csv.n_fields == 1 && csv.fields[0][0] == '\0')
            continue; /* blank line */
        if (status < 0 || replay_taobao_parse(csv.fields, csv.n_fields, &e.u.click, reason) != 0) {
            if (replay_bad_line(load->bad, path, csv.record_line, reason, error) != 0) {
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
    train_csv_free(&csv);
    fclose(file);
    return result;
}
