/* Shapes of result shared by the resources' statements. */
#include <stdio.h>

#include "allot/store.h"

enum db_status db_one_row(struct db_pool *p, const struct db_stmt *q, int n,
                          const char *const *params, PGresult **out)
{
    enum db_status s = db_query(p, q, n, params, out);
    if (s == DB_OK && PQntuples(*out) == 0) {
        PQclear(*out);
        *out = NULL;
        s = DB_NOT_FOUND;
    }
    return s;
}

void db_page_args(const struct db_page *page, struct db_page_args *out)
{
    out->after_ts = page->has_after ? page->after_ts : NULL;
    out->after_id = page->has_after ? page->after_id : NULL;
    snprintf(out->limit, sizeof out->limit, "%d", page->limit + 1);
}
