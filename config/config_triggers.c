/*
 * The triggers section: a list of offer rules. Each rule is read with the
 * generic table reader. Its condition ("when") and its templates have their
 * own readers, because their shape is not a fixed set of keys.
 *
 * A condition is stored parsed (struct config_condition), so the processor
 * evaluates it with a switch and needs no parser of its own.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "config_internal.h"

#define MAX_TRIGGERS 256
#define MAX_TEMPLATES 32
/* Limits of one template text, equal to OFFER_TEMPLATE_MAX_BYTES and
 * OFFER_TEMPLATE_MAX_SEGMENTS in processor/offer_template.h (which this
 * library cannot include), so that check-config rejects what the processor would. */
#define MAX_TEMPLATE_BYTES 1024
#define MAX_TEMPLATE_SEGMENTS 64
#define SECOND_MS 1000.0
#define DAY_MS 86400000.0

/* The rules used when the config has no triggers key. config/intentd.example.yaml
 * spells out the same rules; a unit test checks that the two agree. */
static const char default_triggers_yaml[] =
    "- name: cart_abandonment\n"
    "  when: {event: cart, no: purchase, within: 30m}\n"
    "  cooldown: 24h\n"
    "  max_offers: 2\n"
    "  per_window: 7d\n"
    "  discount_percent: 10\n"
    "  expiry: 48h\n"
    "  template:\n"
    "    en: \"Still deciding about your cart? You may also like {items}: {discount}% off until {expiry}.\"\n"
    "    zh: \"还在犹豫吗？您可能也喜欢{items}，限时优惠{discount}%，{expiry}前有效。\"\n"
    "- name: high_propensity\n"
    "  when: {propensity_above: 0.8, category: any}\n"
    "  cooldown: 12h\n"
    "  max_offers: 3\n"
    "  per_window: 7d\n"
    "  discount_percent: 5\n"
    "  expiry: 24h\n"
    "  template:\n"
    "    en: \"Picked for you in {category}: {items}. {discount}% off until {expiry}.\"\n"
    "    zh: \"为您精选{category}好物：{items}，立享{discount}%优惠，{expiry}前有效。\"\n"
    "- name: unhappy_reviewer\n"
    "  when: {review_rating_at_most: 2}\n"
    "  cooldown: 7d\n"
    "  max_offers: 1\n"
    "  per_window: 30d\n"
    "  discount_percent: 15\n"
    "  expiry: 7d\n"
    "  template:\n"
    "    en: \"Sorry it was not right. Here is {discount}% off {items}, valid until {expiry}.\"\n"
    "    zh: \"很抱歉这次没让您满意。{items}为您送上{discount}%优惠，{expiry}前有效。\"\n";

/* Templates of a rule that sets none. */
static const struct config_template default_templates[] = {
    {"en", "Picked for you: {items}. {discount}% off until {expiry}."},
    {"zh", "为您精选：{items}，立享{discount}%优惠，{expiry}前有效。"},
};

/* The placeholders that processor/offer_template.c fills in. */
static const char *const placeholders[] = {"items", "item1", "category", "discount", "user", "expiry", "rule"};

static const char *const action_names[] = {"view", "click", "favourite", "cart", "purchase", "search", "review", NULL};

const char *config_action_name(enum config_action action)
{
    return (unsigned)action < CONFIG_ACTION_COUNT ? action_names[action] : "unknown";
}

/* ---- when ---- */

/* The keys of a condition as written, before the kind is known. */
struct when_raw {
    int event, no;
    int64_t within_ms;
    double propensity_above;
    char *category;
    int64_t review_rating_at_most;
};

