/* Models of towers: members packed into one model score as the members'
 * mean on every inference path, and survive a save and a load. */
#include "test_model_util.h"

#include "encoder.h"
#include "head_quant.h"
#include "item_scorer.h"
#include "kv_cache.h"
#include "model_towers.h"
#include "train_model.h"

#define N_TOWERS 3
#define VOCAB 53
#define TOLERANCE 2e-5

struct fixture {
    struct model members[N_TOWERS];
    struct model packed;
    struct model_arena arena;
};

static struct model_config member_config(enum model_norm_placement norm, enum model_activation activation)
{
    struct model_config c = test_config(VOCAB);
    c.d_model = 16;
    c.n_heads = 2;
    c.d_ff = 24;
    c.n_decoder_layers = 0;
    c.max_len = 12;
    c.norm = norm;
    c.activation = activation;
    return c;
}

static void pack(struct fixture *f, const struct model_config *c)
{
    char error[MODEL_ERROR_SIZE];
    const struct model_params *params[N_TOWERS];

    for (int g = 0; g < N_TOWERS; g++) {
        test_random_model(&f->members[g], c, 100 + (uint64_t)g);
        params[g] = &f->members[g].params;
    }
    assert_int_equal(model_towers_pack(params, N_TOWERS, c, &f->packed, error), 0);
    assert_int_equal(f->packed.config.towers, N_TOWERS);
    assert_int_equal(f->packed.config.d_model, N_TOWERS * c->d_model);
}

static void release(struct fixture *f)
{
    for (int g = 0; g < N_TOWERS; g++)
        model_free(&f->members[g]);
    model_free(&f->packed);
    model_arena_free(&f->arena);
}

static double logit(float p)
{
    return log((double)p / (1.0 - (double)p));
}

/* Every head of the packed model against the mean of the members' logits
 * (for propensity, the sigmoid of their mean logit). */
static void check_heads(struct fixture *f, const float *pooled, float member_pooled[N_TOWERS][16])
{
    const struct model_config *c = &f->members[0].config;
    int n_items = c->item_end - c->item_begin;
    float items[VOCAB], actions[8], categories[8], sentiments[8], propensity;
    float mean[VOCAB + 32];
    struct model_head_outputs out = {items, actions, categories, sentiments, &propensity};

    model_heads(&f->packed, pooled, 1, &out);
    memset(mean, 0, sizeof mean);
    double propensity_logit = 0.0;
    for (int g = 0; g < N_TOWERS; g++) {
        float m_items[VOCAB], m_actions[8], m_categories[8], m_sentiments[8], m_propensity;
        struct model_head_outputs m = {m_items, m_actions, m_categories, m_sentiments, &m_propensity};
        model_heads(&f->members[g], member_pooled[g], 1, &m);
        for (int i = 0; i < n_items; i++)
            mean[i] += m_items[i] / N_TOWERS;
        for (int i = 0; i < c->n_actions; i++)
            mean[n_items + i] += m_actions[i] / N_TOWERS;
        for (int i = 0; i < c->n_categories; i++)
            mean[n_items + 8 + i] += m_categories[i] / N_TOWERS;
        for (int i = 0; i < c->n_sentiments; i++)
            mean[n_items + 16 + i] += m_sentiments[i] / N_TOWERS;
        propensity_logit += logit(m_propensity) / N_TOWERS;
    }
    assert_true(test_max_diff(items, mean, (size_t)n_items) < TOLERANCE);
    assert_true(test_max_diff(actions, mean + n_items, (size_t)c->n_actions) < TOLERANCE);
    assert_true(test_max_diff(categories, mean + n_items + 8, (size_t)c->n_categories) < TOLERANCE);
    assert_true(test_max_diff(sentiments, mean + n_items + 16, (size_t)c->n_sentiments) < TOLERANCE);
    assert_true(fabs(logit(propensity) - propensity_logit) < 1e-4);
}

/* Full encodes of sequences of several lengths, past max_len (positions
 * encoded on the fly) included: the packed intent
 * embedding is the members' embeddings side by side, divided by the tower
 * count, and every head scores as the members' mean. */
