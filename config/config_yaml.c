/*
 * YAML text to node tree, on libyaml's event parser.
 *
 * libyaml checks syntax but not what a config needs, so this file adds checks
 * for duplicate keys (libyaml accepts them silently) and non-scalar keys. It
 * limits nesting, aliases and the node count after alias expansion, so that a
 * "billion laughs" document is rejected before anything walks it. It accepts
 * one document per file and a UTF-8 byte-order mark, and it reports tab
 * indentation clearly where libyaml says "found character that cannot start
 * any token".
 */
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "config_internal.h"

struct anchor {
    char *name;
    struct cfg_node *node;
    int open; /* 1 while the anchored collection is still being parsed */
};

struct frame {
    struct cfg_node *node;
    char path[CFG_MAX_PATH];
    size_t anchor_index; /* index + 1 into anchors, 0 if none */
};

struct builder {
    struct cfg_ctx *ctx;
    struct cfg_tree *tree;
    const char *data;
    size_t len;
    struct frame stack[CFG_MAX_DEPTH + 1];
    size_t depth;
    struct anchor *anchors;
    size_t n_anchors, cap_anchors;
    size_t n_aliases;
    size_t total_nodes; /* after alias expansion */
    int n_documents;
};

const char *cfg_node_kind_name(const struct cfg_node *node)
{
    if (node->kind == CFG_NODE_MAP)
        return "a mapping";
    if (node->kind == CFG_NODE_SEQ)
        return "a list";
    return "a scalar";
}

const struct cfg_node *cfg_map_get(const struct cfg_node *map, const char *key)
{
    if (map == NULL || map->kind != CFG_NODE_MAP)
        return NULL;
    for (size_t i = 0; i + 1 < map->n_items; i += 2) {
        if (strcmp(map->items[i]->value, key) == 0)
            return map->items[i + 1];
    }
    return NULL;
}

void cfg_yaml_free(struct cfg_tree *tree)
{
    struct cfg_node *node = tree->nodes;
    while (node != NULL) {
        struct cfg_node *next = node->next_alloc;
        free(node->value);
        free(node->items);
        free(node);
        node = next;
    }
    tree->nodes = NULL;
    tree->root = NULL;
}

static struct cfg_node *node_new(struct builder *b, enum cfg_node_kind kind, yaml_mark_t mark)
{
    struct cfg_node *node = calloc(1, sizeof *node);
    if (node == NULL) {
        cfg_error_oom(b->ctx);
        return NULL;
    }
    node->kind = kind;
    node->line = mark.line + 1;
    node->column = mark.column + 1;
    node->weight = 1;
    node->next_alloc = b->tree->nodes;
    b->tree->nodes = node;
    return node;
}

/* Returns the 1-based column of the first tab in the indentation of the
 * given 1-based line, or 0 if its indentation has no tab. */
static size_t tab_in_indent(const char *data, size_t len, size_t line)
{
    size_t pos = 0;
    for (size_t l = 1; l < line && pos < len; pos++) {
        if (data[pos] == '\n')
            l++;
    }
    for (size_t col = 1; pos < len && (data[pos] == ' ' || data[pos] == '\t' || data[pos] == '-'); pos++, col++) {
        if (data[pos] == '\t')
            return col;
    }
    return 0;
}

static void report_parser_error(struct builder *b, const yaml_parser_t *parser)
{
    struct cfg_node at = {0};

    if (parser->error == YAML_MEMORY_ERROR) {
        cfg_error_oom(b->ctx);
        return;
    }
    if (parser->error == YAML_READER_ERROR) {
        /* Reader errors carry a byte offset, not a mark. */
        at.line = 1;
        at.column = 1;
        for (size_t i = 0; i < parser->problem_offset && i < b->len; i++) {
            at.column++;
            if (b->data[i] == '\n') {
                at.line++;
                at.column = 1;
            }
        }
        cfg_error(b->ctx, &at, "", "invalid text: %s; the file must be UTF-8 without control characters",
                  parser->problem ? parser->problem : "unreadable input");
        return;
    }

    const yaml_mark_t marks[2] = {parser->problem_mark, parser->context_mark};
    for (int i = 0; i < 2; i++) {
        size_t col = tab_in_indent(b->data, b->len, marks[i].line + 1);
        if (col > 0) {
            at.line = marks[i].line + 1;
            at.column = col;
            cfg_error(b->ctx, &at, "", "tab character in indentation; YAML indents with spaces only");
            return;
        }
    }
    at.line = parser->problem_mark.line + 1;
    at.column = parser->problem_mark.column + 1;
    if (parser->context != NULL)
        cfg_error(b->ctx, &at, "", "invalid YAML: %s (%s at line %zu)",
                  parser->problem ? parser->problem : "syntax error", parser->context,
                  (size_t)parser->context_mark.line + 1);
    else
        cfg_error(b->ctx, &at, "", "invalid YAML: %s", parser->problem ? parser->problem : "syntax error");
}

