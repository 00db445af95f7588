/* The Confluent wire-format frame: magic byte, big-endian schema id, body. */
#include "codec.h"

int codec_frame_parse(const uint8_t *frame, size_t len, uint32_t *schema_id,
                      const uint8_t **body, size_t *body_len, codec_error_t *err)
{
    if (frame == NULL && len > 0)
        return codec_error_set(err, CODEC_ERR_FRAME, 0, "frame pointer is NULL with length %zu", len);
    if (len < CODEC_FRAME_HEADER_SIZE)
        return codec_error_set(err, CODEC_ERR_FRAME, len,
                               "frame of %zu bytes is shorter than the %d-byte header "
                               "(magic byte and schema id)", len, CODEC_FRAME_HEADER_SIZE);
    if (frame[0] != CODEC_MAGIC_BYTE)
        return codec_error_set(err, CODEC_ERR_FRAME, 0,
                               "magic byte is 0x%02x, expected 0x00 (Confluent wire format); "
                               "the record is not Avro in a Confluent frame", frame[0]);

    *schema_id = (uint32_t)frame[1] << 24 | (uint32_t)frame[2] << 16 | (uint32_t)frame[3] << 8 |
                 (uint32_t)frame[4];
    *body = frame + CODEC_FRAME_HEADER_SIZE;
    *body_len = len - CODEC_FRAME_HEADER_SIZE;
    return CODEC_OK;
}

void codec_frame_write_header(uint32_t schema_id, uint8_t out[CODEC_FRAME_HEADER_SIZE])
{
    out[0] = CODEC_MAGIC_BYTE;
    out[1] = (uint8_t)(schema_id >> 24);
    out[2] = (uint8_t)(schema_id >> 16);
    out[3] = (uint8_t)(schema_id >> 8);
    out[4] = (uint8_t)schema_id;
}
