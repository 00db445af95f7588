/*
 * Internals of the config loader, shared by its files and by nothing else.
 *
 * Loading runs in three steps: config_yaml.c turns the YAML text into a node
 * tree (with the safety limits below), config_table.c walks the tree against
 * the field tables of config_schema.c and config_triggers.c and converts each
 * scalar (config_scalar.c, after ${VAR} substitution in config_env.c), and
 * config_validate.c checks the rules that span several keys.
 */
#ifndef INTENTD_CONFIG_INTERNAL_H
#define INTENTD_CONFIG_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"

/* Safety limits on the YAML input. A config file is a few hundred nodes, so
 * these are far above any real file but keep a hostile one cheap to reject. */
#define CFG_MAX_INPUT_BYTES (1024 * 1024)
#define CFG_MAX_DEPTH 32
#define CFG_MAX_ALIASES 64
#define CFG_MAX_NODES 20000 /* after alias expansion */
#define CFG_MAX_KEY_BYTES 256
#define CFG_MAX_PATH 256

enum cfg_node_kind { CFG_NODE_SCALAR, CFG_NODE_MAP, CFG_NODE_SEQ };

/* One YAML node. A map stores keys and values interleaved in items
 * (items[2i] is a key, items[2i+1] its value). An alias is not a node of its
 * own: the parent points at the anchored node, so nodes may be shared. */
struct cfg_node {
    enum cfg_node_kind kind;
    size_t line, column;      /* 1-based position of the node's start */
    char *value;              /* scalar text, NUL-terminated */
    size_t len;               /* scalar length in bytes (may contain no NUL) */
    int is_null;              /* plain scalar "", "~" or "null" */
    struct cfg_node **items;
    size_t n_items, cap_items;
    size_t weight;            /* nodes in this subtree, aliases expanded */
    struct cfg_node *next_alloc; /* list of every node of the tree, for freeing */
};

struct cfg_tree {
    struct cfg_node *root;    /* NULL for an empty document */
    struct cfg_node *nodes;   /* every allocated node */
    int n_duplicates;         /* repeated keys, already reported: the load fails after its other checks */
};

/* Error collector of one load. Errors about values are collected so the user
 * sees several at once; structural YAML errors stop the load. */
struct cfg_ctx {
    const char *name;         /* file name used in messages */
    struct config_error *err;
    size_t used;              /* bytes of err->message used */
    int n_errors;
    int n_dropped;            /* errors that did not fit into err->message */
    int oom;
};

