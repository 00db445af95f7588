/*
 * Record lines of intentd peek; peek_print.h describes the format.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec_events.h"
#include "peek_print.h"
#include "replay_time.h"

#define CONSENT_RECORD "io.intentd.Consent"

/* Prints s with ", \ and control bytes escaped. Other UTF-8 bytes pass through. */
static void print_escaped(const char *s, size_t len)
{
    for (size_t i = 0; s && i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c == '\n')
            fputs("\\n", stdout);
        else if (c < 0x20 || c == 0x7f)
            printf("\\x%02x", c);
        else
            putchar(c);
    }
}

static void print_quoted(const char *s, size_t len)
{
    putchar('"');
    print_escaped(s, len);
    putchar('"');
}

/* Prints " name=s", or " name=-" when s is NULL (Avro null). */
static void print_optional(const char *name, const char *s)
{
    printf(" %s=%s", name, s ? s : "-");
}

/* Prints " name=\"s\"" with escapes, or " name=-" when s is NULL. */
static void print_optional_quoted(const char *name, const char *s)
{
    printf(" %s=", name);
    if (s)
        print_quoted(s, strlen(s));
    else
        putchar('-');
}

/* Prints " name=true" or " name=false", or " name=-" for CODEC_CONSENT_UNKNOWN (Avro null). */
static void print_consent(const char *name, codec_consent_t consent)
{
    const char *text = "-";

    if (consent == CODEC_CONSENT_GIVEN)
        text = "true";
    else if (consent == CODEC_CONSENT_DENIED)
        text = "false";
    printf(" %s=%s", name, text);
}

static void print_time(const char *name, int64_t ms)
{
    char text[64];

    replay_time_format(ms, text, sizeof text);
    printf(" %s=%s", name, text);
}

static void print_scored(const char *name, const codec_scored_id_t *ids, size_t n)
{
    printf(" %s=", name);
    if (n == 0)
        putchar('-');
    for (size_t i = 0; i < n; i++)
        printf("%s%s:%.3f", i ? "," : "", ids[i].id, ids[i].score);
}

/* Prints the input positions behind an output as topic/partition@offset,
 * comma-separated, or "-" when there are none. */
static void print_source_offsets(const codec_source_offset_t *offsets, size_t n)
{
    fputs(" source_offsets=", stdout);
    if (n == 0)
        putchar('-');
    for (size_t i = 0; i < n; i++)
        printf("%s%s/%" PRId32 "@%" PRId64, i ? "," : "", offsets[i].topic, offsets[i].partition, offsets[i].offset);
}

/* Prints the dimension and L2 norm of an embedding, not its values. */
static void print_embedding(const float *values, size_t n)
{
    double sum = 0.0;

    for (size_t i = 0; i < n; i++)
        sum += (double)values[i] * values[i];
    printf(" embedding=%zud norm=%.3f", n, sqrt(sum));
}

/* Ends a line with the position of the record itself. */
static void print_position(const rd_kafka_message_t *m)
{
    printf(" partition=%" PRId32 " offset=%" PRId64 "\n", m->partition, m->offset);
}

static int print_offer(const codec_t *codec, const rd_kafka_message_t *m, codec_error_t *err)
{
    codec_offer_t offer;

    if (codec_decode_offer(codec, m->payload, m->len, &offer, err) != CODEC_OK)
        return -1;

    printf("offer user=%s offer_id=%s rule=%s holdout=%s items=", offer.user_id, offer.offer_id, offer.rule,
           offer.holdout ? "true" : "false");
    if (offer.item_count == 0)
        putchar('-');
    for (size_t i = 0; i < offer.item_count; i++)
        printf("%s%s", i ? "," : "", offer.items[i]);
    print_optional("category", offer.offer_category);
    printf(" discount=%g language=%s message=", offer.discount_percent, offer.language);
    print_quoted(offer.message, strlen(offer.message));

    print_time("created_at", offer.created_at_ms);
    print_time("expires_at", offer.expires_at_ms);
    printf(" model=%s", offer.model_version);
    print_source_offsets(offer.source_offsets, offer.source_offset_count);
    print_position(m);
    codec_offer_clear(&offer);
    return 0;
}

