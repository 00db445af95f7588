/*
 * The exactly-once stream loop on a real broker: records copied from a driver
 * and a companion topic to an output topic while some transactions are
 * forcibly aborted must appear exactly once to a read_committed reader, and a
 * second instance of the group must restore the changelog before processing.
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

#include "stream_loop.h"

#define PARTITIONS 4
#define DRIVER_RECORDS 2000
#define COMPANION_RECORDS 1000
#define USERS 100


static void produce_inputs(const char *topic, int count, char prefix)
{
    char errstr[256];
    rd_kafka_conf_t *conf = harness_conf();
    harness_conf_set(conf, "enable.idempotence", "true");
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    assert_non_null(rk);

    for (int i = 0; i < count; i++) {
        char key[16], value[16];
        snprintf(key, sizeof key, "u%d", i % USERS);
        snprintf(value, sizeof value, "%c%d", prefix, i);
        rd_kafka_resp_err_t err;
        while ((err = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, strlen(key)),
                                        RD_KAFKA_V_VALUE(value, strlen(value)),
                                        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END)) ==
               RD_KAFKA_RESP_ERR__QUEUE_FULL)
            rd_kafka_poll(rk, 10);
        assert_int_equal(err, RD_KAFKA_RESP_ERR_NO_ERROR);
    }
    assert_int_equal(rd_kafka_flush(rk, 30000), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_destroy(rk);
}

/* The copy job under test: every input record goes to the output topic, every
 * user's record count goes to the changelog. */
struct copy_job {
    struct stream_loop *loop;
    const char *output_topic;
    const char *changelog_topic;
    int committed_records;  /* records in committed transactions */
    int batch_records;      /* records in the open transaction */
    int target_records;     /* stop once this many are committed */
    int batches_seen;
    int aborts_forced;
    int abort_every;        /* force an abort on every Nth batch; 0 never */
    volatile sig_atomic_t stop;
    int restored_records;
    int tasks_ready;
    int dirty_users[USERS];
};

static void produce_or_fail(rd_kafka_t *producer, const char *topic, int32_t partition, const void *key,
                            size_t key_len, const void *value, size_t value_len)
{
    rd_kafka_resp_err_t err;
    while ((err = rd_kafka_producev(producer, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
                                    RD_KAFKA_V_KEY(key, key_len), RD_KAFKA_V_VALUE((void *)value, value_len),
                                    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END)) ==
           RD_KAFKA_RESP_ERR__QUEUE_FULL)
        rd_kafka_poll(producer, 10);
    assert_int_equal(err, RD_KAFKA_RESP_ERR_NO_ERROR);
}

static int on_record(void *ctx, const rd_kafka_message_t *record)
{
    struct copy_job *job = ctx;
    rd_kafka_t *producer = stream_loop_producer(job->loop);

    produce_or_fail(producer, job->output_topic, 0, record->key, record->key_len, record->payload, record->len);

    char key[16];
    snprintf(key, sizeof key, "%.*s", (int)record->key_len, (const char *)record->key);
    int user = atoi(key + 1);
    char state[32];
    int n = snprintf(state, sizeof state, "p%d", (int)record->partition);
    produce_or_fail(producer, job->changelog_topic, record->partition, key, strlen(key), state, (size_t)n);
    job->dirty_users[user] = 1;
    job->batch_records++;
    return 0;
}

static int on_batch_end(void *ctx)
{
    struct copy_job *job = ctx;

    job->batches_seen++;
    if (job->abort_every && job->batches_seen % job->abort_every == 0) {
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
    if (job->committed_records >= job->target_records)
        job->stop = 1;
}

static void on_abort(void *ctx)
{
    struct copy_job *job = ctx;
    job->batch_records = 0;
}

static void on_restore_record(void *ctx, const rd_kafka_message_t *record)
{
    struct copy_job *job = ctx;
    (void)record;
    job->restored_records++;
}

static void on_task_ready(void *ctx, int32_t partition, int64_t users, double seconds)
{
    struct copy_job *job = ctx;
    (void)partition;
    (void)users;
    (void)seconds;
    job->tasks_ready++;
}

static void run_job(struct copy_job *job, const char *group, const char *txn_id, const char *driver,
                    const char *companion)
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
        .changelog_topic = job->changelog_topic,
        .batch_max_events = 150,
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
    };

    if (stream_loop_create(&job->loop, consumer, producer, &options, &handlers, error) != 0)
        fail_msg("stream_loop_create failed: %s", error);

    int result = stream_loop_run(job->loop, &job->stop, error);
    if (result != 0)
        fail_msg("stream_loop_run failed: %s", error);
    stream_loop_destroy(job->loop);
    job->loop = NULL;
}

static void loop_exactly_once_with_aborts(void **state)
{
    (void)state;
    char driver[64], companion[64], output[64], changelog[64], group[64], txn[64];
    unsigned suffix = (unsigned)getpid() ^ (unsigned)time(NULL);
    snprintf(driver, sizeof driver, "loop-driver-%u", suffix);
    snprintf(companion, sizeof companion, "loop-companion-%u", suffix);
    snprintf(output, sizeof output, "loop-output-%u", suffix);
    snprintf(changelog, sizeof changelog, "loop-changelog-%u", suffix);
    snprintf(group, sizeof group, "loop-group-%u", suffix);
    snprintf(txn, sizeof txn, "loop-txn-%u", suffix);

    const char *names[] = {driver, companion, output, changelog};
    const int partitions[] = {PARTITIONS, PARTITIONS, 1, PARTITIONS};
    harness_create_topics(names, partitions, 4);
    produce_inputs(driver, DRIVER_RECORDS, 'd');
    produce_inputs(companion, COMPANION_RECORDS, 'c');

    struct copy_job *job = calloc(1, sizeof *job);
    job->output_topic = output;
    job->changelog_topic = changelog;
    job->target_records = DRIVER_RECORDS + COMPANION_RECORDS;
    job->abort_every = 3;
    run_job(job, group, txn, driver, companion);

    assert_int_equal(job->committed_records, DRIVER_RECORDS + COMPANION_RECORDS);
    assert_true(job->aborts_forced > 0);
    assert_int_equal(job->tasks_ready, PARTITIONS);
    assert_int_equal(job->restored_records, 0);

    int *driver_seen = calloc(DRIVER_RECORDS, sizeof(int));
    int *companion_seen = calloc(COMPANION_RECORDS, sizeof(int));
    int total = harness_count_output(output, 0, driver_seen, DRIVER_RECORDS, companion_seen, COMPANION_RECORDS);
    assert_int_equal(total, DRIVER_RECORDS + COMPANION_RECORDS);
    for (int i = 0; i < DRIVER_RECORDS; i++)
        assert_int_equal(driver_seen[i], 1);
    for (int i = 0; i < COMPANION_RECORDS; i++)
        assert_int_equal(companion_seen[i], 1);

    /* A second member of the same group restores the committed changelog:
     * every changelog record of a committed transaction, none of the aborted. */
    struct copy_job *second = calloc(1, sizeof *second);
    second->output_topic = output;
    second->changelog_topic = changelog;
    second->target_records = 0;
    second->stop = 0;
    produce_inputs(driver, PARTITIONS, 'd'); /* wakes each task once more */
    second->target_records = PARTITIONS;
    run_job(second, group, txn, driver, companion);
    assert_int_equal(second->tasks_ready, PARTITIONS);
    assert_int_equal(second->restored_records, DRIVER_RECORDS + COMPANION_RECORDS);

    free(driver_seen);
    free(companion_seen);
    free(job);
    free(second);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(loop_exactly_once_with_aborts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
