/*
 * Config loader: scalar forms (durations, sizes), ${VAR} substitution,
 * Kafka properties and secret masking, trigger rules and templates, rules
 * across keys, and printing the config back as loadable YAML.
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
#include "config_internal.h"
#include "offer_template.h"

#define MINUTE_MS (60 * 1000LL)
#define HOUR_MS (60 * MINUTE_MS)
#define DAY_MS (24 * HOUR_MS)

static int load(const char *yaml, struct intentd_config *cfg, struct config_error *err)
{
    int status = config_load_buffer(yaml, strlen(yaml), "test.yaml", cfg, err);
    if (status != 0)
        print_error("load failed: %s\n", err->message);
    return status;
}

static void expect_error(const char *yaml, const char *expected)
{
    struct intentd_config cfg;
    struct config_error err;
    int status = config_load_buffer(yaml, strlen(yaml), "test.yaml", &cfg, &err);
    if (strstr(err.message, expected) == NULL)
        print_error("expected \"%s\" in:\n%s\n", expected, err.message);
    assert_int_equal(status, -1);
    assert_non_null(strstr(err.message, expected));
}

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

static void durations_parse(void **state)
{
    static const struct {
        const char *text;
        int64_t ms;
    } good[] = {{"0", 0},          {"500ms", 500},        {"30s", 30000},           {"30m", 30 * MINUTE_MS},
                {"1h30m", 90 * MINUTE_MS}, {"2d", 2 * DAY_MS}, {"1m1ms", MINUTE_MS + 1}, {"0s", 0}};
    static const char *const bad[] = {"", "30", "abc", "1.5h", "m", "-1s", "1 h", "1w", "1hh", "99999999999999999999d"};
    (void)state;

    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        int64_t ms = -1;
        assert_int_equal(cfg_parse_duration_ms(good[i].text, &ms), 0);
        assert_int_equal(ms, good[i].ms);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t ms;
        if (cfg_parse_duration_ms(bad[i], &ms) == 0)
            print_error("accepted \"%s\"\n", bad[i]);
        assert_int_equal(cfg_parse_duration_ms(bad[i], &ms), -1);
    }
}

static void durations_format_round_trip(void **state)
{
    static const int64_t values[] = {0, 1, 999, 1000, 90 * MINUTE_MS, DAY_MS + 1, 365 * DAY_MS};
    (void)state;

    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        char text[64];
        int64_t back = -1;
        cfg_format_duration(text, sizeof text, values[i]);
        assert_int_equal(cfg_parse_duration_ms(text, &back), 0);
        assert_int_equal(back, values[i]);
    }
}

static void sizes_parse(void **state)
{
    int64_t bytes = 0;
    (void)state;

    assert_int_equal(cfg_parse_size_bytes("4KiB", &bytes), 0);
    assert_int_equal(bytes, 4096);
    assert_int_equal(cfg_parse_size_bytes("2MB", &bytes), 0);
    assert_int_equal(bytes, 2000000);
    assert_int_equal(cfg_parse_size_bytes("17", &bytes), 0);
    assert_int_equal(bytes, 17);
    assert_int_equal(cfg_parse_size_bytes("4kb", &bytes), -1);
    assert_int_equal(cfg_parse_size_bytes("KiB", &bytes), -1);
    assert_int_equal(cfg_parse_size_bytes("-4", &bytes), -1);
}

static void numbers_parse(void **state)
{
    int64_t i = 0;
    double d = 0;
    (void)state;

    assert_int_equal(cfg_parse_int64("-42", &i), 0);
    assert_int_equal(i, -42);
    assert_int_equal(cfg_parse_int64("4 2", &i), -1);
    assert_int_equal(cfg_parse_int64(" 42", &i), -1);
    assert_int_equal(cfg_parse_int64("1e3", &i), -1);
    assert_int_equal(cfg_parse_double("0.25", &d), 0);
    assert_true(d == 0.25);
    assert_int_equal(cfg_parse_double("nan", &d), -1);
    assert_int_equal(cfg_parse_double("1e999", &d), -1);
    assert_int_equal(cfg_parse_double("0x1p3", &d), -1);
}

static void bad_duration_names_key_path(void **state)
{
    (void)state;
    expect_error("triggers:\n"
                 "  - name: a\n"
                 "    when: {review_rating_at_most: 2}\n"
                 "  - name: b\n"
                 "    when: {review_rating_at_most: 2}\n"
                 "  - name: c\n"
                 "    when: {review_rating_at_most: 2}\n"
                 "    cooldown: abc\n",
                 "test.yaml:8:15: triggers[2].cooldown: expected a duration like 30m, got \"abc\"");
}

static void env_substitution(void **state)
{
    struct intentd_config cfg;
    struct config_error err;
    (void)state;

    setenv("INTENTD_TEST_HOST", "broker-1:9093", 1);
    setenv("INTENTD_TEST_EMPTY", "", 1);
    setenv("INTENTD_TEST_PORT", "9100", 1);
    unsetenv("INTENTD_TEST_UNSET");
    assert_int_equal(load("kafka:\n"
                          "  bootstrap_servers: ${INTENTD_TEST_HOST}\n"
                          "  client_id: pre-${INTENTD_TEST_UNSET:-dflt}-post\n"
                          "  group_id: ${INTENTD_TEST_EMPTY:-fallback}\n"
                          "  transactional_id: \"cost $5, literal $${HOME}\"\n"
                          "metrics:\n"
                          "  port: ${INTENTD_TEST_PORT}\n",
                          &cfg, &err),
                     0);
    assert_string_equal(cfg.kafka.bootstrap_servers, "broker-1:9093");
    assert_string_equal(cfg.kafka.client_id, "pre-dflt-post");
    assert_string_equal(cfg.kafka.group_id, "fallback");
    assert_string_equal(cfg.kafka.transactional_id, "cost $5, literal ${HOME}");
    assert_int_equal(cfg.metrics.port, 9100);
    config_free(&cfg);
}

static void env_set_but_empty_is_empty(void **state)
{
    struct intentd_config cfg;
    struct config_error err;
    (void)state;

    setenv("INTENTD_TEST_EMPTY", "", 1);
    assert_int_equal(load("model:\n  version: \"${INTENTD_TEST_EMPTY}\"\n", &cfg, &err), 0);
    assert_string_equal(cfg.model.version, "");
    config_free(&cfg);
}

static void env_missing_names_variable(void **state)
{
    (void)state;
    unsetenv("INTENTD_TEST_MISSING");
    expect_error("kafka:\n  properties:\n    sasl.password: ${INTENTD_TEST_MISSING}\n",
                 "test.yaml:3:20: kafka.properties.sasl.password: environment variable INTENTD_TEST_MISSING "
                 "is not set");
}

static void env_bad_reference_rejected(void **state)
{
    (void)state;
    expect_error("kafka:\n  group_id: ${UNCLOSED\n", "kafka.group_id: \"${\" without a closing \"}\"");
    expect_error("kafka:\n  group_id: ${1BAD}\n", "kafka.group_id: invalid reference \"${1BAD}\"");
    expect_error("kafka:\n  group_id: ${A:B}\n", "invalid reference");
}

static void env_invalid_utf8_rejected(void **state)
{
    (void)state;
    setenv("INTENTD_TEST_LATIN1", "caf\xE9", 1);
    expect_error("model:\n  version: ${INTENTD_TEST_LATIN1}\n",
                 "model.version: environment variable INTENTD_TEST_LATIN1 is not valid UTF-8");
}

static void utf8_check(void **state)
{
    (void)state;
    assert_true(cfg_is_utf8("plain ascii"));
    assert_true(cfg_is_utf8("中文 😀 é"));
    assert_false(cfg_is_utf8("\xC0\x80"));         /* overlong NUL */
    assert_false(cfg_is_utf8("\xED\xA0\x80"));     /* surrogate U+D800 */
    assert_false(cfg_is_utf8("\xF4\x90\x80\x80")); /* above U+10FFFF */
    assert_false(cfg_is_utf8("\xE4\xB8"));         /* truncated */
    assert_false(cfg_is_utf8("\x80"));              /* lone continuation byte */
}

