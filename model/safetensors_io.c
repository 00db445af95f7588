/* Reading and writing safetensors files; the header checks are in safetensors.c. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "safetensors.h"
#include "safetensors_config.h"

static json_t *tensor_entry(const struct model_tensor_info *t)
{
    json_t *shape = t->ndim == 1 ? json_pack("[i]", t->shape[0]) : json_pack("[i, i]", t->shape[0], t->shape[1]);
    size_t begin = t->offset * sizeof(float);
    return json_pack("{s:s, s:o, s:[I, I]}", "dtype", "F32", "shape", shape, "data_offsets", (json_int_t)begin,
                     (json_int_t)(begin + t->count * sizeof(float)));
}

/* Builds the header text, padded with spaces so that 8 + length is a multiple of 64. */
static char *build_header(const struct model *m, const char *tokenizer, size_t *length)
{
    json_t *root = json_object(), *meta = json_object();
    int rc = (!root || !meta) ? -1 : model_safetensors_config_to_json(&m->config, meta);

    if (rc == 0 && tokenizer)
        rc = json_object_set_new(meta, "intentd.tokenizer", json_string(tokenizer));
    if (rc == 0)
        rc = json_object_set_new(root, "__metadata__", meta);
    else
        json_decref(meta);
    for (int i = 0; rc == 0 && i < m->params.n_tensors; i++)
        rc = json_object_set_new(root, m->params.tensors[i].name, tensor_entry(&m->params.tensors[i]));

    char *text = rc == 0 ? json_dumps(root, JSON_COMPACT) : NULL;
    json_decref(root);
    if (!text)
        return NULL;

    size_t n = strlen(text), padded = ((8 + n + 63) & ~(size_t)63) - 8;
    char *out = realloc(text, padded + 1);
    if (!out) {
        free(text);
        return NULL;
    }
    memset(out + n, ' ', padded - n);
    out[padded] = '\0';
    *length = padded;
    return out;
}

int model_safetensors_save(const struct model *m, const char *path, const char *tokenizer, char *error)
{
    size_t n = 0;
    char *header = build_header(m, tokenizer, &n);
    if (!header) {
        snprintf(error, MODEL_ERROR_SIZE, "failed to build the safetensors header for %s (invalid UTF-8 in the tokenizer string, or out of memory)", path);
        return -1;
    }

    FILE *f = fopen(path, "wb");
    if (!f) {
        snprintf(error, MODEL_ERROR_SIZE, "cannot create %s: %s", path, strerror(errno));
        free(header);
        return -1;
    }
    unsigned char len[8];
    for (int i = 0; i < 8; i++)
        len[i] = (unsigned char)((uint64_t)n >> (8 * i));

    int ok = fwrite(len, 1, 8, f) == 8 && fwrite(header, 1, n, f) == n &&
             fwrite(m->params.data, sizeof(float), m->params.count, f) == m->params.count;
    ok = (fclose(f) == 0) && ok;
    free(header);
    if (!ok) {
        snprintf(error, MODEL_ERROR_SIZE, "failed writing %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* Binds the parameters to the mapped data when every tensor sits at its
 * layout offset and the data region is 64-byte aligned; else copies. */
static int bind_or_copy(struct model *m, struct model_safetensors_header *h, unsigned char *map, size_t size,
                        int flags, char *error)
{
    unsigned char *data = map + h->data_start;
    int in_place = !(flags & MODEL_LOAD_COPY) && ((uintptr_t)data % 64) == 0 &&
                   h->layout.count * sizeof(float) <= size - h->data_start;
    for (int i = 0; in_place && i < h->layout.n_tensors; i++)
        in_place = h->offsets[i] == h->layout.tensors[i].offset * sizeof(float);

    m->config = h->config;
    if (in_place) {
        m->params = h->layout;
        model_params_bind(&m->params, (float *)data);
        m->mapping = map;
        m->mapping_size = size;
        return 0;
    }

    if (model_params_alloc(&m->params, &h->config, error) != 0)
        return -1;
    for (int i = 0; i < h->layout.n_tensors; i++) {
        const struct model_tensor_info *t = &m->params.tensors[i];
        memcpy(m->params.data + t->offset, data + h->offsets[i], t->count * sizeof(float));
    }
    munmap(map, size);
    return 0;
}

int model_safetensors_load(struct model *m, const char *path, int flags, char **tokenizer, char *error)
{
    memset(m, 0, sizeof *m);
    if (tokenizer)
        *tokenizer = NULL;

    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(error, MODEL_ERROR_SIZE, "cannot open weights file %s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size < 8) {
        snprintf(error, MODEL_ERROR_SIZE, "invalid weights file %s: shorter than the 8-byte header length", path);
        close(fd);
        return -1;
    }
    size_t size = (size_t)st.st_size;
    void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) {
        snprintf(error, MODEL_ERROR_SIZE, "cannot map weights file %s: %s", path, strerror(errno));
        return -1;
    }

    struct model_safetensors_header *h = malloc(sizeof *h);
    int rc = h ? model_safetensors_parse(map, size, h, error) : -1;
    if (!h)
        snprintf(error, MODEL_ERROR_SIZE, "out of memory parsing %s", path);
    if (rc == 0)
        rc = bind_or_copy(m, h, map, size, flags, error);
    if (rc == 0)
        rc = model_prepare(m, error);
    if (rc != 0) {
        size_t used = strlen(error);
        snprintf(error + used, MODEL_ERROR_SIZE - used, " (in %s)", path);
        if (m->mapping == map || m->params.data == NULL)
            munmap(map, size); /* else bind_or_copy already unmapped it */
        m->mapping = NULL;
        model_free(m);
        if (h)
            free(h->tokenizer);
        free(h);
        memset(m, 0, sizeof *m);
        return -1;
    }
    if (tokenizer)
        *tokenizer = h->tokenizer;
    else
        free(h->tokenizer);
    free(h);
    return 0;
}
