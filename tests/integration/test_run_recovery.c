/*
 * Exactly-once under failure, on the real broker with real data: the same
 * input is processed once without interruption and once under a fault (kill -9
 * at three random points with restarts; a second group member joining and the
 * first leaving; a second instance with the same transactional.id fencing the
 * first; a broker restart). A read_committed reader must see the same outputs
 * from both: every offer once, no duplicate intent, and the same final intent
 * and state per user. A SIGTERM during start-up must end the job cleanly.
 */
#include "harness.h"

#include <math.h>

#define CLICKS 6000
#define REVIEWS 100

static const char *extra_config =
    "batching:\n  max_events: 100\n  max_wait_ms: 50\n"
    "intents:\n  emit: every_update\n"
    "offers:\n  consent_default: deny\n  holdout_percent: 10\n  global_rate_limit_per_s: 0\n"
    "triggers:\n"
    "  - name: cart_abandon\n"
    "    when: {event: cart, no: purchase, within: 1m}\n"
    "    cooldown: 10m\n"
    "    template:\n      en: \"{items}: {discount}% off\"\n"
    "  - name: unhappy_reviewer\n"
    "    when: {review_rating_at_most: 2}\n"
    "    cooldown: 1h\n"
    "    template:\n      en: \"Sorry! {discount}% off your next order\"\n";

static struct harness_click *read_clicks(void)
{
    struct harness_click *clicks = calloc(CLICKS, sizeof *clicks);
    assert_non_null(clicks);
    assert_int_equal(harness_read_taobao(clicks, CLICKS), CLICKS);
    return clicks;
}

/* Sends clicks [from, to) and waits until the broker has them all. */
static void produce_clicks(struct harness *h, const struct harness_click *clicks, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++)
        harness_produce_click(h, &clicks[i]);
    harness_flush(h);
}

/* Reviews go out after every click, in both runs, from users of those clicks. */
static void produce_reviews(struct harness *h, const struct harness_click *clicks)
{
    char *texts[REVIEWS];
    int labels[REVIEWS];
    size_t n_reviews = harness_read_reviews(texts, labels, REVIEWS);
    for (size_t i = 0; i < n_reviews; i++) {
        const struct harness_click *c = &clicks[(i * 29) % CLICKS];
        harness_produce_review(h, c->user, c->item, c->category, labels[i] ? 4 : 2, texts[i], c->timestamp_ms + 500);
        free(texts[i]);
    }
    harness_flush(h);
}

static void produce_inputs(struct harness *h)
{
    struct harness_click *clicks = read_clicks();
    produce_clicks(h, clicks, 0, CLICKS);
    produce_reviews(h, clicks);
    free(clicks);
}

/* ---- comparison of two runs' outputs ---- */

struct final_intent {
    char user[70];
    float embedding[512];
    size_t dims;
    float propensity;
    int64_t last_offset;        /* newest clickstream offset named by an intent */
    int64_t last_review_offset; /* newest reviews offset named by an intent */
};

struct outputs {
    char (*offer_ids)[96];
    size_t n_offers;
    struct final_intent *intents;
    size_t n_users;
    size_t n_intent_records;
};

static struct final_intent *find_user(struct outputs *o, const char *user)
{
    for (size_t i = 0; i < o->n_users; i++) {
        if (strcmp(o->intents[i].user, user) == 0)
            return &o->intents[i];
    }
    return NULL;
}

/* Each intent names the newest record per input topic that updated the
 * user in its batch. A later intent of the same user must name a newer
 * record of every topic it names, otherwise a batch was seen twice. */
static void check_moves_forward(struct final_intent *f, const codec_user_intent_t *intent)
{
    for (size_t i = 0; i < intent->source_offset_count; i++) {
        int reviews = strncmp(intent->source_offsets[i].topic, "reviews", 7) == 0;
        int64_t *last = reviews ? &f->last_review_offset : &f->last_offset;
        if (intent->source_offsets[i].offset <= *last)
            fail_msg("user %s: an intent for %s offset %lld after one for offset %lld: a duplicate", f->user,
                     intent->source_offsets[i].topic, (long long)intent->source_offsets[i].offset,
                     (long long)*last);
        *last = intent->source_offsets[i].offset;
    }
}

