/* Safetensors save and load: round trip, zero-copy mapping, and rejection of
 * corrupt or mismatched files with an error that names the problem. */
#include "test_model_util.h"

#include <sys/stat.h>

#include "encoder.h"

struct fixture {
    struct model model;
    char *dir;
    char path[512];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    char error[MODEL_ERROR_SIZE];
    struct model_config c = test_config(40);
    c.n_heads = 4;
    c.d_model = 32;
    c.d_ff = 48;

    test_random_model(&f->model, &c, 41);
    f->dir = test_make_dir();
    snprintf(f->path, sizeof f->path, "%s/model.safetensors", f->dir);
    assert_int_equal(model_safetensors_save(&f->model, f->path, "{\"vocab\": [\"買\", \"😀\"]}", error), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    model_free(&f->model);
    test_remove_dir(f->dir);
    free(f);
    return 0;
}

static unsigned char *read_file(const char *path, size_t *size)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    *size = (size_t)ftell(fp);
    fseek(fp, 0, SEEK_SET);
    unsigned char *data = malloc(*size);
    assert_int_equal(fread(data, 1, *size, fp), *size);
    fclose(fp);
    return data;
}

static void write_file(const char *path, const void *data, size_t size)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, size, fp), size);
    fclose(fp);
}

static void round_trip_maps_in_place(void **state)
{
    struct fixture *f = *state;
    struct model loaded;
    char error[MODEL_ERROR_SIZE], *tokenizer = NULL;

    assert_int_equal(model_safetensors_load(&loaded, f->path, 0, &tokenizer, error), 0);
    assert_non_null(loaded.mapping);
    assert_int_equal(loaded.params.owns_data, 0);
    assert_memory_equal(&loaded.config, &f->model.config, sizeof loaded.config);
    assert_int_equal(loaded.params.count, f->model.params.count);
    assert_memory_equal(loaded.params.data, f->model.params.data, f->model.params.count * sizeof(float));
    assert_string_equal(tokenizer, "{\"vocab\": [\"買\", \"😀\"]}");
    assert_ptr_equal(loaded.params.generator_weight, loaded.params.embedding);

    free(tokenizer);
    model_free(&loaded);
}

static void copy_flag_gives_owned_buffer(void **state)
{
    struct fixture *f = *state;
    struct model loaded;
    char error[MODEL_ERROR_SIZE];

    assert_int_equal(model_safetensors_load(&loaded, f->path, MODEL_LOAD_COPY, NULL, error), 0);
    assert_null(loaded.mapping);
    assert_int_equal(loaded.params.owns_data, 1);
    assert_memory_equal(loaded.params.data, f->model.params.data, f->model.params.count * sizeof(float));
    loaded.params.embedding[0] += 1.0f; /* writable */
    model_free(&loaded);
}

static void loaded_model_encodes_the_same(void **state)
{
    struct fixture *f = *state;
    struct model loaded;
    struct model_arena arena = {0};
    char error[MODEL_ERROR_SIZE];
    int tokens[5] = {3, 9, 27, 1, 39}, length = 5;
    float a[32], b[32];

    assert_int_equal(model_safetensors_load(&loaded, f->path, 0, NULL, error), 0);
    assert_int_equal(model_encode(&f->model, &arena, tokens, &length, 1, 5, NULL, a, error), 0);
    assert_int_equal(model_encode(&loaded, &arena, tokens, &length, 1, 5, NULL, b, error), 0);
    assert_memory_equal(a, b, sizeof a);
    model_arena_free(&arena);
    model_free(&loaded);
}

/* Rewrites the file with the header changed by edit (padding removed, so the
 * data region is no longer aligned) and returns the load status and error. */
static int load_edited(struct fixture *f, void (*edit)(json_t *root), char *error)
{
    size_t size;
    unsigned char *data = read_file(f->path, &size);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--)
        n = (n << 8) | data[i];

    json_t *root = json_loadb((const char *)data + 8, n, 0, NULL);
    assert_non_null(root);
    edit(root);
    char *header = json_dumps(root, JSON_COMPACT);
    json_decref(root);

    size_t hn = strlen(header), out_size = 8 + hn + (size - 8 - n);
    unsigned char *out = malloc(out_size);
    for (int i = 0; i < 8; i++)
        out[i] = (unsigned char)((uint64_t)hn >> (8 * i));
    memcpy(out + 8, header, hn);
    memcpy(out + 8 + hn, data + 8 + n, size - 8 - n);
    char path[600];
    snprintf(path, sizeof path, "%s/edited.safetensors", f->dir);
    write_file(path, out, out_size);

    struct model loaded;
    int rc = model_safetensors_load(&loaded, path, 0, NULL, error);
    if (rc == 0) {
        assert_memory_equal(loaded.params.data, f->model.params.data, f->model.params.count * sizeof(float));
        model_free(&loaded);
    }
    free(out);
    free(header);
    free(data);
    return rc;
}

static void no_edit(json_t *root)
{
    (void)root;
}

static void unaligned_file_is_copied(void **state)
{
    char error[MODEL_ERROR_SIZE];
    assert_int_equal(load_edited(*state, no_edit, error), 0);
}

static void drop_tensor(json_t *root)
{
    json_object_del(root, "encoder.layers.1.linear2.weight");
}

static void missing_tensor_named(void **state)
{
    char error[MODEL_ERROR_SIZE];
    assert_int_equal(load_edited(*state, drop_tensor, error), -1);
    assert_non_null(strstr(error, "encoder.layers.1.linear2.weight"));
    assert_non_null(strstr(error, "missing"));
}

static void swap_shape(json_t *root)
{
    json_t *t = json_object_get(root, "decoder.layers.0.linear1.weight");
    json_object_set_new(t, "shape", json_pack("[i, i]", 32, 48));
}

