#include "offer_template.h"

#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    enum offer_template_field field;
} placeholder_names[] = {
    {"items", OFFER_FIELD_ITEMS},       {"item1", OFFER_FIELD_ITEM1},
    {"category", OFFER_FIELD_CATEGORY}, {"discount", OFFER_FIELD_DISCOUNT},
    {"user", OFFER_FIELD_USER},         {"expiry", OFFER_FIELD_EXPIRY},
    {"rule", OFFER_FIELD_RULE},
};

/* Returns the length of the UTF-8 sequence at p (1 to 4), or 0 if it is
 * invalid or runs past end. Rejects overlong forms, UTF-16 surrogates and
 * code points above U+10FFFF. */
static size_t utf8_sequence_len(const unsigned char *p, const unsigned char *end)
{
    unsigned char b = p[0];
    size_t n;
    unsigned char lo = 0x80, hi = 0xBF;

    if (b < 0x80)
        return 1;
    if (b >= 0xC2 && b <= 0xDF)
        n = 2;
    else if (b >= 0xE0 && b <= 0xEF)
        n = 3;
    else if (b >= 0xF0 && b <= 0xF4)
        n = 4;
    else
        return 0;
    if (b == 0xE0)
        lo = 0xA0; /* overlong */
    else if (b == 0xED)
        hi = 0x9F; /* surrogates */
    else if (b == 0xF0)
        lo = 0x90; /* overlong */
    else if (b == 0xF4)
        hi = 0x8F; /* above U+10FFFF */

    if ((size_t)(end - p) < n)
        return 0;
    if (p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++) {
        if (p[i] < 0x80 || p[i] > 0xBF)
            return 0;
    }
    return n;
}

int offer_utf8_valid(const char *data, size_t len)
{
    const unsigned char *p = (const unsigned char *)data;
    const unsigned char *end = p + len;

    while (p < end) {
        size_t n = utf8_sequence_len(p, end);
        if (n == 0)
            return 0;
        p += n;
    }
    return 1;
}

/* ---- compile ---- */

static int add_segment(struct offer_template *tpl, enum offer_template_field field, size_t offset,
                       size_t len, char *error)
{
    if (tpl->segment_count == OFFER_TEMPLATE_MAX_SEGMENTS) {
        snprintf(error, OFFER_TEMPLATE_ERROR_SIZE,
                 "offer template has more than %d parts at byte %zu; use fewer placeholders",
                 OFFER_TEMPLATE_MAX_SEGMENTS, offset);
        return -1;
    }
    tpl->segments[tpl->segment_count++] = (struct offer_template_segment){
        .field = (uint8_t)field, .offset = (uint16_t)offset, .len = (uint16_t)len};
    return 0;
}

/* Parses the placeholder whose "{" is at text[open]. Sets *next to the byte
 * after its "}". */
static int parse_placeholder(struct offer_template *tpl, const char *text, size_t open,
                             size_t *next, char *error)
{
    const char *close = strchr(text + open + 1, '}');

    if (close == NULL) {
        snprintf(error, OFFER_TEMPLATE_ERROR_SIZE,
                 "offer template has an unclosed '{' at byte %zu; write '{{' for a literal brace",
                 open);
        return -1;
    }
    size_t name_len = (size_t)(close - (text + open + 1));
    for (size_t i = 0; i < sizeof(placeholder_names) / sizeof(placeholder_names[0]); i++) {
        if (strlen(placeholder_names[i].name) == name_len &&
            memcmp(placeholder_names[i].name, text + open + 1, name_len) == 0) {
            *next = (size_t)(close - text) + 1;
            return add_segment(tpl, placeholder_names[i].field, open, 0, error);
        }
    }
    snprintf(error, OFFER_TEMPLATE_ERROR_SIZE,
             "unknown placeholder {%.*s} at byte %zu of the offer template; expected {items}, "
             "{item1}, {category}, {discount}, {user}, {expiry} or {rule}", (int)(name_len > 40 ? 40 : name_len),
             text + open + 1, open);
    return -1;
}

