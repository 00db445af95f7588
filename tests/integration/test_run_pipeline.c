/*
 * intentd run on real data through the real broker: a slice of the Taobao
 * clickstream and Chinese reviews, mixed with poison records. Checks that
 * every active user gets an intent, that the offers are exactly the ones the
 * rules, cooldowns, caps, holdout and consent allow (computed here by an
 * independent reference from the records as the broker stored them), and that
 * every poison record lands in the dead-letter topic with its reason and
 * source while every good record is processed.
 */
#include "harness.h"

#include "model_bundle.h"
#include "offer_policy.h"

#define CLICKS 3000
#define REVIEWS 150
#define CART_WINDOW_MS 60000
#define CART_COOLDOWN_MS 600000
#define REVIEW_COOLDOWN_MS 3600000
#define RULE_HOLDOUT 20.0

static const char *extra_config =
    "batching:\n  max_events: 500\n  max_wait_ms: 100\n"
    "intents:\n  emit: every_update\n"
    "offers:\n  consent_default: deny\n  holdout_percent: 0\n  global_rate_limit_per_s: 0\n  language: zh\n"
    "triggers:\n"
    "  - name: cart_abandon\n"
    "    when: {event: cart, no: purchase, within: 1m}\n"
    "    cooldown: 10m\n    max_offers: 3\n    per_window: 1d\n    holdout_percent: 20\n"
    "    template:\n      en: \"Still thinking? {items}: {discount}% off\"\n"
    "      zh: \"还在考虑吗？{items} 立减 {discount}%\"\n"
    "    discount_percent: 15\n    max_items: 3\n"
    "  - name: unhappy_reviewer\n"
    "    when: {review_rating_at_most: 2}\n"
    "    cooldown: 1h\n    max_offers: 1\n    per_window: 1d\n    holdout_percent: 20\n"
    "    template:\n      zh: \"很抱歉给您带来不好的体验，送您 {discount}% 优惠券\"\n"
    "    discount_percent: 20\n    max_items: 2\n";

/* A poison record: where it goes, its bytes, and the reason expected. */
struct poison {
    const char *key;
    int on_reviews;
    uint8_t *value;
    size_t len;
    const char *reason;
};

static uint8_t *valid_click_frame(struct harness *h, const char *user, size_t *len)
{
    codec_click_event_t event = {.user_id = (char *)user, .item_id = "1", .category_id = "2",
                                 .action = CODEC_ACTION_VIEW, .timestamp_ms = 1511658000000LL,
                                 .consent = CODEC_CONSENT_GIVEN};
    uint8_t *frame;
    codec_error_t err;
    if (codec_encode_click(h->codec, &event, &frame, len, &err) != CODEC_OK)
        fail_msg("%s", err.message);
    return frame;
}

static uint8_t *review_frame(struct harness *h, const char *user, const char *text, size_t *len)
{
    codec_review_event_t event = {.user_id = (char *)user, .item_id = "1", .category_id = "2", .has_rating = 1,
                                  .rating = 3, .text = (char *)text, .timestamp_ms = 1511658000000LL,
                                  .consent = CODEC_CONSENT_GIVEN};
    uint8_t *frame;
    codec_error_t err;
    if (codec_encode_review(h->codec, &event, &frame, len, &err) != CODEC_OK)
        fail_msg("%s", err.message);
    return frame;
}

