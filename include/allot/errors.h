/* Error registry: one enum generated from allot/errors.def. */
#ifndef ALLOT_ERRORS_H
#define ALLOT_ERRORS_H

enum http_error {
#define ERR(name, status, type, message) HTTP_ERR_##name,
#include "allot/errors.def"
#undef ERR
    HTTP_ERR_COUNT_
};

struct http_error_info {
    unsigned status;
    const char *type;
    const char *message;
};

/* The registry entry of an error; never NULL for a valid enum value. */
const struct http_error_info *http_error_get(enum http_error e);

#endif
