#include "allot/errors.h"

#include <stddef.h>

static const struct http_error_info registry[] = {
#define ERR(name, status, type, message) [HTTP_ERR_##name] = {status, type, message},
#include "allot/errors.def"
#undef ERR
};

const struct http_error_info *http_error_get(enum http_error e)
{
    if ((size_t)e >= sizeof registry / sizeof registry[0])
        e = HTTP_ERR_INTERNAL;
    return &registry[e];
}