#define WOFF(member) offsetof(struct when_raw, member)
static const struct cfg_field when_fields[] = {
    {"event", CFG_ENUM, WOFF(event), NULL, 0, 0, action_names, NULL, NULL, 0},
    {"no", CFG_ENUM, WOFF(no), NULL, 0, 0, action_names, NULL, NULL, 0},
    {"within", CFG_DURATION, WOFF(within_ms), NULL, SECOND_MS, 30 * DAY_MS, NULL, NULL, NULL, 0},
    {"propensity_above", CFG_DOUBLE, WOFF(propensity_above), NULL, 0, 1, NULL, NULL, NULL, 0},
    {"category", CFG_STR, WOFF(category), NULL, 0, 0, NULL, NULL, NULL, 0},
    {"review_rating_at_most", CFG_I64, WOFF(review_rating_at_most), NULL, 1, 5, NULL, NULL, NULL, 0},
};
static const struct cfg_table when_table = {when_fields, sizeof when_fields / sizeof when_fields[0]};

static int when_build(struct cfg_ctx *ctx, const struct cfg_node *node, const char *path, const struct when_raw *raw,
                      struct config_condition *cond)
{
    int has_event = cfg_map_get(node, "event") != NULL;
    int has_no = cfg_map_get(node, "no") != NULL;
    int has_within = cfg_map_get(node, "within") != NULL;
    int has_propensity = cfg_map_get(node, "propensity_above") != NULL;
    int has_category = cfg_map_get(node, "category") != NULL;
    int has_rating = cfg_map_get(node, "review_rating_at_most") != NULL;

    if (has_event + has_propensity + has_rating != 1) {
        cfg_error(ctx, node, path, "expected exactly one of event, propensity_above or review_rating_at_most");
        return -1;
    }
    if ((has_no || has_within) && !has_event) {
        cfg_error(ctx, node, path, "no and within apply only to an event condition");
        return -1;
    }
    if (has_no != has_within) {
        cfg_error(ctx, node, path, "no and within go together: {event: cart, no: purchase, within: 30m}");
        return -1;
    }
    if (has_category && !has_propensity) {
        cfg_error(ctx, node, path, "category applies only to a propensity_above condition");
        return -1;
    }

    free(cond->category);
    memset(cond, 0, sizeof *cond);
    if (has_event) {
        cond->kind = CONFIG_COND_EVENT;
        cond->event = (enum config_action)raw->event;
        cond->has_absent = has_no;
        cond->absent = (enum config_action)raw->no;
        cond->within_ms = raw->within_ms;
    } else if (has_propensity) {
        cond->kind = CONFIG_COND_PROPENSITY_ABOVE;
        cond->propensity = raw->propensity_above;
    } else {
        cond->kind = CONFIG_COND_REVIEW_RATING_AT_MOST;
        cond->rating = (int)raw->review_rating_at_most;
    }
    const char *category = raw->category == NULL || strcmp(raw->category, "any") == 0 ? "" : raw->category;
    cond->category = strdup(category);
    if (cond->category == NULL) {
        cfg_error_oom(ctx);
        return -1;
    }
    return 0;
}

static int when_read(struct cfg_ctx *ctx, const struct cfg_node *node, const char *path, void *field)
{
    struct config_trigger *trigger = field;
    struct when_raw raw = {0};

    if (node->kind != CFG_NODE_MAP) {
        cfg_error(ctx, node, path, "expected a condition mapping like {event: cart, no: purchase, within: 30m}, got %s",
                  cfg_node_kind_name(node));
        return -1;
    }
    int status = cfg_table_read(ctx, &when_table, node, path, &raw);
    if (status == 0)
        status = when_build(ctx, node, path, &raw, &trigger->when);
    free(raw.category);
    return status;
}

static int when_default(struct cfg_ctx *ctx, void *field)
{
    struct config_trigger *trigger = field;
    free(trigger->when.category);
    memset(&trigger->when, 0, sizeof trigger->when);
    trigger->when.kind = CONFIG_COND_PROPENSITY_ABOVE;
    trigger->when.propensity = 0.8;
    trigger->when.category = strdup("");
    if (trigger->when.category == NULL) {
        cfg_error_oom(ctx);
        return -1;
    }
    return 0;
}

