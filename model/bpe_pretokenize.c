/* The chunking rules that both BPE training and encoding apply (see bpe.h). */
#include "bpe.h"
#include "utf8.h"

enum chunk_class {
    CLASS_SPACE,
    CLASS_DIGIT,
    CLASS_LATIN,
    CLASS_LETTER,
    CLASS_PUNCT,
    CLASS_SYMBOL,
};

static int is_space(uint32_t cp)
{
    return cp == ' ' || (cp >= '\t' && cp <= '\r') || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
           (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
           cp == 0x205F;
}

static int is_punct(uint32_t cp)
{
    if (cp < 0x80)
        return cp < 0x20 || cp == 0x7F || (cp >= '!' && cp <= '/') || (cp >= ':' && cp <= '@') ||
               (cp >= '[' && cp <= '`') || (cp >= '{' && cp <= '~');
    return (cp >= 0x80 && cp <= 0xBF) || cp == 0xD7 || cp == 0xF7 ||
           (cp >= 0x2010 && cp <= 0x206F) ||  /* general punctuation: dashes, quotes, ellipsis */
           (cp >= 0x3001 && cp <= 0x303F) ||  /* CJK punctuation: 、。「」【】 */
           (cp >= 0xFE10 && cp <= 0xFE6F) ||  /* vertical, small and CJK compatibility forms */
           (cp >= 0xFF00 && cp <= 0xFF0F) || (cp >= 0xFF1A && cp <= 0xFF20) ||
           (cp >= 0xFF3B && cp <= 0xFF40) || (cp >= 0xFF5B && cp <= 0xFF65) ||
           cp == UTF8_REPLACEMENT;
}

static int is_symbol(uint32_t cp)
{
    return (cp >= 0x2100 && cp <= 0x2BFF) ||   /* arrows, maths, technical, dingbats */
           (cp >= 0xFE00 && cp <= 0xFE0F) ||   /* variation selectors */
           (cp >= 0x1F000 && cp <= 0x1FAFF) || /* emoji, skin tones, flags */
           (cp >= 0xE0000 && cp <= 0xE007F);   /* tag characters of flag sequences */
}

static enum chunk_class classify(uint32_t cp)
{
    if (is_space(cp))
        return CLASS_SPACE;
    if (cp >= '0' && cp <= '9')
        return CLASS_DIGIT;
    if ((cp >= 'A' && cp <= 'Z') || (cp >= 'a' && cp <= 'z') || (cp >= 0xC0 && cp <= 0x24F))
        return CLASS_LATIN;
    if (is_punct(cp))
        return CLASS_PUNCT;
    if (is_symbol(cp))
        return CLASS_SYMBOL;
    return CLASS_LETTER;
}

static int joins_leading_space(enum chunk_class c)
{
    return c == CLASS_LATIN || c == CLASS_LETTER || c == CLASS_DIGIT;
}

size_t bpe_chunk_length(const uint8_t *text, size_t len)
{
    uint32_t cp;
    int valid;
    size_t at, used;
    enum chunk_class run;

    if (len == 0)
        return 0;
    at = utf8_decode(text, len, &cp, &valid);
    run = valid ? classify(cp) : CLASS_PUNCT;

    /* One plain space followed by a word starts that word's chunk. */
    if (cp == ' ' && at < len) {
        uint32_t next;
        int next_valid;
        size_t next_used = utf8_decode(text + at, len - at, &next, &next_valid);
        enum chunk_class next_class = next_valid ? classify(next) : CLASS_PUNCT;
        if (joins_leading_space(next_class) && at + next_used <= BPE_MAX_CHUNK_BYTES) {
            run = next_class;
            at += next_used;
        }
    }

    while (at < len) {
        used = utf8_decode(text + at, len - at, &cp, &valid);
        enum chunk_class c = valid ? classify(cp) : CLASS_PUNCT;
        if (c != run || at + used > BPE_MAX_CHUNK_BYTES)
            break;
        /* A plain space that starts the next word ends this space run. */
        if (run == CLASS_SPACE && cp == ' ' && at + used < len) {
            uint32_t next;
            int next_valid;
            utf8_decode(text + at + used, len - at - used, &next, &next_valid);
            if (next_valid && joins_leading_space(classify(next)))
                break;
        }
        at += used;
    }
    return at;
}
