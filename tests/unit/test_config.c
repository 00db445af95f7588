/*
 * Config loader: defaults, the example file, and rejection of malformed YAML
 * (unknown and duplicate keys, tabs, BOM, alias and depth bombs, wrong types,
 * out-of-range numbers). Values, ${VAR} substitution, triggers and printing
 * are in test_config_values.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"

#define EXAMPLE INTENTD_SOURCE_DIR "/config/intentd.example.yaml"

static int load(const char *yaml, struct intentd_config *cfg, struct config_error *err)
{
    return config_load_buffer(yaml, strlen(yaml), "test.yaml", cfg, err);
}

/* Loads yaml, expecting failure with an error message containing expected. */
static void expect_error(const char *yaml, size_t len, const char *expected)
{
    struct intentd_config cfg;
    struct config_error err;
    int status = config_load_buffer(yaml, len, "test.yaml", &cfg, &err);
    if (strstr(err.message, expected) == NULL)
        print_error("expected \"%s\" in:\n%s\n", expected, err.message);
    assert_int_equal(status, -1);
    assert_non_null(strstr(err.message, expected));
    assert_null(cfg.kafka.bootstrap_servers); /* a failed load leaves cfg zeroed */
}

#define EXPECT_ERROR(yaml, expected) expect_error(yaml, sizeof yaml - 1, expected)

static char *print_to_string(const struct intentd_config *cfg)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    assert_non_null(out);
    assert_int_equal(config_print(out, cfg), 0);
    fclose(out);
    return text;
}

static void empty_file_gives_defaults(void **state)
{
    struct intentd_config cfg;
    struct config_error err;
    (void)state;

    assert_int_equal(load("", &cfg, &err), 0);
    assert_string_equal(cfg.topics.intents, "user-intents");
    assert_string_equal(cfg.topics.changelog, "intentd-state-changelog");
    assert_string_equal(cfg.topics.dead_letter, "intentd-dead-letter");
    assert_int_equal(cfg.intents.emit, CONFIG_EMIT_ON_CHANGE);
    assert_int_equal(cfg.offers.consent_default, CONFIG_CONSENT_DENY);
    assert_int_equal(cfg.n_triggers, 3);
    assert_int_equal(cfg.kafka.n_properties, 0);
    config_free(&cfg);
}

static void comment_only_file_gives_defaults(void **state)
{
    struct intentd_config cfg;
    struct config_error err;
    (void)state;

    assert_int_equal(load("# nothing here\n", &cfg, &err), 0);
    assert_int_equal(cfg.batching.max_events, 10000);
    assert_int_equal(cfg.state.idle_expiry_ms, 7LL * 24 * 3600 * 1000);
    config_free(&cfg);
}

static void example_equals_defaults(void **state)
{
    struct intentd_config example, defaults;
    struct config_error err;
    (void)state;

    int status = config_load(EXAMPLE, &example, &err);
    if (status != 0)
        print_error("%s\n", err.message);
    assert_int_equal(status, 0);
    assert_int_equal(config_defaults(&defaults, &err), 0);

    char *example_text = print_to_string(&example);
    char *defaults_text = print_to_string(&defaults);
    assert_string_equal(example_text, defaults_text);
    assert_int_equal(example.n_triggers, defaults.n_triggers);
    assert_int_equal(example.triggers[0].when.kind, CONFIG_COND_EVENT);
    assert_int_equal(example.triggers[0].when.within_ms, 30 * 60 * 1000);

    free(example_text);
    free(defaults_text);
    config_free(&example);
    config_free(&defaults);
}

static void missing_file_names_path(void **state)
{
    struct intentd_config cfg;
    struct config_error err;
    (void)state;

    assert_int_equal(config_load("/nonexistent/intentd.yaml", &cfg, &err), -1);
    assert_non_null(strstr(err.message, "/nonexistent/intentd.yaml: cannot open"));
}

static void unknown_key_rejected(void **state)
{
    (void)state;
    EXPECT_ERROR("kafka:\n  group_id: g\n  grup_id: h\n", "test.yaml:3:3: kafka.grup_id: unknown key");
    EXPECT_ERROR("kafkaa: {}\n", "test.yaml:1:1: kafkaa: unknown key");
    EXPECT_ERROR("triggers:\n  - name: a\n    when: {review_rating_at_most: 2}\n    colldown: 1h\n",
                 "test.yaml:4:5: triggers[0].colldown: unknown key");
}