static int count_nodes(struct builder *b, const struct cfg_node *at, size_t weight)
{
    b->total_nodes += weight;
    if (weight > CFG_MAX_NODES || b->total_nodes > CFG_MAX_NODES) {
        cfg_error(b->ctx, at, "", "document has more than %d nodes once aliases are expanded; "
                  "a config needs far fewer, so this looks like an alias bomb", CFG_MAX_NODES);
        return -1;
    }
    return 0;
}

/* Adds child under the open collection (or as the root) and computes the
 * child's key path into path_out. */
static int attach(struct builder *b, struct cfg_node *child, char *path_out)
{
    if (b->depth == 0) {
        if (b->tree->root != NULL) {
            cfg_error(b->ctx, child, "", "more than one top-level node");
            return -1;
        }
        b->tree->root = child;
        path_out[0] = '\0';
        return 0;
    }

    struct frame *top = &b->stack[b->depth - 1];
    struct cfg_node *parent = top->node;
    if (parent->kind == CFG_NODE_MAP && parent->n_items % 2 == 0) {
        if (child->kind != CFG_NODE_SCALAR) {
            cfg_error(b->ctx, child, top->path, "a mapping key must be a scalar, not %s",
                      cfg_node_kind_name(child));
            return -1;
        }
        if (child->len > CFG_MAX_KEY_BYTES) {
            /* YAML limits implicit keys to 1024 characters, and no config key comes close. */
            cfg_error(b->ctx, child, top->path, "mapping key longer than %d bytes", CFG_MAX_KEY_BYTES);
            return -1;
        }
        strcpy(path_out, top->path);
    } else if (parent->kind == CFG_NODE_MAP) {
        cfg_path_key(path_out, CFG_MAX_PATH, top->path, parent->items[parent->n_items - 1]->value);
    } else {
        cfg_path_index(path_out, CFG_MAX_PATH, top->path, parent->n_items);
    }

    if (parent->n_items == parent->cap_items) {
        size_t cap = parent->cap_items ? parent->cap_items * 2 : 8;
        struct cfg_node **items = realloc(parent->items, cap * sizeof *items);
        if (items == NULL) {
            cfg_error_oom(b->ctx);
            return -1;
        }
        parent->items = items;
        parent->cap_items = cap;
    }
    parent->items[parent->n_items++] = child;
    return 0;
}

static int add_anchor(struct builder *b, const yaml_char_t *name, struct cfg_node *node, int open)
{
    if (b->n_anchors == b->cap_anchors) {
        size_t cap = b->cap_anchors ? b->cap_anchors * 2 : 8;
        struct anchor *anchors = realloc(b->anchors, cap * sizeof *anchors);
        if (anchors == NULL) {
            cfg_error_oom(b->ctx);
            return -1;
        }
        b->anchors = anchors;
        b->cap_anchors = cap;
    }
    char *copy = strdup((const char *)name);
    if (copy == NULL) {
        cfg_error_oom(b->ctx);
        return -1;
    }
    b->anchors[b->n_anchors++] = (struct anchor){copy, node, open};
    return 0;
}

