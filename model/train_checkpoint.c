#include "train_checkpoint.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "safetensors.h"

static const char MAGIC[8] = {'I', 'N', 'T', 'D', 'C', 'K', 'P', '1'};

/* The fixed-size fields after the config, in file order. */
struct checkpoint_header {
    uint64_t count;
    int64_t step;
    int32_t epoch;
    int64_t batch_index;
    uint64_t rng;
    float best_hr10;
    int32_t best_epoch;
    int32_t bad_epochs;
    int32_t finished;
};

static int write_all(FILE *f, const void *p, size_t bytes)
{
    return fwrite(p, 1, bytes, f) == bytes ? 0 : -1;
}

static int read_all(FILE *f, void *p, size_t bytes)
{
    return fread(p, 1, bytes, f) == bytes ? 0 : -1;
}

int train_checkpoint_save(const struct train_session *s, const char *path, char *error)
{
    const struct train_model *m = s->model;
    size_t count = m->params.count, bytes = count * sizeof(float);
    char tmp[4096];
    struct checkpoint_header h = {count,       s->opt.step,  s->epoch,      s->batch_index, m->rng,
                                  s->best_hr10, s->best_epoch, s->bad_epochs, s->finished};

    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        snprintf(error, MODEL_ERROR_SIZE, "cannot write checkpoint %.400s.tmp: %s", path, strerror(errno));
        return -1;
    }
    int bad = write_all(f, MAGIC, sizeof MAGIC) || write_all(f, &m->config, sizeof m->config) ||
              write_all(f, &h, sizeof h) || write_all(f, m->params.data, bytes) || write_all(f, s->opt.m, bytes) ||
              write_all(f, s->opt.v, bytes) || write_all(f, s->best_params, bytes);
    if (s->ema)
        bad = bad || write_all(f, s->ema, bytes);
    if (s->config.item_features_tail > 0)
        bad = bad || train_item_features_write(&s->features, f) != 0;
    if (s->config.item_graph.window > 0)
        bad = bad || train_item_graph_write(&s->graph, f) != 0;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) != 0) {
        snprintf(error, MODEL_ERROR_SIZE, "cannot write checkpoint %.400s: %s (is the disk full?)", path,
                 strerror(errno));
        remove(tmp);
        return -1;
    }
    return 0;
}

int train_checkpoint_load(struct train_session *s, const char *path, char *error)
{
    struct train_model *m = s->model;
    size_t count = m->params.count, bytes = count * sizeof(float);
    char magic[sizeof MAGIC];
    struct model_config config;
    struct checkpoint_header h;

    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(error, MODEL_ERROR_SIZE, "cannot open checkpoint %.400s: %s", path, strerror(errno));
        return -1;
    }
    if (read_all(f, magic, sizeof magic) || memcmp(magic, MAGIC, sizeof MAGIC) != 0 ||
        read_all(f, &config, sizeof config) || read_all(f, &h, sizeof h)) {
        fclose(f);
        snprintf(error, MODEL_ERROR_SIZE, "invalid checkpoint %.400s: not an intentd checkpoint or truncated header",
                 path);
        return -1;
    }
    if (memcmp(&config, &m->config, sizeof config) != 0 || h.count != count) {
        fclose(f);
        snprintf(error, MODEL_ERROR_SIZE,
                 "checkpoint %.400s was written for another model config (%llu parameters, expected %zu)", path,
                 (unsigned long long)h.count, count);
        return -1;
    }
    int bad = read_all(f, m->params.data, bytes) || read_all(f, s->opt.m, bytes) || read_all(f, s->opt.v, bytes) ||
              read_all(f, s->best_params, bytes);
    if (s->ema)
        bad = bad || read_all(f, s->ema, bytes);
    if (s->config.item_features_tail > 0)
        bad = bad || train_item_features_read(&s->features, f) != 0;
    if (s->config.item_graph.window > 0)
        bad = bad || train_item_graph_read(&s->graph, f) != 0;
    fclose(f);
    if (bad) {
        snprintf(error, MODEL_ERROR_SIZE, "invalid checkpoint %.400s: truncated after the header", path);
        return -1;
    }

    s->opt.step = h.step;
    s->epoch = h.epoch;
    s->batch_index = h.batch_index;
    m->rng = h.rng;
    s->best_hr10 = h.best_hr10;
    s->best_epoch = h.best_epoch;
    s->bad_epochs = h.bad_epochs;
    s->finished = h.finished;
    s->order_epoch = -1;
    return 0;
}

int train_save_model(const struct train_model *m, const char *path, char *error)
{
    struct model view;

    train_model_view(m, &view);
    return model_safetensors_save(&view, path, NULL, error);
}