static void when_print(FILE *out, const void *field, int indent)
{
    const struct config_condition *cond = &((const struct config_trigger *)field)->when;
    char within[32];
    (void)indent;

    switch (cond->kind) {
    case CONFIG_COND_EVENT:
        fprintf(out, " {event: %s", config_action_name(cond->event));
        if (cond->has_absent) {
            cfg_format_duration(within, sizeof within, cond->within_ms);
            fprintf(out, ", no: %s, within: %s", config_action_name(cond->absent), within);
        }
        fputs("}\n", out);
        return;
    case CONFIG_COND_PROPENSITY_ABOVE:
        fputs(" {propensity_above: ", out);
        cfg_print_double(out, cond->propensity);
        fputs(", category: ", out);
        if (cond->category[0] == '\0')
            fputs("any", out);
        else
            cfg_print_quoted(out, cond->category);
        fputs("}\n", out);
        return;
    case CONFIG_COND_REVIEW_RATING_AT_MOST:
        fprintf(out, " {review_rating_at_most: %d}\n", cond->rating);
        return;
    }
}

static void when_free(void *field)
{
    struct config_trigger *trigger = field;
    free(trigger->when.category);
    trigger->when.category = NULL;
}

static const struct cfg_custom when_custom = {when_read, when_default, when_print, when_free};

/* ---- template ---- */

static void templates_free(void *field)
{
    struct config_trigger *trigger = field;
    for (size_t i = 0; i < trigger->n_templates; i++) {
        free(trigger->templates[i].language);
        free(trigger->templates[i].text);
    }
    free(trigger->templates);
    trigger->templates = NULL;
    trigger->n_templates = 0;
}

static int templates_add(struct config_trigger *trigger, const char *language, const char *text)
{
    struct config_template *slot = &trigger->templates[trigger->n_templates];
    slot->language = strdup(language);
    slot->text = strdup(text);
    trigger->n_templates++;
    return slot->language != NULL && slot->text != NULL ? 0 : -1;
}

static int templates_default(struct cfg_ctx *ctx, void *field)
{
    struct config_trigger *trigger = field;
    size_t n = sizeof default_templates / sizeof default_templates[0];

    templates_free(field);
    trigger->templates = calloc(n, sizeof *trigger->templates);
    if (trigger->templates == NULL) {
        cfg_error_oom(ctx);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (templates_add(trigger, default_templates[i].language, default_templates[i].text) != 0) {
            cfg_error_oom(ctx);
            return -1;
        }
    }
    return 0;
}

/* A language tag as in BCP 47, loosely: "en", "zh", "zh-CN", "pt-BR". */
static int is_language_tag(const char *tag)
{
    size_t letters = 0;
    while (tag[letters] >= 'a' && tag[letters] <= 'z')
        letters++;
    if (letters < 2 || letters > 3)
        return 0;
    for (const char *p = tag + letters; *p != '\0'; p++) {
        int ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                 (*p == '-' && p[1] != '\0' && p[1] != '-');
        if (!ok)
            return 0;
    }
    return 1;
}

/* Checks that every {name} in text is a known placeholder; "{{" and "}}"
 * are literal braces. Also counts the segments the renderer splits the text
 * into: each placeholder or brace pair, and each literal run between them. */