static size_t make_poison(struct harness *h, struct poison *p)
{
    size_t n = 0, len;
    uint8_t *frame;

    uint8_t *random = malloc(64);
    for (int i = 0; i < 64; i++)
        random[i] = (uint8_t)(0x7f + i * 37);
    p[n++] = (struct poison){"poison-random", 0, random, 64, "invalid_frame"};

    frame = valid_click_frame(h, "poison-magic", &len);
    frame[0] = 1;
    p[n++] = (struct poison){"poison-magic", 0, frame, len, "invalid_frame"};

    frame = valid_click_frame(h, "poison-schema", &len);
    frame[1] = 0, frame[2] = 0, frame[3] = 3, frame[4] = 0xE7; /* id 999 */
    p[n++] = (struct poison){"poison-schema", 0, frame, len, "unknown_schema_id"};

    frame = valid_click_frame(h, "poison-truncated", &len);
    p[n++] = (struct poison){"poison-truncated", 0, frame, len / 2, "malformed_body"};

    frame = valid_click_frame(h, "poison-empty", &len);
    p[n++] = (struct poison){"poison-empty", 0, frame, 0, "empty_value"};

    frame = valid_click_frame(h, "poison-someone-else", &len);
    p[n++] = (struct poison){"poison-key", 0, frame, len, "key_mismatch"};

    size_t big = 2u << 20;
    char *text = malloc(big + 1);
    memset(text, 'a', big);
    text[big] = '\0';
    frame = review_frame(h, "poison-big", text, &len);
    free(text);
    p[n++] = (struct poison){"poison-big", 1, frame, len, "text_too_large"};

    frame = review_frame(h, "poison-utf8", "GOODTEXT", &len);
    uint8_t *at = memmem(frame, len, "GOODTEXT", 8);
    assert_non_null(at);
    at[2] = 0xFF, at[3] = 0xFE;
    p[n++] = (struct poison){"poison-utf8", 1, frame, len, "malformed_body"};
    return n;
}

/* ---- the independent reference for the two rules ---- */

struct expected_offer {
    char user[32];
    int rule; /* 0 cart_abandon, 1 unhappy_reviewer */
    int64_t created_ms;
    int holdout;
    int seen;
};

struct expectations {
    struct expected_offer *offers;
    size_t count, capacity;
};

static void expect_offer(struct expectations *e, const char *user, int rule, int64_t at, struct offer_policy *policy)
{
    /* cooldown: one offer per user and rule inside the slice, unless the
     * earlier one is older than the cooldown */
    int64_t cooldown = rule == 0 ? CART_COOLDOWN_MS : REVIEW_COOLDOWN_MS;
    for (size_t i = 0; i < e->count; i++) {
        if (e->offers[i].rule == rule && strcmp(e->offers[i].user, user) == 0 &&
            at - e->offers[i].created_ms < cooldown)
            return;
    }
    if (!harness_user_consents(user))
        return;

    struct offer_rule r = {.name = rule == 0 ? "cart_abandon" : "unhappy_reviewer", .holdout_percent = RULE_HOLDOUT};
    if (e->count == e->capacity) {
        e->capacity = e->capacity ? e->capacity * 2 : 64;
        e->offers = realloc(e->offers, e->capacity * sizeof *e->offers);
    }
    struct expected_offer *o = &e->offers[e->count++];
    memset(o, 0, sizeof *o);
    snprintf(o->user, sizeof o->user, "%s", user);
    o->rule = rule;
    o->created_ms = at;
    o->holdout = offer_policy_in_rule_holdout(policy, &r, user, strlen(user));
}

/* Replays the clickstream of each partition in offset order: the partition's
 * clock is its newest event time, and a cart at t with no purchase at or
 * after t and no newer cart fires when the clock first passes t + 1 minute. */
struct pending_cart {
    char user[32];
    int64_t cart_ms;
};

