/* Unit tests of src/base/config.c: the table of ALLOT_ variables that parses,
 * validates and documents allotd's configuration (API.md, "Configuration").
 * Values come from a table through config_load's lookup, never from getenv. */
#include "allot/config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ttest.h"

/* NULL-terminated list of NAME, VALUE pairs. */
struct kv {
    const char *name;
    const char *value;
};

static const char *table_lookup(const char *name, void *ctx)
{
    for (const struct kv *e = ctx; e != NULL && e->name != NULL; e++)
        if (strcmp(e->name, name) == 0)
            return e->value;
    return NULL;
}

/* Loads from a table with one variable set (name NULL: none). */
static bool load_one(struct config *c, const char *name, const char *value, bool need_db,
                     char *err, size_t errlen)
{
    struct kv env[] = {{name, value}, {NULL, NULL}};
    err[0] = '\0';
    return config_load(c, table_lookup, env, need_db, err, errlen);
}

static void test_defaults(void)
{
    struct config c;
    char err[512];
    T_REQUIRE(load_one(&c, NULL, NULL, false, err, sizeof err));
    T_EQ_STR(c.listen_host, "127.0.0.1");
    T_EQ_INT(c.listen_port, 8080);
    T_EQ_INT(c.sync_interval, 600);
    T_EQ_INT(c.session_idle_timeout, 1800);
    T_CHECK(c.threads >= 1);
    T_CHECK(c.db_pool_size >= 1);
    T_CHECK(c.db_acquire_timeout_ms >= 1);
    T_CHECK(c.db_connect_timeout >= 1);
    T_CHECK(c.shutdown_timeout >= 1);
    T_EQ_STR(c.log_level, "info");
    T_CHECK(c.database_url == NULL);
    T_CHECK(c.admin_key == NULL);
    T_CHECK(c.authority_url == NULL); /* none: offline */
    T_CHECK(c.authority_public_key == NULL);
    /* What one client may hold (issue 11). */
    T_EQ_INT(c.max_connections_per_address, 128);
    T_EQ_INT(c.header_timeout, 10);
    T_EQ_INT(c.body_timeout, 30);
    T_EQ_INT(c.body_memory_mb, 64);
    config_free(&c);
}

static void test_values_taken(void)
{
    struct kv env[] = {
        {"ALLOT_DATABASE_URL", "postgresql://allot@127.0.0.1:5432/allot"},
        {"ALLOT_LISTEN", "0.0.0.0:9000"},
        {"ALLOT_ADMIN_KEY", "0123456789abcdef"},
        {"ALLOT_AUTHORITY_URL", "https://licenses.example.com"},
        {"ALLOT_AUTHORITY_PUBLIC_KEY", "/etc/allot/authority.pub"},
        {"ALLOT_SYNC_INTERVAL", "1h"},
        {"ALLOT_SESSION_IDLE_TIMEOUT", "90s"},
        {"ALLOT_THREADS", "3"},
        {"ALLOT_LOG_LEVEL", "debug"},
        {NULL, NULL},
    };
    struct config c;
    char err[512] = "";
    T_REQUIRE(config_load(&c, table_lookup, env, true, err, sizeof err));
    T_EQ_STR(c.database_url, "postgresql://allot@127.0.0.1:5432/allot");
    T_EQ_STR(c.listen_host, "0.0.0.0");
    T_EQ_INT(c.listen_port, 9000);
    T_EQ_STR(c.admin_key, "0123456789abcdef");
    T_EQ_STR(c.authority_url, "https://licenses.example.com");
    T_EQ_STR(c.authority_public_key, "/etc/allot/authority.pub");
    T_EQ_INT(c.sync_interval, 3600);
    T_EQ_INT(c.session_idle_timeout, 90);
    T_EQ_INT(c.threads, 3);
    T_EQ_STR(c.log_level, "debug");
    config_free(&c);
}

