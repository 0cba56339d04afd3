/* What the two SCIM resources (scim.c: users, scim_groups.c: groups) share:
 * the directory, SCIM's error and reply shapes, the lists' page and filter. */
#ifndef ALLOT_API_SCIM_HTTP_H
#define ALLOT_API_SCIM_HTTP_H

#include "allot/http.h"
#include "allot/scim.h"
#include "allot/scim_filter.h"
#include "allot/store.h"

#define TEXT_MAX 255

struct page {
    long start; /* SCIM's startIndex, from 1 */
    long count;
};

const char *scim_directory(struct http_request *r);
/* A refusal in SCIM's shape, with scimType when given. */
void scim_fail(struct http_request *r, enum http_error e, const char *scim_type,
               const char *detail);
void scim_reply_fault(struct http_request *r, const struct scim_fault *f);
/* The resource in column 1 of a decision (status on success), or its refusal. */
void scim_reply_decision(struct http_request *r, enum db_status s, PGresult *res,
                         unsigned status, const char *kind);
/* 204, or the decision's refusal. */
void scim_reply_empty_decision(struct http_request *r, enum db_status s, PGresult *res);
/* A text attribute: absent or null (NULL), or a string of 1..TEXT_MAX characters. */
bool scim_text_attr(const json_t *res, const char *name, bool required, const char **out,
                    struct scim_fault *f);
/* The page and filter (of the attributes a list allows); false when the reply
 * is made (a bad page or filter, or one that matches nothing). */
bool scim_list_begin(struct http_request *r, unsigned allowed, struct page *p,
                     struct scim_filter *f);
void scim_list_end(struct http_request *r, enum db_status s, PGresult *res,
                   const struct page *p, const char *kind);

#endif
