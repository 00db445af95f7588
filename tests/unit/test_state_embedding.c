/* Unit tests of the last emitted embedding: int8 quantisation and the cosine
 * distance to it. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "state_embedding.h"

#define DIM 64

/* A slot with room for DIM values, as a store record has. */
struct slot_buffer {
    _Alignas(float) unsigned char bytes[sizeof(struct state_embedding) + DIM];
};

static struct state_embedding *slot_of(struct slot_buffer *buffer)
{
    return (struct state_embedding *)buffer->bytes;
}

/* Deterministic values in -1..1 from a linear congruential generator. */
static float next_value(uint64_t *seed)
{
    *seed = *seed * 6364136223846793005u + 1442695040888963407u;
    return (float)((double)(*seed >> 11) / (double)(UINT64_C(1) << 53) * 2.0 - 1.0);
}

/* The cosine distance in double precision, without quantisation. */
static double reference_distance(const float *a, const float *b, int dim)
{
    double dot = 0.0, na = 0.0, nb = 0.0;

    for (int i = 0; i < dim; i++) {
        dot += (double)a[i] * b[i];
        na += (double)a[i] * a[i];
        nb += (double)b[i] * b[i];
    }
    return 1.0 - dot / (sqrt(na) * sqrt(nb));
}

static void test_new_slot_has_no_vector(void **state)
{
    (void)state;
    struct slot_buffer buffer = {0};
    float v[DIM] = {1.0f};

    assert_false(state_embedding_present(slot_of(&buffer)));
    assert_true(state_embedding_distance(slot_of(&buffer), v, DIM) < 0.0);
}

static void test_quantisation_error_within_half_step(void **state)
{
    (void)state;
    struct slot_buffer buffer = {0};
    struct state_embedding *slot = slot_of(&buffer);
    float v[DIM];
    uint64_t seed = 7;
    double worst_distance = 0.0;

    for (int round = 0; round < 1000; round++) {
        for (int i = 0; i < DIM; i++)
            v[i] = next_value(&seed) * (float)(round % 7 + 1);
        state_embedding_store(slot, v, DIM);
        assert_true(state_embedding_present(slot));

        float restored[DIM];
        for (int i = 0; i < DIM; i++) {
            assert_true(slot->values[i] >= -127);
            restored[i] = (float)slot->values[i] * slot->scale;
            assert_true(fabsf(restored[i] - v[i]) <= slot->scale * 0.5f + 1e-6f);
        }
        double distance = state_embedding_distance(slot, v, DIM);
        assert_true(distance >= 0.0);
        assert_float_equal(distance, reference_distance(restored, v, DIM), 1e-9);
        if (distance > worst_distance)
            worst_distance = distance;
    }
    printf("state embedding: largest distance of a vector to its own int8 copy, d=%d: %.2e\n", DIM, worst_distance);
    assert_true(worst_distance < 1e-3);
}

static void test_distance_of_known_angles(void **state)
{
    (void)state;
    struct slot_buffer buffer = {0};
    struct state_embedding *slot = slot_of(&buffer);
    float x[DIM] = {0}, y[DIM] = {0}, minus_x[DIM] = {0}, long_x[DIM] = {0}, diagonal[DIM] = {0};

    x[0] = 1.0f;
    y[1] = 1.0f;
    minus_x[0] = -1.0f;
    long_x[0] = 250.0f;
    diagonal[0] = 1.0f;
    diagonal[1] = 1.0f;
    state_embedding_store(slot, x, DIM);

    assert_float_equal(state_embedding_distance(slot, x, DIM), 0.0, 1e-12);
    assert_float_equal(state_embedding_distance(slot, long_x, DIM), 0.0, 1e-12); /* length does not count */
    assert_float_equal(state_embedding_distance(slot, y, DIM), 1.0, 1e-12);
    assert_float_equal(state_embedding_distance(slot, minus_x, DIM), 2.0, 1e-12);
    assert_float_equal(state_embedding_distance(slot, diagonal, DIM), 1.0 - sqrt(0.5), 1e-9);
}

static void test_vector_without_direction_stores_none(void **state)
{
    (void)state;
    struct slot_buffer buffer = {0};
    struct state_embedding *slot = slot_of(&buffer);
    float zero[DIM] = {0}, x[DIM] = {0}, nan_x[DIM] = {0}, inf_x[DIM] = {0}, tiny[DIM] = {0};

    x[0] = 1.0f;
    nan_x[0] = 1.0f;
    nan_x[5] = NAN;
    inf_x[3] = INFINITY;
    tiny[0] = 1e-44f; /* subnormal: its scale underflows to 0 */

    state_embedding_store(slot, x, DIM);
    state_embedding_store(slot, zero, DIM);
    assert_false(state_embedding_present(slot));
    state_embedding_store(slot, x, DIM);
    state_embedding_store(slot, nan_x, DIM);
    assert_false(state_embedding_present(slot));
    state_embedding_store(slot, x, DIM);
    state_embedding_store(slot, inf_x, DIM);
    assert_false(state_embedding_present(slot));
    state_embedding_store(slot, x, DIM);
    state_embedding_store(slot, tiny, DIM);
    assert_false(state_embedding_present(slot));

    /* Nor can a stored vector be compared with one that has no direction. */
    state_embedding_store(slot, x, DIM);
    assert_true(state_embedding_distance(slot, zero, DIM) < 0.0);
    assert_true(state_embedding_distance(slot, nan_x, DIM) < 0.0);
    state_embedding_clear(slot);
    assert_true(state_embedding_distance(slot, x, DIM) < 0.0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_slot_has_no_vector),
        cmocka_unit_test(test_quantisation_error_within_half_step),
        cmocka_unit_test(test_distance_of_known_angles),
        cmocka_unit_test(test_vector_without_direction_stores_none),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
