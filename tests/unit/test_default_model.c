/*
 * The committed default model (model/default/intentd-default.safetensors,
 * made by deploy/train-default-model.sh): it loads through the processor's
 * model_bundle_load, stays within 20 MB, encodes real Taobao users to finite
 * outputs with a propensity in (0, 1), round-trips a Chinese review through
 * its tokenizer, and generates offers of known, distinct, not banned items
 * under the processor's constraints.
 */
#include "test_model_util.h"

#include <sys/stat.h>

#include "encoder.h"
#include "generate.h"
#include "head_quant.h"
#include "item_scorer.h"
#include "kernels.h"
#include "model_bundle.h"
#include "offer_setup.h"

#define DEFAULT_MODEL INTENTD_SOURCE_DIR "/model/default/intentd-default.safetensors"
#define TAOBAO INTENTD_DATA_DIR "/taobao_user_behavior_sample.csv"
#define N_USERS 4
#define MAX_TOKENS 64

struct user_sequence {
    char id[32];
    int tokens[MAX_TOKENS];
    int length;
    int purchases[MAX_TOKENS];
    int n_purchases;
};

static int behavior_action(const char *b)
{
    return strcmp(b, "pv") == 0     ? TOKENIZER_ACTION_VIEW
           : strcmp(b, "fav") == 0  ? TOKENIZER_ACTION_FAVOURITE
           : strcmp(b, "cart") == 0 ? TOKENIZER_ACTION_ADD_TO_CART
                                    : TOKENIZER_ACTION_PURCHASE;
}

/* Appends one event to the user (keeps the last MAX_TOKENS tokens, as the
 * processor's ring buffer). */
static void push_event(const struct tokenizer *tok, struct user_sequence *u, const char *item, const char *category,
                       int action)
{
    struct tokenizer_event e = {.action = action, .item_id = item, .category_id = category, .sentiment = -1};
    int32_t tokens[TOKENIZER_EVENT_FIXED_TOKENS];
    size_t n = 0;
    char error[MODEL_ERROR_SIZE];

    assert_int_equal(tokenizer_encode_event(tok, &e, 0, tokens, TOKENIZER_EVENT_FIXED_TOKENS, &n, error), 0);
    for (size_t i = 0; i < n; i++) {
        if (u->length == MAX_TOKENS) {
            memmove(u->tokens, u->tokens + 1, (MAX_TOKENS - 1) * sizeof(int));
            u->length--;
        }
        u->tokens[u->length++] = tokens[i];
    }
    if (action == TOKENIZER_ACTION_PURCHASE && u->n_purchases < MAX_TOKENS)
        u->purchases[u->n_purchases++] = tokenizer_item_token(tok, item);
}

/* Reads the events of the first N_USERS users with 3 or more events among
 * the first lines of the Taobao sample. */
static int load_users(const struct tokenizer *tok, struct user_sequence *users)
{
    enum { CANDIDATES = 256 };
    static struct user_sequence all[CANDIDATES];
    int n_all = 0, events[CANDIDATES] = {0};
    char line[256];
    FILE *f = fopen(TAOBAO, "r");
    assert_non_null(f);

    memset(all, 0, sizeof all);
    for (int lines = 0; lines < 20000 && fgets(line, sizeof line, f); lines++) {
        char user[32], item[32], category[32], behavior[8];
        long long ts;
        if (sscanf(line, "%31[^,],%31[^,],%31[^,],%7[^,],%lld", user, item, category, behavior, &ts) != 5)
            continue;
        int u = 0;
        while (u < n_all && strcmp(all[u].id, user) != 0)
            u++;
        if (u == n_all) {
            if (n_all == CANDIDATES)
                continue;
            snprintf(all[n_all++].id, sizeof all[0].id, "%s", user);
        }
        push_event(tok, &all[u], item, category, behavior_action(behavior));
        events[u]++;
    }
    fclose(f);

    int n = 0;
    for (int u = 0; u < n_all && n < N_USERS; u++)
        if (events[u] >= 3)
            users[n++] = all[u];
    return n;
}

