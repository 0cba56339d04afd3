/* allotd export-events: the audit trail as JSON Lines, one event a line, in
 * the shape GET /sessions/events shows it, oldest first.  Read through a
 * database cursor a page at a time (src/db/sessions.c), so memory stays that
 * of a page whatever the number of events; one snapshot, so an export that
 * runs while sessions start is the trail as it was when it began. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "allot/api.h"
#include "allot/store.h"

struct sink {
    FILE *out;
    long long lines;
    int error; /* errno of a failed write, or 0 */
};

static bool write_page(const PGresult *page, void *arg)
{
    struct sink *k = arg;
    for (int i = 0; i < PQntuples(page); i++) {
        json_t *o = api_row_object(page, i, 1, &api_event_shape);
        int rc = o != NULL ? json_dumpf(o, k->out, JSON_COMPACT) : -1;
        json_decref(o);
        if (rc != 0 || fputc('\n', k->out) == EOF) {
            k->error = errno != 0 ? errno : EIO;
            return false;
        }
        k->lines++;
    }
    if (fflush(k->out) != 0) {
        k->error = errno != 0 ? errno : EIO;
        return false;
    }
    return true;
}

int api_export_events(struct db_pool *p, const char *from, const char *to, FILE *out,
                      long long *lines, char *err, size_t errlen)
{
    struct sink k = {out, 0, 0};
    errno = 0;
    enum db_status s = db_events_export(p, from, to, write_page, &k);
    *lines = k.lines;
    if (k.error != 0) {
        snprintf(err, errlen, "cannot write the events: %s", strerror(k.error));
        return 1;
    }
    if (s != DB_OK) {
        snprintf(err, errlen, "%s", s == DB_UNAVAILABLE
                                        ? "cannot reach the database (ALLOT_DATABASE_URL)"
                                        : "reading the audit trail failed");
        return 1;
    }
    return 0;
}
