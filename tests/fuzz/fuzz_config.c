/* Fuzz target: the configuration (src/base/config.c).  The input is an
 * environment, one NAME=VALUE per line; config_load must accept it or name
 * the variable it refuses, and never leak or read out of bounds.  Each value
 * also goes to the parsers of listen addresses and durations alone. */
#include "fuzz.h"

#include "allot/config.h"
#include "allot/core.h"

#define MAX_VARS 32

struct env {
    char *names[MAX_VARS];
    char *values[MAX_VARS];
    size_t n;
};

static const char *lookup(const char *name, void *ctx)
{
    const struct env *e = ctx;
    for (size_t i = 0; i < e->n; i++)
        if (strcmp(e->names[i], name) == 0)
            return e->values[i];
    return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_text(data, size);
    if (text == NULL)
        return 0;
    struct env e = {.n = 0};
    for (char *line = text; line != NULL && e.n < MAX_VARS;) {
        char *next = strchr(line, '\n');
        if (next != NULL)
            *next++ = '\0';
        char *eq = strchr(line, '=');
        if (eq != NULL) {
            *eq = '\0';
            e.names[e.n] = line;
            e.values[e.n] = eq + 1;
            e.n++;
        }
        line = next;
    }
    for (int need_db = 0; need_db < 2; need_db++) {
        struct config c;
        char err[512] = "";
        if (config_load(&c, lookup, &e, need_db != 0, err, sizeof err)) {
            FUZZ_ASSERT(c.listen_host != NULL && c.listen_port >= 1);
            FUZZ_ASSERT(c.threads >= 1 && c.max_connections >= 1);
            FUZZ_ASSERT(need_db == 0 || c.database_url != NULL);
        } else {
            /* One line naming the variable. */
            FUZZ_ASSERT(strncmp(err, "ALLOT_", 6) == 0);
            FUZZ_ASSERT(strchr(err, '\n') == NULL);
        }
        config_free(&c); /* what a refused load kept is the caller's to free */
    }
    for (size_t i = 0; i < e.n; i++) {
        char *host = NULL;
        uint16_t port;
        if (config_parse_listen(e.values[i], &host, &port))
            FUZZ_ASSERT(host != NULL && port >= 1);
        free(host);
        int64_t seconds;
        if (core_duration_parse(e.values[i], &seconds))
            FUZZ_ASSERT(seconds >= 0);
    }
    free(text);
    return 0;
}