static void test_durations(void)
{
    static const struct {
        const char *text;
        int64_t seconds;
    } cases[] = {{"90s", 90}, {"10m", 600}, {"1h", 3600}, {"5d", 432000}, {"45", 45}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct config c;
        char err[512];
        bool ok = load_one(&c, "ALLOT_SYNC_INTERVAL", cases[i].text, false, err, sizeof err);
        if (!ok)
            printf("#   \"%s\": %s\n", cases[i].text, err);
        T_CHECK(ok);
        if (ok)
            T_EQ_INT(c.sync_interval, cases[i].seconds);
        config_free(&c);
        ok = load_one(&c, "ALLOT_SESSION_IDLE_TIMEOUT", cases[i].text, false, err, sizeof err);
        T_CHECK(ok);
        if (ok)
            T_EQ_INT(c.session_idle_timeout, cases[i].seconds);
        config_free(&c);
    }
}

static void test_listen_ipv6(void)
{
    struct config c;
    char err[512];
    T_REQUIRE(load_one(&c, "ALLOT_LISTEN", "[::1]:8080", false, err, sizeof err));
    T_EQ_STR(c.listen_host, "::1");
    T_EQ_INT(c.listen_port, 8080);
    config_free(&c);
    T_REQUIRE(load_one(&c, "ALLOT_LISTEN", "[::]:65535", false, err, sizeof err));
    T_EQ_STR(c.listen_host, "::");
    T_EQ_INT(c.listen_port, 65535);
    config_free(&c);
    T_REQUIRE(load_one(&c, "ALLOT_LISTEN", "localhost:1", false, err, sizeof err));
    T_EQ_STR(c.listen_host, "localhost");
    T_EQ_INT(c.listen_port, 1);
    config_free(&c);
}

/* Every bad value stops with one line (no newline) that starts by naming the
 * variable, so an operator knows which one to fix. */
