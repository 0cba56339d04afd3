/* Helpers shared by the files of src/license; not part of the public API. */
#ifndef ALLOT_LICENSE_INTERNAL_H
#define ALLOT_LICENSE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "allot/core.h"

/* Writes a formatted reason into why (if why != NULL && whylen > 0). */
void lic_whyf(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* base64url without padding.  The encoder returns a malloc'd NUL-terminated
 * string (NULL on allocation failure).  The decoder is strict: only the
 * base64url alphabet, no '=', no whitespace, length % 4 != 1, and the unused
 * trailing bits must be zero (one text per byte string).  It returns a malloc'd
 * buffer (with an extra NUL byte after *outlen bytes) or NULL. */

#endif
