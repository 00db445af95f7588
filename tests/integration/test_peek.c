/*
 * intentd peek through the real broker and binary. The group setup encodes
 * known records with the project's codec (offers, intents, clicks, a review,
 * a consent) and writes a dead letter, an undecodable offer and an intent
 * tombstone, each to a fixed partition. Each test then runs 'intentd peek'
 * and compares whole printed lines, so a dropped or misformatted field fails
 * with both lines shown. Other tests cover --count and --limit.
 */
#include "harness.h"

#define CREATED_MS 1511572910000LL /* 2017-11-25T01:21:50Z */
#define HOUR_MS 3600000LL
#define EMBEDDING_DIM 64

static struct harness peek_harness;

/* Produces one record to partition of topic. headers, if not NULL, passes
 * to the producer, which frees it. */
static void produce_to(const char *topic, int32_t partition, const char *key, const void *value, size_t len,
                       rd_kafka_headers_t *headers)
{
    rd_kafka_resp_err_t err = rd_kafka_producev(
        peek_harness.producer, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
        RD_KAFKA_V_KEY((void *)key, key ? strlen(key) : 0), RD_KAFKA_V_VALUE((void *)value, len),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(headers), RD_KAFKA_V_END);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
        fail_msg("producing to %s [%d] failed: %s", topic, (int)partition, rd_kafka_err2str(err));
}

static void produce_offer(const codec_offer_t *offer, int32_t partition)
{
    uint8_t *frame;
    size_t len;
    codec_error_t err;

    if (codec_encode_offer(peek_harness.codec, offer, &frame, &len, &err) != CODEC_OK)
        fail_msg("encode offer: %s", err.message);
    produce_to(peek_harness.offers, partition, offer->user_id, frame, len, NULL);
    free(frame);
}

static void produce_offers(void)
{
    struct harness *h = &peek_harness;
    char *items_u1[] = {"i1", "i2"};
    char *items_u2[] = {"i3"};
    codec_source_offset_t sources[] = {{h->clickstream, 0, 12}, {h->clickstream, 2, 5}};
    codec_offer_t first = {
        .offer_id = "offer-u1-1", .user_id = "u1", .rule = "cart_abandon", .items = items_u1, .item_count = 2,
        .offer_category = "c7", .message = "Still thinking about it? 10% off \"today\"", .language = "en",
        .discount_percent = 10, .created_at_ms = CREATED_MS, .expires_at_ms = CREATED_MS + HOUR_MS,
        .holdout = false, .model_version = "m-test", .source_offsets = sources, .source_offset_count = 2,
    };
    /* Nulls, empty lists, a holdout, UTF-8 text and a time with milliseconds. */
    codec_offer_t second = {
        .offer_id = "offer-u2-1", .user_id = "u2", .rule = "browse", .items = items_u2, .item_count = 1,
        .offer_category = NULL, .message = "再看看吧", .language = "zh", .discount_percent = 5.5f,
        .created_at_ms = CREATED_MS + 250, .expires_at_ms = CREATED_MS + 24 * HOUR_MS, .holdout = true,
        .model_version = "m-test",
    };

    produce_offer(&first, 0);
    produce_offer(&second, 0);
    produce_to(h->offers, 1, "bad", "xyz", 3, NULL);
}

static void produce_intent(const codec_user_intent_t *intent, int32_t partition)
{
    uint8_t *frame;
    size_t len;
    codec_error_t err;

    if (codec_encode_intent(peek_harness.codec, intent, &frame, &len, &err) != CODEC_OK)
        fail_msg("encode intent: %s", err.message);
    produce_to(peek_harness.intents, partition, intent->user_id, frame, len, NULL);
    free(frame);
}