static int setup(void **state)
{
    struct model_bundle *bundle = calloc(1, sizeof *bundle);
    char error[MODEL_ERROR_SIZE];

    assert_non_null(bundle);
    if (model_bundle_load(bundle, DEFAULT_MODEL, NULL, error) != 0) {
        fprintf(stderr, "loading the default model failed: %s\n", error);
        free(bundle);
        return -1;
    }
    *state = bundle;
    return 0;
}

static int teardown(void **state)
{
    model_bundle_free(*state);
    free(*state);
    return 0;
}

static void file_within_20mb(void **state)
{
    (void)state;
    struct stat st;
    assert_int_equal(stat(DEFAULT_MODEL, &st), 0);
    assert_true(st.st_size <= 20L * 1000 * 1000);
}

static void layout_matches_processor(void **state)
{
    struct model_bundle *b = *state;
    const struct model_config *c = &b->model.config;
    const struct tokenizer_layout *l = &b->tokenizer->layout;

    assert_int_equal(c->vocab_size, l->vocab_size);
    assert_int_equal(c->item_begin, l->item_begin);
    assert_int_equal(c->item_end, l->item_end);
    assert_int_equal(c->n_categories, l->category_end - l->category_begin);
    assert_int_equal(c->n_sentiments, 2);
    assert_true(c->n_decoder_layers > 0);
    assert_true(l->item_bucket_begin > l->item_begin);
}

static void users_give_finite_outputs(void **state)
{
    struct model_bundle *b = *state;
    const struct model_config *c = &b->model.config;
    struct user_sequence users[N_USERS];
    int n = load_users(b->tokenizer, users);
    struct model_arena arena = {0};
    char error[MODEL_ERROR_SIZE];

    assert_int_equal(n, N_USERS);
    int n_items = c->item_end - c->item_begin;
    float *pooled = malloc(sizeof(float) * (size_t)c->d_model);
    float *items = malloc(sizeof(float) * (size_t)n_items);
    float *categories = malloc(sizeof(float) * (size_t)c->n_categories);
    float actions[32], sentiments[8], propensity;
    assert_non_null(pooled);
    assert_non_null(items);
    assert_non_null(categories);

    for (int u = 0; u < n; u++) {
        assert_int_equal(model_encode(&b->model, &arena, users[u].tokens, &users[u].length, 1, users[u].length,
                                      NULL, pooled, error), 0);
        struct model_head_outputs out = {items, actions, categories, sentiments, &propensity};
        model_heads(&b->model, pooled, 1, &out);
        for (int i = 0; i < c->d_model; i++)
            assert_true(isfinite(pooled[i]));
        for (int i = 0; i < n_items; i++)
            assert_true(isfinite(items[i]));
        for (int i = 0; i < c->n_actions; i++)
            assert_true(isfinite(actions[i]));
        assert_true(propensity > 0.0f);
        assert_true(propensity < 1.0f);
    }
    model_arena_free(&arena);
    free(pooled);
    free(items);
    free(categories);
}

/* The int8 heads intents use against the float heads on real users: the
 * same top 10 items and categories with the same logits, and normalisers
 * within 0.01 (a probability off by at most 1 %). */
