#include "train_smooth.h"

#include <stdlib.h>
#include <string.h>

#include "model.h"

/* Scores the trained rows smoothed with c (unsmoothed when c->window is 0):
 * copies them into m's embedding, smooths them and stores the validation
 * HR@10 in *hr10. */
static int score(struct train_model *m, const struct train_sequences *s, const float *trained,
                 const struct train_item_graph_config *c, const struct train_eval_config *validation, double *hr10,
                 char *error)
{
    struct train_eval_result r;
    size_t rows = ((size_t)s->n_items + 1) * m->config.d_model;

    memcpy(m->params.embedding, trained, rows * sizeof(float));
    if (c->window > 0 && train_item_graph_smooth(s, c, m->params.embedding, m->config.d_model, error) != 0)
        return -1;

    if (train_eval_ranking(m, s, TRAIN_HOLDOUT_VALID, validation, &r, error) != 0)
        return -1;
    *hr10 = r.hr10;
    return 0;
}

int train_smooth_check(const struct train_smooth_config *c, char *error)
{
    if (c->n_windows < 0 || c->n_windows > TRAIN_SMOOTH_CHOICES || c->n_shrinks < 1 ||
        c->n_shrinks > TRAIN_SMOOTH_CHOICES || c->n_alphas < 1 || c->n_alphas > TRAIN_SMOOTH_CHOICES) {
        snprintf(error, MODEL_ERROR_SIZE,
                 "invalid smoothing choices: %d windows, %d shrinks, %d alphas; expected 0 to %d windows and 1 to %d "
                 "of the others",
                 c->n_windows, c->n_shrinks, c->n_alphas, TRAIN_SMOOTH_CHOICES, TRAIN_SMOOTH_CHOICES);
        return -1;
    }

    for (int w = 0; w < c->n_windows; w++)
        for (int k = 0; k < c->n_shrinks; k++)
            for (int a = 0; a < c->n_alphas; a++) {
                struct train_item_graph_config one = {.window = c->windows[w],
                                                      .max_neighbors = c->max_neighbors,
                                                      .alpha = c->alphas[a],
                                                      .shrink = c->shrinks[k]};
                if (train_item_graph_check(&one, error) != 0)
                    return -1;
            }
    return 0;
}

int train_smooth_select(struct train_model *m, const struct train_sequences *s,
                        const struct train_smooth_config *config, const struct train_eval_config *validation,
                        struct train_smooth_result *result, char *error)
{
    size_t rows = ((size_t)s->n_items + 1) * m->config.d_model;
    struct train_item_graph_config none = {0}, best = {0};
    double hr10 = 0.0;

    memset(result, 0, sizeof *result);
    if (train_smooth_check(config, error) != 0)
        return -1;
    float *trained = malloc(rows * sizeof(float));
    if (!trained) {
        snprintf(error, MODEL_ERROR_SIZE, "out of memory saving %d item rows for smoothing", s->n_items);
        return -1;
    }
    memcpy(trained, m->params.embedding, rows * sizeof(float));

    int status = score(m, s, trained, &none, validation, &result->unsmoothed_hr10, error);
    result->hr10 = result->unsmoothed_hr10;
    for (int w = 0; status == 0 && w < config->n_windows; w++)
        for (int k = 0; status == 0 && k < config->n_shrinks; k++)
            for (int a = 0; status == 0 && a < config->n_alphas; a++) {
                struct train_item_graph_config c = {.window = config->windows[w],
                                                    .max_neighbors = config->max_neighbors,
                                                    .alpha = config->alphas[a],
                                                    .shrink = config->shrinks[k]};
                status = score(m, s, trained, &c, validation, &hr10, error);
                result->tried++;
                if (status == 0 && hr10 > result->hr10) {
                    result->hr10 = hr10;
                    best = c;
                }
            }

    /* the graph is deterministic, so smoothing again gives the rows scored */
    memcpy(m->params.embedding, trained, rows * sizeof(float));
    if (status == 0 && best.window > 0)
        status = train_item_graph_smooth(s, &best, m->params.embedding, m->config.d_model, error);
    if (status != 0)
        memcpy(m->params.embedding, trained, rows * sizeof(float));
    result->chosen = best;
    free(trained);
    return status;
}
