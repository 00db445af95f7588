#include "tokenizer_idmap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

uint64_t tokenizer_hash_fnv1a64(const void *bytes, size_t len)
{
    const uint8_t *b = bytes;
    uint64_t hash = 0xcbf29ce484222325ull; /* FNV-1a 64-bit offset basis */

    for (size_t i = 0; i < len; i++)
        hash = (hash ^ b[i]) * 0x100000001b3ull; /* FNV 64-bit prime */
    return hash;
}

int tokenizer_id_check(const char *id, const char *what, char *error)
{
    size_t len = strnlen(id, TOKENIZER_MAX_ID_BYTES + 1);

    if (len == 0) {
        snprintf(error, MODEL_ERROR_SIZE, "invalid %s id: it is empty", what);
        return -1;
    }
    if (len > TOKENIZER_MAX_ID_BYTES) {
        snprintf(error, MODEL_ERROR_SIZE, "invalid %s id \"%.32s...\": longer than %d bytes", what, id,
                 TOKENIZER_MAX_ID_BYTES);
        return -1;
    }
    if (!utf8_is_valid((const uint8_t *)id, len)) {
        snprintf(error, MODEL_ERROR_SIZE, "invalid %s id: %zu bytes that are not valid UTF-8", what, len);
        return -1;
    }
    return 0;
}

void tokenizer_idmap_init(struct tokenizer_idmap *map)
{
    *map = (struct tokenizer_idmap){0};
}

void tokenizer_idmap_clear(struct tokenizer_idmap *map)
{
    for (size_t i = 0; i < map->n; i++)
        free(map->ids[i]);
    free(map->ids);
    free(map->counts);
    free(map->slots);
    tokenizer_idmap_init(map);
}

static int rehash(struct tokenizer_idmap *map, size_t n_slots)
{
    int32_t *slots = malloc(n_slots * sizeof(int32_t));
    if (!slots)
        return -1;
    memset(slots, 0xFF, n_slots * sizeof(int32_t));
    for (size_t i = 0; i < map->n; i++) {
        const char *id = map->ids[i];
        size_t s = tokenizer_hash_fnv1a64(id, strlen(id)) & (n_slots - 1);
        while (slots[s] >= 0)
            s = (s + 1) & (n_slots - 1);
        slots[s] = (int32_t)i;
    }
    free(map->slots);
    map->slots = slots;
    map->slot_mask = n_slots - 1;
    return 0;
}

/* Returns the slot that holds id, or the empty slot where it belongs. */
static size_t find_slot(const struct tokenizer_idmap *map, const char *id)
{
    size_t s = tokenizer_hash_fnv1a64(id, strlen(id)) & map->slot_mask;

    while (map->slots[s] >= 0 && strcmp(map->ids[map->slots[s]], id) != 0)
        s = (s + 1) & map->slot_mask;
    return s;
}

int32_t tokenizer_idmap_find(const struct tokenizer_idmap *map, const char *id)
{
    if (!map->slots)
        return -1;
    return map->slots[find_slot(map, id)];
}

static int append(struct tokenizer_idmap *map, const char *id, int64_t count)
{
    if (map->n == map->capacity) {
        size_t next = map->capacity ? 2 * map->capacity : 64;
        char **ids = realloc(map->ids, next * sizeof(char *));
        if (ids)
            map->ids = ids;
        int64_t *counts = realloc(map->counts, next * sizeof(int64_t));
        if (counts)
            map->counts = counts;
        if (!ids || !counts)
            return -1;
        map->capacity = next;
    }
    map->ids[map->n] = strdup(id);
    if (!map->ids[map->n])
        return -1;
    map->counts[map->n] = count;
    map->n++;
    return 0;
}

int tokenizer_idmap_add(struct tokenizer_idmap *map, const char *id, int64_t count, int32_t *index)
{
    if (!map->slots || 2 * (map->n + 1) > map->slot_mask + 1) {
        if (map->n >= INT32_MAX / 4 || rehash(map, map->slots ? 2 * (map->slot_mask + 1) : 256) != 0)
            return -1;
    }

    size_t s = find_slot(map, id);
    if (map->slots[s] < 0) {
        if (append(map, id, 0) != 0)
            return -1;
        map->slots[s] = (int32_t)(map->n - 1);
    }
    map->counts[map->slots[s]] += count;
    if (index)
        *index = map->slots[s];
    return 0;
}

struct tokenizer_counter *tokenizer_counter_create(void)
{
    struct tokenizer_counter *counter = malloc(sizeof *counter);
    if (counter)
        tokenizer_idmap_init(&counter->map);
    return counter;
}

void tokenizer_counter_free(struct tokenizer_counter *counter)
{
    if (!counter)
        return;
    tokenizer_idmap_clear(&counter->map);
    free(counter);
}

int tokenizer_counter_add(struct tokenizer_counter *counter, const char *id, char *error)
{
    if (tokenizer_id_check(id, "training", error) != 0)
        return -1;
    if (tokenizer_idmap_add(&counter->map, id, 1, NULL) != 0) {
        snprintf(error, MODEL_ERROR_SIZE, "out of memory counting id \"%s\" (%zu distinct ids so far)", id,
                 counter->map.n);
        return -1;
    }
    return 0;
}
