#ifndef ALLOT_SYNC_INTERNAL_H
#define ALLOT_SYNC_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* POSTs body to {base}/v1/licenses/{number}/sync with the bearer key; on a 200
 * *reply holds the body (free it).  false with why on any failure.  An https
 * backend's certificate must chain to ca_file (PEM; NULL: the system's CAs)
 * and name the URL's host. */
/* *retry_after (may be NULL) receives the seconds of a 429's Retry-After (at
 * least 1), else 0. */
bool sync_post(const char *base, const char *number, const char *bearer, const char *body,
               long timeout_s, const char *ca_file, char **reply, int64_t *retry_after,
               char *why, size_t whylen);

#endif
