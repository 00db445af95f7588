/*
 * libFuzzer target for the JSON event decoder. Each input is decoded as a
 * ClickEvent and a ReviewEvent under two mappings: the default one (Avro field
 * names, milliseconds) and a Taobao-style one with integer ids, action aliases,
 * seconds and a nested path. Seeds: tests/fuzz/corpus/json/.
 */
#include <stdint.h>
#include <stdlib.h>

#include "codec_json.h"

static const codec_json_alias_t ALIASES[] = {
    {"pv", CODEC_ACTION_VIEW},
    {"fav", CODEC_ACTION_FAVOURITE},
    {"cart", CODEC_ACTION_ADD_TO_CART},
    {"buy", CODEC_ACTION_PURCHASE},
};

static void decode_both(const codec_json_mapping_t *m, const uint8_t *data, size_t size)
{
    codec_click_event_t click;
    codec_review_event_t review;
    codec_error_t err;

    if (codec_json_decode_click(m, data, size, &click, &err) == CODEC_OK) {
        if (click.user_id == NULL || click.item_id == NULL)
            abort(); /* required fields must be set on success */
        codec_click_clear(&click);
    } else if (click.user_id != NULL) {
        abort(); /* a failed decode must leave the event empty */
    }
    if (codec_json_decode_review(m, data, size, &review, &err) == CODEC_OK) {
        if (review.text == NULL || (review.has_rating && (review.rating < 1 || review.rating > 5)))
            abort();
        codec_review_clear(&review);
    } else if (review.user_id != NULL) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    codec_json_mapping_t defaults;
    codec_json_mapping_t taobao = {
        .user_id = "uid", .item_id = "iid", .category_id = "cid", .action = "behavior",
        .timestamp = "meta.ts", .text = "review.text", .rating = "review.stars",
        .timestamp_unit = CODEC_TIME_SECONDS, .action_aliases = ALIASES, .action_alias_count = 4,
    };

    codec_json_mapping_default(&defaults);
    decode_both(&defaults, data, size);
    decode_both(&taobao, data, size);
    return 0;
}
