/* Shapes of result shared by the resources' queries. */
#include <stdio.h>
#include <string.h>

#include "allot/store.h"

enum db_status db_one_json(struct db_pool *p, const struct db_stmt *q, int n,
                           const char *const *params, json_t **out)
{
    PGresult *r;
    *out = NULL;
    enum db_status s = db_query(p, q, n, params, &r);
    if (s != DB_OK)
        return s;
    if (PQntuples(r) == 0 || PQgetisnull(r, 0, 0))
        s = DB_NOT_FOUND;
    else if ((*out = api_row_json(r, 0)) == NULL)
        s = DB_ERROR;
    PQclear(r);
    return s;
}

enum db_status db_outcome_query(struct db_pool *p, const struct db_stmt *q, int n,
                                const char *const *params, struct db_outcome *out)
{
    PGresult *r;
    memset(out, 0, sizeof *out);
    enum db_status s = db_query(p, q, n, params, &r);
    if (s != DB_OK)
        return s;
    if (PQntuples(r) != 1) {
        PQclear(r);
        return DB_ERROR;
    }
    snprintf(out->status, sizeof out->status, "%s", PQgetvalue(r, 0, 0));
    if (!PQgetisnull(r, 0, 1)) {
        json_error_t err;
        out->body = json_loads(PQgetvalue(r, 0, 1), 0, &err);
    }
    PQclear(r);
    return DB_OK;
}

void db_page_args(const struct api_page *page, struct db_page_args *out)
{
    out->after_ts = page->has_after ? page->after_ts : NULL;
    out->after_id = page->has_after ? page->after_id : NULL;
    snprintf(out->limit, sizeof out->limit, "%d", page->limit + 1);
}