static void reference_cart_offers(struct harness *h, const struct harness_records *clicks, struct expectations *e,
                                  struct offer_policy *policy)
{
    for (int p = 0; p < HARNESS_PARTITIONS; p++) {
        struct pending_cart *pending = calloc(clicks->count, sizeof *pending);
        size_t n_pending = 0;
        int64_t clock = 0;

        for (size_t i = 0; i < clicks->count; i++) {
            const struct harness_record *r = &clicks->items[i];
            codec_click_event_t ev;
            codec_error_t err;
            if (r->partition != p || !r->value ||
                codec_decode_click(h->codec, r->value, r->len, &ev, &err) != CODEC_OK)
                continue;
            if (strcmp(ev.user_id, r->key) != 0) {
                codec_click_clear(&ev);
                continue;
            }

            if (ev.timestamp_ms > clock) {
                clock = ev.timestamp_ms;
                /* fire in deadline order */
                for (;;) {
                    size_t best = SIZE_MAX;
                    for (size_t j = 0; j < n_pending; j++) {
                        if (pending[j].cart_ms + CART_WINDOW_MS < clock &&
                            (best == SIZE_MAX || pending[j].cart_ms < pending[best].cart_ms))
                            best = j;
                    }
                    if (best == SIZE_MAX)
                        break;
                    expect_offer(e, pending[best].user, 0, pending[best].cart_ms + CART_WINDOW_MS, policy);
                    pending[best] = pending[--n_pending];
                }
            }

            /* a newer cart or a purchase cancels the user's pending cart */
            if (ev.action == CODEC_ACTION_ADD_TO_CART || ev.action == CODEC_ACTION_PURCHASE) {
                for (size_t j = 0; j < n_pending; j++) {
                    if (strcmp(pending[j].user, ev.user_id) == 0 && ev.timestamp_ms >= pending[j].cart_ms) {
                        pending[j] = pending[--n_pending];
                        j--;
                    }
                }
            }
            if (ev.action == CODEC_ACTION_ADD_TO_CART) {
                snprintf(pending[n_pending].user, sizeof pending[n_pending].user, "%s", ev.user_id);
                pending[n_pending++].cart_ms = ev.timestamp_ms;
            }
            codec_click_clear(&ev);
        }
        free(pending);
    }
}

static void reference_review_offers(struct harness *h, const struct harness_records *reviews, struct expectations *e,
                                    struct offer_policy *policy)
{
    for (size_t i = 0; i < reviews->count; i++) {
        const struct harness_record *r = &reviews->items[i];
        codec_review_event_t ev;
        codec_error_t err;
        if (!r->value || codec_decode_review(h->codec, r->value, r->len, &ev, &err) != CODEC_OK)
            continue;
        if (strcmp(ev.user_id, r->key) == 0 && ev.has_rating && ev.rating <= 2 && strlen(ev.text) <= 65536)
            expect_offer(e, ev.user_id, 1, ev.timestamp_ms, policy);
        codec_review_clear(&ev);
    }
}

/* ---- checks ---- */

static int user_index(char (*users)[32], size_t n, const char *user)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(users[i], user) == 0)
            return (int)i;
    }
    return -1;
}

static void check_intents(struct harness *h, const struct harness_click *clicks, size_t n_clicks,
                          const struct model_bundle *bundle)
{
    struct harness_records intents = {0};
    harness_read_topic(h->intents, &intents);

    char (*users)[32] = calloc(n_clicks, 32);
    int *seen = calloc(n_clicks, sizeof(int));
    size_t n_users = 0;
    for (size_t i = 0; i < n_clicks; i++) {
        if (user_index(users, n_users, clicks[i].user) < 0)
            snprintf(users[n_users++], 32, "%s", clicks[i].user);
    }

    for (size_t i = 0; i < intents.count; i++) {
        codec_user_intent_t intent;
        codec_error_t err;
        if (codec_decode_intent(h->codec, intents.items[i].value, intents.items[i].len, &intent, &err) != CODEC_OK)
            fail_msg("intent %zu does not decode: %s", i, err.message);
        assert_string_equal(intent.user_id, intents.items[i].key);
        assert_string_equal(intent.model_version, bundle->version);
        assert_int_equal(intent.embedding_len, (size_t)bundle->model.config.d_model);
        assert_true(intent.purchase_propensity > 0.0f && intent.purchase_propensity < 1.0f);
        assert_true(intent.source_offset_count >= 1);
        int u = user_index(users, n_users, intent.user_id);
        if (u >= 0)
            seen[u]++;
        codec_intent_clear(&intent);
    }
    for (size_t u = 0; u < n_users; u++) {
        if (!seen[u])
            fail_msg("user %s had clickstream events but no intent", users[u]);
    }
    printf("intents: %zu records for %zu active users\n", intents.count, n_users);
    free(users);
    free(seen);
    harness_records_free(&intents);
}