static void env_value_not_parsed_as_yaml(void **state)
{
    struct intentd_config cfg;
    struct config_error err;
    (void)state;

    setenv("INTENTD_TEST_YAML", "{a: 1}\nlog: x", 1);
    assert_int_equal(load("model:\n  version: ${INTENTD_TEST_YAML}\n", &cfg, &err), 0);
    assert_string_equal(cfg.model.version, "{a: 1}\nlog: x");
    config_free(&cfg);
}

static void properties_pass_through(void **state)
{
    struct intentd_config cfg;
    struct config_error err;
    (void)state;

    assert_int_equal(load("kafka:\n  properties:\n    security.protocol: SASL_SSL\n    linger.ms: 5\n"
                          "    enable.idempotence: true\n",
                          &cfg, &err),
                     0);
    assert_int_equal(cfg.kafka.n_properties, 3);
    assert_string_equal(cfg.kafka.properties[0].key, "security.protocol");
    assert_string_equal(cfg.kafka.properties[0].value, "SASL_SSL");
    assert_string_equal(cfg.kafka.properties[1].value, "5");
    assert_string_equal(cfg.kafka.properties[2].value, "true");
    assert_int_equal(cfg.kafka.properties[0].secret, 0);
    config_free(&cfg);
}

static void property_with_own_key_rejected(void **state)
{
    (void)state;
    expect_error("kafka:\n  properties:\n    bootstrap.servers: x:1\n",
                 "kafka.properties.bootstrap.servers: set kafka.bootstrap_servers instead");
    expect_error("kafka:\n  properties:\n    group.id: g\n", "set kafka.group_id instead");
}

