#include "model_towers.h"

#include <stdio.h>
#include <string.h>

/* Placement of one axis of a member tensor in the packed tensor. */
enum axis_kind {
    AXIS_SHARED, /* same size in both: vocabulary or head classes */
    AXIS_TOWER,  /* member g fills block g of n equal blocks */
    AXIS_QKV,    /* q, k and v rows of an in_proj, each part blocked by tower */
};

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

static enum axis_kind axis_kind(const char *name, int axis, int packed, int member)
{
    if (packed == member)
        return AXIS_SHARED;
    if (axis == 0 && (ends_with(name, "in_proj_weight") || ends_with(name, "in_proj_bias")))
        return AXIS_QKV;
    return AXIS_TOWER;
}

/* Packed index of index i on a member axis of size size, for tower g of n. */
static size_t packed_index(enum axis_kind kind, int i, int size, int g, int n)
{
    int part = size / 3;

    if (kind == AXIS_SHARED)
        return (size_t)i;
    if (kind == AXIS_TOWER)
        return (size_t)g * size + i;
    return (size_t)(i / part) * part * n + (size_t)g * part + i % part;
}

/* Writes member tensor m of tower g into the packed tensor t. A tensor with
 * no tower axis (a head's bias) receives the members' mean. */
static void pack_tensor(const struct model_tensor_info *t, float *out, const struct model_tensor_info *m,
                        const float *in, int g, int n)
{
    int rows = m->ndim == 2 ? m->shape[0] : 1, cols = m->ndim == 2 ? m->shape[1] : m->shape[0];
    int packed_rows = t->ndim == 2 ? t->shape[0] : 1, packed_cols = t->ndim == 2 ? t->shape[1] : t->shape[0];
    enum axis_kind row_kind = axis_kind(t->name, 0, packed_rows, rows);
    enum axis_kind col_kind = axis_kind(t->name, t->ndim == 2 ? 1 : 0, packed_cols, cols);
    int shared = row_kind == AXIS_SHARED && col_kind == AXIS_SHARED;

    for (int i = 0; i < rows; i++) {
        size_t pi = packed_index(row_kind, i, rows, g, n);
        for (int j = 0; j < cols; j++) {
            size_t pj = packed_index(col_kind, j, cols, g, n);
            float v = in[(size_t)i * cols + j];
            if (shared)
                out[pi * packed_cols + pj] += v / (float)n;
            else
                out[pi * packed_cols + pj] = v;
        }
    }
}

static int check_member(const struct model_params *p, const struct model_params *layout, int g, char *error)
{
    for (int k = 0; k < layout->n_tensors; k++) {
        const struct model_tensor_info *want = &layout->tensors[k];
        const struct model_tensor_info *have = model_params_find(p, want->name);
        if (!have || have->ndim != want->ndim || have->shape[0] != want->shape[0] ||
            (want->ndim == 2 && have->shape[1] != want->shape[1])) {
            snprintf(error, MODEL_ERROR_SIZE, "tower member %d: tensor %s is missing or has another shape than the "
                     "member config gives (pack members of one shape)", g, want->name);
            return -1;
        }
    }
    return 0;
}

static int check_members(const struct model_params *const *params, int n, const struct model_config *member,
                         char *error)
{
    struct model_params layout;

    if (n < 2 || n > MODEL_MAX_TOWERS) {
        snprintf(error, MODEL_ERROR_SIZE, "cannot pack %d towers: expected 2 to %d members", n, MODEL_MAX_TOWERS);
        return -1;
    }
    if (model_config_validate(member, error) != 0)
        return -1;
    if (member->towers != 1 || member->n_decoder_layers != 0) {
        snprintf(error, MODEL_ERROR_SIZE, "cannot pack members of %d towers and %d decoder layers: expected "
                 "encoder-only members of one tower", member->towers, member->n_decoder_layers);
        return -1;
    }
    memset(&layout, 0, sizeof layout);
    model_params_layout(&layout, member);
    for (int g = 0; g < n; g++)
        if (check_member(params[g], &layout, g, error) != 0)
            return -1;
    return 0;
}

/* Divides the final norm by n: the scores become the members' mean. */
static void scale_final_norm(struct model *out, int n)
{
    int d = out->config.d_model;

    for (int i = 0; i < d; i++) {
        out->params.encoder_norm_weight[i] /= (float)n;
        out->params.encoder_norm_bias[i] /= (float)n;
    }
}

int model_towers_pack(const struct model_params *const *params, int n, const struct model_config *member,
                      struct model *out, char *error)
{
    memset(out, 0, sizeof *out);
    if (check_members(params, n, member, error) != 0)
        return -1;

    struct model_config c = *member;
    c.d_model *= n;
    c.n_heads *= n;
    c.d_ff *= n;
    c.towers = n;
    if (model_config_validate(&c, error) != 0 || model_params_alloc(&out->params, &c, error) != 0)
        return -1;
    out->config = c;

    /* check_members found every tensor of the layout in each member, and
     * the packed layout has the same names with each axis 1 or n times. */
    for (int k = 0; k < out->params.n_tensors; k++) {
        const struct model_tensor_info *t = &out->params.tensors[k];
        for (int g = 0; g < n; g++) {
            const struct model_tensor_info *m = model_params_find(params[g], t->name);
            pack_tensor(t, out->params.data + t->offset, m, params[g]->data + m->offset, g, n);
        }
    }
    scale_final_norm(out, n);
    if (model_prepare(out, error) != 0) {
        model_free(out);
        return -1;
    }
    return 0;
}