/* Appends "NAME:LINE:COL: PATH: message" (node may be NULL, path may be ""). */
void cfg_error(struct cfg_ctx *ctx, const struct cfg_node *node, const char *path,
               const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void cfg_error_oom(struct cfg_ctx *ctx);
void cfg_error_finish(struct cfg_ctx *ctx);

/* Writes "parent.key" (or "key" when parent is "") into out. */
void cfg_path_key(char *out, size_t cap, const char *parent, const char *key);
/* Writes "parent[index]" into out. */
void cfg_path_index(char *out, size_t cap, const char *parent, size_t index);

/* config_yaml.c: parses data into *tree. Returns 0, or -1 with an error in ctx. */
int cfg_yaml_parse(struct cfg_ctx *ctx, const char *data, size_t len, struct cfg_tree *tree);
void cfg_yaml_free(struct cfg_tree *tree);
/* Returns the value of key in map node, or NULL. */
const struct cfg_node *cfg_map_get(const struct cfg_node *map, const char *key);
/* Returns "a mapping", "a list" or "a scalar". */
const char *cfg_node_kind_name(const struct cfg_node *node);

/* config_env.c: expands ${VAR} and ${VAR:-default} in a scalar; "$${" is a
 * literal "${". Returns a malloc'd string in *out, or -1 with an error in ctx. */
int cfg_env_expand(struct cfg_ctx *ctx, const struct cfg_node *node, const char *path,
                   char **out);

/* config_scalar.c: text to value conversions. Each returns 0, or -1 if text
 * is not of that form (the caller reports the error, naming the key). */
int cfg_parse_int64(const char *text, int64_t *out);
int cfg_parse_double(const char *text, double *out);
int cfg_parse_duration_ms(const char *text, int64_t *out);
int cfg_parse_size_bytes(const char *text, int64_t *out);
int cfg_parse_bool(const char *text, int *out);
/* Returns 1 if text is well-formed UTF-8 (no overlong forms, surrogates or
 * code points above U+10FFFF), else 0. */
int cfg_is_utf8(const char *text);
/* Writes a duration in the shortest exact form ("90s", "1h30m", "0s"). */
void cfg_format_duration(char *out, size_t cap, int64_t ms);

enum cfg_type {
    CFG_STR,      /* char * */
    CFG_INT,      /* int, range min..max */
    CFG_I64,      /* int64_t, range min..max */
    CFG_DOUBLE,   /* double, range min..max */
    CFG_DURATION, /* int64_t milliseconds, range min..max in ms */
    CFG_SIZE,     /* size_t bytes, range min..max */
    CFG_BOOL,     /* int 0 or 1 */
    CFG_ENUM,     /* int (an enum), index into names */
    CFG_SECTION,  /* nested mapping described by sub, same base pointer */
    CFG_CUSTOM,   /* read, print, free and defaults by the functions in custom */
};

struct cfg_field;

struct cfg_custom {
    int (*read)(struct cfg_ctx *ctx, const struct cfg_node *node, const char *path, void *field);
    int (*set_default)(struct cfg_ctx *ctx, void *field);
    void (*print)(FILE *out, const void *field, int indent);
    void (*free)(void *field);
};

struct cfg_table {
    const struct cfg_field *fields;
    size_t n_fields;
};

struct cfg_field {
    const char *key;
    enum cfg_type type;
    size_t offset;            /* from the base pointer the table is read into */
    const char *def;          /* default, written as in YAML; NULL for none */
    double min, max;          /* numeric range, inclusive */
    const char *const *names; /* CFG_ENUM value names, NULL-terminated */
    const struct cfg_table *sub;      /* CFG_SECTION */
    const struct cfg_custom *custom;  /* CFG_CUSTOM */
    int secret;               /* value masked in output and in messages */
};

/* config_table.c: the generic reader, defaults, printer and free over tables. */
int cfg_table_read(struct cfg_ctx *ctx, const struct cfg_table *table, const struct cfg_node *map,
                   const char *path, void *base);
int cfg_table_defaults(struct cfg_ctx *ctx, const struct cfg_table *table, void *base);
void cfg_table_print(FILE *out, const struct cfg_table *table, const void *base, int indent);
void cfg_table_free(const struct cfg_table *table, void *base);
/* Reads a scalar after ${VAR} substitution; NULL plain scalars give "".
 * Reports a type error and returns -1 if node is not a scalar. */
int cfg_read_string(struct cfg_ctx *ctx, const struct cfg_node *node, const char *path, char **out);

/* config_print.c: YAML output helpers. */
void cfg_print_indent(FILE *out, int indent);
void cfg_print_quoted(FILE *out, const char *text);
void cfg_print_key(FILE *out, int indent, const char *key);
void cfg_print_double(FILE *out, double value);

/* config_schema.c: the root table (every section). */
extern const struct cfg_table cfg_root_table;

/* config_triggers.c: the triggers list, its defaults and printing. */
extern const struct cfg_custom cfg_triggers_custom;
/* Fills triggers whose holdout_percent is unset (< 0) with the global one. */
void cfg_triggers_resolve(struct intentd_config *cfg);

/* config_validate.c: rules across keys. Returns 0 or -1 (errors in ctx). */
int cfg_validate(struct cfg_ctx *ctx, const struct cfg_node *root, struct intentd_config *cfg);

#endif