static void wrong_shape_named(void **state)
{
    char error[MODEL_ERROR_SIZE];
    assert_int_equal(load_edited(*state, swap_shape, error), -1);
    assert_non_null(strstr(error, "decoder.layers.0.linear1.weight"));
    assert_non_null(strstr(error, "[32, 48]"));
    assert_non_null(strstr(error, "expected [48, 32]"));
}

static void half_dtype(json_t *root)
{
    json_object_set_new(json_object_get(root, "embedding.weight"), "dtype", json_string("F16"));
}

static void wrong_dtype_named(void **state)
{
    char error[MODEL_ERROR_SIZE];
    assert_int_equal(load_edited(*state, half_dtype, error), -1);
    assert_non_null(strstr(error, "embedding.weight"));
    assert_non_null(strstr(error, "F16"));
}

static void offsets_past_end(json_t *root)
{
    json_object_set_new(json_object_get(root, "encoder.norm.bias"), "data_offsets",
                        json_pack("[I, I]", (json_int_t)1 << 40, ((json_int_t)1 << 40) + 128));
}

static void offsets_out_of_range(void **state)
{
    char error[MODEL_ERROR_SIZE];
    assert_int_equal(load_edited(*state, offsets_past_end, error), -1);
    assert_non_null(strstr(error, "encoder.norm.bias"));
}

static void bad_norm(json_t *root)
{
    json_object_set_new(json_object_get(root, "__metadata__"), "norm", json_string("middle"));
}

static void drop_d_model(json_t *root)
{
    json_object_del(json_object_get(root, "__metadata__"), "d_model");
}

static void extra_tensor(json_t *root)
{
    json_object_set_new(root, "generator.weight", json_object_get(root, "embedding.weight"));
    json_incref(json_object_get(root, "embedding.weight"));
}

static void invalid_metadata_rejected(void **state)
{
    char error[MODEL_ERROR_SIZE];
    assert_int_equal(load_edited(*state, bad_norm, error), -1);
    assert_non_null(strstr(error, "middle"));
    assert_int_equal(load_edited(*state, drop_d_model, error), -1);
    assert_non_null(strstr(error, "d_model"));
    assert_int_equal(load_edited(*state, extra_tensor, error), -1);
    assert_non_null(strstr(error, "generator.weight"));
}

/* Every prefix of the header region, and a cut in the data, fails cleanly. */
static void truncated_files_rejected(void **state)
{
    struct fixture *f = *state;
    char error[MODEL_ERROR_SIZE], path[600];
    size_t size;
    unsigned char *data = read_file(f->path, &size);
    snprintf(path, sizeof path, "%s/cut.safetensors", f->dir);

    /* The file may end in alignment padding, so the last cut is one byte into the last tensor. */
    const struct model_tensor_info *last = &f->model.params.tensors[f->model.params.n_tensors - 1];
    size_t data_end = size - f->model.params.count * sizeof(float) + (last->offset + last->count) * sizeof(float);
    size_t cuts[] = {0, 1, 7, 8, 9, 100, 1000, size / 2, data_end - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        struct model loaded;
        write_file(path, data, cuts[i]);
        assert_int_equal(model_safetensors_load(&loaded, path, 0, NULL, error), -1);
        assert_true(strlen(error) > 0);
    }
    free(data);
}

static void garbage_header_rejected(void **state)
{
    struct fixture *f = *state;
    char error[MODEL_ERROR_SIZE];
    struct model_safetensors_header h;
    unsigned char buf[64] = {24, 0, 0, 0, 0, 0, 0, 0};
    memcpy(buf + 8, "{\"a\": [1, 2, 3 ,, }     ", 24);
    assert_int_equal(model_safetensors_parse(buf, sizeof buf, &h, error), -1);
    assert_non_null(strstr(error, "invalid safetensors header"));

    unsigned char huge[16] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    assert_int_equal(model_safetensors_parse(huge, sizeof huge, &h, error), -1);
    assert_non_null(strstr(error, "header length"));

    struct model loaded;
    char path[600];
    snprintf(path, sizeof path, "%s/absent.safetensors", f->dir);
    assert_int_equal(model_safetensors_load(&loaded, path, 0, NULL, error), -1);
    assert_non_null(strstr(error, "absent.safetensors"));
}

/* The largest config the validator accepts must fit the tensor table. */
static void max_layers_fit_table(void **state)
{
    (void)state;
    struct model_params layout;
    struct model_config c = test_config(40);
    c.n_encoder_layers = MODEL_MAX_LAYERS;
    c.n_decoder_layers = MODEL_MAX_LAYERS;
    c.tie_output = 0;
    model_params_layout(&layout, &c);
    assert_true(layout.n_tensors <= MODEL_MAX_TENSORS);
    assert_int_equal(layout.n_tensors, 1 + 16 * 12 + 2 + 16 * 18 + 2 + 2 + 8);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(round_trip_maps_in_place, setup, teardown),
        cmocka_unit_test_setup_teardown(copy_flag_gives_owned_buffer, setup, teardown),
        cmocka_unit_test_setup_teardown(loaded_model_encodes_the_same, setup, teardown),
        cmocka_unit_test_setup_teardown(unaligned_file_is_copied, setup, teardown),
        cmocka_unit_test_setup_teardown(missing_tensor_named, setup, teardown),
        cmocka_unit_test_setup_teardown(wrong_shape_named, setup, teardown),
        cmocka_unit_test_setup_teardown(wrong_dtype_named, setup, teardown),
        cmocka_unit_test_setup_teardown(offsets_out_of_range, setup, teardown),
        cmocka_unit_test_setup_teardown(invalid_metadata_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(truncated_files_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(garbage_header_rejected, setup, teardown),
        cmocka_unit_test(max_layers_fit_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