static int on_scalar(struct builder *b, const yaml_event_t *event)
{
    char path[CFG_MAX_PATH];
    struct cfg_node *node = node_new(b, CFG_NODE_SCALAR, event->start_mark);
    if (node == NULL)
        return -1;

    node->len = event->data.scalar.length;
    node->value = malloc(node->len + 1);
    if (node->value == NULL) {
        cfg_error_oom(b->ctx);
        return -1;
    }
    memcpy(node->value, event->data.scalar.value, node->len);
    node->value[node->len] = '\0';
    if (event->data.scalar.style == YAML_PLAIN_SCALAR_STYLE)
        node->is_null = node->len == 0 || strcmp(node->value, "~") == 0 || strcmp(node->value, "null") == 0 ||
                        strcmp(node->value, "Null") == 0 || strcmp(node->value, "NULL") == 0;

    if (count_nodes(b, node, 1) != 0 || attach(b, node, path) != 0)
        return -1;
    if (event->data.scalar.anchor != NULL)
        return add_anchor(b, event->data.scalar.anchor, node, 0);
    return 0;
}

static int on_collection_start(struct builder *b, const yaml_event_t *event, enum cfg_node_kind kind)
{
    const yaml_char_t *anchor = kind == CFG_NODE_MAP ? event->data.mapping_start.anchor
                                                     : event->data.sequence_start.anchor;
    struct cfg_node *node = node_new(b, kind, event->start_mark);
    if (node == NULL)
        return -1;
    if (b->depth >= CFG_MAX_DEPTH) {
        cfg_error(b->ctx, node, b->stack[b->depth - 1].path,
                  "nesting deeper than %d levels; a config needs far fewer", CFG_MAX_DEPTH);
        return -1;
    }

    struct frame *frame = &b->stack[b->depth];
    if (count_nodes(b, node, 1) != 0 || attach(b, node, frame->path) != 0)
        return -1;
    frame->node = node;
    frame->anchor_index = 0;
    if (anchor != NULL) {
        if (add_anchor(b, anchor, node, 1) != 0)
            return -1;
        frame->anchor_index = b->n_anchors;
    }
    b->depth++;
    return 0;
}

static int compare_keys(const void *a, const void *b)
{
    const struct cfg_node *ka = *(struct cfg_node *const *)a;
    const struct cfg_node *kb = *(struct cfg_node *const *)b;
    if (ka->len != kb->len)
        return ka->len < kb->len ? -1 : 1;
    int c = memcmp(ka->value, kb->value, ka->len);
    if (c != 0)
        return c;
    if (ka->line != kb->line)
        return ka->line < kb->line ? -1 : 1;
    return ka->column < kb->column ? -1 : (ka->column > kb->column);
}

/* Reports every repeated key of a finished mapping and counts it in the
 * tree. The parse goes on, so that one load lists the duplicates of the
 * whole file next to its other mistakes. Sorting keeps this O(n log n) for
 * hostile input with many keys. */
static int check_duplicate_keys(struct builder *b, const struct frame *frame)
{
    const struct cfg_node *map = frame->node;
    size_t n_keys = map->n_items / 2;
    if (n_keys < 2)
        return 0;
    struct cfg_node **keys = malloc(n_keys * sizeof *keys);
    if (keys == NULL) {
        cfg_error_oom(b->ctx);
        return -1;
    }
    for (size_t i = 0; i < n_keys; i++)
        keys[i] = map->items[2 * i];
    qsort(keys, n_keys, sizeof *keys, compare_keys);

    /* Equal keys sort by position, so keys[first] is the earliest of a run. */
    size_t first = 0;
    for (size_t i = 1; i < n_keys; i++) {
        if (keys[i]->len != keys[first]->len || memcmp(keys[i]->value, keys[first]->value, keys[i]->len) != 0) {
            first = i;
            continue;
        }
        char path[CFG_MAX_PATH];
        cfg_path_key(path, sizeof path, frame->path, keys[i]->value);
        cfg_error(b->ctx, keys[i], path, "duplicate key, first defined at line %zu; remove one of them",
                  keys[first]->line);
        b->tree->n_duplicates++;
    }
    free(keys);
    return 0;
}

static int on_collection_end(struct builder *b)
{
    struct frame *frame = &b->stack[--b->depth];
    struct cfg_node *node = frame->node;

    for (size_t i = 0; i < node->n_items; i++) {
        node->weight += node->items[i]->weight;
        if (node->weight > CFG_MAX_NODES)
            node->weight = CFG_MAX_NODES + 1; /* saturate; count_nodes already failed */
    }
    if (frame->anchor_index > 0)
        b->anchors[frame->anchor_index - 1].open = 0;
    if (node->kind == CFG_NODE_MAP)
        return check_duplicate_keys(b, frame);
    return 0;
}