static void secret_property_names(void **state)
{
    (void)state;
    assert_true(config_property_is_secret("sasl.password"));
    assert_true(config_property_is_secret("ssl.key.password"));
    assert_true(config_property_is_secret("ssl.key.pem"));
    assert_true(config_property_is_secret("sasl.oauthbearer.client.secret"));
    assert_true(config_property_is_secret("sasl.jaas.config"));
    assert_true(config_property_is_secret("SASL.PASSWORD"));
    assert_false(config_property_is_secret("sasl.username"));
    assert_false(config_property_is_secret("security.protocol"));
    assert_false(config_property_is_secret("ssl.ca.location"));
}

static void secrets_masked_in_output(void **state)
{
    struct intentd_config cfg;
    struct config_error err;
    (void)state;

    setenv("INTENTD_TEST_PASSWORD", "hunter2-from-env", 1);
    assert_int_equal(load("kafka:\n  properties:\n    sasl.username: alice\n"
                          "    sasl.password: ${INTENTD_TEST_PASSWORD}\n"
                          "    ssl.key.pem: \"-----BEGIN PRIVATE KEY-----\"\n"
                          "schemas:\n  registry_auth: \"bob:registry-pw\"\n",
                          &cfg, &err),
                     0);
    assert_string_equal(cfg.kafka.properties[1].value, "hunter2-from-env");
    assert_int_equal(cfg.kafka.properties[1].secret, 1);

    char *text = print_to_string(&cfg);
    assert_null(strstr(text, "hunter2"));
    assert_null(strstr(text, "BEGIN PRIVATE KEY"));
    assert_null(strstr(text, "registry-pw"));
    assert_non_null(strstr(text, "sasl.password: \"********\""));
    assert_non_null(strstr(text, "registry_auth: \"********\""));
    assert_non_null(strstr(text, "sasl.username: \"alice\""));
    free(text);
    config_free(&cfg);
}

static void secret_not_echoed_in_error(void **state)
{
    struct intentd_config cfg;
    struct config_error err;
    (void)state;

    setenv("INTENTD_TEST_SECRET", "s3cr3t-value", 1);
    assert_int_equal(config_load_buffer("kafka:\n  properties:\n    sasl.password: ${INTENTD_TEST_SECRET}\n"
                                        "  bogus: 1\n",
                                        strlen("kafka:\n  properties:\n    sasl.password: ${INTENTD_TEST_SECRET}\n"
                                               "  bogus: 1\n"),
                                        "test.yaml", &cfg, &err),
                     -1);
    assert_null(strstr(err.message, "s3cr3t"));
}

