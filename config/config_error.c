/*
 * Error messages of a load: "FILE:LINE:COLUMN: key.path: what is wrong",
 * collected one per line into struct config_error.
 */
#include <stdarg.h>
#include <string.h>

#include "config_internal.h"

/* Room kept free at the end of the buffer for the "more errors" line. */
#define CFG_ERROR_TAIL 48

void cfg_error(struct cfg_ctx *ctx, const struct cfg_node *node, const char *path, const char *fmt, ...)
{
    char line[768];
    size_t n;

    if (node != NULL)
        n = (size_t)snprintf(line, sizeof line, "%s:%zu:%zu: ", ctx->name, node->line, node->column);
    else
        n = (size_t)snprintf(line, sizeof line, "%s: ", ctx->name);
    if (n < sizeof line && path != NULL && path[0] != '\0')
        n += (size_t)snprintf(line + n, sizeof line - n, "%s: ", path);
    if (n < sizeof line) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(line + n, sizeof line - n, fmt, ap);
        va_end(ap);
    }

    ctx->n_errors++;
    size_t cap = sizeof ctx->err->message - CFG_ERROR_TAIL;
    size_t need = strlen(line) + (ctx->used > 0 ? 1 : 0);
    if (ctx->used + need >= cap) {
        ctx->n_dropped++;
        return;
    }
    if (ctx->used > 0)
        ctx->err->message[ctx->used++] = '\n';
    memcpy(ctx->err->message + ctx->used, line, strlen(line) + 1);
    ctx->used += strlen(line);
}

void cfg_error_oom(struct cfg_ctx *ctx)
{
    if (ctx->oom)
        return;
    ctx->oom = 1;
    cfg_error(ctx, NULL, "", "out of memory");
}

/* Appends the count of errors that did not fit. */
void cfg_error_finish(struct cfg_ctx *ctx)
{
    if (ctx->n_dropped == 0)
        return;
    snprintf(ctx->err->message + ctx->used, sizeof ctx->err->message - ctx->used,
             "\n(%d more errors not shown)", ctx->n_dropped);
}

void cfg_path_key(char *out, size_t cap, const char *parent, const char *key)
{
    int n = parent[0] != '\0' ? snprintf(out, cap, "%s.%s", parent, key) : snprintf(out, cap, "%s", key);
    if (n < 0 || (size_t)n >= cap)
        snprintf(out + cap - 4, 4, "...");
}

void cfg_path_index(char *out, size_t cap, const char *parent, size_t index)
{
    int n = snprintf(out, cap, "%s[%zu]", parent, index);
    if (n < 0 || (size_t)n >= cap)
        snprintf(out + cap - 4, 4, "...");
}
