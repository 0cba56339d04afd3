/* The runner of the table-driven rule tests (trules.h). */
#include "trules.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tharness.h"

#define SQL_MAX 8192

static void bail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static struct th_db db;
static bool db_made;

static void bail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("Bail out! ");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    if (db_made)
        th_db_drop(&db);
    exit(1);
}

/* Prints text as TAP comments, each line indented. */
static void diag(const char *label, const char *text)
{
    const char *p = text;
    printf("#   %s", label);
    while (*p != '\0') {
        size_t n = strcspn(p, "\n");
        printf("%.*s\n", (int)n, p);
        p += n + (p[n] == '\n');
        if (*p != '\0')
            printf("#       ");
    }
    if (*text == '\0')
        printf("\n");
}

/* Runs sql; true when it succeeded.  *out (when given): the first column of
 * the first row, malloc'd ("" for NULL or no row).  On failure *err gets the
 * server's message (static until the next call). */
static bool run(PGconn *pg, const char *sql, char **out, const char **err)
{
    static char message[1024];
    PGresult *r = PQexec(pg, sql);
    ExecStatusType st = PQresultStatus(r);
    bool ok = st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK;
    if (ok && out != NULL)
        *out = strdup(st == PGRES_TUPLES_OK && PQntuples(r) > 0 && !PQgetisnull(r, 0, 0)
                          ? PQgetvalue(r, 0, 0)
                          : "");
    if (!ok) {
        snprintf(message, sizeof message, "%s", PQerrorMessage(pg));
        message[strcspn(message, "\n")] = '\0';
        if (err != NULL)
            *err = message;
    }
    PQclear(r);
    return ok;
}

static void fail_case(void)
{
    t_state.current_failed = true;
}

/* Evaluates one expression of a case and compares t.show of it with want. */
static bool check(PGconn *pg, const char *what, int index, const struct tr_step *s)
{
    char sql[SQL_MAX];
    const char *err = NULL;
    if (s->want == NULL) { /* a statement: it must succeed */
        if (!run(pg, s->sql, NULL, &err)) {
            printf("# %s %d failed: %s\n", what, index + 1, err);
            diag("in: ", s->sql);
            fail_case();
            return false;
        }
        return true;
    }
    int n = snprintf(sql, sizeof sql, "SELECT t.show((%s))", s->sql);
    if (n < 0 || (size_t)n >= sizeof sql)
        bail("an expression of %zu bytes is too long", strlen(s->sql));
    char *got = NULL;
    if (!run(pg, sql, &got, &err)) {
        printf("# %s %d failed: %s\n", what, index + 1, err);
        diag("in: ", s->sql);
        fail_case();
        return false;
    }
    if (strcmp(got, s->want) != 0) {
        printf("# %s %d:\n", what, index + 1);
        diag("    ", s->sql);
        diag("got:  ", got);
        diag("want: ", s->want);
        fail_case();
    }
    free(got);
    return true;
}

static void run_case(PGconn *pg, const struct tr_case *c)
{
    const char *err = NULL;
    char *text = NULL;
    if (!run(pg, "BEGIN", NULL, &err))
        bail("BEGIN: %s", err);
    /* A case starts from empty tables: none sees another's rows. */
    if (!run(pg, "SELECT t.clean()", &text, &err))
        bail("t.clean(): %s", err);
    if (text[0] != '\0') {
        printf("# the case does not start from empty tables: %s\n", text);
        fail_case();
    }
    free(text);

    bool ok = true;
    if (c->license != NULL) {
        char sql[SQL_MAX];
        snprintf(sql, sizeof sql, "SELECT t.license(%s)", c->license);
        if (!run(pg, sql, &text, &err)) {
            printf("# license failed: %s\n", err);
            ok = false;
        } else {
            if (strcmp(text, "ok") != 0) {
                printf("# license answered %s\n", text);
                ok = false;
            }
            free(text);
        }
    }
    if (ok && c->setup != NULL && !run(pg, c->setup, NULL, &err)) {
        printf("# setup failed: %s\n", err);
        ok = false;
    }
    for (int i = 0; ok && i < TR_STEPS && c->steps[i].sql != NULL; i++)
        ok = check(pg, "step", i, &c->steps[i]);
    for (int i = 0; ok && i < TR_AFTER && c->after[i].sql != NULL; i++)
        ok = check(pg, "after: state", i, &c->after[i]);
    /* Whatever happened, the engine's counters equal real counts. */
    if (ok && run(pg, "SELECT t.counters()", &text, &err)) {
        if (text[0] != '\0') {
            printf("# counters differ from real counts: %s\n", text);
            fail_case();
        }
        free(text);
    } else if (ok) {
        printf("# t.counters() failed: %s\n", err);
        ok = false;
    }
    if (!ok)
        fail_case();
    if (!run(pg, "ROLLBACK", NULL, &err))
        bail("ROLLBACK: %s", err);
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 16384;
            char *grown = realloc(buf, cap);
            if (grown == NULL) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = grown;
        }
        size_t n = fread(buf + len, 1, 4096, f);
        len += n;
        if (n == 0)
            break;
    }
    fclose(f);
    buf[len] = '\0';
    return buf;
}

PGconn *tr_open(struct th_db *made)
{
    th_db_create(&db);
    db_made = true;
    if (th_migrate(db.url) != 0)
        bail("allotd migrate failed on %s", db.name);
    const char *root = getenv("ALLOT_SOURCE_ROOT");
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/db/rules_fixture.sql", root ? root : ".");
    char *fixture = read_file(path);
    if (fixture == NULL)
        bail("cannot read %s (ALLOT_SOURCE_ROOT)", path);
    PGconn *pg = PQconnectdb(db.url);
    if (PQstatus(pg) != CONNECTION_OK)
        bail("cannot connect: %s", PQerrorMessage(pg));
    const char *err = NULL;
    if (!run(pg, "SET client_min_messages = warning", NULL, &err) ||
        !run(pg, fixture, NULL, &err))
        bail("loading %s: %s", path, err);
    free(fixture);
    if (made != NULL)
        *made = db;
    return pg;
}

void tr_close(PGconn *pg)
{
    PQfinish(pg);
    th_db_drop(&db);
    db_made = false;
}

char *tr_value(PGconn *pg, const char *sql)
{
    char *out = NULL;
    const char *err = NULL;
    if (!run(pg, sql, &out, &err)) {
        printf("# SQL failed: %s\n", err);
        diag("in: ", sql);
        return NULL;
    }
    return out;
}

int tr_main(const struct tr_case *cases, size_t n)
{
    PGconn *pg = tr_open(NULL);
    const char *only = getenv("TR_CASE");
    for (size_t i = 0; i < n; i++) {
        if (only != NULL && strstr(cases[i].name, only) == NULL)
            continue;
        t_state.current_failed = false;
        run_case(pg, &cases[i]);
        t_state.run++;
        if (t_state.current_failed)
            t_state.failed_tests++;
        printf("%s %d - %s\n", t_state.current_failed ? "not ok" : "ok", t_state.run,
               cases[i].name);
        fflush(stdout);
    }
    tr_close(pg);
    return t_done();
}