static void check_full_encode(struct model_config c)
{
    static struct fixture f;
    char error[MODEL_ERROR_SIZE];
    int tokens[24];
    uint64_t rng = 7;

    memset(&f, 0, sizeof f);
    pack(&f, &c);
    test_random_tokens(tokens, 24, VOCAB, &rng);
    for (int n = 1; n <= 24; n += 5) {
        float pooled[N_TOWERS * 16], member_pooled[N_TOWERS][16];
        assert_int_equal(model_encode(&f.packed, &f.arena, tokens, &n, 1, n, NULL, pooled, error), 0);
        for (int g = 0; g < N_TOWERS; g++) {
            assert_int_equal(model_encode(&f.members[g], &f.arena, tokens, &n, 1, n, NULL, member_pooled[g], error),
                             0);
            for (int i = 0; i < 16; i++)
                member_pooled[g][i] /= N_TOWERS;
            assert_true(test_max_diff(pooled + g * 16, member_pooled[g], 16) < TOLERANCE);
            for (int i = 0; i < 16; i++)
                member_pooled[g][i] *= N_TOWERS;
        }
        check_heads(&f, pooled, member_pooled);
    }
    release(&f);
}

static void pre_norm_towers_score_as_member_mean(void **state)
{
    (void)state;
    check_full_encode(member_config(MODEL_NORM_PRE, MODEL_ACT_RELU));
}

static void post_norm_gelu_towers_score_as_member_mean(void **state)
{
    (void)state;
    struct model_config c = member_config(MODEL_NORM_POST, MODEL_ACT_GELU);
    c.encoder_mode = MODEL_ENCODER_BIDIRECTIONAL;
    check_full_encode(c);
}

/* The processor's path: one token at a time through the key/value cache,
 * past max_len (the cache then rebuilds its window), against full encodes
 * of the packed model. */
static void cache_matches_full_encode(void **state)
{
    (void)state;
    static struct fixture f;
    char error[MODEL_ERROR_SIZE];
    struct model_config c = member_config(MODEL_NORM_PRE, MODEL_ACT_RELU);
    float inc[N_TOWERS * 16], full[N_TOWERS * 16];
    int tokens[30];
    uint64_t rng = 11;

    memset(&f, 0, sizeof f);
    pack(&f, &c);
    test_random_tokens(tokens, 30, VOCAB, &rng);
    struct model_kv_cache *cache = model_kv_cache_create(&f.packed, error);
    assert_non_null(cache);
    for (int n = 1; n <= 30; n++) {
        assert_int_equal(model_kv_cache_append(&f.packed, cache, &f.arena, &tokens[n - 1], 1, inc, error), 0);
        int window = n < c.max_len ? n : c.max_len;
        assert_int_equal(model_encode(&f.packed, &f.arena, tokens + n - window, &window, 1, window, NULL, full, error),
                         0);
        assert_true(test_max_diff(inc, full, N_TOWERS * 16) < TOLERANCE);
    }
    model_kv_cache_free(cache);
    release(&f);
}

/* The processor's heads: item logits from the packed panels and the int8
 * top-k item and category heads of the packed model, against the members'
 * mean in float. */
static void served_heads_score_as_member_mean(void **state)
{
    (void)state;
    static struct fixture f;
    char error[MODEL_ERROR_SIZE];
    struct model_config c = member_config(MODEL_NORM_PRE, MODEL_ACT_RELU);
    int n_items = c.item_end - c.item_begin, tokens[10], n = 10, top[5], category_top[3];
    float pooled[N_TOWERS * 16], member_pooled[16], mean[VOCAB], category_mean[8];
    float logits[VOCAB], lse, category_logits[8];
    uint64_t rng = 5;

    memset(&f, 0, sizeof f);
    pack(&f, &c);
    assert_int_equal(model_item_panels_build(&f.packed, error), 0);
    assert_int_equal(model_quant_heads_build(&f.packed, error), 0);
    test_random_tokens(tokens, 10, VOCAB, &rng);
    assert_int_equal(model_encode(&f.packed, &f.arena, tokens, &n, 1, n, NULL, pooled, error), 0);

    memset(mean, 0, sizeof mean);
    memset(category_mean, 0, sizeof category_mean);
    for (int g = 0; g < N_TOWERS; g++) {
        float items[VOCAB], categories[8];
        struct model_head_outputs out = {.item_scores = items, .category_logits = categories};
        assert_int_equal(model_encode(&f.members[g], &f.arena, tokens, &n, 1, n, NULL, member_pooled, error), 0);
        model_heads(&f.members[g], member_pooled, 1, &out);
        for (int i = 0; i < n_items; i++)
            mean[i] += items[i] / N_TOWERS;
        for (int i = 0; i < c.n_categories; i++)
            category_mean[i] += categories[i] / N_TOWERS;
    }

    model_item_logits(&f.packed, pooled, 1, logits, &lse);
    assert_true(test_max_diff(logits, mean, (size_t)n_items) < TOLERANCE);
    double mean_items[VOCAB], mean_categories[8];
    int expected_top[5], expected_category_top[3];
    for (int i = 0; i < n_items; i++)
        mean_items[i] = mean[i];
    for (int i = 0; i < c.n_categories; i++)
        mean_categories[i] = category_mean[i];
    test_top_indices(mean_items, n_items, 5, expected_top);
    test_top_indices(mean_categories, c.n_categories, 3, expected_category_top);

    model_item_logits_top(&f.packed, pooled, 1, logits, &lse, 5, n_items, top);
    for (int j = 0; j < 5; j++)
        assert_int_equal(top[j], expected_top[j]);
    model_category_logits_top(&f.packed, pooled, 1, category_logits, &lse, 3, c.n_categories, category_top);
    for (int j = 0; j < 3; j++)
        assert_int_equal(category_top[j], expected_category_top[j]);
    release(&f);
}