static int check_placeholders(struct cfg_ctx *ctx, const struct cfg_node *node, const char *path, const char *text)
{
    size_t segments = 0;
    const char *literal_start = text;

    for (const char *p = text; *p != '\0'; p++) {
        if (*p == '{' || *p == '}')
            segments += (p > literal_start) + 1;
        if ((p[0] == '{' && p[1] == '{') || (p[0] == '}' && p[1] == '}')) {
            p++;
            literal_start = p + 1;
            continue;
        }
        if (*p == '}') {
            cfg_error(ctx, node, path, "\"}\" without \"{\"; write }} for a literal brace");
            return -1;
        }
        if (*p != '{')
            continue;
        const char *close = strchr(p, '}');
        size_t len = close ? (size_t)(close - p - 1) : 0;
        int known = 0;
        for (size_t i = 0; close && i < sizeof placeholders / sizeof placeholders[0]; i++)
            known |= strlen(placeholders[i]) == len && strncmp(p + 1, placeholders[i], len) == 0;
        if (!known) {
            cfg_error(ctx, node, path, "unknown placeholder \"%.*s\"; expected {items}, {item1}, {category}, "
                      "{discount}, {user}, {expiry} or {rule}, and {{ for a literal brace", close ? (int)len + 2 : 1, p);
            return -1;
        }
        p = close;
        literal_start = p + 1;
    }
    segments += *literal_start != '\0';
    if (segments > MAX_TEMPLATE_SEGMENTS) {
        cfg_error(ctx, node, path, "template has %zu parts (placeholders, brace pairs and the text between them); "
                  "the limit is %d", segments, MAX_TEMPLATE_SEGMENTS);
        return -1;
    }
    return 0;
}

static int template_read_one(struct cfg_ctx *ctx, const struct cfg_node *key, const struct cfg_node *value,
                             const char *path, struct config_trigger *trigger)
{
    char *text;

    if (!is_language_tag(key->value)) {
        cfg_error(ctx, key, path, "expected a language tag like en, zh or zh-CN as the key");
        return -1;
    }
    if (cfg_read_string(ctx, value, path, &text) != 0)
        return -1;
    int status = -1;
    if (text[0] == '\0')
        cfg_error(ctx, value, path, "template text is empty");
    else if (strlen(text) > MAX_TEMPLATE_BYTES)
        cfg_error(ctx, value, path, "template text is %zu bytes; the limit is %d", strlen(text), MAX_TEMPLATE_BYTES);
    else if (!cfg_is_utf8(text))
        cfg_error(ctx, value, path, "template text is not valid UTF-8");
    else if (check_placeholders(ctx, value, path, text) == 0) {
        status = templates_add(trigger, key->value, text);
        if (status != 0)
            cfg_error_oom(ctx);
    }
    free(text);
    return status;
}

static int templates_read(struct cfg_ctx *ctx, const struct cfg_node *node, const char *path, void *field)
{
    struct config_trigger *trigger = field;
    int status = 0;

    if (node->kind != CFG_NODE_MAP || node->n_items == 0) {
        cfg_error(ctx, node, path, "expected a mapping of language to text, like {en: \"Hi {items}\"}, got %s",
                  node->kind == CFG_NODE_MAP ? "an empty mapping" : cfg_node_kind_name(node));
        return -1;
    }
    if (node->n_items / 2 > MAX_TEMPLATES) {
        cfg_error(ctx, node, path, "more than %d languages", MAX_TEMPLATES);
        return -1;
    }
    templates_free(field);
    trigger->templates = calloc(node->n_items / 2, sizeof *trigger->templates);
    if (trigger->templates == NULL) {
        cfg_error_oom(ctx);
        return -1;
    }
    for (size_t i = 0; i + 1 < node->n_items; i += 2) {
        char child_path[CFG_MAX_PATH];
        cfg_path_key(child_path, sizeof child_path, path, node->items[i]->value);
        if (template_read_one(ctx, node->items[i], node->items[i + 1], child_path, trigger) != 0)
            status = -1;
    }
    return status;
}

static void templates_print(FILE *out, const void *field, int indent)
{
    const struct config_trigger *trigger = field;
    fputc('\n', out);
    for (size_t i = 0; i < trigger->n_templates; i++) {
        cfg_print_key(out, indent + 2, trigger->templates[i].language);
        fputc(' ', out);
        cfg_print_quoted(out, trigger->templates[i].text);
        fputc('\n', out);
    }
}

static const struct cfg_custom templates_custom = {templates_read, templates_default, templates_print, templates_free};

