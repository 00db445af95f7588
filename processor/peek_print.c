/*
 * Record lines of intentd peek; peek_print.h describes the format.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "codec_events.h"
#include "peek_print.h"

/* Prints s quoted, with ", \ and control bytes escaped. Other UTF-8 bytes pass through. */
static void print_quoted(const char *s, size_t len)
{
    putchar('"');
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
    putchar('"');
}

static void print_scored(const char *name, const codec_scored_id_t *ids, size_t n)
{
    printf(" %s=", name);
    for (size_t i = 0; i < n; i++)
        printf("%s%s:%.3f", i ? "," : "", ids[i].id, ids[i].score);
}

static int print_offer(const codec_t *codec, const rd_kafka_message_t *m)
{
    codec_offer_t offer;
    codec_error_t err;

    if (codec_decode_offer(codec, m->payload, m->len, &offer, &err) != CODEC_OK)
        return -1;
    printf("offer user=%s rule=%s holdout=%s items=", offer.user_id, offer.rule, offer.holdout ? "true" : "false");
    for (size_t i = 0; i < offer.item_count; i++)
        printf("%s%s", i ? "," : "", offer.items[i]);
    printf(" discount=%g language=%s message=", offer.discount_percent, offer.language);
    print_quoted(offer.message, strlen(offer.message));
    putchar('\n');
    codec_offer_clear(&offer);
    return 0;
}

static int print_intent(const codec_t *codec, const rd_kafka_message_t *m)
{
    codec_user_intent_t intent;
    codec_error_t err;

    if (codec_decode_intent(codec, m->payload, m->len, &intent, &err) != CODEC_OK)
        return -1;
    printf("intent user=%s propensity=%.3f", intent.user_id, intent.purchase_propensity);
    if (intent.has_sentiment)
        printf(" sentiment=%.3f", intent.sentiment);
    print_scored("top_categories", intent.top_categories, intent.top_category_count);
    print_scored("top_items", intent.top_items, intent.top_item_count);
    printf(" model=%s\n", intent.model_version);
    codec_intent_clear(&intent);
    return 0;
}

static int print_click(const codec_t *codec, const rd_kafka_message_t *m)
{
    codec_click_event_t click;
    codec_error_t err;

    if (codec_decode_click(codec, m->payload, m->len, &click, &err) != CODEC_OK)
        return -1;
    printf("click user=%s action=%s item=%s category=%s timestamp_ms=%" PRId64 "\n", click.user_id,
           codec_action_symbol(click.action), click.item_id, click.category_id ? click.category_id : "-",
           click.timestamp_ms);
    codec_click_clear(&click);
    return 0;
}

static int print_review(const codec_t *codec, const rd_kafka_message_t *m)
{
    codec_review_event_t review;
    codec_error_t err;

    if (codec_decode_review(codec, m->payload, m->len, &review, &err) != CODEC_OK)
        return -1;
    printf("review user=%s item=%s category=%s rating=%d text=", review.user_id, review.item_id,
           review.category_id, review.has_rating ? review.rating : 0);
    print_quoted(review.text, strlen(review.text));
    putchar('\n');
    codec_review_clear(&review);
    return 0;
}

static void print_header(rd_kafka_headers_t *headers, const char *name, const char *label)
{
    const void *value;
    size_t size;

    if (headers && rd_kafka_header_get_last(headers, name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR && value) {
        printf(" %s=", label);
        print_quoted(value, size);
    }
}

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
    print_header(headers, "intentd.error", "error");
    printf(" bytes=%zu\n", m->len);
}

void peek_print_record(const struct intentd_config *cfg, const codec_t *codec, const rd_kafka_message_t *m)
{
    const char *topic = rd_kafka_topic_name(m->rkt);
    int status = 0;

    if (strcmp(topic, cfg->topics.dead_letter) == 0) {
        print_dead_letter(m);
        return;
    }
    if (!m->payload)
        status = -1;
    else if (strcmp(topic, cfg->topics.offers) == 0)
        status = print_offer(codec, m);
    else if (strcmp(topic, cfg->topics.intents) == 0)
        status = print_intent(codec, m);
    else if (strcmp(topic, cfg->topics.clickstream) == 0 && cfg->schemas.format == CONFIG_FORMAT_AVRO)
        status = print_click(codec, m);
    else if (strcmp(topic, cfg->topics.reviews) == 0 && cfg->schemas.format == CONFIG_FORMAT_AVRO)
        status = print_review(codec, m);
    else
        status = -1;
    if (status != 0) {
        printf("record partition=%d offset=%" PRId64 " key=", (int)m->partition, m->offset);
        print_quoted(m->key, m->key_len);
        printf(" bytes=%zu%s\n", m->len, m->payload ? "" : " tombstone");
    }
}