/* A packed model written and read back keeps its towers and its outputs,
 * and its file carries the format version that older readers reject. */
static void save_and_load_keep_towers(void **state)
{
    (void)state;
    static struct fixture f;
    struct model loaded;
    char error[MODEL_ERROR_SIZE], path[512];
    struct model_config c = member_config(MODEL_NORM_PRE, MODEL_ACT_RELU);
    float a[N_TOWERS * 16], b[N_TOWERS * 16];
    int tokens[9], n = 9;
    uint64_t rng = 3;

    memset(&f, 0, sizeof f);
    pack(&f, &c);
    char *dir = test_make_dir();
    snprintf(path, sizeof path, "%s/towers.safetensors", dir);
    assert_int_equal(model_safetensors_save(&f.packed, path, NULL, error), 0);
    assert_int_equal(model_safetensors_load(&loaded, path, 0, NULL, error), 0);
    assert_int_equal(loaded.config.towers, N_TOWERS);

    test_random_tokens(tokens, 9, VOCAB, &rng);
    assert_int_equal(model_encode(&f.packed, &f.arena, tokens, &n, 1, n, NULL, a, error), 0);
    assert_int_equal(model_encode(&loaded, &f.arena, tokens, &n, 1, n, NULL, b, error), 0);
    assert_memory_equal(a, b, sizeof a);

    FILE *file = fopen(path, "rb");
    char header[4096] = {0};
    assert_non_null(file);
    assert_true(fread(header, 1, sizeof header - 1, file) > 0);
    fclose(file);
    assert_non_null(strstr(header + 8, "\"format_version\":\"2\""));
    assert_non_null(strstr(header + 8, "\"towers\":\"3\""));

    model_free(&loaded);
    test_remove_dir(dir);
    release(&f);
}

/* Members that cannot be packed, and towers the config or the trainer
 * cannot take, fail with a message naming the field. */
static void bad_towers_are_rejected(void **state)
{
    (void)state;
    static struct model a, b;
    static struct train_model t;
    struct model packed;
    char error[MODEL_ERROR_SIZE];
    struct model_config c = member_config(MODEL_NORM_PRE, MODEL_ACT_RELU), other = c;
    const struct model_params *params[2] = {&a.params, &b.params};

    other.d_ff = 32;
    test_random_model(&a, &c, 1);
    test_random_model(&b, &other, 2);
    assert_int_equal(model_towers_pack(params, 1, &c, &packed, error), -1);
    assert_non_null(strstr(error, "cannot pack 1 towers"));
    assert_int_equal(model_towers_pack(params, 2, &c, &packed, error), -1);
    assert_non_null(strstr(error, "linear1.weight"));

    struct model_config with_decoder = c;
    with_decoder.n_decoder_layers = 1;
    assert_int_equal(model_towers_pack(params, 2, &with_decoder, &packed, error), -1);
    assert_non_null(strstr(error, "decoder layers"));

    struct model_config towers = c;
    towers.towers = 3; /* 2 heads cannot split into 3 towers */
    assert_int_equal(model_config_validate(&towers, error), -1);
    assert_non_null(strstr(error, "towers is 3"));
    towers.towers = 2;
    assert_int_equal(model_config_validate(&towers, error), 0);
    assert_int_equal(train_model_create(&t, &towers, 2, 4, 0, 1, error), -1);
    assert_non_null(strstr(error, "cannot train a model of 2 towers"));
    towers.n_decoder_layers = 1;
    assert_int_equal(model_config_validate(&towers, error), -1);
    assert_non_null(strstr(error, "n_decoder_layers is 1"));

    model_free(&a);
    model_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pre_norm_towers_score_as_member_mean),
        cmocka_unit_test(post_norm_gelu_towers_score_as_member_mean),
        cmocka_unit_test(cache_matches_full_encode),
        cmocka_unit_test(served_heads_score_as_member_mean),
        cmocka_unit_test(save_and_load_keep_towers),
        cmocka_unit_test(bad_towers_are_rejected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
