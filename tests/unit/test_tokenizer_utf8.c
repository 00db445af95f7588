/*
 * Text normalisation and UTF-8 decoding. Every expected output below is
 * written by hand from the rules in model/utf8.h. The invalid UTF-8 cases
 * follow the maximal-subpart rule of the Unicode Standard, chapter 3.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "utf8.h"

#define FFFD "\xEF\xBF\xBD"

struct normalize_case {
    const char *name;
    const char *input;
    size_t input_len;
    const char *expected;
    size_t expected_len;
};

#define CASE(name, in, out) {name, in, sizeof(in) - 1, out, sizeof(out) - 1}

static const struct normalize_case cases[] = {
    CASE("ascii", "hello, world", "hello, world"),
    CASE("empty", "", ""),
    CASE("nul byte kept", "a\0b", "a\0b"),
    CASE("chinese", "\xE4\xB8\xAD\xE6\x96\x87", "\xE4\xB8\xAD\xE6\x96\x87"),
    /* Overlong forms. */
    CASE("overlong 2-byte slash", "\xC0\xAF", FFFD FFFD),
    CASE("overlong C1", "\xC1\xBF", FFFD FFFD),
    CASE("overlong 3-byte", "\xE0\x80\xAF", FFFD FFFD FFFD),
    CASE("overlong 4-byte", "\xF0\x80\x80\xAF", FFFD FFFD FFFD FFFD),
    /* Surrogates U+D800 and U+DFFF encoded directly. */
    CASE("surrogate high", "\xED\xA0\x80", FFFD FFFD FFFD),
    CASE("surrogate low", "\xED\xBF\xBF", FFFD FFFD FFFD),
    CASE("surrogate pair", "\xED\xA0\xBD\xED\xB8\x80", FFFD FFFD FFFD FFFD FFFD FFFD),
    /* Truncated sequences: the valid prefix is one maximal subpart. */
    CASE("truncated 3-byte then ascii", "\xE4\xB8" "a", FFFD "a"),
    CASE("truncated 4-byte at end", "\xF0\x9F\x98", FFFD),
    CASE("truncated 4-byte then chinese", "\xF0\x9F" "\xE4\xB8\xAD", FFFD "\xE4\xB8\xAD"),
    CASE("truncated 2-byte at end", "a\xC3", "a" FFFD),
    CASE("truncated bom", "\xEF\xBB", FFFD),
    /* Bytes that never occur in UTF-8. */
    CASE("bytes F5 FE FF", "\xF5\xFE\xFF", FFFD FFFD FFFD),
    CASE("old 5-byte form", "\xF8\x88\x80\x80\x80", FFFD FFFD FFFD FFFD FFFD),
    CASE("above U+10FFFF", "\xF4\x90\x80\x80", FFFD FFFD FFFD FFFD),
    CASE("max code point", "\xF4\x8F\xBF\xBF", "\xF4\x8F\xBF\xBF"),
    CASE("lone continuation bytes", "\x80\xBF" "x", FFFD FFFD "x"),
    CASE("replacement char kept", FFFD, FFFD),
    CASE("mixed invalid sequences", "\x61\xF1\x80\x80\xE1\x80\xC2\x62\x80\x63\x80\xBF\x64",
         "a" FFFD FFFD FFFD "b" FFFD "c" FFFD FFFD "d"),
    /* Emoji: ZWJ is dropped, other emoji parts stay. */
    CASE("emoji plain", "\xF0\x9F\x98\x80", "\xF0\x9F\x98\x80"),
    CASE("emoji zwj family",
         "\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91\xA7",
         "\xF0\x9F\x91\xA8\xF0\x9F\x91\xA9\xF0\x9F\x91\xA7"),
    CASE("emoji skin tone", "\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD", "\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD"),
    CASE("emoji variation selector", "\xE2\x9D\xA4\xEF\xB8\x8F", "\xE2\x9D\xA4\xEF\xB8\x8F"),
    CASE("flag", "\xF0\x9F\x87\xA8\xF0\x9F\x87\xB3", "\xF0\x9F\x87\xA8\xF0\x9F\x87\xB3"),
    /* Full-width ASCII and the ideographic space. */
    CASE("full-width letters digits", "\xEF\xBC\xA1\xEF\xBD\x82\xEF\xBC\x91\xEF\xBC\x81\xEF\xBD\x9E", "Ab1!~"),
    CASE("ideographic space", "a\xE3\x80\x80" "b", "a b"),
    CASE("chinese full-width comma", "\xE5\xA5\xBD\xEF\xBC\x8C\xE5\x93\x88\xE3\x80\x82",
         "\xE5\xA5\xBD,\xE5\x93\x88\xE3\x80\x82"),
    CASE("U+FF00 not folded", "\xEF\xBC\x80", "\xEF\xBC\x80"),
    CASE("U+FF5F not folded", "\xEF\xBD\x9F", "\xEF\xBD\x9F"),
    CASE("halfwidth full stop kept", "\xEF\xBD\xA1", "\xEF\xBD\xA1"),
    /* Byte-order mark and zero-width characters, anywhere. */
    CASE("leading bom", "\xEF\xBB\xBF" "hi", "hi"),
    CASE("bom in the middle", "a\xEF\xBB\xBF" "b", "ab"),
    CASE("two boms", "\xEF\xBB\xBF\xEF\xBB\xBF", ""),
    CASE("zero-width characters", "a\xE2\x80\x8B" "b\xE2\x80\x8C" "c\xE2\x80\x8D" "d\xE2\x81\xA0" "e", "abcde"),
    CASE("left-to-right mark kept", "a\xE2\x80\x8E", "a\xE2\x80\x8E"),
    CASE("invalid next to bom", "\xEF\xBB\xBF\xFF\xEF\xBB\xBF", FFFD),
};

