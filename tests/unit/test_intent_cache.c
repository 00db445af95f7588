/* The per-user key/value cache table: lookup, replacement, least recently
 * used eviction within the byte budget, and clearing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "intent_cache.h"

#define BLOCK_BYTES 1000

/* A cache object with a block of BLOCK_BYTES, enough for the table's accounting. */
static struct model_kv_cache *fake_cache(int length)
{
    struct model_kv_cache *kv = calloc(1, sizeof *kv);
    assert_non_null(kv);
    kv->block = malloc(BLOCK_BYTES);
    assert_non_null(kv->block);
    kv->block_bytes = BLOCK_BYTES;
    kv->length = length;
    return kv;
}

static void put(struct intent_cache *t, const char *id, struct model_kv_cache *kv)
{
    assert_int_equal(intent_cache_put(t, id, strlen(id), kv), 0);
}

static struct model_kv_cache *get(struct intent_cache *t, const char *id)
{
    return intent_cache_get(t, id, strlen(id));
}

static void lookup_and_replace(void **state)
{
    (void)state;
    struct intent_cache *t = intent_cache_create(1 << 20);
    struct model_kv_cache *a = fake_cache(1), *b = fake_cache(2);

    put(t, "user-a", a);
    assert_ptr_equal(get(t, "user-a"), a);
    assert_null(get(t, "user-b"));
    assert_null(get(t, "user-"));

    put(t, "user-a", b); /* replaces and frees a */
    assert_ptr_equal(get(t, "user-a"), b);
    assert_int_equal(intent_cache_count(t), 1);
    intent_cache_free(t);
}

static void evicts_least_recently_used(void **state)
{
    (void)state;
    /* Room for three entries of BLOCK_BYTES plus their bookkeeping, not four. */
    struct intent_cache *t = intent_cache_create(3 * (BLOCK_BYTES + 200) + 100);

    put(t, "a", fake_cache(1));
    put(t, "b", fake_cache(1));
    put(t, "c", fake_cache(1));
    assert_int_equal(intent_cache_count(t), 3);
    assert_non_null(get(t, "a")); /* a is now the most recent, b the oldest */

    put(t, "d", fake_cache(1));
    assert_int_equal(intent_cache_count(t), 3);
    assert_null(get(t, "b"));
    assert_non_null(get(t, "a"));
    assert_non_null(get(t, "c"));
    assert_non_null(get(t, "d"));
    assert_true(intent_cache_bytes(t) <= 3 * (BLOCK_BYTES + 200) + 100);
    intent_cache_free(t);
}

static void entry_over_budget_is_dropped(void **state)
{
    (void)state;
    struct intent_cache *t = intent_cache_create(BLOCK_BYTES / 2);

    put(t, "big", fake_cache(1));
    assert_int_equal(intent_cache_count(t), 0);
    assert_int_equal(intent_cache_bytes(t), 0);
    assert_null(get(t, "big"));
    intent_cache_free(t);
}

static void many_users_and_clear(void **state)
{
    (void)state;
    struct intent_cache *t = intent_cache_create((size_t)1 << 30);
    char id[32];

    for (int i = 0; i < 5000; i++) {
        snprintf(id, sizeof id, "user-%d", i);
        put(t, id, fake_cache(i % 7 + 1));
    }
    assert_int_equal(intent_cache_count(t), 5000);
    for (int i = 0; i < 5000; i += 499) {
        snprintf(id, sizeof id, "user-%d", i);
        struct model_kv_cache *kv = get(t, id);
        assert_non_null(kv);
        assert_int_equal(kv->length, i % 7 + 1);
    }

    intent_cache_clear(t);
    assert_int_equal(intent_cache_count(t), 0);
    assert_int_equal(intent_cache_bytes(t), 0);
    assert_null(get(t, "user-0"));
    intent_cache_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lookup_and_replace),
        cmocka_unit_test(evicts_least_recently_used),
        cmocka_unit_test(entry_over_budget_is_dropped),
        cmocka_unit_test(many_users_and_clear),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