int offer_template_compile(struct offer_template *tpl, const char *text, char *error)
{
    memset(tpl, 0, sizeof(*tpl));
    if (text == NULL) {
        snprintf(error, OFFER_TEMPLATE_ERROR_SIZE, "offer template is missing; give the rule a message text");
        return -1;
    }

    size_t text_len = strlen(text);
    if (text_len > OFFER_TEMPLATE_MAX_BYTES) {
        snprintf(error, OFFER_TEMPLATE_ERROR_SIZE,
                 "offer template is %zu bytes, longer than the limit of %d", text_len,
                 OFFER_TEMPLATE_MAX_BYTES);
        return -1;
    }
    if (!offer_utf8_valid(text, text_len)) {
        snprintf(error, OFFER_TEMPLATE_ERROR_SIZE,
                 "offer template is not valid UTF-8; save the config file as UTF-8");
        return -1;
    }
    memcpy(tpl->text, text, text_len + 1);

    size_t literal_start = 0;
    size_t i = 0;
    while (i < text_len) {
        char c = text[i];
        if (c != '{' && c != '}') {
            i++;
            continue;
        }
        if (i > literal_start && add_segment(tpl, OFFER_FIELD_LITERAL, literal_start,
                                             i - literal_start, error) != 0)
            return -1;
        if (text[i + 1] == c) {
            /* "{{" or "}}": keep one brace as literal text. */
            if (add_segment(tpl, OFFER_FIELD_LITERAL, i, 1, error) != 0)
                return -1;
            i += 2;
        } else if (c == '}') {
            snprintf(error, OFFER_TEMPLATE_ERROR_SIZE,
                     "offer template has a single '}' at byte %zu; write '}}' for a literal brace",
                     i);
            return -1;
        } else if (parse_placeholder(tpl, text, i, &i, error) != 0) {
            return -1;
        }
        literal_start = i;
    }
    if (text_len > literal_start &&
        add_segment(tpl, OFFER_FIELD_LITERAL, literal_start, text_len - literal_start, error) != 0)
        return -1;
    return 0;
}

int offer_template_validate(const char *text, char *error)
{
    struct offer_template tpl;

    return offer_template_compile(&tpl, text, error);
}

/* ---- render ---- */

struct output {
    char *buf;
    size_t cap;       /* bytes available before the NUL */
    size_t len;
    int truncated;
};

/* Appends src[n], or the longest prefix of it that fits and ends on a whole
 * UTF-8 character. src must be valid UTF-8. */
static void append(struct output *out, const char *src, size_t n)
{
    if (out->truncated)
        return;
    if (n > out->cap - out->len) {
        n = out->cap - out->len;
        while (n > 0 && ((unsigned char)src[n] & 0xC0) == 0x80)
            n--;
        out->truncated = 1;
    }
    memcpy(out->buf + out->len, src, n);
    out->len += n;
}

static void append_str(struct output *out, const char *s)
{
    if (s != NULL)
        append(out, s, strlen(s));
}

static int check_value(const char *value, const char *name, char *error)
{
    if (value == NULL || offer_utf8_valid(value, strlen(value)))
        return 0;
    snprintf(error, OFFER_TEMPLATE_ERROR_SIZE,
             "offer template value %s is not valid UTF-8; fix the item or category names", name);
    return -1;
}

static int check_values(const struct offer_template_values *v, char *error)
{
    for (size_t i = 0; i < v->item_count; i++) {
        if (check_value(v->items[i], "items", error) != 0)
            return -1;
    }
    if (check_value(v->item_separator, "item_separator", error) != 0 ||
        check_value(v->category, "category", error) != 0 ||
        check_value(v->discount, "discount", error) != 0 ||
        check_value(v->user, "user", error) != 0 ||
        check_value(v->expiry, "expiry", error) != 0 || check_value(v->rule, "rule", error) != 0)
        return -1;
    return 0;
}

static void append_field(struct output *out, const struct offer_template *tpl,
                         const struct offer_template_segment *seg,
                         const struct offer_template_values *v)
{
    switch ((enum offer_template_field)seg->field) {
    case OFFER_FIELD_LITERAL:
        append(out, tpl->text + seg->offset, seg->len);
        break;
    case OFFER_FIELD_ITEMS:
        for (size_t i = 0; i < v->item_count; i++) {
            if (i > 0)
                append_str(out, v->item_separator ? v->item_separator : ", ");
            append_str(out, v->items[i]);
        }
        break;
    case OFFER_FIELD_ITEM1:
        if (v->item_count > 0)
            append_str(out, v->items[0]);
        break;
    case OFFER_FIELD_CATEGORY:
        append_str(out, v->category);
        break;
    case OFFER_FIELD_DISCOUNT:
        append_str(out, v->discount);
        break;
    case OFFER_FIELD_USER:
        append_str(out, v->user);
        break;
    case OFFER_FIELD_EXPIRY:
        append_str(out, v->expiry);
        break;
    case OFFER_FIELD_RULE:
        append_str(out, v->rule);
        break;
    }
}

int offer_template_render(const struct offer_template *tpl, const struct offer_template_values *values,
                          char *out, size_t cap, size_t *len, char *error)
{
    *len = 0;
    if (cap == 0) {
        snprintf(error, OFFER_TEMPLATE_ERROR_SIZE, "offer template output buffer has no room");
        return -1;
    }
    out[0] = '\0';
    if (check_values(values, error) != 0)
        return -1;

    struct output o = {.buf = out, .cap = cap - 1, .len = 0, .truncated = 0};
    for (size_t i = 0; i < tpl->segment_count; i++)
        append_field(&o, tpl, &tpl->segments[i], values);
    out[o.len] = '\0';
    *len = o.len;
    return o.truncated ? 1 : 0;
}
