/*
 * Public entry points of the config loader: load from a file or a buffer,
 * defaults, free.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config_internal.h"

void config_free(struct intentd_config *cfg)
{
    cfg_table_free(&cfg_root_table, cfg);
    memset(cfg, 0, sizeof *cfg);
}

static int apply_defaults(struct cfg_ctx *ctx, struct intentd_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    if (cfg_table_defaults(ctx, &cfg_root_table, cfg) != 0)
        return -1;
    cfg_triggers_resolve(cfg);
    return 0;
}

int config_defaults(struct intentd_config *cfg, struct config_error *err)
{
    struct cfg_ctx ctx = {.name = "<defaults>", .err = err};
    err->message[0] = '\0';
    if (apply_defaults(&ctx, cfg) != 0) {
        config_free(cfg);
        return -1;
    }
    return 0;
}

int config_load_buffer(const char *data, size_t len, const char *name, struct intentd_config *cfg,
                       struct config_error *err)
{
    struct cfg_ctx ctx = {.name = name, .err = err};
    struct cfg_tree tree = {0};
    int status = -1;

    err->message[0] = '\0';
    memset(cfg, 0, sizeof *cfg);
    /* Parse first: most bad files fail here, before the defaults are built. */
    if (cfg_yaml_parse(&ctx, data, len, &tree) != 0)
        goto done;
    if (apply_defaults(&ctx, cfg) != 0)
        goto done;
    if (tree.root != NULL && !(tree.root->kind == CFG_NODE_SCALAR && tree.root->is_null) &&
        tree.root->kind != CFG_NODE_MAP) {
        cfg_error(&ctx, tree.root, "", "expected a mapping of sections (kafka, topics, ...) at the top, got %s",
                  cfg_node_kind_name(tree.root));
        goto done;
    }
    if (cfg_table_read(&ctx, &cfg_root_table, tree.root, "", cfg) != 0)
        goto done;
    cfg_triggers_resolve(cfg);
    if (cfg_validate(&ctx, tree.root, cfg) != 0)
        goto done;
    /* Repeated keys were reported by the parser; the values were still
     * checked, so that one run lists every mistake. */
    if (tree.n_duplicates > 0)
        goto done;
    status = 0;

done:
    cfg_yaml_free(&tree);
    if (status != 0) {
        cfg_error_finish(&ctx);
        config_free(cfg);
    }
    return status;
}

int config_load(const char *path, struct intentd_config *cfg, struct config_error *err)
{
    memset(cfg, 0, sizeof *cfg);
    FILE *file = fopen(path, "rb");
    if (file == NULL) {
        snprintf(err->message, sizeof err->message, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }

    /* Read one byte past the limit so an oversized file is reported as such. */
    char *data = malloc(CFG_MAX_INPUT_BYTES + 1);
    if (data == NULL) {
        fclose(file);
        snprintf(err->message, sizeof err->message, "%s: out of memory", path);
        return -1;
    }
    errno = 0;
    size_t len = fread(data, 1, CFG_MAX_INPUT_BYTES + 1, file);
    int read_errno = 0;
    if (ferror(file))
        read_errno = errno != 0 ? errno : EIO;
    fclose(file);
    if (read_errno != 0) {
        free(data);
        snprintf(err->message, sizeof err->message, "%s: read failed: %s", path, strerror(read_errno));
        return -1;
    }

    int status = config_load_buffer(data, len, path, cfg, err);
    free(data);
    return status;
}
