/* The license parameters, from params.def. */
#include "allot/params.h"

#include <string.h>

const struct core_param_def core_params[CORE_PARAM_COUNT] = {
#define PARAM(id, name, def, min, max, description) \
    [CORE_PARAM_##id] = {name, def, min, max, description},
#include "allot/params.def"
#undef PARAM
};

int core_param_find(const char *name)
{
    for (int i = 0; name != NULL && i < CORE_PARAM_COUNT; i++)
        if (strcmp(core_params[i].name, name) == 0)
            return i;
    return -1;
}
