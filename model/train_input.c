#include "train_input.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void train_input_init(struct train_input_log *log)
{
    memset(log, 0, sizeof *log);
    tokenizer_idmap_init(&log->users);
    tokenizer_idmap_init(&log->items);
    tokenizer_idmap_init(&log->categories);
    log->holdout_every = 10;
}

void train_input_free(struct train_input_log *log)
{
    for (size_t i = 0; i < log->n_events; i++)
        free(log->events[i].text);
    free(log->events);
    tokenizer_idmap_clear(&log->users);
    tokenizer_idmap_clear(&log->items);
    tokenizer_idmap_clear(&log->categories);
    memset(log, 0, sizeof *log);
}

/* Interns an optional id; *index is -1 for NULL or "". */
static int intern(struct tokenizer_idmap *map, const char *id, const char *what, int32_t *index, char *error)
{
    *index = -1;
    if (!id || !id[0])
        return 0;
    if (tokenizer_id_check(id, what, error) != 0)
        return -1;
    if (tokenizer_idmap_add(map, id, 1, index) != 0) {
        snprintf(error, MODEL_ERROR_SIZE, "out of memory adding %s '%.64s'", what, id);
        return -1;
    }
    return 0;
}

static int grow_events(struct train_input_log *log, char *error)
{
    if (log->n_events < log->capacity)
        return 0;
    size_t capacity = log->capacity ? log->capacity * 2 : 4096;
    struct train_input_event *grown = realloc(log->events, capacity * sizeof *grown);
    if (!grown) {
        snprintf(error, MODEL_ERROR_SIZE, "out of memory storing %zu events", log->n_events);
        return -1;
    }
    log->events = grown;
    log->capacity = capacity;
    return 0;
}

static int check_fields(const struct train_input_fields *f, char *error)
{
    if (!f->user_id || !f->user_id[0]) {
        snprintf(error, MODEL_ERROR_SIZE, "missing user id");
        return -1;
    }
    if ((int)f->action < 0 || f->action >= TOKENIZER_N_ACTIONS) {
        snprintf(error, MODEL_ERROR_SIZE, "invalid action %d: expected 0 to %d", (int)f->action,
                 TOKENIZER_N_ACTIONS - 1);
        return -1;
    }
    if (f->rating < 0 || f->rating > TOKENIZER_N_RATINGS) {
        snprintf(error, MODEL_ERROR_SIZE, "invalid rating %d: expected 1 to 5, or none", f->rating);
        return -1;
    }
    if (f->label < -1 || f->label > 1) {
        snprintf(error, MODEL_ERROR_SIZE, "invalid sentiment label %d: expected 0 or 1", f->label);
        return -1;
    }
    if (f->text_len > UINT32_MAX / 2) {
        snprintf(error, MODEL_ERROR_SIZE, "text of %zu bytes is too long", f->text_len);
        return -1;
    }
    return 0;
}

int train_input_add(struct train_input_log *log, const struct train_input_fields *f, char *error)
{
    struct train_input_event e = {0};

    if (check_fields(f, error) != 0 || grow_events(log, error) != 0)
        return -1;
    if (intern(&log->users, f->user_id, "user id", &e.user, error) != 0 ||
        intern(&log->items, f->item_id, "item id", &e.item, error) != 0 ||
        intern(&log->categories, f->category_id, "category id", &e.category, error) != 0)
        return -1;

    e.timestamp_ms = f->timestamp_ms;
    e.order = log->next_order++;
    e.action = (int8_t)f->action;
    e.rating = (int8_t)f->rating;
    e.label = (int8_t)f->label;
    if (e.label >= 0) {
        log->next_review++;
        e.holdout = log->holdout_every > 0 && log->next_review % log->holdout_every == 0;
    }
    if (f->text && f->text_len > 0) {
        e.text = malloc(f->text_len + 1);
        if (!e.text) {
            snprintf(error, MODEL_ERROR_SIZE, "out of memory storing a text of %zu bytes", f->text_len);
            return -1;
        }
        memcpy(e.text, f->text, f->text_len);
        e.text[f->text_len] = '\0';
        e.text_len = (uint32_t)f->text_len;
    }
    log->events[log->n_events++] = e;
    return 0;
}

int train_input_bad_record(struct train_input_stats *stats, int strict, const char *message, char *error)
{
    stats->bad++;
    if (stats->kept < TRAIN_INPUT_KEPT_ERRORS)
        snprintf(stats->errors[stats->kept++], MODEL_ERROR_SIZE, "%s", message);
    if (strict) {
        snprintf(error, MODEL_ERROR_SIZE, "%s (strict mode stops at the first bad record)", message);
        return -1;
    }
    return 0;
}