static void normalize_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct normalize_case *c = &cases[i];
        uint8_t *out = malloc(UTF8_NORMALIZED_MAX(c->input_len) + 1);
        assert_non_null(out);

        size_t len = utf8_normalize((const uint8_t *)c->input, c->input_len, out);
        if (len != c->expected_len || memcmp(out, c->expected, len) != 0)
            print_message("case failed: %s\n", c->name);
        assert_int_equal(len, c->expected_len);
        assert_memory_equal(out, c->expected, len);
        free(out);
    }
}

static void normalize_output_valid(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct normalize_case *c = &cases[i];
        uint8_t *out = malloc(UTF8_NORMALIZED_MAX(c->input_len) + 1);
        uint8_t *again = malloc(UTF8_NORMALIZED_MAX(c->input_len) + 1);
        assert_non_null(out);
        assert_non_null(again);

        size_t len = utf8_normalize((const uint8_t *)c->input, c->input_len, out);
        assert_true(utf8_is_valid(out, len));

        size_t again_len = utf8_normalize(out, len, again);
        assert_int_equal(again_len, len);
        assert_memory_equal(again, out, len);
        free(out);
        free(again);
    }
}

static void decode_subpart_lengths(void **state)
{
    (void)state;
    uint32_t cp;
    int valid;

    assert_int_equal(utf8_decode((const uint8_t *)"\xE2\x82\xAC", 3, &cp, &valid), 3);
    assert_int_equal(valid, 1);
    assert_int_equal(cp, 0x20AC);

    assert_int_equal(utf8_decode((const uint8_t *)"\xF0\x9F\x98\x80", 4, &cp, &valid), 4);
    assert_int_equal(cp, 0x1F600);

    assert_int_equal(utf8_decode((const uint8_t *)"\xF0\x9F\x98" "a", 4, &cp, &valid), 3);
    assert_int_equal(valid, 0);
    assert_int_equal(cp, UTF8_REPLACEMENT);

    assert_int_equal(utf8_decode((const uint8_t *)"\xE0\x9F\x80", 3, &cp, &valid), 1);
    assert_int_equal(valid, 0);

    assert_int_equal(utf8_decode((const uint8_t *)"\xE4\xB8", 2, &cp, &valid), 2);
    assert_int_equal(valid, 0);
}

static void boundary_detection(void **state)
{
    (void)state;
    const uint8_t *text = (const uint8_t *)"a\xE4\xB8\xAD" "b";

    assert_true(utf8_is_boundary(text, 5, 0));
    assert_true(utf8_is_boundary(text, 5, 1));
    assert_false(utf8_is_boundary(text, 5, 2));
    assert_false(utf8_is_boundary(text, 5, 3));
    assert_true(utf8_is_boundary(text, 5, 4));
    assert_true(utf8_is_boundary(text, 5, 5));
}

static void validity_check(void **state)
{
    (void)state;
    assert_true(utf8_is_valid((const uint8_t *)"\xE4\xB8\xAD", 3));
    assert_false(utf8_is_valid((const uint8_t *)"\xED\xA0\x80", 3));
    assert_false(utf8_is_valid((const uint8_t *)"\xC0\x80", 2));
    assert_true(utf8_is_valid((const uint8_t *)"", 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(normalize_table),
        cmocka_unit_test(normalize_output_valid),
        cmocka_unit_test(decode_subpart_lengths),
        cmocka_unit_test(boundary_detection),
        cmocka_unit_test(validity_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