static void produce_intents(void)
{
    struct harness *h = &peek_harness;
    float embedding[EMBEDDING_DIM];
    float small_embedding[] = {3.0f, -4.0f};
    codec_scored_id_t categories[] = {{"c7", 0.5f}, {"c9", 0.25f}};
    codec_scored_id_t items[] = {{"i1", 0.75f}};
    codec_source_offset_t sources[] = {{h->clickstream, 1, 40}};

    /* 64 values of 0.5 have the L2 norm sqrt(64 * 0.25) = 4. */
    for (int i = 0; i < EMBEDDING_DIM; i++)
        embedding[i] = 0.5f;
    codec_user_intent_t first = {
        .user_id = "u1", .embedding = embedding, .embedding_len = EMBEDDING_DIM, .purchase_propensity = 0.875f,
        .top_categories = categories, .top_category_count = 2, .top_items = items, .top_item_count = 1,
        .has_sentiment = true, .sentiment = 0.625f, .model_version = "m-test", .updated_at_ms = CREATED_MS,
        .source_offsets = sources, .source_offset_count = 1,
    };
    codec_user_intent_t second = {
        .user_id = "u2", .embedding = small_embedding, .embedding_len = 2, .purchase_propensity = 0.125f,
        .model_version = "m-test", .updated_at_ms = CREATED_MS - HOUR_MS,
    };

    produce_intent(&first, 0);
    produce_intent(&second, 0);
    produce_to(h->intents, 1, "u3", NULL, 0, NULL);
}

static void produce_dead_letter(void)
{
    rd_kafka_headers_t *headers = rd_kafka_headers_new(8);
    const char *pairs[][2] = {
        {"intentd.reason", "malformed_body"},
        {"intentd.error", "expected magic byte 0"},
        {"intentd.source.topic", peek_harness.clickstream},
        {"intentd.source.partition", "2"},
        {"intentd.source.offset", "77"},
        {"intentd.source.timestamp", "1511572910000"},
        {"intentd.value.size", "600000"},
        {"intentd.value.truncated", "true"},
    };

    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++)
        rd_kafka_header_add(headers, pairs[i][0], -1, pairs[i][1], -1);
    produce_to(peek_harness.dead_letter, 0, "u9", "{not avro", 9, headers);
}

static void produce_click(const codec_click_event_t *click)
{
    uint8_t *frame;
    size_t len;
    codec_error_t err;

    if (codec_encode_click(peek_harness.codec, click, &frame, &len, &err) != CODEC_OK)
        fail_msg("encode click: %s", err.message);
    produce_to(peek_harness.clickstream, 0, click->user_id, frame, len, NULL);
    free(frame);
}

static void produce_clicks(void)
{
    codec_attribute_t attributes[] = {{"os", "ios"}};
    codec_click_event_t cart = {
        .user_id = "u1", .item_id = "i1", .category_id = "c7", .action = CODEC_ACTION_ADD_TO_CART,
        .timestamp_ms = 1511572800123LL, .consent = CODEC_CONSENT_GIVEN, .session_id = "s-1",
        .attributes = attributes, .attribute_count = 1,
    };
    codec_click_event_t search = {
        .user_id = "u2", .item_id = "i3", .action = CODEC_ACTION_SEARCH, .query = "red \"shoes\"",
        .timestamp_ms = 1511572800000LL, .consent = CODEC_CONSENT_DENIED,
    };
    codec_click_event_t view = {
        .user_id = "u3", .item_id = "i4", .category_id = "c1", .action = CODEC_ACTION_VIEW,
        .timestamp_ms = 1511400000000LL, .consent = CODEC_CONSENT_UNKNOWN,
    };

    produce_click(&cart);
    produce_click(&search);
    produce_click(&view);
}

static void produce_review(void)
{
    codec_review_event_t review = {
        .user_id = "u1", .item_id = "i1", .category_id = "c7", .has_rating = true, .rating = 4,
        .text = "很好用\n推荐", .language = "zh", .timestamp_ms = CREATED_MS, .consent = CODEC_CONSENT_GIVEN,
    };
    uint8_t *frame;
    size_t len;
    codec_error_t err;

    if (codec_encode_review(peek_harness.codec, &review, &frame, &len, &err) != CODEC_OK)
        fail_msg("encode review: %s", err.message);
    produce_to(peek_harness.reviews, 0, "u1", frame, len, NULL);
    free(frame);
}

