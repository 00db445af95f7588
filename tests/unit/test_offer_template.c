/* Unit tests of offer message templates: Chinese text with every placeholder,
 * load-time errors, bounded output and UTF-8 checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "offer_template.h"

static const char *const chinese_items[] = {"蓝牙耳机", "机械键盘", "鼠标垫"};

static struct offer_template_values chinese_values(void)
{
    return (struct offer_template_values){
        .items = chinese_items,
        .item_count = 3,
        .item_separator = "、",
        .category = "数码配件",
        .discount = "8折",
        .user = "u1024",
        .expiry = "12月31日",
        .rule = "cart_abandon",
    };
}

static void compile_ok(struct offer_template *tpl, const char *text)
{
    char error[OFFER_TEMPLATE_ERROR_SIZE] = "";

    if (offer_template_compile(tpl, text, error) != 0)
        fail_msg("compile of \"%s\" failed: %s", text, error);
}

static void test_chinese_all_placeholders(void **state)
{
    (void)state;
    struct offer_template tpl;
    struct offer_template_values values = chinese_values();
    char out[512];
    char error[OFFER_TEMPLATE_ERROR_SIZE];
    size_t len = 0;

    compile_ok(&tpl, "亲爱的{user}：{category}限时{discount}！为您推荐{items}，首选{item1}。"
                     "{expiry}前有效。{{{rule}}}");
    assert_int_equal(offer_template_render(&tpl, &values, out, sizeof(out), &len, error), 0);
    assert_string_equal(out, "亲爱的u1024：数码配件限时8折！为您推荐蓝牙耳机、机械键盘、鼠标垫，"
                             "首选蓝牙耳机。12月31日前有效。{cart_abandon}");
    assert_int_equal(len, strlen(out));
    assert_true(offer_utf8_valid(out, len));
}

/* The shape of the shipped example templates: a percent sign right after
 * {discount}, full-width punctuation around placeholders. */
static void test_example_config_template(void **state)
{
    (void)state;
    struct offer_template tpl;
    struct offer_template_values values = chinese_values();
    char out[256];
    char error[OFFER_TEMPLATE_ERROR_SIZE];
    size_t len = 0;

    values.discount = "15";
    compile_ok(&tpl, "还在犹豫吗？您购物车里的{items}限时优惠{discount}%，{expiry}前有效。");
    assert_int_equal(offer_template_render(&tpl, &values, out, sizeof(out), &len, error), 0);
    assert_string_equal(out, "还在犹豫吗？您购物车里的蓝牙耳机、机械键盘、鼠标垫限时优惠15%，"
                             "12月31日前有效。");
}

static void test_placeholders_at_edges(void **state)
{
    (void)state;
    struct offer_template tpl;
    struct offer_template_values values = chinese_values();
    char out[128];
    char error[OFFER_TEMPLATE_ERROR_SIZE];
    size_t len = 0;

    values.item_separator = NULL;
    compile_ok(&tpl, "{items}");
    assert_int_equal(offer_template_render(&tpl, &values, out, sizeof(out), &len, error), 0);
    assert_string_equal(out, "蓝牙耳机, 机械键盘, 鼠标垫");

    compile_ok(&tpl, "{user}{discount}");
    assert_int_equal(offer_template_render(&tpl, &values, out, sizeof(out), &len, error), 0);
    assert_string_equal(out, "u10248折");

    compile_ok(&tpl, "");
    assert_int_equal(offer_template_render(&tpl, &values, out, sizeof(out), &len, error), 0);
    assert_int_equal(len, 0);
    assert_string_equal(out, "");
}

static void test_missing_values_render_empty(void **state)
{
    (void)state;
    struct offer_template tpl;
    struct offer_template_values values = {0};
    char out[64];
    char error[OFFER_TEMPLATE_ERROR_SIZE];
    size_t len = 0;

    compile_ok(&tpl, "[{item1}|{items}|{category}|{expiry}|{rule}]");
    assert_int_equal(offer_template_render(&tpl, &values, out, sizeof(out), &len, error), 0);
    assert_string_equal(out, "[||||]");
}

static void expect_invalid(const char *text, const char *phrase)
{
    char error[OFFER_TEMPLATE_ERROR_SIZE] = "";

    assert_int_equal(offer_template_validate(text, error), -1);
    if (strstr(error, phrase) == NULL)
        fail_msg("error for \"%s\" is \"%s\", expected it to contain \"%s\"", text, error, phrase);
}