static void int8_heads_match_float(void **state)
{
    struct model_bundle *b = *state;
    const struct model_config *c = &b->model.config;
    const struct tokenizer_layout *l = &b->tokenizer->layout;
    struct user_sequence users[N_USERS];
    int n = load_users(b->tokenizer, users);
    struct model_arena arena = {0};
    char error[MODEL_ERROR_SIZE];
    enum { K = 10 };

    int n_items = c->item_end - c->item_begin, n_ranked = l->item_bucket_begin - l->item_begin;
    int n_ranked_categories = l->category_bucket_begin - l->category_begin;
    float *pooled = malloc(sizeof(float) * (size_t)c->d_model);
    float *exact = malloc(sizeof(float) * (size_t)n_items);
    float *fast = malloc(sizeof(float) * (size_t)n_items);
    float *categories = malloc(sizeof(float) * (size_t)c->n_categories);
    float *fast_categories = malloc(sizeof(float) * (size_t)c->n_categories);
    assert_non_null(pooled);
    assert_non_null(exact);
    assert_non_null(fast);
    assert_non_null(categories);
    assert_non_null(fast_categories);
#if defined(__x86_64__) && defined(__GNUC__)
    if (__builtin_cpu_supports("avx512vnni")) {
        assert_non_null(b->model.item_quant); /* model_bundle_load builds the int8 copies */
        assert_non_null(b->model.category_quant);
    }
#endif

    for (int u = 0; u < n; u++) {
        float lse, fast_lse, category_lse, fast_category_lse;
        int top[K], top_categories[K];
        assert_int_equal(model_encode(&b->model, &arena, users[u].tokens, &users[u].length, 1, users[u].length,
                                      NULL, pooled, error), 0);

        model_item_logits(&b->model, pooled, 1, exact, &lse);
        model_item_logits_top(&b->model, pooled, 1, fast, &fast_lse, K, n_ranked, top);
        for (int j = 0; j < K; j++)
            assert_true(fabsf(fast[top[j]] - exact[top[j]]) < 1e-4f);
        for (int j = 0; j + 1 < K; j++)
            assert_true(exact[top[j]] >= exact[top[j + 1]]);
        int above = 0;
        for (int i = 0; i < n_ranked; i++)
            above += exact[i] > exact[top[K - 1]] + 1e-4f;
        assert_true(above <= K - 1); /* nothing outside the list beats its last entry */
        assert_true(fabsf(fast_lse - lse) < 0.01f);

        struct model_head_outputs out = {.category_logits = categories};
        model_heads(&b->model, pooled, 1, &out);
        category_lse = model_logsumexp(categories, c->n_categories);
        model_category_logits_top(&b->model, pooled, 1, fast_categories, &fast_category_lse, K, n_ranked_categories,
                                  top_categories);
        above = 0;
        for (int i = 0; i < n_ranked_categories; i++)
            above += categories[i] > categories[top_categories[K - 1]] + 1e-4f;
        assert_true(above <= K - 1);
        for (int j = 0; j < K; j++)
            assert_true(fabsf(fast_categories[top_categories[j]] - categories[top_categories[j]]) < 1e-4f);
        assert_true(fabsf(fast_category_lse - category_lse) < 0.01f);
    }
    model_arena_free(&arena);
    free(pooled);
    free(exact);
    free(fast);
    free(categories);
    free(fast_categories);
}

static void round_trip(const struct tokenizer *tok, const char *review, const char *expected)
{
    int32_t tokens[512];
    size_t n = 0, len = 0;
    char *text = NULL, error[MODEL_ERROR_SIZE];

    assert_int_equal(tokenizer_encode_text(tok, review, strlen(review), 512, tokens, &n, error), 0);
    assert_true(n > 0);
    assert_true(n < strlen(review)); /* the learned merges compress Chinese text */
    assert_int_equal(tokenizer_decode_text(tok, tokens, n, &text, &len, error), 0);
    assert_int_equal(len, strlen(expected));
    assert_string_equal(text, expected);
    free(text);
}

static void chinese_review_round_trips(void **state)
{
    struct model_bundle *b = *state;

    round_trip(b->tokenizer, "做父母一定要有刘墉这样的心态。质量很好,物流也快! 5 stars 👍",
               "做父母一定要有刘墉这样的心态。质量很好,物流也快! 5 stars 👍");
    /* full-width punctuation folds to ASCII (see utf8.h) */
    round_trip(b->tokenizer, "质量很好，物流也快！", "质量很好,物流也快!");
}

