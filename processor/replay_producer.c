#include "replay_producer.h"

#include <stdio.h>
#include <string.h>

#include "kafka_conf.h"

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *message, void *opaque)
{
    struct replay_producer *p = opaque;

    (void)rk;
    if (!message->err) {
        p->delivered++;
        return;
    }
    if (p->failed++ == 0)
        snprintf(p->first_failure, sizeof p->first_failure, "delivery to %.200s [%d] failed: %s",
                 rd_kafka_topic_name(message->rkt), (int)message->partition, rd_kafka_err2str(message->err));
}

int replay_producer_open(struct replay_producer *p, const struct intentd_config *cfg, const char *bootstrap,
                         char *error)
{
    static const char *const settings[][2] = {
        {"enable.idempotence", "true"},
        {"acks", "all"},
        {"partitioner", "murmur2_random"},
        {"linger.ms", "5"},
    };
    rd_kafka_conf_t *conf;
    char message[512];

    memset(p, 0, sizeof *p);
    if (kafka_conf_build(cfg, bootstrap, &conf, message, sizeof message) != 0) {
        snprintf(error, REPLAY_ERROR_SIZE, "%s", message);
        return -1;
    }
    for (size_t i = 0; i < sizeof settings / sizeof settings[0]; i++) {
        if (kafka_conf_set(conf, settings[i][0], settings[i][1], message, sizeof message) != 0) {
            rd_kafka_conf_destroy(conf);
            snprintf(error, REPLAY_ERROR_SIZE, "%s", message);
            return -1;
        }
    }
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_opaque(conf, p);
    p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, message, sizeof message);
    if (!p->rk) {
        rd_kafka_conf_destroy(conf);
        snprintf(error, REPLAY_ERROR_SIZE, "creating the Kafka producer failed: %s", message);
        return -1;
    }
    return 0;
}

int replay_producer_send(struct replay_producer *p, const char *topic, int32_t partition, const void *key,
                         size_t key_len, const void *value, size_t value_len, int64_t timestamp_ms,
                         rd_kafka_headers_t *headers, char *error)
{
    rd_kafka_resp_err_t err;

    for (;;) {
        if (p->failed) {
            snprintf(error, REPLAY_ERROR_SIZE, "%s", p->first_failure);
            return -1;
        }
        err = rd_kafka_producev(p->rk, RD_KAFKA_V_TOPIC(topic),
                                RD_KAFKA_V_PARTITION(partition < 0 ? RD_KAFKA_PARTITION_UA : partition),
                                RD_KAFKA_V_KEY(key, key_len), RD_KAFKA_V_VALUE((void *)value, value_len),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_TIMESTAMP(timestamp_ms),
                                RD_KAFKA_V_HEADERS(headers), RD_KAFKA_V_END);
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
            break;
        rd_kafka_poll(p->rk, 10);
    }
    if (err) {
        snprintf(error, REPLAY_ERROR_SIZE, "producing to %.200s failed: %s", topic, rd_kafka_err2str(err));
        return -1;
    }
    rd_kafka_poll(p->rk, 0);
    return 0;
}

void replay_producer_poll(struct replay_producer *p, int timeout_ms)
{
    rd_kafka_poll(p->rk, timeout_ms);
}

int replay_producer_flush(struct replay_producer *p, int timeout_ms, char *error)
{
    rd_kafka_resp_err_t err = rd_kafka_flush(p->rk, timeout_ms);

    if (p->failed) {
        snprintf(error, REPLAY_ERROR_SIZE, "%llu records were not delivered; the first: %s",
                 (unsigned long long)p->failed, p->first_failure);
        return -1;
    }
    if (err) {
        snprintf(error, REPLAY_ERROR_SIZE, "%d records were still queued after %d ms: %s; check that the broker "
                 "is reachable", rd_kafka_outq_len(p->rk), timeout_ms, rd_kafka_err2str(err));
        return -1;
    }
    return 0;
}

void replay_producer_close(struct replay_producer *p)
{
    if (p->rk)
        rd_kafka_destroy(p->rk);
    p->rk = NULL;
}

int replay_topic_partitions(rd_kafka_t *rk, const char *topic, int timeout_ms, char *error)
{
    const struct rd_kafka_metadata *metadata;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, rkt, &metadata, timeout_ms);
    int count = -1;

    rd_kafka_topic_destroy(rkt);
    if (err) {
        snprintf(error, REPLAY_ERROR_SIZE, "reading metadata of topic %.200s failed: %s", topic, rd_kafka_err2str(err));
        return -1;
    }
    if (metadata->topic_cnt != 1 || metadata->topics[0].err)
        snprintf(error, REPLAY_ERROR_SIZE, "topic %.200s not found (%s); create it first, for example with "
                 "intentd topics create", topic,
                 rd_kafka_err2str(metadata->topic_cnt ? metadata->topics[0].err : RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC));
    else
        count = metadata->topics[0].partition_cnt;
    rd_kafka_metadata_destroy(metadata);
    return count;
}
