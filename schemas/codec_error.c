/* Error reporting for the codec: a status, an input offset and a message. */
#include <stdarg.h>
#include <stdio.h>

#include "codec.h"

int codec_error_set(codec_error_t *err, codec_status_t status, size_t offset, const char *fmt, ...)
{
    if (err != NULL) {
        va_list args;

        err->status = status;
        err->offset = offset;
        va_start(args, fmt);
        vsnprintf(err->message, sizeof(err->message), fmt, args);
        va_end(args);
    }
    return (int)status;
}

const char *codec_status_name(codec_status_t status)
{
    switch (status) {
    case CODEC_OK: return "CODEC_OK";
    case CODEC_ERR_FRAME: return "CODEC_ERR_FRAME";
    case CODEC_ERR_SCHEMA_ID: return "CODEC_ERR_SCHEMA_ID";
    case CODEC_ERR_BODY: return "CODEC_ERR_BODY";
    case CODEC_ERR_RESOLVE: return "CODEC_ERR_RESOLVE";
    case CODEC_ERR_CATALOGUE: return "CODEC_ERR_CATALOGUE";
    case CODEC_ERR_VALUE: return "CODEC_ERR_VALUE";
    case CODEC_ERR_JSON: return "CODEC_ERR_JSON";
    case CODEC_ERR_NOMEM: return "CODEC_ERR_NOMEM";
    }
    return "CODEC_ERR_UNKNOWN";
}
