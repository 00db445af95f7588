/*
 * Partition pauses of app_registry inside the real stream loop, with forced
 * aborts. A copy job sends every input record to an output topic once its
 * schema id is admitted. Input records change schema id every 50 records, and
 * the test's registry server fails the first request for each id with HTTP
 * 503, so partitions pause, are rewound and resume many times, mostly in the
 * middle of a batch. Every batch in which a partition was paused, and every
 * 3rd batch, is aborted. A read_committed reader must still see every input
 * record exactly once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <librdkafka/rdkafka.h>

#include "harness.h"

#include "../support/registry_server.h"
#include "app_registry.h"
#include "stream_task.h"

#define PARTITIONS 4
#define DRIVER_RECORDS 2000
#define COMPANION_RECORDS 1000
#define USERS 100
#define RECORDS_PER_ID 50 /* a new schema id every 50 records, so lookups keep happening */
#define FIRST_ID 1000
#define N_IDS ((DRIVER_RECORDS + COMPANION_RECORDS + RECORDS_PER_ID - 1) / RECORDS_PER_ID)
#define TIME_LIMIT_S 60.0

static const char *const EMPTY_RECORD = "{\"type\":\"record\",\"name\":\"Empty\",\"fields\":[]}";


/* Produces count records "<prefix><i>" framed with schema id FIRST_ID + (first + i) / RECORDS_PER_ID. */
static void produce_inputs(const char *topic, int count, int first, char prefix)
{
    char errstr[256];
    rd_kafka_conf_t *conf = harness_conf();
    harness_conf_set(conf, "enable.idempotence", "true");
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    assert_non_null(rk);

    for (int i = 0; i < count; i++) {
        char key[16];
        uint8_t value[32];
        snprintf(key, sizeof key, "u%d", i % USERS);
        codec_frame_write_header((uint32_t)(FIRST_ID + (first + i) / RECORDS_PER_ID), value);
        int n = snprintf((char *)value + CODEC_FRAME_HEADER_SIZE, sizeof value - CODEC_FRAME_HEADER_SIZE, "%c%d",
                         prefix, i);
        rd_kafka_resp_err_t err;
        while ((err = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, strlen(key)),
                                        RD_KAFKA_V_VALUE(value, CODEC_FRAME_HEADER_SIZE + (size_t)n),
                                        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END)) ==
               RD_KAFKA_RESP_ERR__QUEUE_FULL)
            rd_kafka_poll(rk, 10);
        assert_int_equal(err, RD_KAFKA_RESP_ERR_NO_ERROR);
    }
    assert_int_equal(rd_kafka_flush(rk, 30000), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_destroy(rk);
}

/* The copy job: admitted records go to the output topic. */
struct copy_job {
    struct stream_loop *loop;
    struct app_registry *registry;
    const char *output_topic;
    int committed_records;
    int batch_records;
    int target_records;
    int batches_seen;
    int aborts_forced;
    int aborts_while_paused;
    uint64_t pauses_seen;       /* registry pauses at the end of the previous batch */
    int deferred;
    double started_s;
    volatile sig_atomic_t stop;
};

static int on_record(void *ctx, const rd_kafka_message_t *record)
{
    struct copy_job *job = ctx;
    const codec_t *codec;
    enum app_dead_letter_reason reason;
    char detail[512];

    enum app_registry_admission admission =
        app_registry_admit(job->registry, job->loop, record, &codec, &reason, detail, sizeof detail);
    if (admission == APP_REGISTRY_DEFER) {
        job->deferred++;
        return 1;
    }
    if (admission == APP_REGISTRY_DEAD_LETTER)
        fail_msg("record %lld of partition %d was dead-lettered: %s", (long long)record->offset,
                 (int)record->partition, detail);

    rd_kafka_resp_err_t err;
    while ((err = rd_kafka_producev(stream_loop_producer(job->loop), RD_KAFKA_V_TOPIC(job->output_topic),
                                    RD_KAFKA_V_PARTITION(0), RD_KAFKA_V_KEY(record->key, record->key_len),
                                    RD_KAFKA_V_VALUE(record->payload, record->len),
                                    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END)) ==
           RD_KAFKA_RESP_ERR__QUEUE_FULL)
        rd_kafka_poll(stream_loop_producer(job->loop), 10);
    assert_int_equal(err, RD_KAFKA_RESP_ERR_NO_ERROR);
    job->batch_records++;
    return 0;
}

/* Aborts every batch in which a partition was paused, because its rewind
 * then differs from the one after a commit, and every 3rd batch. */
static int on_batch_end(void *ctx)
{
    struct copy_job *job = ctx;
    struct app_registry_stats stats;
    app_registry_get_stats(job->registry, &stats);

    job->batches_seen++;
    if (stats.pauses != job->pauses_seen) {
        job->pauses_seen = stats.pauses;
        job->aborts_while_paused++;
        job->aborts_forced++;
        return -1;
    }
    if (job->batches_seen % 3 == 0) {
        job->aborts_forced++;
        return -1;
    }
    return 0;
}

static void on_commit(void *ctx)
{
    struct copy_job *job = ctx;
    job->committed_records += job->batch_records;
    job->batch_records = 0;
    app_registry_on_commit(job->registry, job->loop);
    if (job->committed_records >= job->target_records)
        job->stop = 1;
}

static void on_abort(void *ctx)
{
    struct copy_job *job = ctx;
    job->batch_records = 0;
    app_registry_on_abort(job->registry);
}

static void on_idle(void *ctx)
{
    struct copy_job *job = ctx;
    if (stream_now() - job->started_s > TIME_LIMIT_S)
        job->stop = 1;
    app_registry_on_idle(job->registry, job->loop);
}

