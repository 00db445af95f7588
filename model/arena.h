/*
 * A bump allocator for activations. A forward pass takes all of its
 * buffers from one arena that is reset per batch, so the hot path does no
 * malloc once the arena has grown to the largest batch seen.
 */
#ifndef INTENTD_MODEL_ARENA_H
#define INTENTD_MODEL_ARENA_H

#include <stddef.h>

struct model_arena {
    char *base;       /* 64-byte aligned block of size bytes, owned by the arena */
    size_t size;
    size_t used;
    size_t high_water; /* max of used since init, for sizing */
};

/* Makes sure the arena has room for at least bytes and resets it. Reallocates only
 * when bytes exceeds the current size (contents are lost). Returns 0, or -1
 * when the allocation fails. */
int model_arena_reserve(struct model_arena *arena, size_t bytes);

/* Returns count floats, 64-byte aligned and uninitialised, or NULL when the
 * arena is full (the caller reserved too little: a bug, not a runtime state). */
float *model_arena_floats(struct model_arena *arena, size_t count);

/* Bytes that model_arena_floats(count) consumes, for computing reservations. */
size_t model_arena_bytes(size_t count);

/* Forgets every allocation; keeps the memory. */
void model_arena_reset(struct model_arena *arena);

/* Frees the memory; safe on a zeroed struct. */
void model_arena_free(struct model_arena *arena);

#endif
