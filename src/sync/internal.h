#ifndef ALLOT_SYNC_INTERNAL_H
#define ALLOT_SYNC_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

/* POSTs body to {base}/v1/licenses/{number}/sync with the bearer key; on a 200
 * *reply holds the body (free it).  false with why on any failure. */
bool sync_post(const char *base, const char *number, const char *bearer, const char *body,
               long timeout_s, char **reply, char *why, size_t whylen);

#endif
