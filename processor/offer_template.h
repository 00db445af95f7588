/*
 * Offer message templates: UTF-8 text in any language with placeholders that
 * are filled in when an offer is rendered.
 *
 * Placeholders:
 *   {items}     every offered item name, joined by the item separator
 *   {item1}     the first offered item name
 *   {category}  the offer category name
 *   {discount}  the discount, already formatted by the caller ("15%", "8折")
 *   {user}      the user id
 *   {expiry}    when the offer ends, already formatted by the caller
 *   {rule}      the trigger rule name
 * "{{" and "}}" write a literal brace. Compiling checks the whole template
 * once, at config load: invalid UTF-8, an unknown placeholder, an unclosed "{"
 * or a single "}" is an error there, so rendering never meets an unknown name.
 *
 * A compiled template is a plain value with no heap memory; it may be copied,
 * and rendering only reads it, so threads may share one.
 */
#ifndef INTENTD_OFFER_TEMPLATE_H
#define INTENTD_OFFER_TEMPLATE_H

#include <stddef.h>
#include <stdint.h>

#define OFFER_TEMPLATE_MAX_BYTES 1024  /* template text, excluding the NUL */
#define OFFER_TEMPLATE_MAX_SEGMENTS 64 /* literal runs plus placeholders */
#define OFFER_TEMPLATE_ERROR_SIZE 256

enum offer_template_field {
    OFFER_FIELD_LITERAL = 0, /* a run of template text */
    OFFER_FIELD_ITEMS,
    OFFER_FIELD_ITEM1,
    OFFER_FIELD_CATEGORY,
    OFFER_FIELD_DISCOUNT,
    OFFER_FIELD_USER,
    OFFER_FIELD_EXPIRY,
    OFFER_FIELD_RULE,
};

struct offer_template_segment {
    uint8_t field;   /* enum offer_template_field */
    uint16_t offset; /* literal: byte offset into text */
    uint16_t len;    /* literal: byte length */
};

struct offer_template {
    char text[OFFER_TEMPLATE_MAX_BYTES + 1];
    struct offer_template_segment segments[OFFER_TEMPLATE_MAX_SEGMENTS];
    size_t segment_count;
};

/* Values for one rendering. A NULL string renders as empty, and so does
 * {item1} when item_count is 0. All strings must be valid UTF-8. */
struct offer_template_values {
    const char *const *items;   /* item_count item names */
    size_t item_count;
    const char *item_separator; /* between items in {items}; NULL means ", " */
    const char *category;
    const char *discount;
    const char *user;
    const char *expiry;
    const char *rule;
};

/* Parses and checks template text into *tpl. Returns 0, or -1 with a message
 * in error[OFFER_TEMPLATE_ERROR_SIZE] that names the problem and its byte
 * offset. */
int offer_template_compile(struct offer_template *tpl, const char *text, char *error);

/* Checks template text without keeping the result; same errors as compile. */
int offer_template_validate(const char *text, char *error);

/* Renders into out[cap] (cap >= 1) and NUL-terminates it, setting *len to the
 * bytes written before the NUL. Returns 0 if the message fit. Returns 1 if it
 * did not, and out then contains the longest prefix that ends on a whole UTF-8
 * character. Returns -1 with a message if a value is not valid UTF-8. */
int offer_template_render(const struct offer_template *tpl, const struct offer_template_values *values,
                          char *out, size_t cap, size_t *len, char *error);

/* Returns 1 if data[len] is valid UTF-8 (no overlong forms, no surrogates,
 * nothing above U+10FFFF), else 0. */
int offer_utf8_valid(const char *data, size_t len);

#endif
