/*
 * intents.emit on_move through the real broker: with min_move at its
 * maximum of 2 only a user's first intent may go out, across batches and
 * across a restart. The second run gets new events for the same users and
 * must send no intent, which holds only if each user's last emitted
 * embedding came back from the changelog (a user restored without one gets
 * an intent). The changelog records must be version 2 and carry the
 * embedding.
 */
#include "harness.h"

#include "state_codec.h"

#define SAMPLE_CLICKS 6000 /* read from the Taobao sample */
#define MIN_USER_CLICKS 3   /* users with fewer clicks in the sample are left out */
#define D_MODEL 64       /* of the default model */
#define DAY_MS 86400000LL

static const char *extra_config =
    "batching:\n  max_events: 100\n  max_wait_ms: 50\n"
    "intents:\n  emit: on_move\n  min_move: 2\n"
    "offers:\n  enabled: false\n";

/* Distinct users of the clicks, with their click and intent counts. */
struct user_count {
    char user[32];
    int clicks;
    int intents;
};

static struct user_count *find_or_add(struct user_count *users, size_t *n, const char *user)
{
    for (size_t i = 0; i < *n; i++) {
        if (strcmp(users[i].user, user) == 0)
            return &users[i];
    }
    snprintf(users[*n].user, sizeof users[*n].user, "%s", user);
    users[*n].clicks = 0;
    users[*n].intents = 0;
    return &users[(*n)++];
}

/* Produces the clicks shifted by shift_ms of event time and runs intentd
 * until it has consumed them. */
static void run_once(struct harness *h, struct harness_click *clicks, size_t n, int64_t shift_ms, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        struct harness_click c = clicks[i];
        c.timestamp_ms += shift_ms;
        harness_produce_click(h, &c);
    }
    harness_flush(h);

    pid_t pid = harness_start(h, NULL, name);
    harness_wait_caught_up(h, pid, name, 300);
    assert_int_equal(harness_stop(pid, 60), 0);
}

/* Counts the intents per user. Every intent must belong to a user of the
 * clicks and sit on the partition number of its source events, because
 * intentd partitions keyed outputs by murmur2 like the harness's producer. */
static void count_intents(struct harness *h, struct user_count *users, size_t n_users)
{
    struct harness_records intents = {0};
    harness_read_topic(h->intents, &intents);

    for (size_t i = 0; i < n_users; i++)
        users[i].intents = 0;
    for (size_t i = 0; i < intents.count; i++) {
        codec_user_intent_t intent;
        codec_error_t err;
        if (codec_decode_intent(h->codec, intents.items[i].value, intents.items[i].len, &intent, &err) != CODEC_OK)
            fail_msg("intent does not decode: %s", err.message);
        size_t j;
        for (j = 0; j < n_users && strcmp(users[j].user, intent.user_id) != 0; j++)
            ;
        if (j == n_users)
            fail_msg("intent for user %s, who has no click", intent.user_id);
        assert_true(intent.source_offset_count > 0);
        if (intents.items[i].partition != intent.source_offsets[0].partition)
            fail_msg("intent of user %s on partition %d, its events on partition %d", intent.user_id,
                     (int)intents.items[i].partition, (int)intent.source_offsets[0].partition);
        users[j].intents++;
        codec_intent_clear(&intent);
    }
    harness_records_free(&intents);
}

static void assert_one_intent_each(const struct user_count *users, size_t n_users, const char *after)
{
    for (size_t i = 0; i < n_users; i++) {
        if (users[i].intents != 1)
            fail_msg("after %s user %s has %d intents, expected exactly 1", after, users[i].user, users[i].intents);
    }
}

/* Checks that the newest changelog record of every user is version 2 and
 * carries a D_MODEL-component embedding. */
static void assert_changelog_has_embeddings(struct harness *h, const struct user_count *users, size_t n_users)
{
    struct harness_records records = {0};
    harness_read_topic(h->changelog, &records);

    for (size_t u = 0; u < n_users; u++) {
        const struct harness_record *newest = NULL;
        for (size_t i = 0; i < records.count; i++) {
            const struct harness_record *r = &records.items[i];
            if (r->key_len == strlen(users[u].user) && memcmp(r->key, users[u].user, r->key_len) == 0)
                newest = r; /* read in offset order per partition, and a user has one partition */
        }
        if (!newest || !newest->value)
            fail_msg("user %s has no changelog record", users[u].user);

        struct state_codec_view view;
        char error[STATE_ERROR_SIZE];
        if (state_codec_decode(newest->value, newest->len, &view, error) != STATE_CODEC_OK)
            fail_msg("changelog record of user %s does not decode: %s", users[u].user, error);
        assert_int_equal(view.version, 2);
        assert_int_equal(view.embedding_dim, D_MODEL);
        assert_true(view.embedding_scale > 0.0f);
    }
    harness_records_free(&records);
}

static void on_move_first_intent_only_across_restart(void **state)
{
    (void)state;
    struct harness h;
    harness_init(&h, "emit-move", extra_config);

    struct harness_click *clicks = calloc(SAMPLE_CLICKS, sizeof *clicks);
    struct user_count *users = calloc(SAMPLE_CLICKS, sizeof *users);
    assert_non_null(clicks);
    assert_non_null(users);
    size_t n_sample = harness_read_taobao(clicks, SAMPLE_CLICKS);
    assert_int_equal(n_sample, SAMPLE_CLICKS);

    /* Keep the clicks of returning users, whose later clicks usually arrive
     * in later batches (100 events each) and must not send a second intent. */
    size_t n_users = 0;
    for (size_t i = 0; i < n_sample; i++)
        find_or_add(users, &n_users, clicks[i].user)->clicks++;
    size_t n = 0;
    for (size_t i = 0; i < n_sample; i++) {
        if (find_or_add(users, &n_users, clicks[i].user)->clicks >= MIN_USER_CLICKS)
            clicks[n++] = clicks[i];
    }
    n_users = 0;
    for (size_t i = 0; i < n; i++)
        find_or_add(users, &n_users, clicks[i].user);
    printf("on_move: %zu clicks of %zu users with %d or more each\n", n, n_users, MIN_USER_CLICKS);
    assert_true(n_users >= 100);

    run_once(&h, clicks, n, 0, "first");
    count_intents(&h, users, n_users);
    assert_one_intent_each(users, n_users, "the first run");
    assert_changelog_has_embeddings(&h, users, n_users);

    /* The same clicks a day later, to a new process that restores the state. */
    run_once(&h, clicks, n, DAY_MS, "second");
    count_intents(&h, users, n_users);
    assert_one_intent_each(users, n_users, "the restart");

    free(clicks);
    free(users);
    harness_free(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(on_move_first_intent_only_across_restart),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