static void trigger_conditions_parse(void **state)
{
    struct intentd_config cfg;
    struct config_error err;
    (void)state;

    assert_int_equal(load("triggers:\n"
                          "  - name: abandon\n"
                          "    when: {event: cart, no: purchase, within: 45m}\n"
                          "  - name: viewer\n"
                          "    when: {event: view}\n"
                          "  - name: hot\n"
                          "    when: {propensity_above: 0.9, category: \"4756105\"}\n"
                          "  - name: sad\n"
                          "    when:\n"
                          "      review_rating_at_most: 1\n",
                          &cfg, &err),
                     0);
    assert_int_equal(cfg.n_triggers, 4);
    assert_int_equal(cfg.triggers[0].when.kind, CONFIG_COND_EVENT);
    assert_int_equal(cfg.triggers[0].when.event, CONFIG_ACTION_CART);
    assert_int_equal(cfg.triggers[0].when.has_absent, 1);
    assert_int_equal(cfg.triggers[0].when.absent, CONFIG_ACTION_PURCHASE);
    assert_int_equal(cfg.triggers[0].when.within_ms, 45 * MINUTE_MS);
    assert_int_equal(cfg.triggers[1].when.event, CONFIG_ACTION_VIEW);
    assert_int_equal(cfg.triggers[1].when.has_absent, 0);
    assert_int_equal(cfg.triggers[2].when.kind, CONFIG_COND_PROPENSITY_ABOVE);
    assert_true(cfg.triggers[2].when.propensity == 0.9);
    assert_string_equal(cfg.triggers[2].when.category, "4756105");
    assert_int_equal(cfg.triggers[3].when.kind, CONFIG_COND_REVIEW_RATING_AT_MOST);
    assert_int_equal(cfg.triggers[3].when.rating, 1);
    config_free(&cfg);
}

static void trigger_defaults_apply(void **state)
{
    struct intentd_config cfg;
    struct config_error err;
    (void)state;

    assert_int_equal(load("offers:\n  holdout_percent: 12.5\n"
                          "triggers:\n  - name: a\n    when: {propensity_above: 0.5, category: any}\n"
                          "  - name: b\n    when: {event: search}\n    holdout_percent: 0\n",
                          &cfg, &err),
                     0);
    assert_int_equal(cfg.triggers[0].cooldown_ms, HOUR_MS);
    assert_int_equal(cfg.triggers[0].max_offers, 3);
    assert_int_equal(cfg.triggers[0].per_window_ms, DAY_MS);
    assert_int_equal(cfg.triggers[0].expiry_ms, 2 * DAY_MS);
    assert_true(cfg.triggers[0].holdout_percent == 12.5);
    assert_true(cfg.triggers[1].holdout_percent == 0.0);
    assert_string_equal(cfg.triggers[0].when.category, "");
    assert_true(cfg.triggers[0].n_templates >= 1);
    config_free(&cfg);
}

static void trigger_empty_list_disables(void **state)
{
    struct intentd_config cfg;
    struct config_error err;
    (void)state;

    assert_int_equal(load("triggers: []\n", &cfg, &err), 0);
    assert_int_equal(cfg.n_triggers, 0);
    config_free(&cfg);
}

static void trigger_chinese_template(void **state)
{
    struct intentd_config cfg;
    struct config_error err;
    (void)state;

    assert_int_equal(load("offers:\n  language: zh-CN\n"
                          "triggers:\n  - name: a\n    when: {review_rating_at_most: 2}\n"
                          "    template:\n      zh-CN: \"抱歉！{items} 优惠 {discount}% 😀 {{code}}\"\n"
                          "      en: \"{user}: {item1} in {category}, rule {rule}, until {expiry}\"\n",
                          &cfg, &err),
                     0);
    assert_int_equal(cfg.triggers[0].n_templates, 2);
    assert_string_equal(cfg.triggers[0].templates[0].language, "zh-CN");
    assert_string_equal(cfg.triggers[0].templates[1].language, "en");
    assert_string_equal(cfg.triggers[0].templates[0].text, "抱歉！{items} 优惠 {discount}% 😀 {{code}}");
    config_free(&cfg);
}

static void trigger_errors(void **state)
{
    (void)state;
    expect_error("triggers:\n  - name: a\n    when: {event: cart, propensity_above: 0.5}\n",
                 "test.yaml:3:11: triggers[0].when: expected exactly one of event, propensity_above");
    expect_error("triggers:\n  - name: a\n    when: {event: cart, no: purchase}\n",
                 "triggers[0].when: no and within go together");
    expect_error("triggers:\n  - name: a\n    when: {event: basket}\n",
                 "triggers[0].when.event: expected one of view, click, favourite, cart, purchase, search, review");
    expect_error("triggers:\n  - name: a\n    when: {review_rating_at_most: 6}\n",
                 "triggers[0].when.review_rating_at_most: 6 is out of range");
    expect_error("triggers:\n  - name: a\n    when: {review_rating_at_most: 2, category: x}\n",
                 "category applies only to a propensity_above condition");
    expect_error("triggers:\n  - name: a\n    when: {event: cart, no: cart, within: 1h}\n",
                 "event and no name the same action");
    expect_error("triggers:\n  - name: a\n", "triggers[0]: a rule needs a name and a when condition");
    expect_error("triggers:\n  - name: a b\n    when: {event: cart}\n", "triggers[0].name: rule name must be");
    expect_error("triggers:\n  - name: a\n    when: {event: cart}\n  - name: a\n    when: {event: view}\n",
                 "triggers[1].name: rule name \"a\" is already used by triggers[0]");
    expect_error("triggers:\n  - name: a\n    when: cart\n", "triggers[0].when: expected a condition mapping");
}