static int on_alias(struct builder *b, const yaml_event_t *event)
{
    struct cfg_node at = {.line = event->start_mark.line + 1, .column = event->start_mark.column + 1};
    const char *name = (const char *)event->data.alias.anchor;
    const char *path = b->depth > 0 ? b->stack[b->depth - 1].path : "";

    if (++b->n_aliases > CFG_MAX_ALIASES) {
        cfg_error(b->ctx, &at, path, "more than %d aliases; a config needs far fewer", CFG_MAX_ALIASES);
        return -1;
    }
    for (size_t i = b->n_anchors; i-- > 0;) {
        if (strcmp(b->anchors[i].name, name) != 0)
            continue;
        if (b->anchors[i].open) {
            cfg_error(b->ctx, &at, path, "alias *%s refers to a node that contains it", name);
            return -1;
        }
        struct cfg_node *target = b->anchors[i].node;
        char child_path[CFG_MAX_PATH];
        if (count_nodes(b, &at, target->weight) != 0)
            return -1;
        return attach(b, target, child_path);
    }
    cfg_error(b->ctx, &at, path, "alias *%s has no anchor &%s before it", name, name);
    return -1;
}

static int on_event(struct builder *b, const yaml_event_t *event)
{
    switch (event->type) {
    case YAML_DOCUMENT_START_EVENT:
        if (++b->n_documents > 1) {
            struct cfg_node at = {.line = event->start_mark.line + 1, .column = event->start_mark.column + 1};
            cfg_error(b->ctx, &at, "", "more than one YAML document; put the whole config in one");
            return -1;
        }
        return 0;
    case YAML_SCALAR_EVENT:
        return on_scalar(b, event);
    case YAML_SEQUENCE_START_EVENT:
        return on_collection_start(b, event, CFG_NODE_SEQ);
    case YAML_MAPPING_START_EVENT:
        return on_collection_start(b, event, CFG_NODE_MAP);
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        return on_collection_end(b);
    case YAML_ALIAS_EVENT:
        return on_alias(b, event);
    default:
        return 0;
    }
}

static int check_encoding(struct cfg_ctx *ctx, const char **data, size_t *len)
{
    const unsigned char *bytes = (const unsigned char *)*data;
    struct cfg_node start = {.line = 1, .column = 1};

    if (*len > CFG_MAX_INPUT_BYTES) {
        cfg_error(ctx, NULL, "", "file is larger than %d bytes; a config needs far less", CFG_MAX_INPUT_BYTES);
        return -1;
    }
    if (*len >= 2 && ((bytes[0] == 0xFF && bytes[1] == 0xFE) || (bytes[0] == 0xFE && bytes[1] == 0xFF))) {
        cfg_error(ctx, &start, "", "file is UTF-16; save it as UTF-8");
        return -1;
    }
    if (*len >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF) {
        *data += 3; /* UTF-8 byte-order mark, as some Windows editors write */
        *len -= 3;
    }
    return 0;
}

int cfg_yaml_parse(struct cfg_ctx *ctx, const char *data, size_t len, struct cfg_tree *tree)
{
    struct builder b = {.ctx = ctx, .tree = tree};
    yaml_parser_t parser;
    int status = 0;

    memset(tree, 0, sizeof *tree);
    if (check_encoding(ctx, &data, &len) != 0)
        return -1;
    b.data = data;
    b.len = len;
    if (!yaml_parser_initialize(&parser)) {
        cfg_error_oom(ctx);
        return -1;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
    yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING);

    for (int done = 0; !done && status == 0;) {
        yaml_event_t event;
        if (!yaml_parser_parse(&parser, &event)) {
            report_parser_error(&b, &parser);
            status = -1;
            break;
        }
        done = event.type == YAML_STREAM_END_EVENT;
        status = on_event(&b, &event);
        yaml_event_delete(&event);
    }

    yaml_parser_delete(&parser);
    for (size_t i = 0; i < b.n_anchors; i++)
        free(b.anchors[i].name);
    free(b.anchors);
    if (status != 0)
        cfg_yaml_free(tree);
    return status;
}