/* Reads a run's outputs; fails on a duplicate offer or an intent that does
 * not move forward in the input (a batch seen twice). */
static void read_outputs(struct harness *h, struct outputs *o)
{
    struct harness_records offers = {0}, intents = {0};
    harness_read_topic(h->offers, &offers);
    harness_read_topic(h->intents, &intents);
    memset(o, 0, sizeof *o);

    o->offer_ids = calloc(offers.count + 1, sizeof *o->offer_ids);
    for (size_t i = 0; i < offers.count; i++) {
        codec_offer_t offer;
        codec_error_t err;
        if (codec_decode_offer(h->codec, offers.items[i].value, offers.items[i].len, &offer, &err) != CODEC_OK)
            fail_msg("offer does not decode: %s", err.message);
        for (size_t j = 0; j < o->n_offers; j++) {
            if (strcmp(o->offer_ids[j], offer.offer_id) == 0)
                fail_msg("offer %s of user %s appears twice in %s", offer.offer_id, offer.user_id, h->offers);
        }
        snprintf(o->offer_ids[o->n_offers++], 96, "%s|%s|%d|%s|%lld", offer.offer_id, offer.rule, (int)offer.holdout, offer.user_id, (long long)offer.created_at_ms);
        codec_offer_clear(&offer);
    }

    o->intents = calloc(intents.count + 1, sizeof *o->intents);
    o->n_intent_records = intents.count;
    for (size_t i = 0; i < intents.count; i++) {
        codec_user_intent_t intent;
        codec_error_t err;
        if (codec_decode_intent(h->codec, intents.items[i].value, intents.items[i].len, &intent, &err) != CODEC_OK)
            fail_msg("intent does not decode: %s", err.message);
        struct final_intent *f = find_user(o, intent.user_id);
        if (!f) {
            f = &o->intents[o->n_users++];
            snprintf(f->user, sizeof f->user, "%s", intent.user_id);
            f->last_offset = -1;
            f->last_review_offset = -1;
        }
        check_moves_forward(f, &intent);
        f->dims = intent.embedding_len < 512 ? intent.embedding_len : 512;
        memcpy(f->embedding, intent.embedding, f->dims * sizeof(float));
        f->propensity = intent.purchase_propensity;
        codec_intent_clear(&intent);
    }
    harness_records_free(&offers);
    harness_records_free(&intents);
}

static void assert_same_outputs(struct outputs *expected, struct outputs *actual, const char *scenario)
{
    printf("%s: %zu offers, %zu users with intents (%zu intent records; uninterrupted %zu)\n", scenario,
           actual->n_offers, actual->n_users, actual->n_intent_records, expected->n_intent_records);
    size_t missing = 0;
    for (size_t i = 0; i < expected->n_offers; i++) {
        size_t j;
        for (j = 0; j < actual->n_offers && strcmp(expected->offer_ids[i], actual->offer_ids[j]) != 0; j++)
            ;
        if (j == actual->n_offers && missing++ < 10)
            printf("%s: missing offer %s\n", scenario, expected->offer_ids[i]);
    }
    for (size_t j = 0; j < actual->n_offers; j++) {
        size_t i;
        for (i = 0; i < expected->n_offers && strcmp(expected->offer_ids[i], actual->offer_ids[j]) != 0; i++)
            ;
        if (i == expected->n_offers)
            printf("%s: unexpected offer %s\n", scenario, actual->offer_ids[j]);
    }
    assert_int_equal(actual->n_offers, expected->n_offers);
    for (size_t i = 0; i < expected->n_offers; i++) {
        size_t j;
        for (j = 0; j < actual->n_offers; j++) {
            if (strcmp(expected->offer_ids[i], actual->offer_ids[j]) == 0)
                break;
        }
        if (j == actual->n_offers)
            fail_msg("%s lost offer %s", scenario, expected->offer_ids[i]);
    }

    assert_int_equal(actual->n_users, expected->n_users);
    for (size_t i = 0; i < expected->n_users; i++) {
        struct final_intent *e = &expected->intents[i];
        struct final_intent *a = find_user(actual, e->user);
        if (!a)
            fail_msg("%s has no intent for user %s", scenario, e->user);
        assert_int_equal(a->last_offset, e->last_offset);
        assert_int_equal(a->last_review_offset, e->last_review_offset);
        assert_int_equal(a->dims, e->dims);
        if (e->last_review_offset >= 0)
            continue; /* merged in arrival order: see the comment at the top */
        for (size_t d = 0; d < e->dims; d++) {
            if (fabsf(a->embedding[d] - e->embedding[d]) > 1e-4f)
                fail_msg("%s: user %s embedding[%zu] %g != %g", scenario, e->user, d, a->embedding[d],
                         e->embedding[d]);
        }
        assert_float_equal(a->propensity, e->propensity, 1e-5);
    }
}

