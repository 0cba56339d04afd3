/* The license parameters: one table (params.def) that the key parser, the
 * authority's help, GET /license and the engine follow.  Pure data (core). */
#ifndef ALLOT_PARAMS_H
#define ALLOT_PARAMS_H

#include <stddef.h>
#include <stdint.h>

/* Longest duration a parameter may hold: 100 years, so now + value never
 * overflows anywhere. */
#define CORE_PARAM_SECONDS_MAX (100LL * 366 * 86400)

enum core_param {
#define PARAM(id, name, def, min, max, description) CORE_PARAM_##id,
#include "allot/params.def"
#undef PARAM
    CORE_PARAM_COUNT
};

struct core_param_def {
    const char *name; /* the JSON name, e.g. "offlineGraceSeconds" */
    int64_t def, min, max;
    const char *description;
};

extern const struct core_param_def core_params[CORE_PARAM_COUNT];

/* The parameter called `name` (its JSON name), or -1. */
int core_param_find(const char *name);

#endif
