/*
 * Event files of `intentd train` that need the schemas codec, which the
 * model library must not depend on.
 */
#ifndef INTENTD_CMD_TRAIN_INPUT_H
#define INTENTD_CMD_TRAIN_INPUT_H

#include "train_input.h"

/* Reads JSON Lines of ClickEvent and ReviewEvent objects (see
 * cmd_train_input.c) into log, with the bad-record rules of train_input.h.
 * Returns 0, or -1 with a message in error[MODEL_ERROR_SIZE]. */
int cmd_train_read_json_lines(struct train_input_log *log, const char *path, int strict,
                              struct train_input_stats *stats, char *error);

/* Reads an Avro object container file of ClickEvent or ReviewEvent records. */
int cmd_train_read_avro(struct train_input_log *log, const char *path, int strict, struct train_input_stats *stats,
                        char *error);

/* Reads an events file: Avro when it starts with the container magic, else
 * JSON Lines. */
int cmd_train_read_events(struct train_input_log *log, const char *path, int strict,
                          struct train_input_stats *stats, char *error);

#endif
