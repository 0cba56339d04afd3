/* The queries of each resource (src/db/<resource>.c).  Each returns a
 * db_status; representations come back as JSON built by the database. */
#ifndef ALLOT_STORE_H
#define ALLOT_STORE_H

#include <jansson.h>

#include "allot/api.h"
#include "allot/db.h"

struct user_filter {
    const char *user_directory, *user_id, *group;
};

enum db_status db_user_create(struct db_pool *p, const char *directory, const char *user_id,
                              const char *name, const char *groups_json, json_t **out);
enum db_status db_user_get(struct db_pool *p, const char *id, json_t **out);
enum db_status db_user_list(struct db_pool *p, const struct user_filter *f,
                            const struct api_page *page, PGresult **out);
/* name or groups_json may be NULL (unchanged). */
enum db_status db_user_update(struct db_pool *p, const char *id, const char *name,
                              const char *groups_json, json_t **out);
enum db_status db_user_delete(struct db_pool *p, const char *id);

enum db_status db_apikey_create(struct db_pool *p, const char *name, const char *role,
                                const char *lookup, const char *hash_hex, json_t **out);
enum db_status db_apikey_list(struct db_pool *p, const struct api_page *page, PGresult **out);
enum db_status db_apikey_delete(struct db_pool *p, const char *id);
/* Finds a key by lookup and marks it used; out: id, role, hash (hex). */
enum db_status db_apikey_find(struct db_pool *p, const char *lookup, char id[40], char role[16],
                              char hash_hex[65]);

enum db_status db_apikey_ensure_admin(struct db_pool *p, const char *lookup, const char *hash_hex);

#endif