/* ---- one rule ---- */

#define TOFF(member) offsetof(struct config_trigger, member)
#define TNUM(key, type, member, def, min, max) {key, type, TOFF(member), def, min, max, NULL, NULL, NULL, 0}
static const struct cfg_field trigger_fields[] = {
    {"name", CFG_STR, TOFF(name), "", 0, 0, NULL, NULL, NULL, 0},
    {"when", CFG_CUSTOM, 0, NULL, 0, 0, NULL, NULL, &when_custom, 0},
    TNUM("cooldown", CFG_DURATION, cooldown_ms, "1h", 0, 365 * DAY_MS),
    TNUM("max_offers", CFG_INT, max_offers, "3", 1, 1000),
    TNUM("per_window", CFG_DURATION, per_window_ms, "24h", 60 * SECOND_MS, 365 * DAY_MS),
    /* No default: a rule without one takes offers.holdout_percent. */
    TNUM("holdout_percent", CFG_DOUBLE, holdout_percent, NULL, 0, 100),
    {"template", CFG_CUSTOM, 0, NULL, 0, 0, NULL, NULL, &templates_custom, 0},
    TNUM("discount_percent", CFG_DOUBLE, discount_percent, "10", 0, 100),
    TNUM("expiry", CFG_DURATION, expiry_ms, "48h", 60 * SECOND_MS, 365 * DAY_MS),
    TNUM("beam_width", CFG_INT, beam_width, "4", 1, 64),
    TNUM("max_items", CFG_INT, max_items, "3", 1, 20),
    TNUM("min_items", CFG_INT, min_items, "1", 1, 20),
};
static const struct cfg_table trigger_table = {trigger_fields, sizeof trigger_fields / sizeof trigger_fields[0]};

static int is_rule_name(const char *name)
{
    if (name[0] == '\0')
        return 0;
    for (const char *p = name; *p != '\0'; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_' ||
              *p == '-' || *p == '.'))
            return 0;
    }
    return 1;
}

static int trigger_read(struct cfg_ctx *ctx, const struct cfg_node *node, const char *path,
                        struct config_trigger *trigger)
{
    if (cfg_table_defaults(ctx, &trigger_table, trigger) != 0)
        return -1;
    trigger->holdout_percent = -1;
    if (node->kind != CFG_NODE_MAP) {
        cfg_error(ctx, node, path, "expected a rule mapping with name and when, got %s", cfg_node_kind_name(node));
        return -1;
    }

    int status = cfg_table_read(ctx, &trigger_table, node, path, trigger);
    const struct cfg_node *name = cfg_map_get(node, "name");
    char name_path[CFG_MAX_PATH];
    cfg_path_key(name_path, sizeof name_path, path, "name");
    if (name == NULL || cfg_map_get(node, "when") == NULL) {
        cfg_error(ctx, node, path, "a rule needs a name and a when condition");
        return -1;
    }
    if (status == 0 && !is_rule_name(trigger->name)) {
        cfg_error(ctx, name, name_path, "rule name must be letters, digits, '_', '-' or '.'; got \"%.80s\"",
                  trigger->name);
        return -1;
    }
    if (status == 0 && trigger->min_items > trigger->max_items) {
        const struct cfg_node *min_items = cfg_map_get(node, "min_items");
        char min_path[CFG_MAX_PATH];
        cfg_path_key(min_path, sizeof min_path, path, "min_items");
        cfg_error(ctx, min_items ? min_items : node, min_path, "%d is more than max_items %d; lower min_items or "
                  "raise max_items", trigger->min_items, trigger->max_items);
        return -1;
    }
    return status;
}

/* ---- the list ---- */

static void triggers_free(void *field)
{
    struct intentd_config *cfg = field;
    for (size_t i = 0; i < cfg->n_triggers; i++)
        cfg_table_free(&trigger_table, &cfg->triggers[i]);
    free(cfg->triggers);
    cfg->triggers = NULL;
    cfg->n_triggers = 0;
}