static void check_offers(struct harness *h, struct expectations *e, const struct harness_click *clicks, size_t n)
{
    struct harness_records offers = {0};
    harness_read_topic(h->offers, &offers);
    size_t holdouts = 0;

    for (size_t i = 0; i < offers.count; i++) {
        codec_offer_t offer;
        codec_error_t err;
        if (codec_decode_offer(h->codec, offers.items[i].value, offers.items[i].len, &offer, &err) != CODEC_OK)
            fail_msg("offer %zu does not decode: %s", i, err.message);
        int rule = strcmp(offer.rule, "cart_abandon") == 0 ? 0 : 1;
        size_t j;
        for (j = 0; j < e->count; j++) {
            if (e->offers[j].rule == rule && strcmp(e->offers[j].user, offer.user_id) == 0 &&
                e->offers[j].created_ms == offer.created_at_ms)
                break;
        }
        if (j == e->count)
            fail_msg("unexpected offer: user %s rule %s at %lld", offer.user_id, offer.rule,
                     (long long)offer.created_at_ms);
        assert_int_equal(e->offers[j].seen, 0); /* no duplicate */
        e->offers[j].seen = 1;
        assert_int_equal((int)offer.holdout, e->offers[j].holdout);
        holdouts += offer.holdout;
        assert_string_equal(offer.language, "zh");
        assert_non_null(strstr(offer.message, rule == 0 ? "立减 15%" : "20% 优惠券"));

        /* items: distinct, never one the user bought in the slice */
        for (size_t a = 0; a < offer.item_count; a++) {
            for (size_t b = a + 1; b < offer.item_count; b++)
                assert_string_not_equal(offer.items[a], offer.items[b]);
            for (size_t c = 0; c < n; c++) {
                if (clicks[c].action == CODEC_ACTION_PURCHASE && strcmp(clicks[c].user, offer.user_id) == 0)
                    assert_string_not_equal(offer.items[a], clicks[c].item);
            }
        }
        codec_offer_clear(&offer);
    }
    for (size_t j = 0; j < e->count; j++) {
        if (!e->offers[j].seen)
            fail_msg("missing offer: user %s rule %d at %lld", e->offers[j].user, e->offers[j].rule,
                     (long long)e->offers[j].created_ms);
    }
    printf("offers: %zu written, %zu held out, all as the reference expects\n", offers.count, holdouts);
    assert_true(offers.count > 0);
    harness_records_free(&offers);
}

static void check_dead_letters(struct harness *h, const struct poison *poison, size_t n_poison,
                               const struct harness_records *clicks, const struct harness_records *reviews)
{
    struct harness_records dlq = {0};
    harness_read_topic(h->dead_letter, &dlq);
    assert_int_equal(dlq.count, n_poison);

    for (size_t i = 0; i < n_poison; i++) {
        const struct harness_records *source = poison[i].on_reviews ? reviews : clicks;
        const struct harness_record *original = NULL;
        for (size_t j = 0; j < source->count; j++) {
            if (strcmp(source->items[j].key, poison[i].key) == 0)
                original = &source->items[j];
        }
        assert_non_null(original);

        const struct harness_record *dead = NULL;
        for (size_t j = 0; j < dlq.count; j++) {
            if (strcmp(dlq.items[j].key, poison[i].key) == 0)
                dead = &dlq.items[j];
        }
        if (!dead)
            fail_msg("poison record %s is not in the dead-letter topic", poison[i].key);

        char value[128];
        assert_string_equal(harness_header(dead, "intentd.reason", value, sizeof value), poison[i].reason);
        assert_string_equal(harness_header(dead, "intentd.source.topic", value, sizeof value),
                            poison[i].on_reviews ? h->reviews : h->clickstream);
        assert_int_equal(atoi(harness_header(dead, "intentd.source.partition", value, sizeof value)),
                         original->partition);
        assert_int_equal(atoll(harness_header(dead, "intentd.source.offset", value, sizeof value)),
                         original->offset);
        size_t kept = poison[i].len > 512 * 1024 ? 512 * 1024 : poison[i].len;
        assert_int_equal(dead->len, kept);
        if (kept)
            assert_memory_equal(dead->value, poison[i].value, kept);
        if (kept < poison[i].len) {
            assert_string_equal(harness_header(dead, "intentd.value.truncated", value, sizeof value), "true");
            assert_int_equal(atoll(harness_header(dead, "intentd.value.size", value, sizeof value)), poison[i].len);
        }
    }
    printf("dead letters: %zu, each with its reason and source offset\n", dlq.count);
    harness_records_free(&dlq);
}