static int print_intent(const codec_t *codec, const rd_kafka_message_t *m, codec_error_t *err)
{
    codec_user_intent_t intent;

    if (codec_decode_intent(codec, m->payload, m->len, &intent, err) != CODEC_OK)
        return -1;

    printf("intent user=%s propensity=%.3f", intent.user_id, intent.purchase_propensity);
    if (intent.has_sentiment)
        printf(" sentiment=%.3f", intent.sentiment);
    else
        fputs(" sentiment=-", stdout);
    print_scored("top_categories", intent.top_categories, intent.top_category_count);
    print_scored("top_items", intent.top_items, intent.top_item_count);
    printf(" model=%s", intent.model_version);

    print_time("updated_at", intent.updated_at_ms);
    print_embedding(intent.embedding, intent.embedding_len);
    print_source_offsets(intent.source_offsets, intent.source_offset_count);
    print_position(m);
    codec_intent_clear(&intent);
    return 0;
}

/* Prints the attribute map as one quoted "key=value,key=value" text, or "-"
 * when the map is null or empty (the codec stores both as no attributes). */
static void print_attributes(const codec_attribute_t *attributes, size_t n)
{
    fputs(" attributes=", stdout);
    if (n == 0) {
        putchar('-');
        return;
    }
    putchar('"');
    for (size_t i = 0; i < n; i++) {
        if (i)
            putchar(',');
        print_escaped(attributes[i].key, strlen(attributes[i].key));
        putchar('=');
        print_escaped(attributes[i].value, strlen(attributes[i].value));
    }
    putchar('"');
}

static int print_click(const codec_t *codec, const rd_kafka_message_t *m, codec_error_t *err)
{
    codec_click_event_t click;

    if (codec_decode_click(codec, m->payload, m->len, &click, err) != CODEC_OK)
        return -1;

    printf("click user=%s action=%s item=%s", click.user_id, codec_action_symbol(click.action), click.item_id);
    print_optional("category", click.category_id);
    print_time("timestamp", click.timestamp_ms);
    print_consent("consent", click.consent);
    print_optional("session", click.session_id);
    print_optional_quoted("query", click.query);
    print_attributes(click.attributes, click.attribute_count);
    print_position(m);
    codec_click_clear(&click);
    return 0;
}

static int print_review(const codec_t *codec, const rd_kafka_message_t *m, codec_error_t *err)
{
    codec_review_event_t review;

    if (codec_decode_review(codec, m->payload, m->len, &review, err) != CODEC_OK)
        return -1;

    printf("review user=%s item=%s category=%s", review.user_id, review.item_id, review.category_id);
    if (review.has_rating)
        printf(" rating=%" PRId32, review.rating);
    else
        fputs(" rating=-", stdout);
    print_optional("language", review.language);
    print_time("timestamp", review.timestamp_ms);
    print_consent("consent", review.consent);
    fputs(" text=", stdout);
    print_quoted(review.text, strlen(review.text));
    print_position(m);
    codec_review_clear(&review);
    return 0;
}

/* Reads a boolean or long field of value; a missing field reads as 0. */
static int64_t consent_field(avro_value_t *value, const char *name)
{
    avro_value_t field;
    int64_t number = 0;
    int flag = 0;

    if (avro_value_get_by_name(value, name, &field, NULL) != 0)
        return 0;
    if (avro_value_get_type(&field) == AVRO_BOOLEAN)
        return avro_value_get_boolean(&field, &flag) == 0 ? flag : 0;
    return avro_value_get_long(&field, &number) == 0 ? number : 0;
}

/* Consent records have no typed struct in the codec, so this reads the Avro
 * value by field name, as the processor does. */
static int print_consent_record(const codec_t *codec, const rd_kafka_message_t *m, codec_error_t *err)
{
    avro_value_t value, field;
    const char *user = NULL;
    size_t user_size = 0;

    if (codec_decode_value(codec, m->payload, m->len, CONSENT_RECORD, &value, NULL, err) != CODEC_OK)
        return -1;

    if (avro_value_get_by_name(&value, "user_id", &field, NULL) == 0)
        avro_value_get_string(&field, &user, &user_size);
    printf("consent user=%s marketing_consent=%s personalised_opt_out=%s", user ? user : "-",
           consent_field(&value, "marketing_consent") ? "true" : "false",
           consent_field(&value, "personalised_opt_out") ? "true" : "false");
    print_time("updated_at", consent_field(&value, "updated_at"));
    print_position(m);
    avro_value_decref(&value);
    return 0;
}

