#include "state_embedding.h"

#include <math.h>

#define INT8_LEVELS 127.0 /* symmetric range -127..127, so state_embedding_store never writes -128 */

void state_embedding_clear(struct state_embedding *slot)
{
    slot->scale = 0.0f;
}

int state_embedding_present(const struct state_embedding *slot)
{
    return slot->scale > 0.0f;
}

void state_embedding_store(struct state_embedding *slot, const float *v, int dim)
{
    double max_abs = 0.0;

    for (int i = 0; i < dim; i++) {
        if (!isfinite(v[i])) {
            state_embedding_clear(slot);
            return;
        }
        if (fabs((double)v[i]) > max_abs)
            max_abs = fabs((double)v[i]);
    }
    /* A vector so small that its scale underflows to 0 has no usable direction either. */
    float scale = (float)(max_abs / INT8_LEVELS);
    if (!(scale > 0.0f)) {
        state_embedding_clear(slot);
        return;
    }

    for (int i = 0; i < dim; i++) {
        double q = nearbyint((double)v[i] / (double)scale);
        if (q > INT8_LEVELS)
            q = INT8_LEVELS;
        if (q < -INT8_LEVELS)
            q = -INT8_LEVELS;
        slot->values[i] = (int8_t)q;
    }
    slot->scale = scale;
}

double state_embedding_distance(const struct state_embedding *slot, const float *v, int dim)
{
    if (!state_embedding_present(slot))
        return -1.0;

    /* The scale cancels out of the cosine, so the int8 values are used as they are. */
    double dot = 0.0, stored_norm = 0.0, norm = 0.0;
    for (int i = 0; i < dim; i++) {
        double q = (double)slot->values[i];
        double x = (double)v[i];
        dot += q * x;
        stored_norm += q * q;
        norm += x * x;
    }
    if (!(norm > 0.0) || !isfinite(norm) || !(stored_norm > 0.0))
        return -1.0;

    double distance = 1.0 - dot / (sqrt(stored_norm) * sqrt(norm));
    if (distance < 0.0)
        return 0.0;
    if (distance > 2.0)
        return 2.0;
    return distance;
}