static void test_validate_errors(void **state)
{
    (void)state;
    char error[OFFER_TEMPLATE_ERROR_SIZE];

    expect_invalid("您好{name}", "{name}");
    expect_invalid("您好{name}", "byte 6");
    expect_invalid("{Items}", "unknown placeholder");
    expect_invalid("{}", "unknown placeholder");
    expect_invalid("限时{discount", "unclosed");
    expect_invalid("a } b", "single '}'");
    expect_invalid("bad \xE4\xBD", "UTF-8");
    expect_invalid("overlong \xC0\xAF", "UTF-8");
    assert_int_equal(offer_template_validate(NULL, error), -1);
    assert_int_equal(offer_template_validate("{{user}} {{}}", error), 0);
}

static void test_validate_limits(void **state)
{
    (void)state;
    char text[OFFER_TEMPLATE_MAX_BYTES + 2];
    char error[OFFER_TEMPLATE_ERROR_SIZE];

    memset(text, 'a', OFFER_TEMPLATE_MAX_BYTES);
    text[OFFER_TEMPLATE_MAX_BYTES] = '\0';
    assert_int_equal(offer_template_validate(text, error), 0);
    text[OFFER_TEMPLATE_MAX_BYTES] = 'a';
    text[OFFER_TEMPLATE_MAX_BYTES + 1] = '\0';
    expect_invalid(text, "longer than the limit");

    /* 65 placeholders are one part too many. */
    char many[65 * 6 + 1] = "";
    for (int i = 0; i < 65; i++)
        strcat(many, "{user}");
    expect_invalid(many, "more than 64 parts");
}

static void test_truncates_on_character(void **state)
{
    (void)state;
    struct offer_template tpl;
    struct offer_template_values values = chinese_values();
    char full[256];
    char out[256];
    char error[OFFER_TEMPLATE_ERROR_SIZE];
    size_t full_len = 0;
    size_t len = 0;

    compile_ok(&tpl, "为您推荐{items}");
    assert_int_equal(offer_template_render(&tpl, &values, full, sizeof(full), &full_len, error), 0);

    /* Every buffer size below the full length gives a valid UTF-8 prefix that
     * loses less than one character (at most 3 bytes here). */
    for (size_t cap = 1; cap <= full_len; cap++) {
        memset(out, 0x7F, sizeof(out));
        assert_int_equal(offer_template_render(&tpl, &values, out, cap, &len, error), 1);
        assert_true(len < cap);
        assert_true(len + 3 >= cap - 1);
        assert_int_equal(out[len], '\0');
        assert_true(offer_utf8_valid(out, len));
        assert_memory_equal(out, full, len);
    }
    assert_int_equal(offer_template_render(&tpl, &values, out, full_len + 1, &len, error), 0);
    assert_int_equal(len, full_len);
}

static void test_render_rejects_bad_value(void **state)
{
    (void)state;
    struct offer_template tpl;
    struct offer_template_values values = chinese_values();
    char out[64];
    char error[OFFER_TEMPLATE_ERROR_SIZE];
    size_t len = 0;

    compile_ok(&tpl, "{category}");
    values.category = "\xE6\x95"; /* a cut-off character */
    assert_int_equal(offer_template_render(&tpl, &values, out, sizeof(out), &len, error), -1);
    assert_non_null(strstr(error, "category"));
    assert_string_equal(out, "");
}

static void test_utf8_validator(void **state)
{
    (void)state;
    const struct {
        const char *bytes;
        int valid;
    } cases[] = {
        {"plain", 1},
        {"中文", 1},
        {"\xF0\x9F\x98\x80", 1},     /* U+1F600 emoji */
        {"\xF4\x8F\xBF\xBF", 1},     /* U+10FFFF */
        {"\xC0\x80", 0},             /* overlong NUL */
        {"\xE0\x80\xAF", 0},         /* overlong '/' */
        {"\xED\xA0\x80", 0},         /* surrogate U+D800 */
        {"\xF4\x90\x80\x80", 0},     /* above U+10FFFF */
        {"\xE4\xB8", 0},             /* truncated */
        {"\x80", 0},                 /* lone continuation byte */
        {"\xFF", 0},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (offer_utf8_valid(cases[i].bytes, strlen(cases[i].bytes)) != cases[i].valid)
            fail_msg("UTF-8 case %zu: expected valid=%d", i, cases[i].valid);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chinese_all_placeholders),
        cmocka_unit_test(test_example_config_template),
        cmocka_unit_test(test_placeholders_at_edges),
        cmocka_unit_test(test_missing_values_render_empty),
        cmocka_unit_test(test_validate_errors),
        cmocka_unit_test(test_validate_limits),
        cmocka_unit_test(test_truncates_on_character),
        cmocka_unit_test(test_render_rejects_bad_value),
        cmocka_unit_test(test_utf8_validator),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
