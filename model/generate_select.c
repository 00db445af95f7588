/* Logit masking and token choice for generation. */
#include <math.h>
#include <stdlib.h>

#include "generate.h"
#include "kernels.h"
#include "generate_internal.h"

void model_apply_constraints(const struct model_constraints *c, int eos, const int *tokens, int n, float *logits,
                             int vocab)
{
    if (n < c->prefix_len) {
        int forced = c->prefix[n];
        for (int i = 0; i < vocab; i++)
            if (i != forced)
                logits[i] = -INFINITY;
        return;
    }
    for (int i = 0; i < c->n_banned; i++)
        if (c->banned[i] >= 0 && c->banned[i] < vocab)
            logits[c->banned[i]] = -INFINITY;
    if (c->no_repeat)
        for (int i = 0; i < n; i++)
            if (tokens[i] >= 0 && tokens[i] < vocab)
                logits[tokens[i]] = -INFINITY;
    if (c->allowed_end > c->allowed_begin) {
        for (int i = 0; i < vocab; i++)
            if ((i < c->allowed_begin || i >= c->allowed_end) && i != eos)
                logits[i] = -INFINITY;
    }
    if (n < c->min_tokens && eos >= 0 && eos < vocab)
        logits[eos] = -INFINITY;
    if (c->hook)
        c->hook(c->hook_user, tokens, n, logits, vocab);
}

int generate_argmax(const float *logits, int vocab)
{
    return model_argmax(logits, vocab);
}

/* In place: logits become log-probabilities; masked entries stay -inf. */
void generate_log_softmax(float *logits, int vocab)
{
    float log_sum = model_logsumexp(logits, vocab);
    if (!(log_sum > -INFINITY))
        return; /* every token is masked */
    for (int i = 0; i < vocab; i++)
        logits[i] -= log_sum; /* -inf stays -inf */
}

uint64_t generate_random(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static int by_logit_desc(const void *a, const void *b)
{
    float x = ((const struct generate_candidate *)a)->logit, y = ((const struct generate_candidate *)b)->logit;
    return (x < y) - (x > y);
}

int generate_sample(float *logits, int vocab, const struct model_generate_options *o,
                    struct generate_candidate *order, uint64_t *rng)
{
    int n = 0;
    for (int i = 0; i < vocab; i++) {
        if (logits[i] > -INFINITY)
            order[n++] = (struct generate_candidate){.logit = logits[i] / o->temperature, .id = i};
    }
    if (n == 0)
        return -1;

    qsort(order, (size_t)n, sizeof *order, by_logit_desc);
    if (o->top_k > 0 && o->top_k < n)
        n = o->top_k;

    double sum = 0.0, max = order[0].logit;
    for (int i = 0; i < n; i++)
        sum += exp(order[i].logit - max);

    /* Nucleus: the shortest prefix of the sorted tokens with mass >= top_p. */
    double cumulative = 0.0;
    int cut = n;
    for (int i = 0; i < n && o->top_p < 1.0f; i++) {
        cumulative += exp(order[i].logit - max) / sum;
        if (cumulative >= o->top_p) {
            cut = i + 1;
            break;
        }
    }
    double mass = 0.0;
    for (int i = 0; i < cut; i++)
        mass += exp(order[i].logit - max);

    double u = (double)(generate_random(rng) >> 11) / 9007199254740992.0 * mass, acc = 0.0;
    for (int i = 0; i < cut; i++) {
        acc += exp(order[i].logit - max);
        if (u < acc)
            return order[i].id;
    }
    return order[cut - 1].id;
}