static void on_restore_record(void *ctx, const rd_kafka_message_t *record)
{
    (void)ctx;
    (void)record;
}

static void on_task_ready(void *ctx, int32_t partition, int64_t users, double seconds)
{
    (void)ctx, (void)partition, (void)users, (void)seconds;
}

static void on_task_revoked(void *ctx, int32_t partition)
{
    struct copy_job *job = ctx;
    app_registry_forget_partition(job->registry, partition);
}

static void run_job(struct copy_job *job, const char *group, const char *txn_id, const char *driver,
                    const char *companion, const char *changelog)
{
    char error[STREAM_ERROR_SIZE];
    rd_kafka_conf_t *consumer = harness_conf();
    harness_conf_set(consumer, "group.id", group);
    rd_kafka_conf_t *producer = harness_conf();
    harness_conf_set(producer, "transactional.id", txn_id);

    struct stream_loop_options options = {
        .driver_topic = driver,
        .companion_topics = {companion},
        .n_companions = 1,
        .changelog_topic = changelog,
        .batch_max_events = 100,
        .batch_max_wait_ms = 100,
        .transaction_timeout_ms = 30000,
    };
    struct stream_handlers handlers = {
        .ctx = job,
        .on_record = on_record,
        .on_batch_end = on_batch_end,
        .on_commit = on_commit,
        .on_abort = on_abort,
        .on_restore_record = on_restore_record,
        .on_task_ready = on_task_ready,
        .on_task_revoked = on_task_revoked,
        .on_idle = on_idle,
    };

    if (stream_loop_create(&job->loop, consumer, producer, &options, &handlers, error) != 0)
        fail_msg("stream_loop_create failed: %s", error);
    job->started_s = stream_now();
    if (stream_loop_run(job->loop, &job->stop, error) != 0)
        fail_msg("stream_loop_run failed: %s", error);
    stream_loop_destroy(job->loop);
    job->loop = NULL;
}

static struct app_registry *open_registry(struct registry_server *server)
{
    char url[64], error[512];
    struct intentd_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.schemas.local_dir = INTENTD_SOURCE_DIR "/schemas";

    struct schema_registry_options options;
    snprintf(url, sizeof url, "http://127.0.0.1:%u", (unsigned)server->port);
    schema_registry_options_defaults(&options, url, NULL);
    options.fail_fast_ms = 0;
    options.timeout_ms = 500;
    struct app_registry *registry = app_registry_new(&cfg, &options, error, sizeof error);
    if (!registry)
        fail_msg("app_registry_new: %s", error);
    return registry;
}

static void pauses_keep_exactly_once(void **state)
{
    (void)state;
    char driver[64], companion[64], output[64], changelog[64], group[64], txn[64];
    unsigned suffix = (unsigned)getpid() ^ (unsigned)time(NULL);
    snprintf(driver, sizeof driver, "pause-driver-%u", suffix);
    snprintf(companion, sizeof companion, "pause-companion-%u", suffix);
    snprintf(output, sizeof output, "pause-output-%u", suffix);
    snprintf(changelog, sizeof changelog, "pause-changelog-%u", suffix);
    snprintf(group, sizeof group, "pause-group-%u", suffix);
    snprintf(txn, sizeof txn, "pause-txn-%u", suffix);

    const char *names[] = {driver, companion, output, changelog};
    const int partitions[] = {PARTITIONS, PARTITIONS, 1, PARTITIONS};
    harness_create_topics(names, partitions, 4);
    produce_inputs(driver, DRIVER_RECORDS, 0, 'd');
    produce_inputs(companion, COMPANION_RECORDS, DRIVER_RECORDS, 'c');

    struct registry_server server;
    registry_server_init(&server);
    for (int i = 0; i < N_IDS; i++)
        registry_server_add(&server, FIRST_ID + i, EMPTY_RECORD, NULL);
    server.fail_first_request = 1;
    assert_int_equal(registry_server_start(&server, 0), 0);

    struct copy_job *job = calloc(1, sizeof *job);
    job->registry = open_registry(&server);
    job->output_topic = output;
    job->target_records = DRIVER_RECORDS + COMPANION_RECORDS;
    run_job(job, group, txn, driver, companion, changelog);

    struct app_registry_stats stats;
    app_registry_get_stats(job->registry, &stats);
    printf("pauses=%llu retries=%llu deferred_records=%d aborts=%d batches=%d\n", (unsigned long long)stats.pauses,
           (unsigned long long)stats.retries, job->deferred, job->aborts_forced, job->batches_seen);
    assert_int_equal(job->committed_records, DRIVER_RECORDS + COMPANION_RECORDS);
    assert_int_equal(stats.pauses, N_IDS); /* one failed first request per id */
    assert_true(job->deferred > 0);
    assert_true(job->aborts_while_paused > 0);
    assert_true(job->aborts_forced > job->aborts_while_paused);

    int *driver_seen = calloc(DRIVER_RECORDS, sizeof(int));
    int *companion_seen = calloc(COMPANION_RECORDS, sizeof(int));
    int total = harness_count_output(output, CODEC_FRAME_HEADER_SIZE, driver_seen, DRIVER_RECORDS, companion_seen,
                                     COMPANION_RECORDS);
    assert_int_equal(total, DRIVER_RECORDS + COMPANION_RECORDS);
    for (int i = 0; i < DRIVER_RECORDS; i++)
        assert_int_equal(driver_seen[i], 1);
    for (int i = 0; i < COMPANION_RECORDS; i++)
        assert_int_equal(companion_seen[i], 1);

    free(driver_seen);
    free(companion_seen);
    app_registry_free(job->registry);
    free(job);
    registry_server_free(&server);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pauses_keep_exactly_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
