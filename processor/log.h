/*
 * Logging: one line per event on stderr, "TIME LEVEL message key=value ...".
 * The level is process-wide, set once at start from the config before any
 * thread logs; log_write itself is thread-safe (one fprintf per line).
 * Never pass a secret as a field value.
 */
#ifndef INTENTD_LOG_H
#define INTENTD_LOG_H

enum log_level {
    LOG_LEVEL_DEBUG = 0,
    LOG_LEVEL_INFO = 1,
    LOG_LEVEL_WARN = 2,
    LOG_LEVEL_ERROR = 3,
};

/* Sets the minimum level written. */
void log_set_level(enum log_level level);

/* Parses "debug", "info", "warn" or "error". Returns 0, or -1 if unknown. */
int log_parse_level(const char *text, enum log_level *level);

/* Writes one line if level is enabled. fmt is printf-style; put key=value
 * fields after the message text, values with spaces quoted by the caller. */
void log_write(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_write(LOG_LEVEL_DEBUG, __VA_ARGS__)
#define log_info(...) log_write(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_warn(...) log_write(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_error(...) log_write(LOG_LEVEL_ERROR, __VA_ARGS__)

#endif
