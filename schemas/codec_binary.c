/*
 * Bounded primitives of the Avro binary encoding: zig-zag varints, lengths,
 * IEEE 754 little-endian floats, strings with UTF-8 validation. Nothing here
 * allocates; callers allocate only after a length has been checked against
 * the bytes that remain.
 */
#include <string.h>

#include "codec_internal.h"

/* A 64-bit zig-zag varint takes at most 10 bytes of 7 bits. */
#define VARINT_MAX_BYTES 10

int codec_read_long(codec_walker_t *w, int64_t *out)
{
    size_t start = codec_walker_offset(w);
    uint64_t raw = 0;

    for (int i = 0; i < VARINT_MAX_BYTES; i++) {
        if (w->pos >= w->len)
            return codec_error_set(w->err, CODEC_ERR_BODY, codec_walker_offset(w),
                                   "body truncated inside a varint that starts at offset %zu", start);
        uint8_t byte = w->data[w->pos++];
        if (i == VARINT_MAX_BYTES - 1 && byte > 1)
            return codec_error_set(w->err, CODEC_ERR_BODY, start,
                                   "varint at offset %zu does not fit in 64 bits", start);
        raw |= (uint64_t)(byte & 0x7f) << (7 * i);
        if ((byte & 0x80) == 0) {
            *out = (int64_t)(raw >> 1) ^ -(int64_t)(raw & 1);
            return CODEC_OK;
        }
    }
    return codec_error_set(w->err, CODEC_ERR_BODY, start,
                           "varint at offset %zu is longer than %d bytes", start, VARINT_MAX_BYTES);
}

int codec_read_int(codec_walker_t *w, int32_t *out)
{
    size_t start = codec_walker_offset(w);
    int64_t value = 0;
    int rc = codec_read_long(w, &value);

    if (rc != CODEC_OK)
        return rc;
    if (value < INT32_MIN || value > INT32_MAX)
        return codec_error_set(w->err, CODEC_ERR_BODY, start,
                               "int at offset %zu is %lld, outside the 32-bit range", start,
                               (long long)value);
    *out = (int32_t)value;
    return CODEC_OK;
}

int codec_read_length(codec_walker_t *w, const char *what, size_t *out)
{
    size_t start = codec_walker_offset(w);
    int64_t value = 0;
    int rc = codec_read_long(w, &value);

    if (rc != CODEC_OK)
        return rc;
    if (value < 0)
        return codec_error_set(w->err, CODEC_ERR_BODY, start, "%s at offset %zu is negative (%lld)",
                               what, start, (long long)value);
    if ((uint64_t)value > codec_walker_remaining(w))
        return codec_error_set(w->err, CODEC_ERR_BODY, start,
                               "%s at offset %zu is %lld but only %zu bytes remain", what, start,
                               (long long)value, codec_walker_remaining(w));
    *out = (size_t)value;
    return CODEC_OK;
}

int codec_read_fixed(codec_walker_t *w, size_t n, const uint8_t **out)
{
    if (n > codec_walker_remaining(w))
        return codec_error_set(w->err, CODEC_ERR_BODY, codec_walker_offset(w),
                               "body truncated: %zu bytes needed at offset %zu but %zu remain", n,
                               codec_walker_offset(w), codec_walker_remaining(w));
    *out = w->data + w->pos;
    w->pos += n;
    return CODEC_OK;
}

int codec_read_boolean(codec_walker_t *w, int *out)
{
    size_t start = codec_walker_offset(w);
    const uint8_t *byte = NULL;
    int rc = codec_read_fixed(w, 1, &byte);

    if (rc != CODEC_OK)
        return rc;
    if (*byte > 1)
        return codec_error_set(w->err, CODEC_ERR_BODY, start,
                               "boolean at offset %zu is byte 0x%02x, expected 0 or 1", start, *byte);
    *out = *byte;
    return CODEC_OK;
}

/* Avro floats and doubles are little-endian IEEE 754. */
static uint64_t load_le(const uint8_t *p, size_t n)
{
    uint64_t value = 0;

    for (size_t i = 0; i < n; i++)
        value |= (uint64_t)p[i] << (8 * i);
    return value;
}

int codec_read_float(codec_walker_t *w, float *out)
{
    const uint8_t *p = NULL;
    int rc = codec_read_fixed(w, 4, &p);

    if (rc == CODEC_OK) {
        uint32_t bits = (uint32_t)load_le(p, 4);
        memcpy(out, &bits, sizeof(*out));
    }
    return rc;
}

int codec_read_double(codec_walker_t *w, double *out)
{
    const uint8_t *p = NULL;
    int rc = codec_read_fixed(w, 8, &p);

    if (rc == CODEC_OK) {
        uint64_t bits = load_le(p, 8);
        memcpy(out, &bits, sizeof(*out));
    }
    return rc;
}

int codec_check_text(codec_walker_t *w, const uint8_t *s, size_t n, size_t start)
{
    size_t valid = codec_utf8_valid_prefix(s, n);

    if (valid < n)
        return codec_error_set(w->err, CODEC_ERR_BODY, start + valid,
                               "string at offset %zu has invalid UTF-8 at offset %zu", start,
                               start + valid);
    const uint8_t *nul = memchr(s, 0, n);
    if (nul != NULL)
        return codec_error_set(w->err, CODEC_ERR_BODY, start + (size_t)(nul - s),
                               "string at offset %zu contains a NUL byte at offset %zu, which "
                               "C strings cannot carry", start, start + (size_t)(nul - s));
    return CODEC_OK;
}

int codec_read_string(codec_walker_t *w, const uint8_t **out, size_t *n)
{
    int rc = codec_read_length(w, "string length", n);

    if (rc != CODEC_OK)
        return rc;
    size_t start = codec_walker_offset(w);
    rc = codec_read_fixed(w, *n, out);
    if (rc != CODEC_OK)
        return rc;
    return codec_check_text(w, *out, *n, start);
}

/* Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above U+10FFFF. */
size_t codec_utf8_valid_prefix(const uint8_t *s, size_t len)
{
    size_t i = 0;

    while (i < len) {
        uint8_t c = s[i];
        size_t extra;
        uint8_t lo = 0x80, hi = 0xbf;

        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            extra = 1;
        } else if (c >= 0xe0 && c <= 0xef) {
            extra = 2;
            if (c == 0xe0)
                lo = 0xa0;
            else if (c == 0xed)
                hi = 0x9f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            extra = 3;
            if (c == 0xf0)
                lo = 0x90;
            else if (c == 0xf4)
                hi = 0x8f;
        } else {
            return i;
        }
        if (extra > len - i - 1)
            return i;
        if (s[i + 1] < lo || s[i + 1] > hi)
            return i;
        for (size_t k = 2; k <= extra; k++)
            if (s[i + k] < 0x80 || s[i + k] > 0xbf)
                return i;
        i += extra + 1;
    }
    return len;
}