/* Prints header name as " label=\"value\"" when the record has it. */
static void print_header(rd_kafka_headers_t *headers, const char *name, const char *label)
{
    const void *value;
    size_t size;

    if (headers && rd_kafka_header_get_last(headers, name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR && value) {
        printf(" %s=", label);
        print_quoted(value, size);
    }
}

/* Prints the intentd.source.timestamp header (decimal Unix ms) as ISO-8601
 * UTC, or quoted as it is when it is not a number. */
static void print_header_time(rd_kafka_headers_t *headers, const char *name, const char *label)
{
    const void *value;
    size_t size;
    char text[32], *end;

    if (!headers || rd_kafka_header_get_last(headers, name, &value, &size) != RD_KAFKA_RESP_ERR_NO_ERROR || !value)
        return;

    snprintf(text, sizeof text, "%.*s", (int)size, (const char *)value);
    long long ms = strtoll(text, &end, 10);
    if (size > 0 && size < sizeof text && strlen(text) == size && *end == '\0')
        print_time(label, (int64_t)ms);
    else
        print_header(headers, name, label);
}

/* Dead letters keep the original bytes, which did not decode or validate,
 * so only the key, the intentd.* headers and the size are printed. */
static void print_dead_letter(const rd_kafka_message_t *m)
{
    rd_kafka_headers_t *headers = NULL;

    rd_kafka_message_headers(m, &headers);
    printf("dead_letter key=");
    print_quoted(m->key, m->key_len);
    print_header(headers, "intentd.reason", "reason");
    print_header(headers, "intentd.source.topic", "source_topic");
    print_header(headers, "intentd.source.partition", "source_partition");
    print_header(headers, "intentd.source.offset", "source_offset");
    print_header_time(headers, "intentd.source.timestamp", "source_timestamp");
    print_header(headers, "intentd.error", "error");
    print_header(headers, "intentd.value.size", "value_size");
    print_header(headers, "intentd.value.truncated", "truncated");
    printf(" bytes=%zu", m->len);
    print_position(m);
}

/* Prints a record that is not decoded: of another topic, a tombstone, or
 * one whose decoding failed (then with the codec's message). */
static void print_undecoded(const rd_kafka_message_t *m, const codec_error_t *err)
{
    printf("record partition=%" PRId32 " offset=%" PRId64 " key=", m->partition, m->offset);
    print_quoted(m->key, m->key_len);
    printf(" bytes=%zu%s", m->len, m->payload ? "" : " tombstone");
    if (err && err->message[0]) {
        fputs(" decode_error=", stdout);
        print_quoted(err->message, strlen(err->message));
    }
    putchar('\n');
}

void peek_print_record(const struct intentd_config *cfg, const codec_t *codec, const rd_kafka_message_t *m)
{
    const char *topic = rd_kafka_topic_name(m->rkt);
    int avro_inputs = cfg->schemas.format == CONFIG_FORMAT_AVRO;
    codec_error_t err;
    int status = -1;

    if (strcmp(topic, cfg->topics.dead_letter) == 0) {
        print_dead_letter(m);
        return;
    }

    memset(&err, 0, sizeof err);
    if (!m->payload)
        status = -1;
    else if (strcmp(topic, cfg->topics.offers) == 0)
        status = print_offer(codec, m, &err);
    else if (strcmp(topic, cfg->topics.intents) == 0)
        status = print_intent(codec, m, &err);
    else if (strcmp(topic, cfg->topics.clickstream) == 0 && avro_inputs)
        status = print_click(codec, m, &err);
    else if (strcmp(topic, cfg->topics.reviews) == 0 && avro_inputs)
        status = print_review(codec, m, &err);
    else if (strcmp(topic, cfg->topics.consents) == 0 && avro_inputs)
        status = print_consent_record(codec, m, &err);
    if (status != 0)
        print_undecoded(m, &err);
}