/* The codec has no typed consent struct, so the record is built as a
 * generic value of io.intentd.Consent. */
static void produce_consent(void)
{
    avro_value_t value, field;
    uint32_t schema_id;
    uint8_t *frame;
    size_t len;
    codec_error_t err;

    if (codec_new_value(peek_harness.codec, "io.intentd.Consent", &value, &schema_id, &err) != CODEC_OK)
        fail_msg("new consent value: %s", err.message);
    assert_int_equal(avro_value_get_by_name(&value, "user_id", &field, NULL), 0);
    assert_int_equal(avro_value_set_string(&field, "u1"), 0);
    assert_int_equal(avro_value_get_by_name(&value, "marketing_consent", &field, NULL), 0);
    assert_int_equal(avro_value_set_boolean(&field, 1), 0);
    assert_int_equal(avro_value_get_by_name(&value, "personalised_opt_out", &field, NULL), 0);
    assert_int_equal(avro_value_set_boolean(&field, 0), 0);
    assert_int_equal(avro_value_get_by_name(&value, "updated_at", &field, NULL), 0);
    assert_int_equal(avro_value_set_long(&field, CREATED_MS), 0);

    if (codec_encode_value(peek_harness.codec, schema_id, &value, &frame, &len, &err) != CODEC_OK)
        fail_msg("encode consent: %s", err.message);
    avro_value_decref(&value);
    produce_to(peek_harness.consents, 0, "u1", frame, len, NULL);
    free(frame);
}

static int setup(void **state)
{
    (void)state;
    harness_init(&peek_harness, "peek", NULL);
    produce_offers();
    produce_intents();
    produce_dead_letter();
    produce_clicks();
    produce_review();
    produce_consent();
    harness_flush(&peek_harness);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    harness_free(&peek_harness);
    return 0;
}

/* Runs 'intentd peek --config CONFIG ARGS', requires exit status 0 and
 * returns its standard output (malloc'd). name names the output files in
 * the test's scratch folder. */
