/*
 * Training checkpoints: everything needed to continue a run so that the
 * resumed run equals an uninterrupted one bit for bit (weights, AdamW moments
 * and step, dropout generator, epoch and batch position, early-stopping state
 * and best weights). The file is written to path.tmp and renamed, so a crash
 * leaves the previous checkpoint intact.
 *
 * Layout (host byte order, not portable across architectures):
 *   "INTDCKP1" | struct model_config | u64 count | i64 step | i32 epoch |
 *   i64 batch_index | u64 rng | f32 best_hr10 | i32 best_epoch |
 *   i32 bad_epochs | i32 finished | params[count] | m[count] | v[count] |
 *   best_params[count] | ema[count] (with a moving average) |
 *   the shared item-feature state (with item features, train_item_features.h)
 */
#ifndef INTENTD_TRAIN_CHECKPOINT_H
#define INTENTD_TRAIN_CHECKPOINT_H

#include "train_loop.h"

int train_checkpoint_save(const struct train_session *s, const char *path, char *error);

/* Restores a session created with the same model config. Returns 0, or -1
 * with a message when the file is missing, truncated or for another config. */
int train_checkpoint_load(struct train_session *s, const char *path, char *error);

/* Writes the model's weights as safetensors (model_safetensors_save). */
int train_save_model(const struct train_model *m, const char *path, char *error);

#endif