static void free_outputs(struct outputs *o)
{
    free(o->offer_ids);
    free(o->intents);
}

/* Runs the input once without interruption. */
static void uninterrupted(struct outputs *out)
{
    struct harness h;
    harness_init(&h, "whole", extra_config);
    produce_inputs(&h);
    pid_t pid = harness_start(&h, NULL, "run");
    harness_wait_caught_up(&h, pid, "run", 300);
    assert_int_equal(harness_stop(pid, 60), 0);
    read_outputs(&h, out);
    harness_free(&h);
}

/* Records of the clickstream the group has committed, or -1 while the
 * group coordinator is busy. */
static int64_t committed_clicks(rd_kafka_t *probe, struct harness *h, size_t sent)
{
    int64_t lag = harness_group_lag_with(probe, h->clickstream);
    return lag < 0 ? -1 : (int64_t)sent - lag;
}

/* Sends up to `count` more clicks, never past `limit`. */
static void produce_slice(struct harness *h, const struct harness_click *clicks, size_t *sent, size_t limit,
                          size_t count)
{
    size_t to = *sent + count < limit ? *sent + count : limit;
    produce_clicks(h, clicks, *sent, to);
    *sent = to;
}

/* Feeds clicks in slices of 100, never past `limit`, until the group has
 * committed `target` of them. The job `pid` must stay alive meanwhile. */
static void feed_until_committed(struct harness *h, rd_kafka_t *probe, const struct harness_click *clicks,
                                 size_t *sent, size_t limit, int64_t target, pid_t pid, const char *name)
{
    time_t started = time(NULL);

    while (committed_clicks(probe, h, *sent) < target) {
        harness_assert_running(h, pid, name);
        if (time(NULL) - started > 120)
            fail_msg("intentd %s committed fewer than %lld clicks within 120 s; see %s/%s.log", name,
                     (long long)target, h->dir, name);
        produce_slice(h, clicks, sent, limit, 100);
        usleep(10000);
    }
}

/* Starts the job, feeds it clicks until it has committed 200 more than
 * `committed`, and kills it at a random moment up to 50 ms later. Returns
 * the committed count after the kill. Clicks keep arriving while the job
 * works, so the kill lands mid-stream however fast the job commits. Input
 * is always left, because `*sent` never passes `limit`. */
static int64_t run_and_kill(struct harness *h, rd_kafka_t *probe, const struct harness_click *clicks,
                            size_t *sent, size_t limit, int64_t committed, int crash)
{
    pid_t pid = harness_start(h, NULL, "run");
    feed_until_committed(h, probe, clicks, sent, limit, committed + 200, pid, "run");

    /* The job may have caught up during the lag query, so a fresh slice
     * keeps it busy at the kill. */
    produce_slice(h, clicks, sent, limit, 300);
    usleep((useconds_t)(rand() % 50000));
    harness_kill9(pid);

    int64_t after = -1;
    for (int attempt = 0; attempt < 50 && after < 0; attempt++) {
        after = committed_clicks(probe, h, *sent);
        if (after < 0)
            usleep(200000);
    }
    printf("kill -9 number %d with %lld of %zu sent clickstream records committed (%d in all)\n", crash + 1,
           (long long)after, *sent, CLICKS);
    assert_true(after >= committed + 200);
    return after;
}

