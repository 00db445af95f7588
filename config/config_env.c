/*
 * ${VAR} substitution in scalar values, so secrets and per-host settings can
 * come from the environment: ${VAR} is the variable's value (it must be set,
 * possibly to ""), ${VAR:-default} is the default when VAR is unset or empty
 * (as in the POSIX shell), and $${ is a literal ${. Keys are never expanded,
 * and the expanded text is not parsed as YAML again.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "config_internal.h"

struct buffer {
    char *data;
    size_t len, cap;
};

static int buffer_append(struct buffer *buf, const char *text, size_t len)
{
    if (buf->len + len + 1 > buf->cap) {
        size_t cap = buf->cap ? buf->cap : 64;
        while (cap < buf->len + len + 1)
            cap *= 2;
        char *data = realloc(buf->data, cap);
        if (data == NULL)
            return -1;
        buf->data = data;
        buf->cap = cap;
    }
    memcpy(buf->data + buf->len, text, len);
    buf->len += len;
    buf->data[buf->len] = '\0';
    return 0;
}

/* Expands the reference starting at text (just after "${"); on success sets
 * *consumed to the bytes through the closing brace. */
static int expand_one(struct cfg_ctx *ctx, const struct cfg_node *node, const char *path, const char *text,
                      struct buffer *buf, size_t *consumed)
{
    const char *close = strchr(text, '}');
    if (close == NULL) {
        cfg_error(ctx, node, path, "\"${\" without a closing \"}\"; write $${ for a literal ${");
        return -1;
    }

    size_t name_len = 0;
    while (text + name_len < close && (isalnum((unsigned char)text[name_len]) || text[name_len] == '_'))
        name_len++;
    const char *rest = text + name_len;
    int has_default = rest + 1 < close && rest[0] == ':' && rest[1] == '-';
    if (name_len == 0 || isdigit((unsigned char)text[0]) || (rest != close && !has_default)) {
        cfg_error(ctx, node, path, "invalid reference \"${%.*s}\"; expected ${NAME} or ${NAME:-default}",
                  (int)(close - text), text);
        return -1;
    }

    char name[256];
    if (name_len >= sizeof name) {
        cfg_error(ctx, node, path, "environment variable name longer than %zu bytes", sizeof name - 1);
        return -1;
    }
    memcpy(name, text, name_len);
    name[name_len] = '\0';

    const char *value = getenv(name);
    int status;
    if (has_default && (value == NULL || value[0] == '\0')) {
        status = buffer_append(buf, rest + 2, (size_t)(close - rest - 2));
    } else if (value == NULL) {
        cfg_error(ctx, node, path, "environment variable %s is not set; set it or write ${%s:-default}", name,
                  name);
        return -1;
    } else if (!cfg_is_utf8(value)) {
        cfg_error(ctx, node, path, "environment variable %s is not valid UTF-8", name);
        return -1;
    } else {
        status = buffer_append(buf, value, strlen(value));
    }
    if (status != 0) {
        cfg_error_oom(ctx);
        return -1;
    }
    *consumed = (size_t)(close - text) + 1;
    return 0;
}

int cfg_env_expand(struct cfg_ctx *ctx, const struct cfg_node *node, const char *path, char **out)
{
    struct buffer buf = {0};
    const char *text = node->value;

    *out = NULL;
    if (buffer_append(&buf, "", 0) != 0)
        goto oom;
    while (*text != '\0') {
        const char *dollar = strchr(text, '$');
        if (dollar == NULL) {
            if (buffer_append(&buf, text, strlen(text)) != 0)
                goto oom;
            break;
        }
        if (buffer_append(&buf, text, (size_t)(dollar - text)) != 0)
            goto oom;

        if (dollar[1] == '$' && dollar[2] == '{') {
            if (buffer_append(&buf, "${", 2) != 0)
                goto oom;
            text = dollar + 3;
        } else if (dollar[1] == '{') {
            size_t consumed;
            if (expand_one(ctx, node, path, dollar + 2, &buf, &consumed) != 0) {
                free(buf.data);
                return -1;
            }
            text = dollar + 2 + consumed;
        } else {
            if (buffer_append(&buf, "$", 1) != 0)
                goto oom;
            text = dollar + 1;
        }
    }
    *out = buf.data;
    return 0;

oom:
    free(buf.data);
    cfg_error_oom(ctx);
    return -1;
}
