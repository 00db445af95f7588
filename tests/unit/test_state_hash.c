/* Unit tests of the stable user-id hash. Holdout groups depend on its exact
 * values, so these pin them. FNV-1a 64 expectations are the published FNV
 * test vectors; the finalised values come from a separate Python
 * transcription of FNV-1a 64 and MurmurHash3's fmix64. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "state_hash.h"

static void test_fnv1a64_vectors(void **state)
{
    (void)state;
    assert_true(state_hash_fnv1a64(STATE_HASH_FNV_OFFSET, "", 0) == UINT64_C(0xcbf29ce484222325));
    assert_true(state_hash_fnv1a64(STATE_HASH_FNV_OFFSET, "a", 1) == UINT64_C(0xaf63dc4c8601ec8c));
    assert_true(state_hash_fnv1a64(STATE_HASH_FNV_OFFSET, "foobar", 6) ==
                UINT64_C(0x85944171f73967e8));
}

static void test_fnv1a64_incremental(void **state)
{
    (void)state;
    uint64_t h = state_hash_fnv1a64(STATE_HASH_FNV_OFFSET, "foo", 3);

    assert_true(state_hash_fnv1a64(h, "bar", 3) == UINT64_C(0x85944171f73967e8));
}

static void test_bytes_finalised(void **state)
{
    (void)state;
    assert_true(state_hash_mix64(0) == 0);
    assert_true(state_hash_bytes("", 0) == UINT64_C(0xefd01f60ba992926));
    assert_true(state_hash_bytes("a", 1) == UINT64_C(0x82a2a958a9bece5b));
    assert_true(state_hash_bytes("foobar", 6) == UINT64_C(0x2c22194922d1672b));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fnv1a64_vectors),
        cmocka_unit_test(test_fnv1a64_incremental),
        cmocka_unit_test(test_bytes_finalised),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
