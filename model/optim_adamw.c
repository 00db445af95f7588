#include "optim_adamw.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void optim_config_defaults(struct optim_config *c)
{
    *c = (struct optim_config){
        .lr = 1e-3f,
        .beta1 = 0.9f,
        .beta2 = 0.999f,
        .eps = 1e-8f,
        .weight_decay = 0.01f,
        .decay_embedding = 0,
        .warmup_steps = 0,
        .total_steps = 0,
        .schedule = OPTIM_SCHEDULE_COSINE,
        .min_lr_ratio = 0.0f,
        .clip_norm = 1.0f,
    };
}

int optim_adamw_init(struct optim_adamw *opt, const struct optim_config *config, const struct model_params *params,
                     char *error)
{
    memset(opt, 0, sizeof *opt);
    opt->config = *config;
    opt->count = params->count;
    opt->n_tensors = params->n_tensors;
    opt->m = model_alloc_floats(params->count);
    opt->v = model_alloc_floats(params->count);
    opt->decay = calloc((size_t)params->n_tensors + 1, 1);
    opt->offsets = calloc((size_t)params->n_tensors + 1, sizeof(size_t));
    opt->counts = calloc((size_t)params->n_tensors + 1, sizeof(size_t));
    if (!opt->m || !opt->v || !opt->decay || !opt->offsets || !opt->counts) {
        snprintf(error, MODEL_ERROR_SIZE, "out of memory allocating AdamW moments for %zu parameters",
                 params->count);
        optim_adamw_free(opt);
        return -1;
    }

    for (int i = 0; i < params->n_tensors; i++) {
        const struct model_tensor_info *t = &params->tensors[i];
        int is_embedding = strcmp(t->name, "embedding.weight") == 0;

        opt->offsets[i] = t->offset;
        opt->counts[i] = t->count;
        opt->decay[i] = t->ndim == 2 && (!is_embedding || config->decay_embedding);
    }
    return 0;
}

void optim_adamw_free(struct optim_adamw *opt)
{
    free(opt->m);
    free(opt->v);
    free(opt->decay);
    free(opt->offsets);
    free(opt->counts);
    memset(opt, 0, sizeof *opt);
}

float optim_learning_rate(const struct optim_config *c, long step)
{
    if (c->warmup_steps > 0 && step < c->warmup_steps)
        return c->lr * (float)(step + 1) / (float)c->warmup_steps;
    if (c->schedule == OPTIM_SCHEDULE_CONSTANT || c->total_steps <= c->warmup_steps)
        return c->lr;

    double progress = (double)(step - c->warmup_steps) / (double)(c->total_steps - c->warmup_steps);
    if (progress > 1.0)
        progress = 1.0;
    double factor = c->schedule == OPTIM_SCHEDULE_COSINE ? 0.5 * (1.0 + cos(M_PI * progress)) : 1.0 - progress;
    double min = c->min_lr_ratio;
    return (float)(c->lr * (min + (1.0 - min) * factor));
}

float optim_clip_grad_norm(float *grad, size_t count, float max_norm)
{
    double sum = 0.0;

    for (size_t i = 0; i < count; i++)
        sum += (double)grad[i] * grad[i];
    float norm = (float)sqrt(sum);

    if (max_norm > 0.0f && norm > max_norm) {
        float scale = max_norm / (norm + 1e-6f);
        for (size_t i = 0; i < count; i++)
            grad[i] *= scale;
    }
    return norm;
}

float optim_adamw_step(struct optim_adamw *opt, float *params, float *grad)
{
    const struct optim_config *c = &opt->config;
    float norm = optim_clip_grad_norm(grad, opt->count, c->clip_norm);
    float lr = optim_learning_rate(c, opt->step);
    long t = opt->step + 1;
    float correction1 = 1.0f - powf(c->beta1, (float)t);
    float correction2 = 1.0f - powf(c->beta2, (float)t);

    for (int i = 0; i < opt->n_tensors; i++) {
        float *p = params + opt->offsets[i], *g = grad + opt->offsets[i];
        float *m = opt->m + opt->offsets[i], *v = opt->v + opt->offsets[i];
        float decay = opt->decay[i] ? lr * c->weight_decay : 0.0f;

        for (size_t j = 0; j < opt->counts[i]; j++) {
            p[j] -= decay * p[j];
            m[j] = c->beta1 * m[j] + (1.0f - c->beta1) * g[j];
            v[j] = c->beta2 * v[j] + (1.0f - c->beta2) * g[j] * g[j];
            float m_hat = m[j] / correction1;
            float v_hat = v[j] / correction2;
            p[j] -= lr * m_hat / (sqrtf(v_hat) + c->eps);
        }
    }
    opt->step = t;
    return norm;
}
