#include "arena.h"

#include <stdlib.h>

size_t model_arena_bytes(size_t count)
{
    return (count * sizeof(float) + 63) & ~(size_t)63;
}

int model_arena_reserve(struct model_arena *a, size_t bytes)
{
    bytes = (bytes + 63) & ~(size_t)63;
    if (bytes > a->size) {
        char *p = aligned_alloc(64, bytes);
        if (!p)
            return -1;
        free(a->base);
        a->base = p;
        a->size = bytes;
    }
    a->used = 0;
    return 0;
}

float *model_arena_floats(struct model_arena *a, size_t count)
{
    size_t bytes = model_arena_bytes(count);
    if (!a->base || bytes > a->size - a->used)
        return NULL;

    float *p = (float *)(a->base + a->used);
    a->used += bytes;
    if (a->used > a->high_water)
        a->high_water = a->used;
    return p;
}

void model_arena_reset(struct model_arena *a)
{
    a->used = 0;
}

void model_arena_free(struct model_arena *a)
{
    free(a->base);
    a->base = NULL;
    a->size = a->used = a->high_water = 0;
}
