#include "eval_topic.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "codec_events.h"
#include "kafka_conf.h"

#define TOPIC_TIMEOUT_MS 30000

static rd_kafka_t *open_reader(const struct intentd_config *cfg, const char *bootstrap, char *error)
{
    rd_kafka_conf_t *conf;
    char message[512];

    if (kafka_conf_build(cfg, bootstrap, &conf, message, sizeof message) != 0 ||
        kafka_conf_set(conf, "group.id", "intentd-eval", message, sizeof message) != 0 ||
        kafka_conf_set(conf, "isolation.level", "read_committed", message, sizeof message) != 0 ||
        kafka_conf_set(conf, "enable.auto.commit", "false", message, sizeof message) != 0 ||
        kafka_conf_set(conf, "enable.partition.eof", "true", message, sizeof message) != 0) {
        snprintf(error, REPLAY_ERROR_SIZE, "%s", message);
        return NULL;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, message, sizeof message);
    if (!rk)
        snprintf(error, REPLAY_ERROR_SIZE, "creating the eval consumer failed: %s", message);
    else
        rd_kafka_poll_set_consumer(rk);
    return rk;
}

/* Assigns every partition of topic from its start and fills end[] with the
 * high watermarks. Returns the partition count, or -1. */
static int assign_all(rd_kafka_t *rk, const char *topic, int64_t **end, char *error)
{
    const struct rd_kafka_metadata *metadata = NULL;
    rd_kafka_topic_t *handle = rd_kafka_topic_new(rk, topic, NULL);
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, handle, &metadata, TOPIC_TIMEOUT_MS);
    rd_kafka_topic_destroy(handle);
    if (err || metadata->topic_cnt != 1 || metadata->topics[0].err) {
        snprintf(error, REPLAY_ERROR_SIZE, "reading the metadata of topic %s failed: %s; check the name and "
                 "kafka.bootstrap_servers", topic,
                 rd_kafka_err2str(err ? err : metadata->topics[0].err));
        if (metadata)
            rd_kafka_metadata_destroy(metadata);
        return -1;
    }

    int partitions = metadata->topics[0].partition_cnt;
    rd_kafka_metadata_destroy(metadata);
    *end = calloc((size_t)partitions, sizeof **end);
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(partitions);
    for (int p = 0; p < partitions; p++) {
        int64_t low = 0;
        err = rd_kafka_query_watermark_offsets(rk, topic, p, &low, &(*end)[p], TOPIC_TIMEOUT_MS);
        if (err) {
            snprintf(error, REPLAY_ERROR_SIZE, "reading the end of %s/%d failed: %s", topic, p, rd_kafka_err2str(err));
            rd_kafka_topic_partition_list_destroy(list);
            return -1;
        }
        rd_kafka_topic_partition_list_add(list, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    }
    err = rd_kafka_assign(rk, list);
    rd_kafka_topic_partition_list_destroy(list);
    if (err) {
        snprintf(error, REPLAY_ERROR_SIZE, "assigning %s failed: %s", topic, rd_kafka_err2str(err));
        return -1;
    }
    return partitions;
}

/* Decodes one record into an event. Returns 1 when it is an event, 0 when
 * it is bad (reason in message). */
static int decode(const codec_t *codec, const rd_kafka_message_t *m, struct replay_event *e, char *message,
                  size_t size)
{
    uint32_t id = 0;
    const uint8_t *body;
    size_t body_len;
    codec_error_t err;

    memset(e, 0, sizeof *e);
    if (!m->payload || codec_frame_parse(m->payload, m->len, &id, &body, &body_len, &err) != CODEC_OK) {
        snprintf(message, size, "%s", m->payload ? err.message : "a tombstone is not an event");
        return 0;
    }
    const char *record = codec_record_name(codec, id);
    int rc;
    if (record && strcmp(record, CODEC_REVIEW_EVENT) == 0) {
        e->kind = REPLAY_REVIEW;
        rc = codec_decode_review(codec, m->payload, m->len, &e->u.review, &err);
    } else {
        e->kind = REPLAY_CLICK;
        rc = codec_decode_click(codec, m->payload, m->len, &e->u.click, &err);
    }
    if (rc != CODEC_OK) {
        snprintf(message, size, "%s", err.message);
        return 0;
    }
    return 1;
}

int eval_read_topic(struct replay_load *load, const struct intentd_config *cfg, const char *bootstrap,
                    const char *topic, const codec_t *codec, char *error)
{
    int64_t *end = NULL;
    rd_kafka_t *rk = open_reader(cfg, bootstrap, error);
    if (!rk)
        return -1;
    int partitions = assign_all(rk, topic, &end, error);
    int rc = partitions < 0 ? -1 : 0;

    /* A partition is done when its end-of-partition offset reaches the high
     * watermark taken at start. read_committed stops at the last stable
     * offset, which gets there once every transaction in range has ended.
     * The last offsets may be transaction markers, which are never read. */
    char *finished = calloc(partitions > 0 ? (size_t)partitions : 1, 1);
    int done = 0;
    for (int p = 0; p < partitions; p++) {
        finished[p] = end[p] == 0;
        done += finished[p];
    }
    while (rc == 0 && done < partitions) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 1000);
        if (!m)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            if (m->partition >= 0 && m->partition < partitions && !finished[m->partition] &&
                m->offset >= end[m->partition]) {
                finished[m->partition] = 1;
                done++;
            }
        } else if (m->err) {
            snprintf(error, REPLAY_ERROR_SIZE, "reading %s failed: %s", topic, rd_kafka_message_errstr(m));
            rc = -1;
        } else if (m->offset < end[m->partition]) {
            struct replay_event e;
            char reason[256], where[320];
            if (decode(codec, m, &e, reason, sizeof reason)) {
                rc = replay_load_add(load, &e, error);
            } else {
                snprintf(where, sizeof where, "%s/%d@%lld", topic, (int)m->partition, (long long)m->offset);
                rc = replay_bad_line(load->bad, where, 0, reason, error);
            }
        }
        rd_kafka_message_destroy(m);
    }

    free(finished);
    free(end);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return rc;
}
