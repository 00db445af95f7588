#include "replay_send.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "replay_output.h"
#include "replay_producer.h"
#include "replay_progress.h"
#include "replay_time.h"

/* Maximum single wait, so that delivery reports and a stop signal are served. */
#define SEND_MAX_WAIT_MS 100
/* Timeout of the Metadata request that checks the topics. */
#define CHECK_TIMEOUT_MS 30000

static int stopped(const struct replay_send_options *options)
{
    return options->stop && *options->stop;
}

/* Waits until due (replay_now_s clock), serving delivery reports. */
static void wait_until(const struct replay_send_options *options, struct replay_producer *producer, double due)
{
    for (double now = replay_now_s(); now < due && !stopped(options); now = replay_now_s()) {
        int wait_ms = (int)((due - now) * 1000.0);
        if (wait_ms > SEND_MAX_WAIT_MS)
            wait_ms = SEND_MAX_WAIT_MS;
        if (producer->rk)
            replay_producer_poll(producer, wait_ms);
        else if (wait_ms > 0) {
            struct timespec pause = {0, (long)wait_ms * 1000000L};
            nanosleep(&pause, NULL);
        }
    }
}

static int send_one(const struct replay_send_options *options, struct replay_producer *producer,
                    const struct replay_event *e, char *error)
{
    const char *topic = e->kind == REPLAY_CLICK ? options->cfg->topics.clickstream : options->cfg->topics.reviews;
    const char *user = replay_event_user(e);
    uint8_t *value;
    size_t len;

    if (replay_output_encode(options->cfg, options->codec, e, &value, &len, error) != 0)
        return -1;
    int rc = 0;
    if (!options->dry_run)
        rc = replay_producer_send(producer, topic, -1, user, strlen(user), value, len,
                                  options->event_time_records ? replay_event_time_ms(e) : 0, NULL, error);
    free(value);
    return rc;
}

static int send_loop(const struct replay_send_options *options, struct replay_producer *producer,
                     const struct replay_events *events, size_t count, struct replay_send_result *result,
                     char *error)
{
    struct replay_progress progress;
    struct replay_pacer pacer = {
        .speed = options->dry_run ? 0 : options->speed,
        .rate = options->dry_run ? 0 : options->rate,
        .first_event_ms = count ? replay_event_time_ms(&events->items[0]) : 0,
        .start_s = replay_now_s(),
    };

    replay_progress_start(&progress, stderr, count);
    for (size_t i = 0; i < count; i++) {
        const struct replay_event *e = &events->items[i];

        wait_until(options, producer, replay_pacer_due(&pacer, replay_event_time_ms(e), i));
        if (stopped(options)) {
            result->interrupted = 1;
            break;
        }
        if (send_one(options, producer, e, error) != 0)
            return -1;
        if (e->kind == REPLAY_CLICK)
            result->clicks++;
        else
            result->reviews++;
        replay_progress_update(&progress, i + 1);
    }
    replay_progress_finish(&progress, result->clicks + result->reviews);
    return 0;
}

/* Checks that the topics the events go to exist, and warns when the two
 * input topics differ in partition count, because `intentd run` requires
 * them to be co-partitioned. */
static int check_topics(const struct replay_send_options *options, struct replay_producer *producer,
                        const struct replay_events *events, size_t count, char *error)
{
    const struct intentd_config *cfg = options->cfg;
    int has_kind[2] = {0, 0}, partitions[2] = {0, 0};
    const char *topics[2] = {cfg->topics.clickstream, cfg->topics.reviews};

    for (size_t i = 0; i < count; i++)
        has_kind[events->items[i].kind] = 1;
    for (int kind = 0; kind < 2; kind++) {
        if (!has_kind[kind])
            continue;
        partitions[kind] = replay_topic_partitions(producer->rk, topics[kind], CHECK_TIMEOUT_MS, error);
        if (partitions[kind] < 0)
            return -1;
    }
    if (has_kind[0] && has_kind[1] && partitions[0] != partitions[1])
        log_warn("the input topics are not co-partitioned, so intentd run will reject them: %s has %d partitions "
                 "and %s has %d", topics[0], partitions[0], topics[1], partitions[1]);
    return 0;
}

int replay_send_events(const struct replay_send_options *options, const struct replay_events *events, size_t count,
                       struct replay_send_result *result, char *error)
{
    struct replay_producer producer = {0};
    double start = replay_now_s();

    memset(result, 0, sizeof *result);
    if (!options->dry_run && replay_producer_open(&producer, options->cfg, options->bootstrap, error) != 0)
        return -1;
    int rc = options->dry_run ? 0 : check_topics(options, &producer, events, count, error);
    if (rc == 0)
        rc = send_loop(options, &producer, events, count, result, error);
    if (rc == 0 && !options->dry_run)
        rc = replay_producer_flush(&producer, 120000, error);
    replay_producer_close(&producer);
    result->elapsed_s = replay_now_s() - start;
    return rc;
}