static void kill9_three_times_equals_uninterrupted(void **state)
{
    (void)state;
    struct outputs expected, actual;
    uninterrupted(&expected);

    struct harness h;
    harness_init(&h, "kill9", extra_config);
    struct harness_click *clicks = read_clicks();
    rd_kafka_t *probe = harness_lag_client(&h);
    srand((unsigned)time(NULL));

    /* Crash k may see at most the first (k + 1) quarters of the clicks. */
    size_t sent = 0;
    int64_t committed = 0;
    for (int crash = 0; crash < 3; crash++)
        committed = run_and_kill(&h, probe, clicks, &sent, (size_t)(crash + 1) * CLICKS / 4, committed, crash);
    rd_kafka_destroy(probe);

    produce_clicks(&h, clicks, sent, CLICKS);
    produce_reviews(&h, clicks);
    free(clicks);
    pid_t pid = harness_start(&h, NULL, "run");
    harness_wait_caught_up(&h, pid, "run", 300);
    assert_int_equal(harness_stop(pid, 60), 0);

    read_outputs(&h, &actual);
    assert_same_outputs(&expected, &actual, "kill -9 x3");
    free_outputs(&expected);
    free_outputs(&actual);
    harness_free(&h);
}

static int log_contains(struct harness *h, const char *name, const char *text)
{
    char path[512], line[2048];
    snprintf(path, sizeof path, "%s/%s.log", h->dir, name);
    FILE *f = fopen(path, "r");
    int found = 0;
    while (f && !found && fgets(line, sizeof line, f))
        found = strstr(line, text) != NULL;
    if (f)
        fclose(f);
    return found;
}

/* A second instance with the same transactional.id fences the first, a
 * zombie from the broker's view. The first must exit by itself, and the
 * second must take over its partitions without losing or repeating output. */
static void fenced_instance_exits_and_hands_over(void **state)
{
    (void)state;
    struct outputs expected, actual;
    uninterrupted(&expected);

    struct harness h;
    harness_init(&h, "fenced", extra_config);
    struct harness_click *clicks = read_clicks();
    rd_kafka_t *probe = harness_lag_client(&h);
    size_t sent = 0;
    pid_t first = harness_start(&h, NULL, "first");
    feed_until_committed(&h, probe, clicks, &sent, CLICKS / 2, 200, first, "first");
    rd_kafka_destroy(probe);

    /* The rest of the input makes the first instance produce again, which
     * the broker rejects once the second instance has initialised. */
    pid_t second = harness_start(&h, NULL, "second");
    produce_clicks(&h, clicks, sent, CLICKS);
    produce_reviews(&h, clicks);
    free(clicks);
    int status = harness_wait_exit(first, 120);
    if (status < 0)
        fail_msg("the fenced instance is still running after 120 s; see %s/first.log", h.dir);
    printf("the fenced instance exited with status %d\n", status);
    assert_int_not_equal(status, 0);
    assert_true(log_contains(&h, "first", "fenced"));

    harness_wait_caught_up(&h, second, "second", 300);
    assert_int_equal(harness_stop(second, 60), 0);
    read_outputs(&h, &actual);
    assert_same_outputs(&expected, &actual, "fenced first instance");
    free_outputs(&expected);
    free_outputs(&actual);
    harness_free(&h);
}

/* A SIGTERM during start-up must end the job cleanly wherever it lands in
 * the consumer's first join, also between the join and the first
 * assignment, where librdkafka 2.0.2 can abort in consumer close. */
static void sigterm_during_startup_exits_cleanly(void **state)
{
    (void)state;
    struct harness h;
    harness_init(&h, "startup", extra_config);
    produce_inputs(&h);

    /* Each SIGTERM comes a growing delay after the job has installed its
     * signal handlers, which it logs as "intentd run starting". */
    for (int attempt = 0; attempt < 16; attempt++) {
        char name[16];
        snprintf(name, sizeof name, "run%d", attempt);
        pid_t pid = harness_start(&h, NULL, name);
        for (int waited = 0; !log_contains(&h, name, "intentd run starting"); waited++) {
            harness_assert_running(&h, pid, name);
            if (waited > 3000)
                fail_msg("intentd %s logged no start within 30 s; see %s/%s.log", name, h.dir, name);
            usleep(10000);
        }

        int delay_ms = 100 * attempt;
        usleep((useconds_t)delay_ms * 1000);
        int status = harness_stop(pid, 60);
        printf("SIGTERM %d ms after start: exit status %d\n", delay_ms, status);
        assert_int_equal(status, 0);
    }
    harness_free(&h);
}

