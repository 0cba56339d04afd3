/* JSON-lines logger.  One fputs per line under a lock so lines never interleave. */
#include "allot/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static enum log_level min_level = LOG_INFO;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

void log_set_level(enum log_level min)
{
    min_level = min;
}

int log_level_parse(const char *text, enum log_level *out)
{
    static const char *const names[] = {"debug", "info", "warn", "error"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(text, names[i]) == 0) {
            *out = (enum log_level)i;
            return 1;
        }
    }
    return 0;
}

static const char *level_name(enum log_level lvl)
{
    switch (lvl) {
    case LOG_DEBUG: return "debug";
    case LOG_INFO: return "info";
    case LOG_WARN: return "warn";
    case LOG_ERROR: return "error";
    }
    return "info";
}

static void format_now(char *buf, size_t len)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    char base[32];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, len, "%.19s.%06dZ", base, (int)(ts.tv_nsec / 1000) % 1000000);
}

void log_emit_steal(enum log_level lvl, const char *file, int line, const char *corr_id,
                    json_t *extra, const char *fmt, ...)
{
    if (lvl < min_level) {
        json_decref(extra);
        return;
    }
    char message[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);

    const char *base = strrchr(file, '/');
    base = base ? base + 1 : file;
    char caller[128];
    snprintf(caller, sizeof caller, "%s:%d", base, line);
    char ts[48];
    format_now(ts, sizeof ts);

    json_t *obj = json_object();
    json_object_set_new(obj, "timestamp", json_string(ts));
    json_object_set_new(obj, "level", json_string(level_name(lvl)));
    json_object_set_new(obj, "caller", json_string(caller));
    if (corr_id != NULL)
        json_object_set_new(obj, "corrId", json_string(corr_id));
    /* A message is free text; jansson refuses invalid UTF-8, so keep the line. */
    json_t *msg = json_string(message);
    json_object_set_new(obj, "message", msg ? msg : json_string("(message not UTF-8)"));
    if (extra != NULL) {
        json_object_update_missing(obj, extra);
        json_decref(extra);
    }
    char *text = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
    json_decref(obj);
    if (text == NULL)
        return;
    pthread_mutex_lock(&log_lock);
    fputs(text, stderr);
    fputc('\n', stderr);
    fflush(stderr);
    pthread_mutex_unlock(&log_lock);
    free(text);
}

void log_external(void *source_name, const char *fmt, va_list ap)
{
    char line[512];
    vsnprintf(line, sizeof line, fmt, ap);
    size_t n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    log_with(LOG_WARN, NULL, json_pack("{s:s}", "source", (const char *)source_name), "%s", line);
}
