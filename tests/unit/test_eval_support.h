/*
 * A hand-built model and stream for the eval tests. The model's encoder
 * norm has gain 0 and bias e0, so every non-empty history pools to e0 and
 * item k scores embedding[item k][0]: the item ranking is fixed by hand.
 * Header-only so that each test executable stays one .c file.
 */
#ifndef INTENTD_TEST_EVAL_SUPPORT_H
#define INTENTD_TEST_EVAL_SUPPORT_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "model_bundle.h"
#include "replay_event.h"
#include "safetensors.h"
#include "tokenizer.h"

/* Item scores of i1..i4: i1 ranks first, then i2, i3, i4. */
static const float test_item_scores[4] = {4.0f, 3.0f, 2.0f, 1.0f};

static inline void test_eval_bundle(struct model_bundle *bundle, const char *version)
{
    static const char *const categories[] = {"c1"};
    static const char *const items[] = {"i1", "i2", "i3", "i4"};
    char error[MODEL_ERROR_SIZE];
    struct model_config c;

    memset(bundle, 0, sizeof *bundle);
    assert_int_equal(tokenizer_create(categories, 1, 1, items, 4, 1, NULL, &bundle->tokenizer, error), 0);
    model_config_defaults(&c);
    c.d_model = 8;
    c.n_heads = 2;
    c.n_encoder_layers = 1;
    c.n_decoder_layers = 1;
    c.d_ff = 16;
    c.max_len = 32;
    tokenizer_configure_model(bundle->tokenizer, &c);
    assert_int_equal(model_create(&bundle->model, &c, 7, error), 0);
    snprintf(bundle->version, sizeof bundle->version, "%s", version);

    struct model_params *p = &bundle->model.params;
    int d = c.d_model;
    for (int j = 0; j < d; j++) {
        p->encoder_norm_weight[j] = 0.0f;
        p->encoder_norm_bias[j] = j == 0 ? 1.0f : 0.0f;
    }
    int first_item = bundle->tokenizer->layout.item_begin;
    for (int k = 0; k < 4; k++) {
        for (int j = 0; j < d; j++)
            p->embedding[(size_t)(first_item + k) * d + j] = j == 0 ? test_item_scores[k] : 0.0f;
    }
    /* The action head always predicts view; the propensity is sigmoid(0). */
    memset(p->action_weight, 0, (size_t)c.n_actions * d * sizeof(float));
    for (int a = 0; a < c.n_actions; a++)
        p->action_bias[a] = a == TOKENIZER_ACTION_VIEW ? 1.0f : 0.0f;
    memset(p->propensity_weight, 0, (size_t)d * sizeof(float));
    p->propensity_bias[0] = 0.0f;
}

/* Saves bundle as a model file that model_bundle_load accepts. Returns 0, or
 * -1 with a message in error[MODEL_ERROR_SIZE]. */
static inline int test_eval_save(const struct model_bundle *bundle, const char *path, char *error)
{
    char *json = NULL;
    if (tokenizer_to_json(bundle->tokenizer, &json, error) != 0)
        return -1;
    int rc = model_safetensors_save(&bundle->model, path, json, error);
    free(json);
    return rc;
}

static inline void test_eval_click(struct replay_events *events, const char *user, const char *item,
                                   codec_action_t action, int64_t time_ms)
{
    struct replay_event e;
    memset(&e, 0, sizeof e);
    e.kind = REPLAY_CLICK;
    e.sequence = events->count;
    e.u.click.user_id = strdup(user);
    e.u.click.item_id = strdup(item);
    e.u.click.category_id = strdup("c1");
    e.u.click.action = action;
    e.u.click.timestamp_ms = time_ms;
    e.u.click.consent = CODEC_CONSENT_UNKNOWN;
    assert_int_equal(replay_events_push(events, &e), 0);
}

/* u1 views i1, views i3, buys i4; u2 views i2, views i1; interleaved. */
static inline void test_eval_stream(struct replay_events *events)
{
    memset(events, 0, sizeof *events);
    test_eval_click(events, "u1", "i1", CODEC_ACTION_VIEW, 1000);
    test_eval_click(events, "u2", "i2", CODEC_ACTION_VIEW, 1500);
    test_eval_click(events, "u1", "i3", CODEC_ACTION_VIEW, 2000);
    test_eval_click(events, "u2", "i1", CODEC_ACTION_VIEW, 2500);
    test_eval_click(events, "u1", "i4", CODEC_ACTION_PURCHASE, 3000);
    replay_events_sort(events);
}

#endif