static void offers_are_known_distinct_allowed(void **state)
{
    struct model_bundle *b = *state;
    const struct model_config *c = &b->model.config;
    const struct tokenizer_layout *l = &b->tokenizer->layout;
    struct user_sequence users[N_USERS];
    int n = load_users(b->tokenizer, users);
    struct model_arena arena = {0};
    char error[MODEL_ERROR_SIZE];
    int generated = 0;

    for (int u = 0; u < n; u++) {
        float *hidden = malloc(sizeof(float) * (size_t)users[u].length * (size_t)c->d_model);
        assert_non_null(hidden);
        assert_int_equal(model_encode(&b->model, &arena, users[u].tokens, &users[u].length, 1, users[u].length,
                                      hidden, NULL, error), 0);
        /* ban the user's purchases and the three most frequent items */
        int banned[MAX_TOKENS + 3], n_banned = 0;
        for (int i = 0; i < users[u].n_purchases; i++)
            banned[n_banned++] = users[u].purchases[i];
        for (int i = 0; i < 3; i++)
            banned[n_banned++] = l->item_begin + i;

        struct model_generate_options o;
        model_generate_defaults(&o);
        o.method = u % 2 ? MODEL_GENERATE_BEAM : MODEL_GENERATE_GREEDY;
        o.max_tokens = 5;
        o.bos = TOKENIZER_START;
        o.eos = TOKENIZER_SEP;
        o.constraints = (struct model_constraints){.banned = banned, .n_banned = n_banned, .no_repeat = 1,
                                                   .allowed_begin = l->item_begin,
                                                   .allowed_end = l->item_bucket_begin};
        int tokens[8], n_tokens = 0;
        assert_int_equal(model_generate(&b->model, &arena, hidden, users[u].length, &o, tokens, &n_tokens, NULL,
                                        error), 0);
        for (int i = 0; i < n_tokens; i++) {
            if (tokens[i] == TOKENIZER_SEP)
                continue;
            generated++;
            assert_int_equal(tokenizer_token_kind(b->tokenizer, tokens[i]), TOKENIZER_KIND_ITEM);
            assert_non_null(tokenizer_token_id(b->tokenizer, tokens[i]));
            for (int j = 0; j < i; j++)
                assert_int_not_equal(tokens[i], tokens[j]);
            for (int j = 0; j < n_banned; j++)
                assert_int_not_equal(tokens[i], banned[j]);
        }
        free(hidden);
    }
    assert_true(generated > 0);
    model_arena_free(&arena);
}

/* Items in the bundle of each loaded user under a rule with these limits. */
static int bundle_items(struct model_bundle *b, int min_items, int *users_out)
{
    const struct model_config *c = &b->model.config;
    struct user_sequence users[N_USERS];
    int n = load_users(b->tokenizer, users), total = 0;
    struct model_arena arena = {0};
    char error[MODEL_ERROR_SIZE];
    struct config_trigger rule = {.max_items = 3, .min_items = min_items, .beam_width = 4};

    for (int u = 0; u < n; u++) {
        float *hidden = malloc(sizeof(float) * (size_t)users[u].length * (size_t)c->d_model);
        assert_non_null(hidden);
        assert_int_equal(model_encode(&b->model, &arena, users[u].tokens, &users[u].length, 1, users[u].length,
                                      hidden, NULL, error), 0);
        struct model_generate_options o;
        offer_setup_generate(&rule, c, b->tokenizer, users[u].purchases, users[u].n_purchases, &o);
        int tokens[OFFER_MAX_ITEMS + 1], n_tokens = 0;
        int32_t items[OFFER_MAX_ITEMS];
        assert_int_equal(model_generate(&b->model, &arena, hidden, users[u].length, &o, tokens, &n_tokens, NULL,
                                        error), 0);
        int count = offer_setup_collect_items(tokens, n_tokens, rule.max_items, items);
        assert_true(count >= min_items);
        total += count;
        free(hidden);
    }
    model_arena_free(&arena);
    *users_out = n;
    return total;
}

static void min_items_fills_bundles(void **state)
{
    struct model_bundle *b = *state;
    int users = 0;
    int shortest = bundle_items(b, 1, &users);
    int filled = bundle_items(b, 3, &users);

    printf("bundle items over %d users: %d with min_items 1, %d with min_items 3\n", users, shortest, filled);
    assert_true(users > 0);
    assert_int_equal(filled, 3 * users);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(file_within_20mb),
        cmocka_unit_test(layout_matches_processor),
        cmocka_unit_test(users_give_finite_outputs),
        cmocka_unit_test(int8_heads_match_float),
        cmocka_unit_test(chinese_review_round_trips),
        cmocka_unit_test(offers_are_known_distinct_allowed),
        cmocka_unit_test(min_items_fills_bundles),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
