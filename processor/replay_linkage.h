/*
 * Synthetic review linkage: review files such as the Chinese shopping
 * reviews carry no user or item ids, so each review is given a user, an
 * item, a category and a time taken from a companion clickstream file
 * (Taobao UserBehavior CSV). The link is made up: the review was not
 * written by that user about that item. It only gives the processor
 * reviews that fall into real users' event streams.
 *
 * The choice is a pure function of the review index i and the companion
 * file's contents, so a replay is reproducible:
 *
 *   users      sorted by user id (byte order), each with its interactions in
 *              file order, first and last event time
 *   i          the review's 0-based position among the data records of the
 *              review file (blank lines not counted)
 *   user       users[mix(i, 1) % n_users]
 *   item       that user's interaction mix(i, 2) % n_interactions, with its
 *              category
 *   time       first + (mix(i, 3) % (last - first + 1 s)), whole seconds
 *
 * where mix(i, s) is the SplitMix64 finaliser of i * 4 + s.
 */
#ifndef INTENTD_REPLAY_LINKAGE_H
#define INTENTD_REPLAY_LINKAGE_H

#include <stddef.h>
#include <stdint.h>

#include "replay_input.h"

struct replay_linkage_interaction {
    char *user_id;
    char *item_id;
    char *category_id;
    int64_t timestamp_ms;
    uint64_t sequence; /* line order in the file */
};

struct replay_linkage_user {
    const char *user_id;  /* points into interactions */
    size_t first;         /* index of the user's first interaction */
    size_t count;
    int64_t min_ms, max_ms;
};

struct replay_linkage {
    struct replay_linkage_interaction *interactions; /* grouped by user */
    size_t n_interactions;
    struct replay_linkage_user *users;               /* sorted by user id */
    size_t n_users;
};

/* The synthetic owner of review review_index. Pointers are owned by linkage. */
struct replay_linkage_pick {
    const char *user_id;
    const char *item_id;
    const char *category_id;
    int64_t timestamp_ms;
};

/* Loads the Taobao CSV at path. Bad lines go to bad as in replay_input.h.
 * Returns 0, or -1 with a message in error (also when the file has no
 * valid line). Release with replay_linkage_free(). */
int replay_linkage_load(struct replay_linkage *linkage, const char *path, struct replay_bad_lines *bad,
                        char *error);

/* Picks the user, item, category and time for review review_index. */
void replay_linkage_pick(const struct replay_linkage *linkage, uint64_t review_index,
                         struct replay_linkage_pick *pick);

/* The SplitMix64 finaliser of i * 4 + salt (salt 1..3). */
uint64_t replay_linkage_mix(uint64_t i, unsigned salt);

void replay_linkage_free(struct replay_linkage *linkage);

#endif
