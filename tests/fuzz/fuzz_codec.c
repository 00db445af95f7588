/*
 * libFuzzer target for the Confluent frame decoder. Each input is decoded as
 * a generic value and as each typed record. Whatever decodes is encoded again
 * and must decode to the same bytes, so the fuzzer also checks round trips.
 * Seeds: tests/fuzz/corpus/codec/ (valid frames of every catalogue schema).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "codec_events.h"

static codec_t *codec;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    codec_error_t err;

    (void)argc;
    (void)argv;
    if (codec_open(INTENTD_SCHEMA_DIR "/catalogue.json", &codec, &err) != CODEC_OK) {
        fprintf(stderr, "fuzz_codec: %s\n", err.message);
        abort();
    }
    return 0;
}

/* Re-encoding a decoded frame must give a frame that decodes and re-encodes
 * to identical bytes (the first encoding may differ from the input, e.g. when
 * the input was written with an older schema). */
#define CHECK_ROUND_TRIP(type, decode, encode, clear)                                   \
    do {                                                                                \
        type first, second;                                                             \
        codec_error_t e;                                                                \
        uint8_t *buf1 = NULL, *buf2 = NULL;                                             \
        size_t len1 = 0, len2 = 0;                                                      \
        if (decode(codec, data, size, &first, &e) != CODEC_OK)                          \
            break;                                                                      \
        if (encode(codec, &first, &buf1, &len1, &e) != CODEC_OK) {                      \
            fprintf(stderr, "re-encode failed: %s\n", e.message);                      \
            abort();                                                                    \
        }                                                                               \
        if (decode(codec, buf1, len1, &second, &e) != CODEC_OK ||                       \
            encode(codec, &second, &buf2, &len2, &e) != CODEC_OK || len1 != len2 ||     \
            memcmp(buf1, buf2, len1) != 0) {                                            \
            fprintf(stderr, "round trip differs: %s\n", e.message);                    \
            abort();                                                                    \
        }                                                                               \
        clear(&first);                                                                  \
        clear(&second);                                                                 \
        free(buf1);                                                                     \
        free(buf2);                                                                     \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    codec_error_t err;
    avro_value_t value;

    if (codec_decode_value(codec, data, size, NULL, &value, NULL, &err) == CODEC_OK)
        avro_value_decref(&value);
    else if (err.offset != CODEC_NO_OFFSET && err.offset > size)
        abort(); /* an error offset beyond the input would mislead the reader */

    CHECK_ROUND_TRIP(codec_click_event_t, codec_decode_click, codec_encode_click, codec_click_clear);
    CHECK_ROUND_TRIP(codec_review_event_t, codec_decode_review, codec_encode_review, codec_review_clear);
    CHECK_ROUND_TRIP(codec_user_intent_t, codec_decode_intent, codec_encode_intent, codec_intent_clear);
    CHECK_ROUND_TRIP(codec_offer_t, codec_decode_offer, codec_encode_offer, codec_offer_clear);
    return 0;
}