static char *run_peek(const char *name, const char *args)
{
    struct harness *h = &peek_harness;
    char out_path[512];

    snprintf(out_path, sizeof out_path, "%s/peek-%s.out", h->dir, name);
    int status = harness_system("%s peek --config %s --timeout 60 %s > %s 2> %s/peek-%s.err", INTENTD_BINARY,
                                h->config_path, args, out_path, h->dir, name);
    if (status != 0)
        fail_msg("intentd peek %s exited with status %d; see %s/peek-%s.err", args, status, h->dir, name);

    FILE *f = fopen(out_path, "r");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = calloc(1, (size_t)size + 1);
    assert_non_null(text);
    assert_int_equal(fread(text, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    return text;
}

static size_t count_lines(const char *text)
{
    size_t n = 0;

    for (const char *p = text; *p; p++)
        n += *p == '\n';
    return n;
}

/* Finds the line of output that starts with prefix and checks that it
 * equals expected; prints the whole output when no line matches. */
static void assert_line(const char *output, const char *prefix, const char *expected)
{
    size_t prefix_len = strlen(prefix);

    for (const char *line = output; *line;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        if (len >= prefix_len && strncmp(line, prefix, prefix_len) == 0) {
            char *copy = strndup(line, len);
            assert_string_equal(copy, expected);
            free(copy);
            return;
        }
        line += len + (end ? 1 : 0);
    }
    fail_msg("no line starts with '%s' in the peek output:\n%s", prefix, output);
}

static void peek_offer_fields(void **state)
{
    (void)state;
    const char *click = peek_harness.clickstream;
    char expected[1024];
    char *output = run_peek("offers", "--topic offers");

    assert_int_equal(count_lines(output), 3);
    snprintf(expected, sizeof expected,
             "offer user=u1 offer_id=offer-u1-1 rule=cart_abandon holdout=false items=i1,i2 category=c7 discount=10 "
             "language=en message=\"Still thinking about it? 10%% off \\\"today\\\"\" "
             "created_at=2017-11-25T01:21:50Z expires_at=2017-11-25T02:21:50Z model=m-test "
             "source_offsets=%s/0@12,%s/2@5 partition=0 offset=0",
             click, click);
    assert_line(output, "offer user=u1 ", expected);
    assert_line(output, "offer user=u2 ",
                "offer user=u2 offer_id=offer-u2-1 rule=browse holdout=true items=i3 category=- discount=5.5 "
                "language=zh message=\"再看看吧\" created_at=2017-11-25T01:21:50.250Z "
                "expires_at=2017-11-26T01:21:50Z model=m-test source_offsets=- partition=0 offset=1");
    free(output);
}

static void peek_undecodable_offer(void **state)
{
    (void)state;
    char *output = run_peek("offers-bad", "--topic offers");
    const char *prefix = "record partition=1 offset=0 key=\"bad\" bytes=3 decode_error=\"";

    const char *line = strstr(output, prefix);
    if (!line)
        fail_msg("no line starts with '%s' in the peek output:\n%s", prefix, output);
    assert_true(line == output || line[-1] == '\n');
    assert_true(strchr(line + strlen(prefix), '"') > line + strlen(prefix));
    free(output);
}

static void peek_intent_fields(void **state)
{
    (void)state;
    char expected[1024];
    char *output = run_peek("intents", "--topic intents");

    assert_int_equal(count_lines(output), 3);
    snprintf(expected, sizeof expected,
             "intent user=u1 propensity=0.875 sentiment=0.625 top_categories=c7:0.500,c9:0.250 top_items=i1:0.750 "
             "model=m-test updated_at=2017-11-25T01:21:50Z embedding=64d norm=4.000 source_offsets=%s/1@40 "
             "partition=0 offset=0",
             peek_harness.clickstream);
    assert_line(output, "intent user=u1 ", expected);
    assert_line(output, "intent user=u2 ",
                "intent user=u2 propensity=0.125 sentiment=- top_categories=- top_items=- model=m-test "
                "updated_at=2017-11-25T00:21:50Z embedding=2d norm=5.000 source_offsets=- partition=0 offset=1");
    assert_line(output, "record ", "record partition=1 offset=0 key=\"u3\" bytes=0 tombstone");
    free(output);
}

static void peek_dead_letter_fields(void **state)
{
    (void)state;
    char expected[1024];
    char *output = run_peek("dead-letters", "--topic dead_letter");

    assert_int_equal(count_lines(output), 1);
    snprintf(expected, sizeof expected,
             "dead_letter key=\"u9\" reason=\"malformed_body\" source_topic=\"%s\" source_partition=\"2\" "
             "source_offset=\"77\" source_timestamp=2017-11-25T01:21:50Z error=\"expected magic byte 0\" "
             "value_size=\"600000\" truncated=\"true\" bytes=9 partition=0 offset=0",
             peek_harness.clickstream);
    assert_line(output, "dead_letter ", expected);
    free(output);
}

static void peek_click_fields(void **state)
{
    (void)state;
    char args[256];

    /* The topic's own name, not the role name, to cover that path too. */
    snprintf(args, sizeof args, "--topic %s", peek_harness.clickstream);
    char *output = run_peek("clicks", args);

    assert_int_equal(count_lines(output), 3);
    assert_line(output, "click user=u1 ",
                "click user=u1 action=ADD_TO_CART item=i1 category=c7 timestamp=2017-11-25T01:20:00.123Z consent=true "
                "session=s-1 query=- attributes=\"os=ios\" partition=0 offset=0");
    assert_line(output, "click user=u2 ",
                "click user=u2 action=SEARCH item=i3 category=- timestamp=2017-11-25T01:20:00Z consent=false "
                "session=- query=\"red \\\"shoes\\\"\" attributes=- partition=0 offset=1");
    assert_line(output, "click user=u3 ",
                "click user=u3 action=VIEW item=i4 category=c1 timestamp=2017-11-23T01:20:00Z consent=- "
                "session=- query=- attributes=- partition=0 offset=2");
    free(output);
}

static void peek_review_and_consent(void **state)
{
    (void)state;
    char *reviews = run_peek("reviews", "--topic reviews");
    char *consents = run_peek("consents", "--topic consents");

    assert_int_equal(count_lines(reviews), 1);
    assert_line(reviews, "review ",
                "review user=u1 item=i1 category=c7 rating=4 language=zh timestamp=2017-11-25T01:21:50Z consent=true "
                "text=\"很好用\\n推荐\" partition=0 offset=0");
    assert_int_equal(count_lines(consents), 1);
    assert_line(consents, "consent ",
                "consent user=u1 marketing_consent=true personalised_opt_out=false "
                "updated_at=2017-11-25T01:21:50Z partition=0 offset=0");
    free(reviews);
    free(consents);
}

static void peek_count_records(void **state)
{
    (void)state;
    char *offers = run_peek("count-offers", "--topic offers --count");
    char *intents = run_peek("count-intents", "--topic intents --count");
    char *clicks = run_peek("count-clicks", "--topic clickstream --count --limit 1");

    /* Counting includes undecodable records and tombstones, and ignores --limit. */
    assert_string_equal(offers, "records=3\n");
    assert_string_equal(intents, "records=3\n");
    assert_string_equal(clicks, "records=3\n");
    free(offers);
    free(intents);
    free(clicks);
}

static void peek_limit_records(void **state)
{
    (void)state;
    char *two = run_peek("limit-2", "--topic clickstream --limit 2");
    char *none = run_peek("limit-0", "--topic clickstream --limit 0");
    char *all = run_peek("limit-all", "--topic clickstream --limit all");

    /* All clicks are in partition 0, so the first two are offsets 0 and 1. */
    assert_int_equal(count_lines(two), 2);
    assert_non_null(strstr(two, "click user=u1 "));
    assert_non_null(strstr(two, "click user=u2 "));
    assert_null(strstr(two, "click user=u3 "));
    assert_string_equal(none, "");
    assert_int_equal(count_lines(all), 3);
    assert_non_null(strstr(all, "click user=u3 "));
    free(two);
    free(none);
    free(all);
}

/* --partition and --offset start where an offer's source_offsets point. */
static void peek_from_partition_offset(void **state)
{
    (void)state;
    char *second = run_peek("offset-1", "--topic clickstream --partition 0 --offset 1 --limit 1");
    char *rest = run_peek("offset-1-all", "--topic clickstream --partition 0 --offset 1 --limit all");
    char *other = run_peek("partition-1", "--topic clickstream --partition 1 --limit all");

    assert_int_equal(count_lines(second), 1);
    assert_non_null(strstr(second, "click user=u2 "));
    assert_non_null(strstr(second, " partition=0 offset=1\n"));
    assert_int_equal(count_lines(rest), 2);
    assert_null(strstr(rest, "click user=u1 "));
    assert_string_equal(other, ""); /* every click is in partition 0 */

    struct harness *h = &peek_harness;
    int status = harness_system("%s peek --config %s --topic clickstream --partition 99 > %s/peek-bad.out 2>&1",
                                INTENTD_BINARY, h->config_path, h->dir);
    assert_int_equal(status, 2);
    status = harness_system("%s peek --config %s --topic clickstream --offset 1 > %s/peek-bad2.out 2>&1",
                            INTENTD_BINARY, h->config_path, h->dir);
    assert_int_equal(status, 2);
    free(second);
    free(rest);
    free(other);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(peek_offer_fields),       cmocka_unit_test(peek_undecodable_offer),
        cmocka_unit_test(peek_intent_fields),      cmocka_unit_test(peek_dead_letter_fields),
        cmocka_unit_test(peek_click_fields),       cmocka_unit_test(peek_review_and_consent),
        cmocka_unit_test(peek_count_records),      cmocka_unit_test(peek_limit_records),
        cmocka_unit_test(peek_from_partition_offset),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
