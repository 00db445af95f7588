#include "app_dead_letter.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static void add_header(rd_kafka_headers_t *headers, const char *name, const char *value)
{
    rd_kafka_header_add(headers, name, -1, value, (ssize_t)strlen(value));
}

/* The largest original value copied into a dead-letter record. A larger one
 * is cut to this size, so that a record the broker accepted on an input topic
 * with a raised max.message.bytes still fits the producer's default
 * message.max.bytes (1,000,000) on the dead-letter topic. */
#define DEAD_LETTER_MAX_VALUE (512u * 1024u)

static rd_kafka_headers_t *build_headers(const rd_kafka_message_t *record, enum app_dead_letter_reason reason,
                                         const char *detail)
{
    rd_kafka_headers_t *original = NULL;
    rd_kafka_headers_t *headers;
    char number[32];

    if (rd_kafka_message_headers(record, &original) == RD_KAFKA_RESP_ERR_NO_ERROR && original) {
        headers = rd_kafka_headers_copy(original);
    } else {
        headers = rd_kafka_headers_new(6);
    }

    add_header(headers, "intentd.reason", app_dead_letter_reason_name(reason));
    add_header(headers, "intentd.error", detail);
    add_header(headers, "intentd.source.topic", rd_kafka_topic_name(record->rkt));
    snprintf(number, sizeof number, "%" PRId32, record->partition);
    add_header(headers, "intentd.source.partition", number);
    snprintf(number, sizeof number, "%" PRId64, record->offset);
    add_header(headers, "intentd.source.offset", number);
    snprintf(number, sizeof number, "%" PRId64, rd_kafka_message_timestamp(record, NULL));
    add_header(headers, "intentd.source.timestamp", number);
    if (record->len > DEAD_LETTER_MAX_VALUE) {
        snprintf(number, sizeof number, "%zu", record->len);
        add_header(headers, "intentd.value.size", number);
        add_header(headers, "intentd.value.truncated", "true");
    }
    return headers;
}

int app_dead_letter_produce(rd_kafka_t *producer, const char *topic, const rd_kafka_message_t *record,
                            enum app_dead_letter_reason reason, const char *detail, char *error,
                            size_t error_size)
{
    rd_kafka_headers_t *headers = build_headers(record, reason, detail);
    rd_kafka_resp_err_t err;

    /* On success the producer owns the headers; on failure they stay ours. */
    while ((err = rd_kafka_producev(producer, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(record->key, record->key_len),
                                    RD_KAFKA_V_VALUE(record->payload, record->len > DEAD_LETTER_MAX_VALUE
                                                                          ? DEAD_LETTER_MAX_VALUE
                                                                          : record->len),
                                    RD_KAFKA_V_HEADERS(headers),
                                    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END)) ==
           RD_KAFKA_RESP_ERR__QUEUE_FULL)
        rd_kafka_poll(producer, 10);

    if (err) {
        rd_kafka_headers_destroy(headers);
        snprintf(error, error_size, "producing to dead-letter topic %s failed: %s (source %s/%d@%lld)", topic,
                 rd_kafka_err2str(err), rd_kafka_topic_name(record->rkt), (int)record->partition,
                 (long long)record->offset);
        return -1;
    }
    return 0;
}