static void test_bad_values_name_the_variable(void)
{
    static const struct kv bad[] = {
        {"ALLOT_LISTEN", "8080"},
        {"ALLOT_LISTEN", "host:0"},
        {"ALLOT_LISTEN", "host:70000"},
        {"ALLOT_LISTEN", "host:"},
        {"ALLOT_LISTEN", ":8080"},
        {"ALLOT_LISTEN", "host:80x"},
        {"ALLOT_LISTEN", "host:-1"},
        {"ALLOT_LISTEN", "::1:8080"},
        {"ALLOT_LISTEN", "[::1]8080"},
        {"ALLOT_LISTEN", "[::1"},
        {"ALLOT_SYNC_INTERVAL", "10x"},
        {"ALLOT_SYNC_INTERVAL", "-1m"},
        {"ALLOT_SYNC_INTERVAL", "0"},
        {"ALLOT_SYNC_INTERVAL", "0s"},
        {"ALLOT_SYNC_WAIT", "0x"},
        {"ALLOT_SYNC_WAIT", "0ss"},
        {"ALLOT_SYNC_WAIT", "-0"},
        {"ALLOT_SYNC_INTERVAL", "1.5m"},
        {"ALLOT_SYNC_INTERVAL", "10m "},
        {"ALLOT_SYNC_INTERVAL", "m"},
        {"ALLOT_SESSION_IDLE_TIMEOUT", "forever"},
        {"ALLOT_THREADS", "0"},
        {"ALLOT_THREADS", "abc"},
        {"ALLOT_THREADS", "-4"},
        {"ALLOT_THREADS", "4 "},
        {"ALLOT_THREADS", "99999999999999999999"},
        {"ALLOT_DB_POOL_SIZE", "0"},
        {"ALLOT_DB_ACQUIRE_TIMEOUT_MS", "soon"},
        {"ALLOT_ADMIN_KEY", "short"},
        {"ALLOT_ADMIN_KEY", "0123456789abcde"}, /* 15 characters */
        {"ALLOT_LOG_LEVEL", "loud"},
        {"ALLOT_LOG_LEVEL", "INFO"},
        {"ALLOT_AUTHORITY_URL", "ftp://x"},
        {"ALLOT_AUTHORITY_URL", "licenses.example.com"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct config c;
        char err[512];
        bool ok = load_one(&c, bad[i].name, bad[i].value, false, err, sizeof err);
        config_free(&c);
        if (ok) {
            printf("#   %s=\"%s\" was accepted\n", bad[i].name, bad[i].value);
            T_CHECK(!ok);
            continue;
        }
        size_t n = strlen(bad[i].name);
        bool named = strncmp(err, bad[i].name, n) == 0 && err[n] == ':';
        if (!named || strchr(err, '\n') != NULL)
            printf("#   %s=\"%s\": \"%s\"\n", bad[i].name, bad[i].value, err);
        T_CHECK(named);
        T_CHECK(strchr(err, '\n') == NULL);
        T_CHECK(strlen(err) > n + 2); /* says what is wrong, not only the name */
    }
}

static void test_secret_not_echoed(void)
{
    struct config c;
    char err[512];
    T_CHECK(!load_one(&c, "ALLOT_ADMIN_KEY", "hunter2secret", false, err, sizeof err));
    T_CHECK(strstr(err, "hunter2secret") == NULL);
    config_free(&c);
}

static void test_database_url(void)
{
    struct config c;
    char err[512];
    /* Missing when needed: one line naming it. */
    T_CHECK(!load_one(&c, NULL, NULL, true, err, sizeof err));
    T_CHECK(strncmp(err, "ALLOT_DATABASE_URL:", 19) == 0);
    T_CHECK(strchr(err, '\n') == NULL);
    config_free(&c);
    /* Empty counts as missing. */
    T_CHECK(!load_one(&c, "ALLOT_DATABASE_URL", "", true, err, sizeof err));
    T_CHECK(strncmp(err, "ALLOT_DATABASE_URL:", 19) == 0);
    config_free(&c);
    /* Not needed (allotd --help, healthcheck): fine without it. */
    T_CHECK(load_one(&c, NULL, NULL, false, err, sizeof err));
    config_free(&c);
    T_CHECK(load_one(&c, "ALLOT_DATABASE_URL", "dbname=allot host=/tmp", true, err, sizeof err));
    T_EQ_STR(c.database_url, "dbname=allot host=/tmp");
    config_free(&c);
}

static void test_bounds_accepted(void)
{
    static const struct kv good[] = {
        {"ALLOT_THREADS", "1"},
        {"ALLOT_ADMIN_KEY", "0123456789abcdef"},
        {"ALLOT_AUTHORITY_URL", "http://127.0.0.1:9000"},
        {"ALLOT_LOG_LEVEL", "error"},
        {"ALLOT_LOG_LEVEL", "warn"},
        {"ALLOT_LISTEN", "127.0.0.1:65535"},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        struct config c;
        char err[512];
        bool ok = load_one(&c, good[i].name, good[i].value, false, err, sizeof err);
        if (!ok)
            printf("#   %s=\"%s\": %s\n", good[i].name, good[i].value, err);
        T_CHECK(ok);
        config_free(&c);
    }
}

/* ALLOT_CONSOLE_DIR: where `meson install` puts the console by default, any
 * directory when given. */
static void test_console_dir(void)
{
    struct config c;
    char err[512];
    T_REQUIRE(load_one(&c, NULL, NULL, false, err, sizeof err));
    T_REQUIRE(c.console_dir != NULL);
    T_CHECK(c.console_dir[0] == '/');
    T_CHECK(strstr(c.console_dir, "allot/console") != NULL);
    config_free(&c);
    T_REQUIRE(load_one(&c, "ALLOT_CONSOLE_DIR", "/srv/allot/console", false, err, sizeof err));
    T_EQ_STR(c.console_dir, "/srv/allot/console");
    config_free(&c);
    /* --help lists it: test_help_lists_api_md_variables. */
}

/* What allotd --help prints of the table (malloc'd), or NULL. */
static char *help_text(void)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (f == NULL)
        return NULL;
    config_print_help(f);
    fclose(f);
    return text;
}

/* API.md's configuration table: every variable it names is documented by
 * allotd --help (which prints config_print_help). */
static void test_help_lists_api_md_variables(void)
{
    static const char *const names[] = {
        "ALLOT_DATABASE_URL", "ALLOT_LISTEN", "ALLOT_ADMIN_KEY", "ALLOT_AUTHORITY_URL",
        "ALLOT_AUTHORITY_PUBLIC_KEY", "ALLOT_SYNC_INTERVAL", "ALLOT_SESSION_IDLE_TIMEOUT",
        "ALLOT_CONSOLE_DIR", /* README's table */
        "ALLOT_TLS_CERT", "ALLOT_TLS_KEY", "ALLOT_AUTHORITY_CA",
    };
    char *text = help_text();
    T_REQUIRE(text != NULL);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        bool listed = strstr(text, names[i]) != NULL;
        if (!listed)
            printf("#   variable %zu (%.40s) is missing from the help\n", i, names[i]);
        T_CHECK(listed);
    }
    /* Defaults shown as API.md gives them. */
    T_CHECK(strstr(text, "127.0.0.1:8080") != NULL);
    T_CHECK(strstr(text, "10m") != NULL);
    T_CHECK(strstr(text, "30m") != NULL);
    free(text);
}

