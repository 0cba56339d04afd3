/* Harness of the db and api suites: a fresh database per test program, the
 * real allotd binary started on a free port, HTTP through libcurl, and SQL to
 * check the state a request left behind.
 *
 * Environment (scripts/test sets it): ALLOT_TEST_PG (admin URL of a test
 * PostgreSQL), ALLOT_TEST_REQUIRE_DB=1 (fail instead of skip without it),
 * ALLOTD (path of the binary, set by meson). */
#ifndef ALLOT_THARNESS_H
#define ALLOT_THARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <jansson.h>

#include "ttest.h"

/* A database made for this test program and dropped by th_db_drop. */
struct th_db {
    char name[64];
    char url[512];
};
/* Skips (77) or fails (1, when ALLOT_TEST_REQUIRE_DB=1) if there is no server. */
void th_db_create(struct th_db *db);
void th_db_drop(struct th_db *db);
/* Runs SQL on the database; returns the first column of the first row as a
 * malloc'd string ("" for no row, NULL on error). */
char *th_sql(const char *url, const char *sql);
long th_sql_long(const char *url, const char *sql);
/* th_sql_long of SQL made from a printf format. */
long th_sql_longf(const char *url, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Runs SQL made from a printf format (up to 4 KiB); false (and a TAP
 * diagnostic naming the statement) when it failed. */
bool th_execf(const char *url, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Polls SQL made from a printf format (every 50 ms) until its first column
 * is want, for at most deadline_s seconds: for a state a background job
 * (the reaper, a sync) brings about.  True when it got there. */
bool th_wait_sql(const char *url, long want, double deadline_s, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* A running allotd. */
struct th_server {
    pid_t pid;
    int port;
    char base[64];      /* http://127.0.0.1:PORT, or https:// when ca is set */
    char log_path[256]; /* its stderr */
    char ca[256];       /* "": plain HTTP; else the PEM CA its certificate chains to */
};
#define TH_ADMIN_KEY "allot_test_admin_key_0123456789"

/* Runs `allotd migrate` on url; returns its exit status. */
int th_migrate(const char *url);
/* Starts allotd on a free port with ALLOT_DATABASE_URL=url, ALLOT_ADMIN_KEY,
 * and the extra "NAME=VALUE" strings (NULL-terminated, may be NULL); waits
 * until /health answers (and /ready, when wait_ready). */
bool th_server_start(struct th_server *s, const char *url, const char *const *env,
                     bool wait_ready);
/* th_server_start for an allotd serving HTTPS (env sets ALLOT_TLS_CERT and
 * ALLOT_TLS_KEY): requests go to https://127.0.0.1:PORT and its certificate
 * must chain to ca_path. */
bool th_server_start_tls(struct th_server *s, const char *url, const char *const *env,
                         bool wait_ready, const char *ca_path);
/* A fresh database, migrated, with allotd serving on it (env as for
 * th_server_start); on failure prints "Bail out!", cleans up and exits 1. */
void th_setup(struct th_db *db, struct th_server *srv, const char *const *env);
/* SIGTERM and wait; returns the exit status (0 expected), -1 if it had to be killed. */
int th_server_stop(struct th_server *s);
/* True when the server log contains text.  The log is buffered (lines reach
 * it within tens of milliseconds): th_log_wait waits for a line to come. */
bool th_log_contains(const struct th_server *s, const char *text);
bool th_log_wait(const struct th_server *s, const char *text, int timeout_ms);
int th_free_port(void);

/* One HTTP exchange. */
struct th_resp {
    long status;
    json_t *json;       /* parsed body, or NULL */
    char *body;         /* raw body */
    size_t body_len;
    char corr_id[128];
    char location[256];
    char allow[128];
    char retry_after[32];
    char content_type[128];
    char headers[4096];  /* every header line received, as received (capped) */
    char cache_control[64];
};
/* key NULL = no Authorization; body NULL = none (Content-Type JSON when given). */
bool th_req(const struct th_server *s, const char *method, const char *path, const char *key,
            const char *body, struct th_resp *out);
/* Full control: extra headers (NULL-terminated "Name: value" list). */
bool th_req_full(const struct th_server *s, const char *method, const char *path,
                 const char *const *headers, const char *body, size_t body_len,
                 struct th_resp *out);
void th_resp_free(struct th_resp *r);
/* The value of header name (case-insensitive) into out; false when absent. */
bool th_header(const struct th_resp *r, const char *name, char *out, size_t len);
/* errorType of the reply, or "" */
const char *th_error_type(const struct th_resp *r);
/* A member of the reply's JSON object as a string, or "". */
const char *th_str(const struct th_resp *r, const char *member);

/* Checks status and errorType in one line. */
#define T_STATUS(resp, code) T_EQ_INT((resp).status, code)
#define T_ERROR(resp, code, type) \
    do { T_EQ_INT((resp).status, code); T_EQ_STR(th_error_type(&(resp)), type); } while (0)

/* ---- helpers of the migrate, outage, schema and shutdown tests ---------- */
/* Runs `allotd ARG` (arg NULL: no argument) with env changes ("NAME=VALUE"
 * sets, "NAME" alone unsets; NULL-terminated list, may be NULL); stdout and
 * stderr go to the files given (NULL: /dev/null).  Killed after timeout_s.
 * Returns the exit status, -1 when killed (by a signal or the timeout). */
int th_allotd_run(const char *arg, const char *const *env, const char *out_path,
                  const char *err_path, int timeout_s);
/* th_allotd_run with several arguments (NULL-terminated, at most 14). */
int th_allotd_runv(const char *const *args, const char *const *env, const char *out_path,
                   const char *err_path, int timeout_s);
/* The whole file as a malloc'd string, or NULL when it cannot be read. */
char *th_file_text(const char *path);

#endif
