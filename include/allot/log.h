/* Logging: one JSON object per line on stderr with timestamp, level, caller
 * (file:line), corrId and message, plus optional members.  Never pass a secret.
 * Lines are buffered (src/base/log.c): written in whole lines within a few
 * tens of milliseconds, at once for warnings and errors, and at exit. */
#ifndef ALLOT_LOG_H
#define ALLOT_LOG_H

#include <stdarg.h>

#include <jansson.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

void log_set_level(enum log_level min);
/* Parses "debug", "info", "warn", "error"; returns false on anything else. */
int log_level_parse(const char *text, enum log_level *out);

/* extra: members merged into the line (ownership taken; may be NULL). */
void log_emit_steal(enum log_level lvl, const char *file, int line, const char *corr_id,
                    json_t *extra, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* The access line of a request, built without allocating in the usual case
 * (the hot path of the log).  Strings may be NULL; method and path are the
 * client's bytes, escaped. */
struct log_access {
    const char *corr_id, *method, *path, *error_type;
    unsigned status;
    double ms;
    int terminated; /* libmicrohttpd's termination code when not completed */
    /* Why the connection was closed (with a method), or what happened when
     * there is no request to name (method NULL); NULL: nothing to add. */
    const char *note;
};
void log_access(const char *file, int line, const struct log_access *a);
#define log_access_line(a) log_access(__FILE__, __LINE__, a)

/* Writes what is buffered (lines reach stderr within a few tens of ms, at
 * once for warnings and errors, and at exit). */
void log_flush(void);

/* An external logger for libraries that log through printf formats (as
 * libmicrohttpd's MHD_OPTION_EXTERNAL_LOGGER): one warn line with "source". */
void log_external(void *source_name, const char *fmt, va_list ap);

#define log_debug(corr, ...) log_emit_steal(LOG_DEBUG, __FILE__, __LINE__, corr, NULL, __VA_ARGS__)
#define log_info(corr, ...) log_emit_steal(LOG_INFO, __FILE__, __LINE__, corr, NULL, __VA_ARGS__)
#define log_warn(corr, ...) log_emit_steal(LOG_WARN, __FILE__, __LINE__, corr, NULL, __VA_ARGS__)
#define log_error(corr, ...) log_emit_steal(LOG_ERROR, __FILE__, __LINE__, corr, NULL, __VA_ARGS__)
#define log_with(lvl, corr, extra, ...) log_emit_steal(lvl, __FILE__, __LINE__, corr, extra, __VA_ARGS__)

#endif