/* The listener's certificate and key come as a pair: one alone is refused,
 * naming the one that is missing. */
static void test_tls_pair(void)
{
    struct config c;
    char err[512];
    T_CHECK(!load_one(&c, "ALLOT_TLS_CERT", "/etc/allot/tls.crt", false, err, sizeof err));
    T_CHECK(strncmp(err, "ALLOT_TLS_KEY:", 14) == 0);
    config_free(&c);
    T_CHECK(!load_one(&c, "ALLOT_TLS_KEY", "/etc/allot/tls.key", false, err, sizeof err));
    T_CHECK(strncmp(err, "ALLOT_TLS_CERT:", 15) == 0);
    config_free(&c);
    struct kv both[] = {{"ALLOT_TLS_CERT", "/c.pem"}, {"ALLOT_TLS_KEY", "/k.pem"},
                        {"ALLOT_AUTHORITY_CA", "/ca.pem"}, {NULL, NULL}};
    T_REQUIRE(config_load(&c, table_lookup, both, false, err, sizeof err));
    T_EQ_STR(c.tls_cert, "/c.pem");
    T_EQ_STR(c.tls_key, "/k.pem");
    T_EQ_STR(c.authority_ca, "/ca.pem");
    config_free(&c);
    T_REQUIRE(load_one(&c, NULL, NULL, false, err, sizeof err));
    T_CHECK(c.tls_cert == NULL && c.tls_key == NULL && c.authority_ca == NULL);
    config_free(&c);
}

/* Every variable of the table is documented where operators look: README.md,
 * the man page allotd(8) and the example environment file of the unit.  A new variable without its documentation fails
 * here. */
static void test_every_variable_documented(void)
{
    const char *root = getenv("ALLOT_SOURCE_ROOT");
    T_REQUIRE(root != NULL);
    char *help = help_text();
    T_REQUIRE(help != NULL);
    static const char *const docs[] = {"README.md", "doc/allotd.8",
                                       "systemd/allotd.env.example"};
    for (size_t d = 0; d < sizeof docs / sizeof docs[0]; d++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", root, docs[d]);
        FILE *in = fopen(path, "r");
        if (in == NULL)
            printf("#   cannot read %s\n", path);
        T_REQUIRE(in != NULL);
        char *text = NULL;
        size_t tlen = 0;
        FILE *out = open_memstream(&text, &tlen);
        char chunk[4096];
        for (size_t n; (n = fread(chunk, 1, sizeof chunk, in)) > 0;)
            fwrite(chunk, 1, n, out);
        fclose(in);
        fclose(out);
        size_t seen = 0;
        for (const char *p = strstr(help, "  ALLOT_"); p != NULL; p = strstr(p + 1, "\n  ALLOT_")) {
            p += strspn(p, "\n ");
            char name[64];
            size_t n = strcspn(p, " ");
            snprintf(name, sizeof name, "%.*s", (int)(n < 63 ? n : 63), p);
            seen++;
            if (strstr(text, name) == NULL)
                printf("#   %s is not documented in %s\n", name, docs[d]);
            T_CHECK(strstr(text, name) != NULL);
        }
        T_CHECK(seen >= 20);
        free(text);
    }
    free(help);
}

int main(void)
{
    T_RUN(test_defaults);
    T_RUN(test_values_taken);
    T_RUN(test_durations);
    T_RUN(test_listen_ipv6);
    T_RUN(test_bad_values_name_the_variable);
    T_RUN(test_secret_not_echoed);
    T_RUN(test_database_url);
    T_RUN(test_bounds_accepted);
    T_RUN(test_help_lists_api_md_variables);
    T_RUN(test_console_dir);
    T_RUN(test_tls_pair);
    T_RUN(test_every_variable_documented);
    return t_done();
}
