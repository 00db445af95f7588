/*
 * The state changelog: every user touched by a batch is written to the
 * compacted changelog topic, in the batch's transaction, to the partition of
 * its input; a newly owned partition is restored from it before processing.
 */
#include <stdio.h>
#include <string.h>

#include "app.h"
#include "log.h"
#include "state_codec.h"

int app_write_changelog(struct app *app)
{
    unsigned char record[STATE_CODEC_MAX_SIZE];
    char error[STATE_ERROR_SIZE];

    for (size_t i = 0; i < app->n_touches; i++) {
        struct state_user *user = app->touches[i].user;
        size_t len = 0;

        if (app->touches[i].erase) {
            if (app_produce(app, app->cfg->topics.changelog, user->partition, user->id, user->id_len, NULL, 0) != 0)
                return -1;
            app->counters.changelog_tombstones++;
            continue;
        }
        if (state_codec_encode(app->store, user, record, sizeof record, &len, error) != STATE_CODEC_OK) {
            snprintf(app->error, sizeof app->error, "encoding the state of user %s failed: %s", user->id, error);
            return -1;
        }
        if (app_produce(app, app->cfg->topics.changelog, user->partition, user->id, user->id_len, record, len) != 0)
            return -1;
        app->counters.changelog_records++;
    }
    return 0;
}

void app_on_restore_record(void *ctx, const rd_kafka_message_t *record)
{
    struct app *app = ctx;
    char error[STATE_ERROR_SIZE];

    if (!record->key || record->key_len == 0) {
        log_warn("changelog record without a key skipped partition=%d offset=%lld", (int)record->partition,
                 (long long)record->offset);
        return;
    }
    /* A corrupt record is logged and skipped: the user then starts empty,
     * which is better than refusing the whole partition. */
    if (state_codec_restore(app->store, record->key, record->key_len, record->payload, record->len,
                            record->partition, error) != STATE_CODEC_OK)
        log_warn("corrupt changelog record skipped partition=%d offset=%lld error=\"%s\"", (int)record->partition,
                 (long long)record->offset, error);
}

void app_on_task_ready(void *ctx, int32_t partition, int64_t records, double seconds)
{
    struct app *app = ctx;

    /* A changelog not yet compacted contains several records per user and
     * tombstones, so the users are counted in the store. */
    size_t users = state_store_partition_users(app->store, partition);
    log_info("partition state restored partition=%d users=%zu records=%lld seconds=%.3f", (int)partition, users,
             (long long)records, seconds);
    app->counters.restored_users += (uint64_t)users;
    app->counters.restore_seconds += seconds;
    app_offer_rebuild_timers(app, partition);
}

void app_on_task_revoked(void *ctx, int32_t partition)
{
    struct app *app = ctx;
    size_t dropped = state_store_drop_partition(app->store, partition);
    if (app->registry)
        app_registry_forget_partition(app->registry, partition);
    log_info("dropped users of revoked partition partition=%d users=%zu", (int)partition, dropped);
}
