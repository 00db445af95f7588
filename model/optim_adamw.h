/*
 * AdamW (Loshchilov and Hutter, "Decoupled Weight Decay Regularization",
 * ICLR 2019) over the flat parameter buffer, with a learning-rate schedule
 * and global-norm gradient clipping. The update matches torch.optim.AdamW:
 *   p -= lr * wd * p;  m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
 *   p -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
 */
#ifndef INTENTD_OPTIM_ADAMW_H
#define INTENTD_OPTIM_ADAMW_H

#include <stddef.h>

#include "model_params.h"

enum optim_schedule {
    OPTIM_SCHEDULE_COSINE = 0,   /* warm-up, then cosine from lr to min_lr_ratio * lr */
    OPTIM_SCHEDULE_LINEAR = 1,   /* warm-up, then linear from lr to min_lr_ratio * lr */
    OPTIM_SCHEDULE_CONSTANT = 2, /* warm-up, then lr */
};

struct optim_config {
    float lr;
    float beta1, beta2, eps;
    float weight_decay;     /* decoupled; applied to 2-D weights only (see decay_embedding) */
    int decay_embedding;    /* 1: embedding.weight is decayed too */
    long warmup_steps;      /* linear warm-up from lr / warmup_steps to lr */
    long total_steps;       /* end of the decay; past it the rate stays at the minimum */
    enum optim_schedule schedule;
    float min_lr_ratio;
    float clip_norm;        /* global L2 norm limit of the gradient; 0 disables clipping */
};

struct optim_adamw {
    struct optim_config config;
    size_t count;           /* floats in each buffer, = model_params.count */
    float *m, *v;           /* first and second moments, owned, same layout as the parameters */
    unsigned char *decay;   /* [n_tensors] 1 if the tensor is weight-decayed */
    size_t *offsets, *counts;
    int n_tensors;
    long step;              /* updates done so far */
};

/* Defaults: lr 1e-3, betas 0.9 / 0.999, eps 1e-8, weight decay 0.01, no
 * decay on the embedding, 0 warm-up, cosine to 0, clipping at 1.0. */
void optim_config_defaults(struct optim_config *config);

/* Allocates zeroed moments for the parameter layout of params. Returns 0, or
 * -1 with a message in error[MODEL_ERROR_SIZE]. */
int optim_adamw_init(struct optim_adamw *opt, const struct optim_config *config, const struct model_params *params,
                     char *error);
void optim_adamw_free(struct optim_adamw *opt);

/* The learning rate for update number step (0-based). */
float optim_learning_rate(const struct optim_config *config, long step);

/* Returns the global L2 norm of grad[count] and, when it exceeds max_norm > 0,
 * scales grad down to max_norm. Summed in double in index order. */
float optim_clip_grad_norm(float *grad, size_t count, float max_norm);

/* Clips the gradient (config.clip_norm), then applies one AdamW update to
 * params[count] and increments step. Returns the gradient norm before
 * clipping. */
float optim_adamw_step(struct optim_adamw *opt, float *params, float *grad);

#endif
