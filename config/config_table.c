/*
 * The generic part of the loader: reads a YAML mapping into a C struct as a
 * field table describes it (struct cfg_field), applies the table's defaults,
 * prints the struct back as YAML and frees it. The sections themselves are
 * tables in config_schema.c and config_triggers.c.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "config_internal.h"

#define FIELD_PTR(base, field) ((char *)(base) + (field)->offset)
#define FIELD_CPTR(base, field) ((const char *)(base) + (field)->offset)

int cfg_read_string(struct cfg_ctx *ctx, const struct cfg_node *node, const char *path, char **out)
{
    *out = NULL;
    if (node->kind != CFG_NODE_SCALAR) {
        cfg_error(ctx, node, path, "expected a string, got %s", cfg_node_kind_name(node));
        return -1;
    }
    if (memchr(node->value, '\0', node->len) != NULL) {
        cfg_error(ctx, node, path, "value contains a NUL byte");
        return -1;
    }
    if (node->is_null) {
        *out = strdup("");
        if (*out == NULL) {
            cfg_error_oom(ctx);
            return -1;
        }
        return 0;
    }
    return cfg_env_expand(ctx, node, path, out);
}

static const char *expected_form(const struct cfg_field *field)
{
    switch (field->type) {
    case CFG_INT:
    case CFG_I64:
        return "an integer";
    case CFG_DOUBLE:
        return "a number";
    case CFG_DURATION:
        return "a duration like 30m";
    case CFG_SIZE:
        return "a size like 64KiB";
    case CFG_BOOL:
        return "true or false";
    default:
        return "a string";
    }
}

static void report_enum_error(struct cfg_ctx *ctx, const struct cfg_node *node, const char *path,
                              const struct cfg_field *field, const char *display)
{
    char names[256] = "";
    size_t used = 0;
    for (const char *const *name = field->names; *name != NULL && used < sizeof names; name++) {
        int n = snprintf(names + used, sizeof names - used, "%s%s", used ? ", " : "", *name);
        used += n > 0 ? (size_t)n : 0;
    }
    cfg_error(ctx, node, path, "expected one of %s; got \"%.80s\"", names, display);
}

static int check_range(struct cfg_ctx *ctx, const struct cfg_node *node, const char *path,
                       const struct cfg_field *field, double value, const char *display)
{
    if (value >= field->min && value <= field->max)
        return 0;
    if (field->type == CFG_DURATION) {
        char low[32], high[32];
        cfg_format_duration(low, sizeof low, (int64_t)field->min);
        cfg_format_duration(high, sizeof high, (int64_t)field->max);
        cfg_error(ctx, node, path, "%s is out of range; expected a duration from %s to %s", display, low, high);
    } else {
        cfg_error(ctx, node, path, "%s is out of range; expected %g to %g", display, field->min, field->max);
    }
    return -1;
}

/* Converts text into the field at dst. node is NULL for a default. */
static int convert(struct cfg_ctx *ctx, const struct cfg_field *field, const struct cfg_node *node,
                   const char *path, const char *text, void *dst)
{
    const char *display = field->secret ? "********" : text;
    int64_t i64 = 0;
    double number = 0;
    int ok = 0;

    switch (field->type) {
    case CFG_INT:
    case CFG_I64:
        ok = cfg_parse_int64(text, &i64) == 0;
        number = (double)i64;
        break;
    case CFG_DOUBLE:
        ok = cfg_parse_double(text, &number) == 0;
        break;
    case CFG_DURATION:
        ok = cfg_parse_duration_ms(text, &i64) == 0;
        number = (double)i64;
        break;
    case CFG_SIZE:
        ok = cfg_parse_size_bytes(text, &i64) == 0;
        number = (double)i64;
        break;
    case CFG_BOOL:
        ok = cfg_parse_bool(text, (int *)dst) == 0;
        break;
    case CFG_ENUM:
        for (int i = 0; field->names[i] != NULL; i++) {
            if (strcmp(field->names[i], text) == 0) {
                *(int *)dst = i;
                return 0;
            }
        }
        report_enum_error(ctx, node, path, field, display);
        return -1;
    default:
        return -1;
    }
    if (!ok) {
        cfg_error(ctx, node, path, "expected %s, got \"%.80s\"", expected_form(field), display);
        return -1;
    }
    if (field->type == CFG_BOOL)
        return 0;
    if (check_range(ctx, node, path, field, number, display) != 0)
        return -1;

    if (field->type == CFG_INT)
        *(int *)dst = (int)i64;
    else if (field->type == CFG_DOUBLE)
        *(double *)dst = number;
    else if (field->type == CFG_SIZE)
        *(size_t *)dst = (size_t)i64;
    else
        *(int64_t *)dst = i64;
    return 0;
}

static int read_field(struct cfg_ctx *ctx, const struct cfg_field *field, const struct cfg_node *node,
                      const char *path, void *base)
{
    void *dst = FIELD_PTR(base, field);
    char *text;

    if (field->type == CFG_SECTION)
        return cfg_table_read(ctx, field->sub, node, path, base);
    if (field->type == CFG_CUSTOM)
        return field->custom->read(ctx, node, path, dst);

    if (node->kind != CFG_NODE_SCALAR) {
        cfg_error(ctx, node, path, "expected %s, got %s",
                  field->type == CFG_ENUM ? "a name" : expected_form(field), cfg_node_kind_name(node));
        return -1;
    }
    if (cfg_read_string(ctx, node, path, &text) != 0)
        return -1;
    if (field->type == CFG_STR) {
        free(*(char **)dst);
        *(char **)dst = text;
        return 0;
    }
    int status = convert(ctx, field, node, path, text, dst);
    free(text);
    return status;
}

