/* JSON input through app_decode_json with the default field mapping: the
 * dead-letter reason of each kind of bad record, and a good click. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "app_event.h"
#include "config.h"

static enum app_dead_letter_reason decode(const char *json, enum app_event_kind kind, char *detail, size_t size)
{
    struct intentd_config cfg;
    struct config_error err;
    struct app_decoded_event decoded;
    rd_kafka_message_t record;

    memset(&decoded, 0, sizeof decoded);
    memset(&record, 0, sizeof record);
    assert_int_equal(config_defaults(&cfg, &err), 0);
    cfg.schemas.format = CONFIG_FORMAT_JSON;
    record.payload = (void *)json;
    record.len = strlen(json);

    enum app_dead_letter_reason reason = app_decode_json(&cfg, kind, &record, &decoded, detail, size);
    app_decoded_event_clear(&decoded);
    config_free(&cfg);
    return reason;
}

static void good_click_decodes(void **state)
{
    (void)state;
    char detail[256] = "";

    assert_int_equal(decode("{\"user_id\":\"u1\",\"item_id\":\"i1\",\"action\":\"cart\",\"timestamp\":1700000000000}",
                            APP_EVENT_CLICK, detail, sizeof detail),
                     APP_DLQ_NONE);
}

static void missing_user_id_named(void **state)
{
    (void)state;
    char detail[256] = "";

    assert_int_equal(decode("{\"item_id\":\"i1\",\"action\":\"view\",\"timestamp\":1700000000000}", APP_EVENT_CLICK,
                            detail, sizeof detail),
                     APP_DLQ_MISSING_USER_ID);
    assert_non_null(strstr(detail, "user_id"));
    assert_int_equal(decode("{\"user_id\":null,\"item_id\":\"i1\",\"action\":\"view\",\"timestamp\":1}",
                            APP_EVENT_CLICK, detail, sizeof detail),
                     APP_DLQ_MISSING_USER_ID);
    assert_int_equal(decode("{\"item_id\":\"i1\",\"rating\":1,\"text\":\"bad\",\"timestamp\":1}", APP_EVENT_REVIEW,
                            detail, sizeof detail),
                     APP_DLQ_MISSING_USER_ID);
}

static void other_reasons_kept(void **state)
{
    (void)state;
    char detail[256] = "";

    assert_int_equal(decode("{\"user_id\":\"u1\",\"item_id\":\"i1\",\"action\":\"teleport\",\"timestamp\":1}",
                            APP_EVENT_CLICK, detail, sizeof detail),
                     APP_DLQ_UNKNOWN_ACTION);
    assert_int_equal(decode("{\"user_id\":\"u1\",", APP_EVENT_CLICK, detail, sizeof detail), APP_DLQ_MALFORMED_BODY);
    assert_int_equal(decode("[1, 2]", APP_EVENT_CLICK, detail, sizeof detail), APP_DLQ_MALFORMED_BODY);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(good_click_decodes),
        cmocka_unit_test(missing_user_id_named),
        cmocka_unit_test(other_reasons_kept),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
