/* JSON-lines logger on stderr, buffered.
 *
 * Lines are appended, whole, to one buffer under a lock; they reach stderr
 * in whole lines when the buffer passes FLUSH_BYTES, at once for a warning
 * or an error, every FLUSH_MS by a flusher thread, and at exit.  So the
 * access line of a request costs a memcpy, not a write, and no line is ever
 * dropped or cut: a writer that finds the buffer full writes it out first.
 * Writes are serialised by their own lock, taken before the buffers are
 * swapped, so lines reach stderr in the order they were logged. */
#include "allot/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "allot/buf.h"

#define FLUSH_BYTES (64 * 1024)
#define FLUSH_MS 50
#define LINE_MAX_BYTES 16384

static enum log_level min_level = LOG_INFO;

static pthread_mutex_t buffer_lock = PTHREAD_MUTEX_INITIALIZER; /* the active buffer */
static pthread_mutex_t write_lock = PTHREAD_MUTEX_INITIALIZER;  /* stderr itself */
static char *active, *spare;
static size_t active_len;
static pthread_once_t started = PTHREAD_ONCE_INIT;

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

static void write_all(const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(STDERR_FILENO, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return; /* stderr is gone: nothing else to tell it to */
        p += w;
        n -= (size_t)w;
    }
}

void log_flush(void)
{
    pthread_mutex_lock(&write_lock);
    pthread_mutex_lock(&buffer_lock);
    char *out = active;
    size_t n = active_len;
    active = spare;
    spare = out;
    active_len = 0;
    pthread_mutex_unlock(&buffer_lock);
    if (n > 0)
        write_all(out, n);
    pthread_mutex_unlock(&write_lock);
}

static void *flusher(void *arg)
{
    (void)arg;
    for (;;) {
        struct timespec ts = {.tv_sec = 0, .tv_nsec = FLUSH_MS * 1000000L};
        nanosleep(&ts, NULL);
        pthread_mutex_lock(&buffer_lock);
        bool pending = active_len > 0;
        pthread_mutex_unlock(&buffer_lock);
        if (pending)
            log_flush();
    }
    return NULL;
}

static void start(void)
{
    active = malloc(FLUSH_BYTES + LINE_MAX_BYTES);
    spare = malloc(FLUSH_BYTES + LINE_MAX_BYTES);
    if (active == NULL || spare == NULL)
        abort();
    atexit(log_flush);
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &attr, flusher, NULL) != 0)
        abort();
    pthread_attr_destroy(&attr);
}

/* Appends one whole line (with its newline). */
static void emit_line(const char *line, size_t n, bool urgent)
{
    pthread_once(&started, start);
    if (n > LINE_MAX_BYTES)
        n = LINE_MAX_BYTES; /* never happens: lines are built under this cap */
    pthread_mutex_lock(&buffer_lock);
    while (active_len + n > FLUSH_BYTES + LINE_MAX_BYTES) {
        pthread_mutex_unlock(&buffer_lock);
        log_flush();
        pthread_mutex_lock(&buffer_lock);
    }
    memcpy(active + active_len, line, n);
    active_len += n;
    bool full = active_len >= FLUSH_BYTES;
    pthread_mutex_unlock(&buffer_lock);
    if (urgent || full)
        log_flush();
}

/* "YYYY-MM-DDTHH:MM:SS.uuuuuuZ"; the date and time of a second are formatted
 * once per thread and second. */
static void format_now(char out[32])
{
    static _Thread_local time_t cached_s = -1;
    static _Thread_local char cached[24];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (ts.tv_sec != cached_s) {
        struct tm tm;
        gmtime_r(&ts.tv_sec, &tm);
        strftime(cached, sizeof cached, "%Y-%m-%dT%H:%M:%S", &tm);
        cached_s = ts.tv_sec;
    }
    snprintf(out, 32, "%.19s.%06dZ", cached, (int)(ts.tv_nsec / 1000) % 1000000);
}

static const char *base_name(const char *file)
{
    const char *base = strrchr(file, '/');
    return base ? base + 1 : file;
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

    char caller[128];
    snprintf(caller, sizeof caller, "%s:%d", base_name(file), line);
    char ts[32];
    format_now(ts);

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
    size_t n = strlen(text);
    if (n + 1 > LINE_MAX_BYTES) {
        /* Too long to be one line of the log: say so rather than cut it. */
        free(text);
        log_emit_steal(LOG_WARN, file, line, corr_id, NULL, "a log line of %zu bytes was left out",
                       n);
        return;
    }
    text[n] = '\n'; /* json_dumps' NUL becomes the newline */
    emit_line(text, n + 1, lvl >= LOG_WARN);
    free(text);
}

void log_access(const char *file, int line, const struct log_access *a)
{
    if (LOG_INFO < min_level)
        return;
    char ts[32];
    format_now(ts);
    char stack[2048];
    struct buf b;
    buf_init_on(&b, stack, sizeof stack, LINE_MAX_BYTES - 1);
    buf_printf(&b, "{\"timestamp\":\"%s\",\"level\":\"info\",\"caller\":\"%s:%d\"", ts,
               base_name(file), line);
    if (a->corr_id != NULL) {
        buf_lit(&b, ",\"corrId\":");
        buf_json_string(&b, a->corr_id, 128);
    }
    /* The message is "METHOD PATH STATUS", the request's own words escaped. */
    char status[16];
    snprintf(status, sizeof status, " %u", a->status);
    char msg_stack[1200];
    struct buf msg;
    buf_init_on(&msg, msg_stack, sizeof msg_stack, 2048);
    if (a->method != NULL) {
        buf_append(&msg, a->method, strnlen(a->method, 64));
        buf_lit(&msg, " ");
        buf_append(&msg, a->path ? a->path : "-", strnlen(a->path ? a->path : "-", 1024));
        buf_append(&msg, status, strlen(status));
        if (a->note != NULL) {
            buf_lit(&msg, ": connection closed: ");
            buf_append(&msg, a->note, strnlen(a->note, 256));
        }
    } else {
        buf_append(&msg, a->note ? a->note : "-", strnlen(a->note ? a->note : "-", 256));
    }
    buf_lit(&b, ",\"message\":");
    buf_json_string(&b, msg.data ? msg.data : "", msg.len);
    buf_free(&msg);
    buf_lit(&b, ",\"method\":");
    buf_json_string(&b, a->method ? a->method : "", 64);
    buf_lit(&b, ",\"path\":");
    buf_json_string(&b, a->path ? a->path : "", 1024);
    buf_printf(&b, ",\"status\":%u,\"ms\":%.3f", a->status, a->ms);
    if (a->error_type != NULL) {
        buf_printf(&b, ",\"errorType\":");
        buf_json_string(&b, a->error_type, 128);
        buf_printf(&b, ",\"statusCode\":%u", a->status);
    }
    if (a->terminated != 0)
        buf_printf(&b, ",\"terminated\":%d", a->terminated);
    buf_lit(&b, "}\n");
    if (!b.overflow)
        emit_line(b.data, b.len, false);
    buf_free(&b);
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
