/*
 * The model the processor serves: weights, the tokenizer that travels with
 * them, and a version label written into every output record.
 *
 * A bundle is loaded whole and checked before use (shapes, tokenizer layout
 * against the model config, one smoke inference), so a hot reload can reject
 * a bad file and keep the running bundle.
 */
#ifndef INTENTD_MODEL_BUNDLE_H
#define INTENTD_MODEL_BUNDLE_H

#include "model.h"
#include "tokenizer.h"

#define MODEL_BUNDLE_VERSION_SIZE 80

struct model_bundle {
    struct model model;
    struct tokenizer *tokenizer;
    char version[MODEL_BUNDLE_VERSION_SIZE]; /* label, or "<file stem>-<content hash>" */
};

/* Loads path into *bundle and validates it. version_label, when not NULL or
 * empty, becomes the version; otherwise it is derived from the file name and
 * a hash of its bytes, so two different files never share a version.
 * Returns 0, or -1 with a message in error[MODEL_ERROR_SIZE] that names the
 * path and what is wrong. */
int model_bundle_load(struct model_bundle *bundle, const char *path, const char *version_label, char *error);

void model_bundle_free(struct model_bundle *bundle);

#endif