static void pipeline_offers_intents_dead_letters(void **state)
{
    (void)state;
    struct harness h;
    harness_init(&h, "pipeline", extra_config);

    struct model_bundle bundle;
    char error[MODEL_ERROR_SIZE];
    if (model_bundle_load(&bundle, harness_model_path(), NULL, error) != 0)
        fail_msg("%s", error);

    /* inputs */
    struct harness_click *clicks = calloc(CLICKS, sizeof *clicks);
    size_t n_clicks = harness_read_taobao(clicks, CLICKS);
    assert_int_equal(n_clicks, CLICKS);
    for (size_t i = 0; i < n_clicks; i++)
        harness_produce_click(&h, &clicks[i]);

    char *texts[REVIEWS];
    int labels[REVIEWS];
    size_t n_reviews = harness_read_reviews(texts, labels, REVIEWS);
    assert_int_equal(n_reviews, REVIEWS);
    for (size_t i = 0; i < n_reviews; i++) {
        const struct harness_click *c = &clicks[(i * 17) % n_clicks];
        harness_produce_review(&h, c->user, c->item, c->category, labels[i] ? 5 : 1, texts[i],
                               c->timestamp_ms + 1000);
        free(texts[i]);
    }

    /* Room for the 2 MB review on its input topic; the dead-letter copy is cut
     * to 512 KiB so that it fits the default limits. */
    harness_set_topic_config(h.reviews, "max.message.bytes", "4194304");
    struct poison poison[16];
    size_t n_poison = make_poison(&h, poison);
    for (size_t i = 0; i < n_poison; i++)
        harness_produce(&h, poison[i].on_reviews ? h.reviews : h.clickstream, poison[i].key, strlen(poison[i].key),
                        poison[i].len ? (const void *)poison[i].value : "", poison[i].len);
    harness_produce(&h, h.clickstream, "poison-tombstone", 16, NULL, 0); /* a tombstone is not malformed */
    harness_flush(&h);

    /* run until everything is committed, then stop with SIGTERM */
    pid_t pid = harness_start(&h, NULL, "run");
    harness_wait_caught_up(&h, pid, "run", 240);
    assert_int_equal(harness_stop(pid, 60), 0);

    /* the reference, from the records as the broker stored them */
    struct harness_records click_records = {0}, review_records = {0};
    harness_read_topic(h.clickstream, &click_records);
    harness_read_topic(h.reviews, &review_records);
    struct offer_policy_options options;
    offer_policy_options_defaults(&options);
    char policy_error[OFFER_ERROR_SIZE];
    struct offer_policy *policy = offer_policy_new(&options, policy_error);
    assert_non_null(policy);
    struct expectations expected = {0};
    reference_cart_offers(&h, &click_records, &expected, policy);
    reference_review_offers(&h, &review_records, &expected, policy);
    printf("reference: %zu offers expected\n", expected.count);

    check_intents(&h, clicks, n_clicks, &bundle);
    check_offers(&h, &expected, clicks, n_clicks);
    check_dead_letters(&h, poison, n_poison, &click_records, &review_records);

    for (size_t i = 0; i < n_poison; i++)
        free(poison[i].value);
    free(expected.offers);
    offer_policy_free(policy);
    harness_records_free(&click_records);
    harness_records_free(&review_records);
    free(clicks);
    model_bundle_free(&bundle);
    harness_free(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pipeline_offers_intents_dead_letters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
