/*
 * Three users' item sequences for the tests of training-split statistics.
 * The last two items of each user are held out, so the training parts are
 * [1 2 2 3], [2 3 4 4 4 4] and [3 4]. Item 5 occurs only in a held-out
 * place, and item 6 occurs nowhere.
 *
 * Included by one test file each (static functions), like harness.h; the
 * file includes cmocka before it.
 */
#ifndef INTENTD_TEST_SPLIT_FIXTURE_H
#define INTENTD_TEST_SPLIT_FIXTURE_H

#include <stdlib.h>
#include <string.h>

#include "train_data.h"

enum { SPLIT_FIXTURE_ITEMS = 6 };

static void make_split_fixture(struct train_sequences *s)
{
    static const int items[] = {1, 2, 2, 3, 5, 1, 2, 3, 4, 4, 4, 4, 5, 5, 3, 4, 2, 1};
    static const long offsets[] = {0, 6, 14, 18};

    memset(s, 0, sizeof *s);
    s->n_users = 3;
    s->n_items = SPLIT_FIXTURE_ITEMS;
    s->n_interactions = 18;
    s->items = malloc(sizeof items);
    s->offsets = malloc(sizeof offsets);
    assert_non_null(s->items);
    assert_non_null(s->offsets);
    memcpy(s->items, items, sizeof items);
    memcpy(s->offsets, offsets, sizeof offsets);
}

#endif