static void template_errors(void **state)
{
    (void)state;
    expect_error("triggers:\n  - name: a\n    when: {event: cart}\n    template: {en: \"Hi {name}\"}\n",
                 "triggers[0].template.en: unknown placeholder \"{name}\"");
    expect_error("triggers:\n  - name: a\n    when: {event: cart}\n    template: {en: \"Hi {Items}\"}\n",
                 "unknown placeholder \"{Items}\"");
    expect_error("triggers:\n  - name: a\n    when: {event: cart}\n    template: {en: \"Hi {items\"}\n",
                 "unknown placeholder");
    expect_error("triggers:\n  - name: a\n    when: {event: cart}\n    template: {en: \"\"}\n",
                 "template text is empty");
    expect_error("triggers:\n  - name: a\n    when: {event: cart}\n    template: {en: \"}\"}\n",
                 "\"}\" without \"{\"");
    expect_error("triggers:\n  - name: a\n    when: {event: cart}\n    template: {english: \"x\"}\n",
                 "triggers[0].template.english: expected a language tag");
    expect_error("triggers:\n  - name: a\n    when: {event: cart}\n    template: {zh: \"x\"}\n",
                 "rule \"a\" has no template in offers.language \"en\"");
    expect_error("triggers:\n  - name: a\n    when: {event: cart}\n    template: {}\n", "an empty mapping");
}

/* Builds a one-rule config whose en template is text. */
static char *template_config(const char *text)
{
    static const char head[] = "triggers:\n  - name: a\n    when: {event: cart}\n    template:\n      en: \"";
    char *yaml = malloc(sizeof head + strlen(text) + 3);
    assert_non_null(yaml);
    sprintf(yaml, "%s%s\"\n", head, text);
    return yaml;
}

static void template_limits(void **state)
{
    char text[2048];
    (void)state;

    /* 32 placeholders separated by one letter: 32 + 31 literal runs = 63 parts. */
    text[0] = '\0';
    for (int i = 0; i < 32; i++)
        strcat(text, i ? "x{items}" : "{items}");
    char *yaml = template_config(text);
    struct intentd_config cfg;
    struct config_error err;
    assert_int_equal(load(yaml, &cfg, &err), 0);
    config_free(&cfg);
    free(yaml);

    strcat(text, "x"); /* one more literal run: 64 parts, still allowed */
    yaml = template_config(text);
    assert_int_equal(load(yaml, &cfg, &err), 0);
    char render_error[OFFER_TEMPLATE_ERROR_SIZE];
    assert_int_equal(offer_template_validate(text, render_error), 0); /* the renderer agrees */
    config_free(&cfg);
    free(yaml);

    strcat(text, "{{"); /* a brace pair: 65 parts */
    assert_int_not_equal(offer_template_validate(text, render_error), 0);
    yaml = template_config(text);
    expect_error(yaml, "triggers[0].template.en: template has 65 parts");
    free(yaml);

    memset(text, 'a', 1025);
    text[1025] = '\0';
    yaml = template_config(text);
    expect_error(yaml, "triggers[0].template.en: template text is 1025 bytes; the limit is 1024");
    free(yaml);
}

static void cross_key_rules(void **state)
{
    (void)state;
    expect_error("schemas:\n  source: registry\n", "schemas.registry_url: must not be empty when schemas.source is registry");
    expect_error("schemas:\n  source: registry\n  registry_url: ftp://x\n", "expected an http:// or https:// URL");
    expect_error("kafka:\n  transactional_id: \"\"\n", "kafka.transactional_id: must not be empty");
    expect_error("topics:\n  offers: clickstream\n", "topics.offers: topic \"clickstream\" is also topics.clickstream");
    expect_error("topics:\n  changelog: \"\"\n", "topics.changelog: must not be empty");
    expect_error("log:\n  level: verbose\n", "test.yaml:2:10: log.level: expected one of debug, info, warn, error");
}