static int check_unique_names(struct cfg_ctx *ctx, const struct cfg_node *list, const char *path,
                              const struct intentd_config *cfg)
{
    for (size_t i = 1; i < cfg->n_triggers; i++) {
        for (size_t j = 0; j < i; j++) {
            if (strcmp(cfg->triggers[i].name, cfg->triggers[j].name) != 0)
                continue;
            char child_path[CFG_MAX_PATH], name_path[CFG_MAX_PATH];
            cfg_path_index(child_path, sizeof child_path, path, i);
            cfg_path_key(name_path, sizeof name_path, child_path, "name");
            cfg_error(ctx, cfg_map_get(list->items[i], "name"), name_path,
                      "rule name \"%s\" is already used by %s[%zu]", cfg->triggers[i].name, path, j);
            return -1;
        }
    }
    return 0;
}

static int triggers_read(struct cfg_ctx *ctx, const struct cfg_node *node, const char *path, void *field)
{
    struct intentd_config *cfg = field;
    int status = 0;

    if (node->kind != CFG_NODE_SEQ) {
        cfg_error(ctx, node, path, "expected a list of rules (write [] for none), got %s", cfg_node_kind_name(node));
        return -1;
    }
    if (node->n_items > MAX_TRIGGERS) {
        cfg_error(ctx, node, path, "more than %d rules", MAX_TRIGGERS);
        return -1;
    }
    triggers_free(field);
    cfg->triggers = calloc(node->n_items + 1, sizeof *cfg->triggers);
    if (cfg->triggers == NULL) {
        cfg_error_oom(ctx);
        return -1;
    }
    for (size_t i = 0; i < node->n_items; i++) {
        char child_path[CFG_MAX_PATH];
        cfg_path_index(child_path, sizeof child_path, path, i);
        cfg->n_triggers++;
        if (trigger_read(ctx, node->items[i], child_path, &cfg->triggers[i]) != 0)
            status = -1;
    }
    if (status == 0)
        status = check_unique_names(ctx, node, path, cfg);
    return status;
}

static int triggers_default(struct cfg_ctx *ctx, void *field)
{
    const char *file_name = ctx->name;
    struct cfg_tree tree;
    int status = -1;

    triggers_free(field);
    ctx->name = "<built-in triggers>";
    if (cfg_yaml_parse(ctx, default_triggers_yaml, sizeof default_triggers_yaml - 1, &tree) == 0) {
        status = triggers_read(ctx, tree.root, "triggers", field);
        cfg_yaml_free(&tree);
    }
    ctx->name = file_name;
    return status;
}

static void triggers_print(FILE *out, const void *field, int indent)
{
    const struct intentd_config *cfg = field;

    if (cfg->n_triggers == 0) {
        fputs(" []\n", out);
        return;
    }
    fputc('\n', out);
    for (size_t i = 0; i < cfg->n_triggers; i++) {
        /* Print the rule at indent + 4, then turn its first indent into "- ". */
        char *text = NULL;
        size_t len = 0;
        FILE *mem = open_memstream(&text, &len);
        if (mem == NULL)
            return;
        cfg_table_print(mem, &trigger_table, &cfg->triggers[i], indent + 4);
        fclose(mem);
        cfg_print_indent(out, indent + 2);
        fputs("- ", out);
        size_t skip = (size_t)indent + 4;
        fputs(text + (len > skip ? skip : len), out);
        free(text);
    }
}

const struct cfg_custom cfg_triggers_custom = {triggers_read, triggers_default, triggers_print, triggers_free};

void cfg_triggers_resolve(struct intentd_config *cfg)
{
    for (size_t i = 0; i < cfg->n_triggers; i++) {
        if (cfg->triggers[i].holdout_percent < 0)
            cfg->triggers[i].holdout_percent = cfg->offers.holdout_percent;
    }
}