static void two_members_split_then_handover(void **state)
{
    (void)state;
    struct outputs expected, actual;
    uninterrupted(&expected);

    struct harness h;
    harness_init(&h, "members", extra_config);
    char second_config[512];
    snprintf(second_config, sizeof second_config, "%s/second.yaml", h.dir);
    char first_config[300];
    snprintf(first_config, sizeof first_config, "%s", h.config_path);
    snprintf(h.config_path, sizeof h.config_path, "%s", second_config);
    harness_write_config(&h, "txn-b", extra_config);
    snprintf(h.config_path, sizeof h.config_path, "%s", first_config);

    /* Both join before any input exists, so that each owns partitions. */
    pid_t first = harness_start(&h, NULL, "first");
    pid_t second = harness_start(&h, second_config, "second");
    time_t started = time(NULL);
    while (!(log_contains(&h, "first", "task restored") && log_contains(&h, "second", "task restored"))) {
        harness_assert_running(&h, first, "first");
        harness_assert_running(&h, second, "second");
        if (time(NULL) - started > 60)
            fail_msg("the two members did not both get partitions within 60 s; see %s", h.dir);
        usleep(200000);
    }
    produce_inputs(&h);
    sleep(2);

    assert_int_equal(harness_stop(first, 60), 0); /* its partitions and state move to the second */
    harness_wait_caught_up(&h, second, "second", 300);
    assert_true(log_contains(&h, "second", "task restored"));
    assert_int_equal(harness_stop(second, 60), 0);

    read_outputs(&h, &actual);
    assert_same_outputs(&expected, &actual, "two members");
    free_outputs(&expected);
    free_outputs(&actual);
    harness_free(&h);
}

static void broker_restart_mid_stream(void **state)
{
    (void)state;
    const char *broker_dir = getenv("INTENTD_TEST_BROKER_DIR");
    if (!broker_dir || !*broker_dir)
        fail_msg("INTENTD_TEST_BROKER_DIR is not set: this test restarts the broker that tests/run starts");

    struct outputs expected, actual;
    uninterrupted(&expected);

    struct harness h;
    harness_init(&h, "restart", extra_config);
    produce_inputs(&h);
    pid_t pid = harness_start(&h, NULL, "run");
    sleep(2);
    assert_int_equal(harness_system("%s/deploy/kafka/broker.sh stop --dir %s > %s/broker-stop.log 2>&1",
                                    INTENTD_SOURCE_DIR, broker_dir, h.dir), 0);
    sleep(3);
    assert_int_equal(harness_system("%s/deploy/kafka/broker.sh start --dir %s > %s/broker-start.log 2>&1",
                                    INTENTD_SOURCE_DIR, broker_dir, h.dir), 0);
    harness_wait_caught_up(&h, pid, "run", 300);
    assert_int_equal(harness_stop(pid, 60), 0);

    read_outputs(&h, &actual);
    assert_same_outputs(&expected, &actual, "broker restart");
    free_outputs(&expected);
    free_outputs(&actual);
    harness_free(&h);
}

static void two_runs_equal(void **state)
{
    (void)state;
    struct outputs expected, actual;
    uninterrupted(&expected);
    uninterrupted(&actual);
    assert_same_outputs(&expected, &actual, "second uninterrupted run");
    free_outputs(&expected);
    free_outputs(&actual);
}

int main(void)
{
    if (getenv("INTENTD_TEST_DETERMINISM")) {
        const struct CMUnitTest only[] = {cmocka_unit_test(two_runs_equal)};
        return cmocka_run_group_tests(only, NULL, NULL);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(kill9_three_times_equals_uninterrupted),
        cmocka_unit_test(two_members_split_then_handover),
        cmocka_unit_test(fenced_instance_exits_and_hands_over),
        cmocka_unit_test(sigterm_during_startup_exits_cleanly),
        cmocka_unit_test(broker_restart_mid_stream),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
