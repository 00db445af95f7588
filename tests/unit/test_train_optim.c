/*
 * AdamW, the learning-rate schedules and gradient clipping, against values
 * computed here in double precision from the published update rule.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "model_params.h"
#include "optim_adamw.h"

static void make_params(struct model_params *p)
{
    struct model_config c;
    char error[MODEL_ERROR_SIZE];

    model_config_defaults(&c);
    c.vocab_size = 6;
    c.d_model = 4;
    c.n_heads = 2;
    c.n_encoder_layers = 1;
    c.n_decoder_layers = 0;
    c.d_ff = 8;
    assert_int_equal(model_params_alloc(p, &c, error), 0);
    for (size_t i = 0; i < p->count; i++)
        p->data[i] = 0.5f;
}

/* Two AdamW steps on every tensor against the update rule in double. */
static void adamw_matches_reference(void **state)
{
    (void)state;
    struct model_params p;
    struct optim_config c;
    struct optim_adamw opt;
    char error[MODEL_ERROR_SIZE];

    make_params(&p);
    optim_config_defaults(&c);
    c.lr = 0.1f;
    c.weight_decay = 0.2f;
    c.clip_norm = 0.0f;
    c.schedule = OPTIM_SCHEDULE_CONSTANT;
    assert_int_equal(optim_adamw_init(&opt, &c, &p, error), 0);

    float grad[2][4096];
    assert_true(p.count <= 4096);
    for (size_t i = 0; i < p.count; i++) {
        grad[0][i] = (float)((int)(i % 7) - 3) * 0.1f;
        grad[1][i] = (float)((int)(i % 5) - 2) * 0.3f;
    }

    for (int t = 0; t < 2; t++) {
        float g[4096];
        memcpy(g, grad[t], p.count * sizeof(float));
        optim_adamw_step(&opt, p.data, g);
    }
    assert_int_equal(opt.step, 2);

    for (int k = 0; k < p.n_tensors; k++) {
        const struct model_tensor_info *t = &p.tensors[k];
        int decayed = t->ndim == 2 && strcmp(t->name, "embedding.weight") != 0;
        for (size_t j = 0; j < t->count; j++) {
            size_t i = t->offset + j;
            double x = 0.5, m = 0.0, v = 0.0;
            for (int s = 1; s <= 2; s++) {
                double g = grad[s - 1][i];
                if (decayed)
                    x -= 0.1 * 0.2 * x;
                m = 0.9 * m + 0.1 * g;
                v = 0.999 * v + 0.001 * g * g;
                double mhat = m / (1 - pow(0.9, s)), vhat = v / (1 - pow(0.999, s));
                x -= 0.1 * mhat / (sqrt(vhat) + 1e-8);
            }
            if (fabs(x - p.data[i]) > 1e-5) {
                print_error("%s[%zu]: expected %.7f, got %.7f\n", t->name, j, x, (double)p.data[i]);
                fail();
            }
        }
    }
    optim_adamw_free(&opt);
    model_params_free(&p);
}

/* Decay applies to 2-D weights only, and to the embedding only when asked. */
static void decay_mask_by_tensor(void **state)
{
    (void)state;
    struct model_params p;
    struct optim_config c;
    struct optim_adamw opt;
    char error[MODEL_ERROR_SIZE];

    make_params(&p);
    optim_config_defaults(&c);
    assert_int_equal(optim_adamw_init(&opt, &c, &p, error), 0);
    for (int k = 0; k < p.n_tensors; k++) {
        const char *name = p.tensors[k].name;
        if (strcmp(name, "embedding.weight") == 0 || strstr(name, "bias") || strstr(name, "norm"))
            assert_int_equal(opt.decay[k], 0);
        else
            assert_int_equal(opt.decay[k], 1);
    }
    optim_adamw_free(&opt);

    c.decay_embedding = 1;
    assert_int_equal(optim_adamw_init(&opt, &c, &p, error), 0);
    assert_int_equal(opt.decay[0], 1); /* embedding.weight is the first tensor */
    optim_adamw_free(&opt);
    model_params_free(&p);
}

static void schedules(void **state)
{
    (void)state;
    struct optim_config c;

    optim_config_defaults(&c);
    c.lr = 1.0f;
    c.warmup_steps = 10;
    c.total_steps = 110;
    c.min_lr_ratio = 0.1f;

    /* linear warm-up: (step + 1) / warmup */
    assert_float_equal(optim_learning_rate(&c, 0), 0.1f, 1e-6f);
    assert_float_equal(optim_learning_rate(&c, 4), 0.5f, 1e-6f);
    assert_float_equal(optim_learning_rate(&c, 10), 1.0f, 1e-6f);

    /* cosine: halfway is the mean of lr and the minimum; the end is the minimum */
    c.schedule = OPTIM_SCHEDULE_COSINE;
    assert_float_equal(optim_learning_rate(&c, 60), 0.55f, 1e-6f);
    assert_float_equal(optim_learning_rate(&c, 110), 0.1f, 1e-6f);
    assert_float_equal(optim_learning_rate(&c, 500), 0.1f, 1e-6f);

    c.schedule = OPTIM_SCHEDULE_LINEAR;
    assert_float_equal(optim_learning_rate(&c, 35), 1.0f - 0.9f * 0.25f, 1e-6f);
    assert_float_equal(optim_learning_rate(&c, 110), 0.1f, 1e-6f);

    c.schedule = OPTIM_SCHEDULE_CONSTANT;
    assert_float_equal(optim_learning_rate(&c, 100), 1.0f, 1e-6f);
}

static void clipping_scales_to_max_norm(void **state)
{
    (void)state;
    float g[4] = {3.0f, 4.0f, 0.0f, 0.0f};

    float norm = optim_clip_grad_norm(g, 4, 1.0f);
    assert_float_equal(norm, 5.0f, 1e-6f);
    assert_float_equal(g[0], 0.6f, 1e-5f);
    assert_float_equal(g[1], 0.8f, 1e-5f);

    float small[2] = {0.3f, 0.4f};
    norm = optim_clip_grad_norm(small, 2, 1.0f);
    assert_float_equal(norm, 0.5f, 1e-6f);
    assert_true(small[0] == 0.3f); /* under the limit: unchanged */

    float off[2] = {30.0f, 40.0f};
    optim_clip_grad_norm(off, 2, 0.0f);
    assert_true(off[1] == 40.0f); /* 0 disables clipping */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(adamw_matches_reference),
        cmocka_unit_test(decay_mask_by_tensor),
        cmocka_unit_test(schedules),
        cmocka_unit_test(clipping_scales_to_max_norm),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