static void unknown_key_lists_valid_keys(void **state)
{
    (void)state;
    EXPECT_ERROR("log:\n  lvl: info\n", "expected one of level");
}

static void duplicate_key_rejected(void **state)
{
    (void)state;
    EXPECT_ERROR("kafka:\n  group_id: a\n  group_id: b\n",
                 "test.yaml:3:3: kafka.group_id: duplicate key, first defined at line 2");
    EXPECT_ERROR("log: {level: info}\nlog: {level: warn}\n", "test.yaml:2:1: log: duplicate key");
}

/* One load names every repeated key of the file, each against the first
 * definition, and the invalid values too. */
static void duplicate_keys_all_reported(void **state)
{
    struct intentd_config cfg;
    struct config_error err;
    const char *yaml = "kafka:\n  group_id: a\n  group_id: b\n  group_id: c\n"
                       "log:\n  level: info\n  level: warn\n"
                       "batching:\n  max_events: lots\n";
    (void)state;

    assert_int_equal(config_load_buffer(yaml, strlen(yaml), "test.yaml", &cfg, &err), -1);
    assert_non_null(strstr(err.message, "test.yaml:3:3: kafka.group_id: duplicate key, first defined at line 2"));
    assert_non_null(strstr(err.message, "test.yaml:4:3: kafka.group_id: duplicate key, first defined at line 2"));
    assert_non_null(strstr(err.message, "test.yaml:7:3: log.level: duplicate key, first defined at line 6"));
    assert_non_null(strstr(err.message, "test.yaml:9:15: batching.max_events: expected an integer"));
}

static void duplicate_property_rejected(void **state)
{
    (void)state;
    EXPECT_ERROR("kafka:\n  properties:\n    acks: all\n    linger.ms: 5\n    acks: 1\n",
                 "test.yaml:5:5: kafka.properties.acks: duplicate key");
}

static void duplicate_template_language_rejected(void **state)
{
    (void)state;
    EXPECT_ERROR("triggers:\n  - name: a\n    when: {review_rating_at_most: 2}\n"
                 "    template: {en: \"x {items}\", en: \"y\"}\n",
                 "triggers[0].template.en: duplicate key");
}

static void tab_indentation_rejected(void **state)
{
    (void)state;
    EXPECT_ERROR("kafka:\n\tgroup_id: g\n", "test.yaml:2:1: tab character in indentation");
    EXPECT_ERROR("kafka:\n  group_id: g\n  \tclient_id: c\n", "test.yaml:3:3: tab character in indentation");
}

static void bom_accepted(void **state)
{
    struct intentd_config cfg;
    struct config_error err;
    static const char yaml[] = "\xEF\xBB\xBFkafka:\n  group_id: bom\n";
    (void)state;

    assert_int_equal(config_load_buffer(yaml, sizeof yaml - 1, "bom.yaml", &cfg, &err), 0);
    assert_string_equal(cfg.kafka.group_id, "bom");
    config_free(&cfg);
}

static void utf16_rejected(void **state)
{
    (void)state;
    EXPECT_ERROR("\xFF\xFEk\0a\0", "file is UTF-16");
}

static void invalid_utf8_rejected(void **state)
{
    (void)state;
    EXPECT_ERROR("kafka:\n  group_id: \xC3\x28\n", "test.yaml:2:");
}

static void alias_bomb_rejected(void **state)
{
    (void)state;
    /* Nine levels of nine aliases expand to 9^9 nodes. */
    EXPECT_ERROR("a: &a [x,x,x,x,x,x,x,x,x]\n"
                 "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
                 "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
                 "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
                 "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
                 "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
                 "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
                 "h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
                 "i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n",
                 "once aliases are expanded");
}

static void too_many_aliases_rejected(void **state)
{
    char yaml[4096];
    size_t n = (size_t)snprintf(yaml, sizeof yaml, "x: &s v\nlist: [");
    (void)state;

    for (int i = 0; i < 65; i++)
        n += (size_t)snprintf(yaml + n, sizeof yaml - n, "*s, ");
    n += (size_t)snprintf(yaml + n, sizeof yaml - n, "*s]\n");
    expect_error(yaml, n, "more than 64 aliases");
}

static void recursive_alias_rejected(void **state)
{
    (void)state;
    EXPECT_ERROR("x: &a [1, *a]\n", "alias *a refers to a node that contains it");
}

static void unknown_alias_rejected(void **state)
{
    (void)state;
    EXPECT_ERROR("x: *nowhere\n", "alias *nowhere has no anchor");
}