static void report_unknown_key(struct cfg_ctx *ctx, const struct cfg_table *table, const struct cfg_node *key,
                               const char *path)
{
    char names[512] = "";
    size_t used = 0;
    for (size_t i = 0; i < table->n_fields && used < sizeof names; i++) {
        int n = snprintf(names + used, sizeof names - used, "%s%s", i ? ", " : "", table->fields[i].key);
        used += n > 0 ? (size_t)n : 0;
    }
    cfg_error(ctx, key, path, "unknown key; expected one of %s", names);
}

int cfg_table_read(struct cfg_ctx *ctx, const struct cfg_table *table, const struct cfg_node *map, const char *path,
                   void *base)
{
    int status = 0;

    if (map == NULL || (map->kind == CFG_NODE_SCALAR && map->is_null))
        return 0; /* absent or empty section: every key keeps its default */
    if (map->kind != CFG_NODE_MAP) {
        cfg_error(ctx, map, path, "expected a mapping of keys, got %s", cfg_node_kind_name(map));
        return -1;
    }

    for (size_t i = 0; i + 1 < map->n_items; i += 2) {
        const struct cfg_node *key = map->items[i];
        const struct cfg_field *field = NULL;
        char child_path[CFG_MAX_PATH];

        cfg_path_key(child_path, sizeof child_path, path, key->value);
        for (size_t f = 0; f < table->n_fields && field == NULL; f++) {
            if (strcmp(table->fields[f].key, key->value) == 0)
                field = &table->fields[f];
        }
        if (field == NULL) {
            report_unknown_key(ctx, table, key, child_path);
            status = -1;
            continue;
        }
        if (read_field(ctx, field, map->items[i + 1], child_path, base) != 0)
            status = -1;
    }
    return status;
}

int cfg_table_defaults(struct cfg_ctx *ctx, const struct cfg_table *table, void *base)
{
    for (size_t i = 0; i < table->n_fields; i++) {
        const struct cfg_field *field = &table->fields[i];
        void *dst = FIELD_PTR(base, field);
        int status = 0;

        if (field->type == CFG_SECTION) {
            status = cfg_table_defaults(ctx, field->sub, base);
        } else if (field->type == CFG_CUSTOM) {
            status = field->custom->set_default(ctx, dst);
        } else if (field->type == CFG_STR) {
            free(*(char **)dst);
            *(char **)dst = strdup(field->def ? field->def : "");
            if (*(char **)dst == NULL) {
                cfg_error_oom(ctx);
                status = -1;
            }
        } else if (field->def != NULL) {
            status = convert(ctx, field, NULL, field->key, field->def, dst);
        }
        if (status != 0)
            return -1;
    }
    return 0;
}

static void print_scalar(FILE *out, const struct cfg_field *field, const void *src)
{
    char text[64];

    switch (field->type) {
    case CFG_STR:
        cfg_print_quoted(out, field->secret && (*(char *const *)src)[0] != '\0' ? "********" : *(char *const *)src);
        return;
    case CFG_INT:
        fprintf(out, "%d", *(const int *)src);
        return;
    case CFG_I64:
        fprintf(out, "%" PRId64, *(const int64_t *)src);
        return;
    case CFG_DOUBLE:
        cfg_print_double(out, *(const double *)src);
        return;
    case CFG_DURATION:
        cfg_format_duration(text, sizeof text, *(const int64_t *)src);
        fputs(text, out);
        return;
    case CFG_SIZE:
        fprintf(out, "%zu", *(const size_t *)src);
        return;
    case CFG_BOOL:
        fputs(*(const int *)src ? "true" : "false", out);
        return;
    case CFG_ENUM:
        fputs(field->names[*(const int *)src], out);
        return;
    default:
        return;
    }
}

void cfg_table_print(FILE *out, const struct cfg_table *table, const void *base, int indent)
{
    for (size_t i = 0; i < table->n_fields; i++) {
        const struct cfg_field *field = &table->fields[i];
        const void *src = FIELD_CPTR(base, field);

        cfg_print_key(out, indent, field->key);
        if (field->type == CFG_SECTION) {
            fputc('\n', out);
            cfg_table_print(out, field->sub, base, indent + 2);
        } else if (field->type == CFG_CUSTOM) {
            field->custom->print(out, src, indent);
        } else {
            fputc(' ', out);
            print_scalar(out, field, src);
            fputc('\n', out);
        }
    }
}

void cfg_table_free(const struct cfg_table *table, void *base)
{
    for (size_t i = 0; i < table->n_fields; i++) {
        const struct cfg_field *field = &table->fields[i];
        void *dst = FIELD_PTR(base, field);

        if (field->type == CFG_SECTION) {
            cfg_table_free(field->sub, base);
        } else if (field->type == CFG_CUSTOM) {
            field->custom->free(dst);
        } else if (field->type == CFG_STR) {
            free(*(char **)dst);
            *(char **)dst = NULL;
        }
    }
}
