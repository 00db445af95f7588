#include "utf8.h"

/* Valid range of the second byte after each lead byte, from Unicode table
 * 3-7 (well-formed UTF-8 byte sequences). Third and fourth bytes are always
 * 80..BF. */
static int second_byte_range(uint8_t lead, uint8_t *low, uint8_t *high, size_t *length)
{
    *low = 0x80;
    *high = 0xBF;
    if (lead >= 0xC2 && lead <= 0xDF) {
        *length = 2;
    } else if (lead == 0xE0) {
        *length = 3;
        *low = 0xA0; /* below is overlong */
    } else if (lead == 0xED) {
        *length = 3;
        *high = 0x9F; /* above is a surrogate U+D800..U+DFFF */
    } else if (lead >= 0xE1 && lead <= 0xEF) {
        *length = 3;
    } else if (lead == 0xF0) {
        *length = 4;
        *low = 0x90; /* below is overlong */
    } else if (lead >= 0xF1 && lead <= 0xF3) {
        *length = 4;
    } else if (lead == 0xF4) {
        *length = 4;
        *high = 0x8F; /* above is past U+10FFFF */
    } else {
        return 0; /* 80..C1 and F5..FF never start a sequence */
    }
    return 1;
}

size_t utf8_decode(const uint8_t *text, size_t len, uint32_t *code_point, int *valid)
{
    uint8_t lead = text[0];
    uint8_t low, high;
    size_t length;

    *valid = 1;
    if (lead < 0x80) {
        *code_point = lead;
        return 1;
    }
    *valid = 0;
    *code_point = UTF8_REPLACEMENT;
    if (!second_byte_range(lead, &low, &high, &length))
        return 1;

    /* The maximal subpart ends before the first byte out of its range. */
    if (len < 2 || text[1] < low || text[1] > high)
        return 1;
    for (size_t i = 2; i < length; i++) {
        if (i >= len || (text[i] & 0xC0) != 0x80)
            return i;
    }

    uint32_t value = lead & (0xFF >> (length + 1));
    for (size_t i = 1; i < length; i++)
        value = (value << 6) | (text[i] & 0x3F);
    *code_point = value;
    *valid = 1;
    return length;
}

size_t utf8_encode(uint32_t cp, uint8_t *out)
{
    if (cp < 0x80) {
        out[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (uint8_t)(0xC0 | (cp >> 6));
        out[1] = (uint8_t)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (uint8_t)(0xE0 | (cp >> 12));
        out[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (uint8_t)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (uint8_t)(0xF0 | (cp >> 18));
    out[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (uint8_t)(0x80 | (cp & 0x3F));
    return 4;
}

static int is_dropped(uint32_t cp)
{
    return cp == 0xFEFF || (cp >= 0x200B && cp <= 0x200D) || cp == 0x2060;
}

static uint32_t fold(uint32_t cp)
{
    if (cp >= 0xFF01 && cp <= 0xFF5E)
        return cp - 0xFF01 + 0x21;
    if (cp == 0x3000)
        return 0x20;
    return cp;
}

size_t utf8_normalize(const uint8_t *text, size_t len, uint8_t *out)
{
    size_t in = 0, written = 0;

    while (in < len) {
        uint32_t cp;
        int valid;
        size_t used = utf8_decode(text + in, len - in, &cp, &valid);

        in += used;
        if (is_dropped(cp))
            continue;
        cp = fold(cp);
        written += utf8_encode(cp, out + written);
    }
    return written;
}

int utf8_is_valid(const uint8_t *text, size_t len)
{
    size_t at = 0;

    while (at < len) {
        uint32_t cp;
        int valid;
        at += utf8_decode(text + at, len - at, &cp, &valid);
        if (!valid)
            return 0;
    }
    return 1;
}

int utf8_is_boundary(const uint8_t *text, size_t len, size_t at)
{
    if (at == 0 || at >= len)
        return 1;
    return (text[at] & 0xC0) != 0x80;
}
