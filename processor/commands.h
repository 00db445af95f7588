/*
 * Subcommands of the intentd program. Each returns the process exit status:
 * 0 on success, 1 on a runtime failure, 2 on a usage or config error.
 * argv[0] is the subcommand name.
 */
#ifndef INTENTD_COMMANDS_H
#define INTENTD_COMMANDS_H

int cmd_check_config(int argc, char **argv);
int cmd_topics(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_replay(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_peek(int argc, char **argv);

#endif