static void alias_reuses_value(void **state)
{
    struct intentd_config cfg;
    struct config_error err;
    (void)state;

    assert_int_equal(load("kafka:\n  group_id: &g shared\n  client_id: *g\n", &cfg, &err), 0);
    assert_string_equal(cfg.kafka.client_id, "shared");
    config_free(&cfg);
}

static void depth_bomb_rejected(void **state)
{
    char yaml[256];
    size_t n = (size_t)snprintf(yaml, sizeof yaml, "a: ");
    (void)state;

    for (int i = 0; i < 40; i++)
        yaml[n++] = '[';
    for (int i = 0; i < 40; i++)
        yaml[n++] = ']';
    yaml[n++] = '\n';
    expect_error(yaml, n, "nesting deeper than 32 levels");
}

static void several_documents_rejected(void **state)
{
    (void)state;
    EXPECT_ERROR("log: {level: info}\n---\nlog: {level: warn}\n", "more than one YAML document");
}

static void syntax_error_has_position(void **state)
{
    (void)state;
    EXPECT_ERROR("kafka:\n  group_id: [unclosed\n", "test.yaml:");
    EXPECT_ERROR("kafka:\n  group_id: [unclosed\n", "invalid YAML");
}

static void wrong_types_rejected(void **state)
{
    (void)state;
    EXPECT_ERROR("kafka: 3\n", "test.yaml:1:8: kafka: expected a mapping of keys, got a scalar");
    EXPECT_ERROR("kafka:\n  group_id: [a, b]\n", "test.yaml:2:13: kafka.group_id: expected a string, got a list");
    EXPECT_ERROR("batching:\n  max_events: many\n",
                 "test.yaml:2:15: batching.max_events: expected an integer, got \"many\"");
    EXPECT_ERROR("batching:\n  max_events: {a: 1}\n", "batching.max_events: expected an integer, got a mapping");
    EXPECT_ERROR("intents:\n  min_change: 0x10\n", "intents.min_change: expected a number, got \"0x10\"");
    EXPECT_ERROR("offers:\n  enabled: yes\n", "offers.enabled: expected true or false, got \"yes\"");
    EXPECT_ERROR("intents:\n  emit: sometimes\n",
                 "intents.emit: expected one of every_update, on_change, interval, on_move; got \"sometimes\"");
    EXPECT_ERROR("intents:\n  min_move: far\n", "test.yaml:2:13: intents.min_move: expected a number, got \"far\"");
    EXPECT_ERROR("triggers: {name: a}\n", "triggers: expected a list of rules");
    EXPECT_ERROR("- a\n- b\n", "expected a mapping of sections");
    EXPECT_ERROR("kafka:\n  properties: [a]\n", "kafka.properties: expected a mapping of librdkafka properties");
    EXPECT_ERROR("schemas:\n  max_text_bytes: 4kb\n", "schemas.max_text_bytes: expected a size like 64KiB");
}

static void non_scalar_key_rejected(void **state)
{
    (void)state;
    EXPECT_ERROR("? [a, b]\n: c\n", "a mapping key must be a scalar");
}

static void long_key_rejected(void **state)
{
    char yaml[600];
    size_t n = (size_t)snprintf(yaml, sizeof yaml, "kafka:\n  properties:\n    \"");
    (void)state;

    for (int i = 0; i < 300; i++)
        yaml[n++] = 'k';
    n += (size_t)snprintf(yaml + n, sizeof yaml - n, "\": v\n");
    expect_error(yaml, n, "test.yaml:3:5: kafka.properties: mapping key longer than 256 bytes");
}

static void out_of_range_rejected(void **state)
{
    (void)state;
    EXPECT_ERROR("metrics:\n  port: 70000\n", "test.yaml:2:9: metrics.port: 70000 is out of range; expected 0 to 65535");
    EXPECT_ERROR("batching:\n  max_events: 0\n", "batching.max_events: 0 is out of range");
    EXPECT_ERROR("batching:\n  max_events: 99999999999999999999\n", "batching.max_events: expected an integer");
    EXPECT_ERROR("offers:\n  holdout_percent: 100.5\n", "offers.holdout_percent: 100.5 is out of range");
    EXPECT_ERROR("topics:\n  partitions: -1\n", "topics.partitions: -1 is out of range");
    EXPECT_ERROR("state:\n  idle_expiry: 10s\n",
                 "state.idle_expiry: 10s is out of range; expected a duration from 1m to 365d");
    EXPECT_ERROR("schemas:\n  max_text_bytes: 2MiB\n", "schemas.max_text_bytes: 2MiB is out of range");
    EXPECT_ERROR("intents:\n  emit: on_move\n  min_move: 2.5\n",
                 "test.yaml:3:13: intents.min_move: 2.5 is out of range; expected 0 to 2");
    EXPECT_ERROR("intents:\n  min_move: -0.1\n", "intents.min_move: -0.1 is out of range");
    EXPECT_ERROR("triggers:\n  - name: a\n    when: {review_rating_at_most: 2}\n    min_items: 0\n",
                 "triggers[0].min_items: 0 is out of range; expected 1 to 20");
    EXPECT_ERROR("triggers:\n  - name: a\n    when: {review_rating_at_most: 2}\n    max_items: 2\n    min_items: 3\n",
                 "test.yaml:5:16: triggers[0].min_items: 3 is more than max_items 2");
}

