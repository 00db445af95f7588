#include "model_bundle.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arena.h"
#include "encoder.h"
#include "head_quant.h"
#include "item_scorer.h"
#include "linear_packed.h"
#include "safetensors.h"

/* FNV-1a 64 over the file bytes: a content fingerprint, not a security hash. */
static int hash_file(const char *path, uint64_t *hash, char *error)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        snprintf(error, MODEL_ERROR_SIZE, "cannot open model file %s: %m", path);
        return -1;
    }

    struct stat st;
    uint64_t h = 0xcbf29ce484222325ULL;
    if (fstat(fd, &st) == 0 && st.st_size > 0) {
        const unsigned char *bytes = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (bytes != MAP_FAILED) {
            for (off_t i = 0; i < st.st_size; i++)
                h = (h ^ bytes[i]) * 0x100000001b3ULL;
            munmap((void *)bytes, (size_t)st.st_size);
        }
    }
    close(fd);
    *hash = h;
    return 0;
}

static void derive_version(const char *path, uint64_t hash, char *out)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;

    char stem[48];
    snprintf(stem, sizeof stem, "%s", base);
    char *dot = strrchr(stem, '.');
    if (dot)
        *dot = '\0';
    snprintf(out, MODEL_BUNDLE_VERSION_SIZE, "%s-%012llx", stem, (unsigned long long)(hash >> 16));
}

/* The tokenizer's ranges must be the ones the model was built for. */
static int check_tokenizer(const struct model_bundle *bundle, const char *path, char *error)
{
    struct model_config expected = bundle->model.config;
    tokenizer_configure_model(bundle->tokenizer, &expected);
    const struct model_config *c = &bundle->model.config;

    if (expected.vocab_size != c->vocab_size || expected.item_begin != c->item_begin ||
        expected.item_end != c->item_end || expected.n_categories != c->n_categories) {
        snprintf(error, MODEL_ERROR_SIZE,
                 "model %s: the tokenizer does not match the weights (tokenizer vocab %d items [%d,%d) "
                 "categories %d, weights vocab %d items [%d,%d) categories %d); retrain or re-export the model",
                 path, expected.vocab_size, expected.item_begin, expected.item_end, expected.n_categories,
                 c->vocab_size, c->item_begin, c->item_end, c->n_categories);
        return -1;
    }
    return 0;
}

/* One forward pass on a short sequence must give finite numbers. */
static int smoke_inference(const struct model_bundle *bundle, const char *path, char *error)
{
    const struct model_config *c = &bundle->model.config;
    int tokens[4] = {TOKENIZER_START, TOKENIZER_ACTION_BEGIN, c->item_begin, TOKENIZER_ACTION_BEGIN + 3};
    int length = 4;
    struct model_arena arena = {0};
    float *pooled = calloc((size_t)c->d_model, sizeof(float));
    int result = -1;

    if (!pooled) {
        snprintf(error, MODEL_ERROR_SIZE, "out of memory checking model %s", path);
        return -1;
    }
    if (c->item_end <= c->item_begin)
        tokens[2] = TOKENIZER_UNK;

    if (model_encode(&bundle->model, &arena, tokens, &length, 1, 4, NULL, pooled, error) == 0) {
        result = 0;
        for (int i = 0; i < c->d_model; i++) {
            if (pooled[i] != pooled[i] || pooled[i] > 1e30f || pooled[i] < -1e30f) {
                snprintf(error, MODEL_ERROR_SIZE, "model %s: smoke inference gave a non-finite intent embedding "
                         "(component %d); the weights are corrupt", path, i);
                result = -1;
                break;
            }
        }
    }
    model_arena_free(&arena);
    free(pooled);
    return result;
}

int model_bundle_load(struct model_bundle *bundle, const char *path, const char *version_label, char *error)
{
    char *tokenizer_json = NULL;
    uint64_t hash = 0;

    memset(bundle, 0, sizeof *bundle);
    if (hash_file(path, &hash, error) != 0)
        return -1;
    /* A private copy, not a view of the mmap'ed file: an operator who
     * overwrites the model file in place must not change or crash the
     * running model. The default model is 8 MB. */
    if (model_safetensors_load(&bundle->model, path, MODEL_LOAD_COPY, &tokenizer_json, error) != 0)
        return -1;
    if (model_item_panels_build(&bundle->model, error) != 0 || model_quant_heads_build(&bundle->model, error) != 0 ||
        model_linears_pack(&bundle->model, error) != 0) {
        free(tokenizer_json);
        model_bundle_free(bundle);
        return -1;
    }

    if (!tokenizer_json) {
        snprintf(error, MODEL_ERROR_SIZE, "model %s has no tokenizer (metadata key %s); train it with "
                 "'intentd train', which stores the tokenizer with the weights", path, TOKENIZER_METADATA_KEY);
        model_bundle_free(bundle);
        return -1;
    }
    int loaded = tokenizer_from_json(tokenizer_json, strlen(tokenizer_json), &bundle->tokenizer, error);
    free(tokenizer_json);
    if (loaded != 0 || check_tokenizer(bundle, path, error) != 0 || smoke_inference(bundle, path, error) != 0) {
        model_bundle_free(bundle);
        return -1;
    }

    if (version_label && *version_label)
        snprintf(bundle->version, sizeof bundle->version, "%s", version_label);
    else
        derive_version(path, hash, bundle->version);
    return 0;
}

void model_bundle_free(struct model_bundle *bundle)
{
    model_free(&bundle->model);
    if (bundle->tokenizer)
        tokenizer_free(bundle->tokenizer);
    memset(bundle, 0, sizeof *bundle);
}
