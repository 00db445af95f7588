#include "replay_linkage.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train_csv.h"

uint64_t replay_linkage_mix(uint64_t i, unsigned salt)
{
    uint64_t z = i * 4 + salt + 0x9E3779B97F4A7C15ULL;

    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static int push_interaction(struct replay_linkage *linkage, size_t *capacity, codec_click_event_t *click)
{
    if (linkage->n_interactions == *capacity) {
        size_t grown_capacity = *capacity ? *capacity * 2 : 4096;
        struct replay_linkage_interaction *grown =
            realloc(linkage->interactions, grown_capacity * sizeof *grown);
        if (!grown)
            return -1;
        linkage->interactions = grown;
        *capacity = grown_capacity;
    }
    struct replay_linkage_interaction *slot = &linkage->interactions[linkage->n_interactions];
    *slot = (struct replay_linkage_interaction){
        .user_id = click->user_id, .item_id = click->item_id, .category_id = click->category_id,
        .timestamp_ms = click->timestamp_ms, .sequence = linkage->n_interactions,
    };
    click->user_id = click->item_id = click->category_id = NULL;
    linkage->n_interactions++;
    return 0;
}

static int compare_interactions(const void *a, const void *b)
{
    const struct replay_linkage_interaction *x = a, *y = b;
    int order = strcmp(x->user_id, y->user_id);

    if (order)
        return order;
    return x->sequence < y->sequence ? -1 : x->sequence > y->sequence;
}

/* Sorts the interactions by user and builds the user table. */
static int group_users(struct replay_linkage *linkage)
{
    qsort(linkage->interactions, linkage->n_interactions, sizeof *linkage->interactions, compare_interactions);
    linkage->users = calloc(linkage->n_interactions, sizeof *linkage->users);
    if (!linkage->users)
        return -1;
    for (size_t i = 0; i < linkage->n_interactions; i++) {
        const struct replay_linkage_interaction *it = &linkage->interactions[i];
        struct replay_linkage_user *user = linkage->n_users ? &linkage->users[linkage->n_users - 1] : NULL;

        if (!user || strcmp(user->user_id, it->user_id) != 0) {
            user = &linkage->users[linkage->n_users++];
            *user = (struct replay_linkage_user){it->user_id, i, 0, it->timestamp_ms, it->timestamp_ms};
        }
        user->count++;
        if (it->timestamp_ms < user->min_ms)
            user->min_ms = it->timestamp_ms;
        if (it->timestamp_ms > user->max_ms)
            user->max_ms = it->timestamp_ms;
    }
    return 0;
}

/* Reads every valid record of the file into linkage->interactions. */
static int read_interactions(struct replay_linkage *linkage, FILE *file, const char *path,
                             struct replay_bad_lines *bad, char *error)
{
    struct train_csv csv;
    char reason[REPLAY_ERROR_SIZE];
    size_t capacity = 0;
    int status, result = 0;

    train_csv_init(&csv, file, ',');
    while ((status = train_csv_read(&csv, reason, sizeof reason)) != 0) {
        codec_click_event_t click;

        if (status > 0 && csv.n_fields == 1 && csv.fields[0][0] == '\0')
            continue; /* blank line */
        if (status < 0 || replay_taobao_parse(csv.fields, csv.n_fields, &click, reason) != 0) {
            if (replay_bad_line(bad, path, csv.record_line, reason, error) != 0) {
                result = -1;
                break;
            }
            continue;
        }
        int pushed = push_interaction(linkage, &capacity, &click);
        codec_click_clear(&click);
        if (pushed != 0) {
            snprintf(error, REPLAY_ERROR_SIZE, "out of memory reading review users from %.300s", path);
            result = -1;
            break;
        }
    }
    train_csv_free(&csv);
    return result;
}

int replay_linkage_load(struct replay_linkage *linkage, const char *path, struct replay_bad_lines *bad,
                        char *error)
{
    memset(linkage, 0, sizeof *linkage);
    FILE *file = fopen(path, "rb");
    if (!file) {
        snprintf(error, REPLAY_ERROR_SIZE, "cannot open review users file %.300s: %s", path, strerror(errno));
        return -1;
    }
    int result = read_interactions(linkage, file, path, bad, error);
    fclose(file);

    if (result == 0 && linkage->n_interactions == 0) {
        snprintf(error, REPLAY_ERROR_SIZE, "review users file %.300s has no valid Taobao line; "
                 "give a UserBehavior CSV with --reviews-users-from", path);
        result = -1;
    }
    if (result == 0 && group_users(linkage) != 0) {
        snprintf(error, REPLAY_ERROR_SIZE, "out of memory grouping the users of %.300s", path);
        result = -1;
    }
    if (result != 0)
        replay_linkage_free(linkage);
    return result;
}

void replay_linkage_pick(const struct replay_linkage *linkage, uint64_t review_index,
                         struct replay_linkage_pick *pick)
{
    const struct replay_linkage_user *user = &linkage->users[replay_linkage_mix(review_index, 1) % linkage->n_users];
    const struct replay_linkage_interaction *it =
        &linkage->interactions[user->first + replay_linkage_mix(review_index, 2) % user->count];
    uint64_t span_s = (uint64_t)(user->max_ms - user->min_ms) / 1000 + 1;

    pick->user_id = it->user_id;
    pick->item_id = it->item_id;
    pick->category_id = it->category_id;
    pick->timestamp_ms = user->min_ms + (int64_t)(replay_linkage_mix(review_index, 3) % span_s) * 1000;
}

void replay_linkage_free(struct replay_linkage *linkage)
{
    for (size_t i = 0; i < linkage->n_interactions; i++) {
        free(linkage->interactions[i].user_id);
        free(linkage->interactions[i].item_id);
        free(linkage->interactions[i].category_id);
    }
    free(linkage->interactions);
    free(linkage->users);
    memset(linkage, 0, sizeof *linkage);
}