static void optional_values_accept_empty(void **state)
{
    struct intentd_config cfg;
    struct config_error err;
    (void)state;

    assert_int_equal(load("topics:\n  consents: \"\"\nkafka:\n  processing_guarantee: at_least_once\n"
                          "  transactional_id:\nmodel:\n  version: ~\n",
                          &cfg, &err),
                     0);
    assert_string_equal(cfg.topics.consents, "");
    assert_string_equal(cfg.kafka.transactional_id, "");
    assert_string_equal(cfg.model.version, "");
    assert_int_equal(cfg.kafka.processing_guarantee, CONFIG_AT_LEAST_ONCE);
    config_free(&cfg);
}

static void json_mapping_reads(void **state)
{
    struct intentd_config cfg;
    struct config_error err;
    (void)state;

    assert_int_equal(load("schemas:\n  format: json\n  json:\n    user_id: user.id\n    timestamp_unit: s\n"
                          "    action_values: {view: pv, favourite: fav, purchase: buy}\n",
                          &cfg, &err),
                     0);
    assert_int_equal(cfg.schemas.format, CONFIG_FORMAT_JSON);
    assert_string_equal(cfg.schemas.json.user_id, "user.id");
    assert_int_equal(cfg.schemas.json.timestamp_in_seconds, 1);
    assert_string_equal(cfg.schemas.json.action_values[CONFIG_ACTION_VIEW], "pv");
    assert_string_equal(cfg.schemas.json.action_values[CONFIG_ACTION_PURCHASE], "buy");
    assert_string_equal(cfg.schemas.json.action_values[CONFIG_ACTION_CART], "cart");
    config_free(&cfg);
}

static void printed_config_loads_back(void **state)
{
    struct intentd_config first, second;
    struct config_error err;
    (void)state;

    assert_int_equal(load("kafka:\n  bootstrap_servers: \"a:1,b:2\"\n  properties: {acks: all, \"odd key\": \"q\\\"uote\"}\n"
                          "state:\n  idle_expiry: 1h30m\n"
                          "intents:\n  min_change: 0.1\n  emit: interval\n"
                          "model:\n  version: \"v${LITERAL_NOT_SET:-1}\\t$${X}\"\n"
                          "triggers:\n  - name: t\n    when: {propensity_above: 0.3, category: \"a b\"}\n"
                          "    template: {en: \"line1\\nline2 {items}\", zh: \"中文 {items}\"}\n",
                          &first, &err),
                     0);
    char *text = print_to_string(&first);
    int status = config_load_buffer(text, strlen(text), "printed.yaml", &second, &err);
    if (status != 0)
        print_error("%s\n---\n%s\n", err.message, text);
    assert_int_equal(status, 0);
    char *again = print_to_string(&second);
    assert_string_equal(text, again);
    assert_string_equal(second.model.version, "v1\t${X}");
    assert_string_equal(second.kafka.properties[1].key, "odd key");
    assert_int_equal(second.state.idle_expiry_ms, 90 * MINUTE_MS);

    free(text);
    free(again);
    config_free(&first);
    config_free(&second);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(durations_parse),
        cmocka_unit_test(durations_format_round_trip),
        cmocka_unit_test(sizes_parse),
        cmocka_unit_test(numbers_parse),
        cmocka_unit_test(bad_duration_names_key_path),
        cmocka_unit_test(env_substitution),
        cmocka_unit_test(env_set_but_empty_is_empty),
        cmocka_unit_test(env_missing_names_variable),
        cmocka_unit_test(env_bad_reference_rejected),
        cmocka_unit_test(env_invalid_utf8_rejected),
        cmocka_unit_test(utf8_check),
        cmocka_unit_test(env_value_not_parsed_as_yaml),
        cmocka_unit_test(properties_pass_through),
        cmocka_unit_test(property_with_own_key_rejected),
        cmocka_unit_test(secret_property_names),
        cmocka_unit_test(secrets_masked_in_output),
        cmocka_unit_test(secret_not_echoed_in_error),
        cmocka_unit_test(trigger_conditions_parse),
        cmocka_unit_test(trigger_defaults_apply),
        cmocka_unit_test(trigger_empty_list_disables),
        cmocka_unit_test(trigger_chinese_template),
        cmocka_unit_test(trigger_errors),
        cmocka_unit_test(template_errors),
        cmocka_unit_test(template_limits),
        cmocka_unit_test(cross_key_rules),
        cmocka_unit_test(optional_values_accept_empty),
        cmocka_unit_test(json_mapping_reads),
        cmocka_unit_test(printed_config_loads_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