static void on_move_accepted(void **state)
{
    struct intentd_config cfg;
    struct config_error err;
    (void)state;

    assert_int_equal(load("", &cfg, &err), 0);
    assert_float_equal(cfg.intents.min_move, 0.05, 1e-12);
    config_free(&cfg);

    assert_int_equal(load("intents:\n  emit: on_move\n  min_move: 0.2\n", &cfg, &err), 0);
    assert_int_equal(cfg.intents.emit, CONFIG_EMIT_ON_MOVE);
    assert_float_equal(cfg.intents.min_move, 0.2, 1e-12);
    assert_string_equal(config_emit_name(cfg.intents.emit), "on_move");
    config_free(&cfg);

    assert_int_equal(load("intents:\n  emit: on_move\n  min_move: 2\n", &cfg, &err), 0);
    assert_float_equal(cfg.intents.min_move, 2.0, 1e-12);
    config_free(&cfg);
}

static void errors_are_collected(void **state)
{
    struct intentd_config cfg;
    struct config_error err;
    (void)state;

    assert_int_equal(load("metrics:\n  port: -5\nbatching:\n  max_events: x\n", &cfg, &err), -1);
    assert_non_null(strstr(err.message, "test.yaml:2:9: metrics.port"));
    assert_non_null(strstr(err.message, "\ntest.yaml:4:15: batching.max_events"));
}

static void many_errors_fit_buffer(void **state)
{
    char yaml[8192];
    size_t n = 0;
    struct intentd_config cfg;
    struct config_error err;
    (void)state;

    n += (size_t)snprintf(yaml + n, sizeof yaml - n, "kafka:\n");
    for (int i = 0; i < 100; i++)
        n += (size_t)snprintf(yaml + n, sizeof yaml - n, "  unknown_key_number_%d: 1\n", i);
    assert_int_equal(config_load_buffer(yaml, n, "test.yaml", &cfg, &err), -1);
    assert_true(strlen(err.message) < sizeof err.message);
    assert_non_null(strstr(err.message, "more errors not shown"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(empty_file_gives_defaults),
        cmocka_unit_test(comment_only_file_gives_defaults),
        cmocka_unit_test(example_equals_defaults),
        cmocka_unit_test(missing_file_names_path),
        cmocka_unit_test(unknown_key_rejected),
        cmocka_unit_test(unknown_key_lists_valid_keys),
        cmocka_unit_test(duplicate_key_rejected),
        cmocka_unit_test(duplicate_keys_all_reported),
        cmocka_unit_test(duplicate_property_rejected),
        cmocka_unit_test(duplicate_template_language_rejected),
        cmocka_unit_test(tab_indentation_rejected),
        cmocka_unit_test(bom_accepted),
        cmocka_unit_test(utf16_rejected),
        cmocka_unit_test(invalid_utf8_rejected),
        cmocka_unit_test(alias_bomb_rejected),
        cmocka_unit_test(too_many_aliases_rejected),
        cmocka_unit_test(recursive_alias_rejected),
        cmocka_unit_test(unknown_alias_rejected),
        cmocka_unit_test(alias_reuses_value),
        cmocka_unit_test(depth_bomb_rejected),
        cmocka_unit_test(several_documents_rejected),
        cmocka_unit_test(syntax_error_has_position),
        cmocka_unit_test(wrong_types_rejected),
        cmocka_unit_test(non_scalar_key_rejected),
        cmocka_unit_test(long_key_rejected),
        cmocka_unit_test(out_of_range_rejected),
        cmocka_unit_test(on_move_accepted),
        cmocka_unit_test(errors_are_collected),
        cmocka_unit_test(many_errors_fit_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
