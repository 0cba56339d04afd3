/* allotd: the access-pass licensing server.
 *   allotd              serve (the default)
 *   allotd migrate      apply the database migrations and exit
 *   allotd healthcheck  GET /health on ALLOT_LISTEN; exit 0 when it answers 200
 *   allotd export-events [--from TIME] [--to TIME]
 *                       the audit trail as JSON Lines on standard output
 *   allotd --help       the configuration table
 *
 * Signals while serving: SIGTERM or SIGINT drain and stop (a second one stops
 * at once); SIGHUP reloads the certificate of ALLOT_TLS_CERT. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "allot/api.h"
#include "allot/app.h"
#include "allot/auth.h"
#include "allot/config.h"
#include "allot/console.h"
#include "allot/core.h"
#include "allot/http.h"
#include "allot/jobs.h"
#include "allot/webhooks.h"
#include "allot/log.h"
#include "allot/sync.h"
#include "allot/tls.h"

#ifdef ALLOT_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

static const char *env_lookup(const char *name, void *ctx)
{
    (void)ctx;
    return getenv(name);
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: allotd [serve | migrate | healthcheck | export-events | --help | --version]\n\n"
            "  serve        serve the REST API (the default)\n"
            "  migrate      apply the database migrations, then exit\n"
            "  healthcheck  exit 0 when GET /health on ALLOT_LISTEN answers 200\n"
            "  export-events [--from TIME] [--to TIME]\n"
            "               write the audit trail at or after --from and before --to\n"
            "               (RFC 3339) to standard output as JSON Lines, oldest first\n\n");
    config_print_help(out);
}

static bool load_config(struct config *cfg, bool need_db)
{
    char err[512];
    if (!config_load(cfg, env_lookup, NULL, need_db, err, sizeof err)) {
        fprintf(stderr, "allotd: %s\n", err);
        config_free(cfg);
        return false;
    }
    enum log_level lvl = LOG_INFO;
    log_level_parse(cfg->log_level, &lvl);
    log_set_level(lvl);
    return true;
}

static int cmd_migrate(void)
{
    struct config cfg;
    if (!load_config(&cfg, true))
        return 2;
    int n = db_migrate(cfg.database_url);
    config_free(&cfg);
    return n < 0 ? 1 : 0;
}

static size_t discard(char *p, size_t size, size_t n, void *ctx)
{
    (void)p;
    (void)ctx;
    return size * n;
}

static int cmd_healthcheck(void)
{
    struct config cfg;
    if (!load_config(&cfg, false))
        return 2;
    const char *host = cfg.listen_host;
    if (strcmp(host, "0.0.0.0") == 0)
        host = "127.0.0.1";
    else if (strcmp(host, "::") == 0)
        host = "::1";
    char url[320];
    const char *scheme = cfg.tls_cert != NULL ? "https" : "http";
    snprintf(url, sizeof url, strchr(host, ':') ? "%s://[%s]:%u/health" : "%s://%s:%u/health",
             scheme, host, cfg.listen_port);
    CURL *curl = curl_easy_init();
    long code = 0;
    if (curl != NULL) {
        curl_easy_setopt(curl, CURLOPT_URL, url);
        /* This process's own listener: whether it answers, not who it is (its
         * certificate names the site, not 127.0.0.1). */
        curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
        curl_easy_setopt(curl, CURLOPT_TIMEOUT, 5L);
        curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
        if (curl_easy_perform(curl) == CURLE_OK)
            curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
        curl_easy_cleanup(curl);
    }
    config_free(&cfg);
    return code == 200 ? 0 : 1;
}

/* allotd export-events [--from TIME] [--to TIME]: the audit trail as JSON
 * Lines on standard output (src/api/export.c), so a site can archive it
 * before ALLOT_RETENTION removes it.  Exit 0 when every event was written, 1
 * when the database or the output failed (what was written is a prefix of the
 * trail, oldest first), 2 on a bad argument or configuration. */
static int cmd_export_events(int argc, char **argv)
{
    const char *bounds[2] = {NULL, NULL};
    static const char *const names[2] = {"--from", "--to"};
    int64_t secs[2] = {0, 0};
    for (int i = 2; i < argc; i += 2) {
        int which = strcmp(argv[i], names[0]) == 0 ? 0 : strcmp(argv[i], names[1]) == 0 ? 1 : -1;
        if (which < 0 || i + 1 >= argc || bounds[which] != NULL) {
            fprintf(stderr, "allotd: export-events: %s \"%.64s\"\n",
                    which < 0 ? "unknown argument" : i + 1 >= argc ? "a time must follow"
                                                                    : "given twice:",
                    argv[i]);
            return 2;
        }
        if (!core_time_parse(argv[i + 1], &secs[which])) {
            fprintf(stderr, "allotd: export-events: %s: expected an RFC 3339 time such as "
                    "2025-01-31T00:00:00Z, got \"%.64s\"\n", names[which], argv[i + 1]);
            return 2;
        }
        bounds[which] = argv[i + 1];
    }
    if (bounds[0] != NULL && bounds[1] != NULL && secs[1] < secs[0]) {
        fprintf(stderr, "allotd: export-events: --to must not be before --from\n");
        return 2;
    }
    struct config cfg;
    if (!load_config(&cfg, true))
        return 2;
    struct db_pool_options opt = db_pool_options_of(&cfg, 1, "allotd-export");
    /* a page of 1000 events takes far less than the statement timeout */
    struct db_pool *pool = db_pool_new(&opt);
    int rc = 1;
    if (pool == NULL) {
        fprintf(stderr, "allotd: export-events: out of memory\n");
    } else {
        char err[256];
        long long lines = 0;
        rc = api_export_events(pool, bounds[0], bounds[1], stdout, &lines, err, sizeof err);
        if (rc != 0)
            fprintf(stderr, "allotd: export-events: %s (after %lld events)\n", err, lines);
        else
            log_info(NULL, "export-events: %lld events written", lines);
        db_pool_free(pool);
    }
    config_free(&cfg);
    return rc;
}

/* The admin key of ALLOT_ADMIN_KEY is made sure of in the background while
 * the database is unreachable, so start-up does not depend on it. */
static int64_t ensure_admin_key(struct app *a, void *arg)
{
    bool *done = arg;
    if (*done)
        return 3600 * 1000;
    enum db_status s = db_schema_ready(a) ? auth_ensure_admin_key(a, a->cfg->admin_key)
                                           : DB_UNAVAILABLE;
    if (s == DB_OK) {
        *done = true;
        log_info(NULL, "the admin key of ALLOT_ADMIN_KEY is in place");
        return 3600 * 1000;
    }
    if (s != DB_UNAVAILABLE) {
        *done = true;
        log_error(NULL, "could not store the admin key of ALLOT_ADMIN_KEY");
        return 3600 * 1000;
    }
    log_warn(NULL, "the admin key of ALLOT_ADMIN_KEY waits for the database");
    return 2000;
}

/* What other instances changed (src/db/listen.c): channel NULL means the
 * LISTEN connection went down or came back, so anything may have changed. */
static void on_notify(const char *channel, void *arg)
{
    struct app *a = arg;
    if (channel == NULL || strcmp(channel, "allot_license") == 0)
        api_license_changed(a);
    if (channel == NULL || strcmp(channel, "allot_apikeys") == 0)
        auth_cache_clear(a->auth);
    if (channel != NULL && strcmp(channel, "allot_engine") == 0)
        db_schema_changed(a);
    if (channel == NULL || strcmp(channel, "allot_webhooks") == 0)
        webhooks_wake(a->webhooks); /* an event was written (or one may have been missed) */
}

/* Why the console is not served, logged once allotd serves ("" when it is). */
static char console_missing[512];

/* Reads the console's assets once.  A directory named by ALLOT_CONSOLE_DIR
 * that cannot be served stops start-up; the default one (where `meson install`
 * puts it) may be missing, and then /console/ answers 404. */
static bool load_console(struct app *a)
{
    char err[512];
    a->console = api_console_load(a->cfg->console_dir, err, sizeof err);
    if (a->console != NULL) {
        log_info(NULL, "the console is served at /console/: %zu files, %zu bytes from %s",
                 api_console_files(a->console), api_console_bytes(a->console),
                 a->cfg->console_dir);
        return true;
    }
    const char *given = getenv("ALLOT_CONSOLE_DIR");
    if (given != NULL && given[0] != '\0') {
        fprintf(stderr, "allotd: ALLOT_CONSOLE_DIR: %s\n", err);
        return false;
    }
    /* Said once serving: a port in use stops allotd with one line only. */
    snprintf(console_missing, sizeof console_missing, "%s", err);
    return true;
}

static void exit_now(int sig)
{
    (void)sig;
    _exit(1); /* a second signal while draining: stop at once */
}

/* Tells systemd (Type=notify) where allotd is; nothing without libsystemd or
 * outside systemd. */
static void notify(const char *state)
{
#ifdef ALLOT_HAVE_SYSTEMD
    sd_notify(0, state);
#else
    (void)state;
#endif
}

/* SIGHUP: the listener's certificate and key are read again; connections
 * already open keep theirs. */
static void reload(struct http_tls *tls)
{
    notify("RELOADING=1");
    char why[512];
    if (tls == NULL)
        log_info(NULL, "SIGHUP: nothing to reload (ALLOT_TLS_CERT is not set)");
    else if (!http_tls_reload(tls, why, sizeof why))
        log_error(NULL, "SIGHUP: %s; still serving the certificate loaded before", why);
    notify("READY=1");
}

/* Checks the files of the configuration (exit 2 when one is wrong). */
static bool load_files(struct app *app, struct http_tls **tls)
{
    char err[512];
    const struct config *cfg = app->cfg;
    *tls = NULL;
    if (!app_load_authority_key(app, err, sizeof err)) {
        fprintf(stderr, "allotd: %s\n", err);
        return false;
    }
    if (cfg->authority_ca != NULL && access(cfg->authority_ca, R_OK) != 0) {
        fprintf(stderr, "allotd: ALLOT_AUTHORITY_CA: cannot read \"%s\": %s\n",
                cfg->authority_ca, strerror(errno));
        return false;
    }
    if (cfg->tls_cert != NULL) {
        *tls = http_tls_load(cfg->tls_cert, cfg->tls_key, "ALLOT_TLS_CERT", "ALLOT_TLS_KEY", err,
                             sizeof err);
        if (*tls == NULL) {
            fprintf(stderr, "allotd: %s\n", err);
            return false;
        }
    }
    return load_console(app);
}

/* Serves on the bound socket until SIGTERM or SIGINT: the background threads
 * first, so that no handler can see them half set up, then HTTP.  Stops the
 * server; 0 after a clean stop. */
static int serve(struct app *app, struct http_tls *tls, struct http_server *server,
                 const sigset_t *set)
{
    const struct config *cfg = app->cfg;
    static const char *const channels[] = {"allot_license", "allot_apikeys", "allot_engine",
                                           "allot_webhooks", NULL};
    app->license_cache = api_license_cache_new();
    app->listener = db_listener_start(cfg->database_url, channels, on_notify, app);
    bool ready = db_schema_ready(app);
    if (!ready)
        log_warn(NULL, "the database is unreachable or its schema is not current (this allotd "
                 "needs version %d); requests get 503 until `allotd migrate` has run",
                 db_schema_expected());
    bool admin_done = false;
    struct job *admin = NULL;
    if (cfg->admin_key != NULL) {
        /* The first try now, before the threads that also check the schema
         * start: when /ready says ready, the admin key is in place. */
        if (ready)
            ensure_admin_key(app, &admin_done);
        if (!admin_done) {
            admin = job_start(app, "admin-key", 2000, ensure_admin_key, &admin_done);
            job_wake(admin);
        }
    }
    app->webhooks = webhooks_start(app);
    struct job *reaper = reaper_start(app);
    app->sync = sync_start(app);
    char err[512];
    bool serving = http_server_start(server, err, sizeof err);
    if (serving) {
        log_info(NULL, "allotd listening on %s:%u (%s)", cfg->listen_host, cfg->listen_port,
                 tls != NULL ? "HTTPS only" : "plain HTTP");
        if (console_missing[0] != '\0')
            log_warn(NULL, "the console is not served (set ALLOT_CONSOLE_DIR to the built "
                     "console): %s", console_missing);
        notify("READY=1");
        int sig = 0;
        while (sigwait(set, &sig) == 0 && sig == SIGHUP)
            reload(tls);
        log_info(NULL, "signal %d: draining requests in flight (up to %llds)", sig,
                 (long long)cfg->shutdown_timeout);
        notify("STOPPING=1");
        signal(SIGTERM, exit_now);
        signal(SIGINT, exit_now);
        pthread_sigmask(SIG_UNBLOCK, set, NULL);
    } else {
        fprintf(stderr, "allotd: %s\n", err);
    }
    http_server_stop(server, cfg->shutdown_timeout);
    job_stop(reaper);
    job_stop(admin);
    sync_stop(app->sync);
    app->sync = NULL;
    db_listener_stop(app->listener);
    app->listener = NULL;
    webhooks_stop(app->webhooks);
    app->webhooks = NULL;
    api_license_cache_free(app->license_cache);
    app->license_cache = NULL;
    if (serving)
        log_info(NULL, "allotd stopped");
    return serving ? 0 : 1;
}

static int cmd_serve(void)
{
    struct config cfg;
    if (!load_config(&cfg, true))
        return 2;
    /* Signals are taken by sigwait; every thread inherits the mask. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);

    struct app app;
    struct db_pool_options pool = db_pool_options_of(&cfg, (int)cfg.db_pool_size, "allotd");
    if (app_init(&app, &cfg) != 0 || (app.pool = db_pool_new(&pool)) == NULL ||
        (app.auth = auth_cache_new()) == NULL) {
        fprintf(stderr, "allotd: out of memory\n");
        return 1;
    }
    /* In this order: the files of the configuration (exit 2), the listening
     * socket (exit 1), and only then anything that reaches the database or
     * the license backend: a port in use stops allotd before it syncs or
     * stores a key. */
    struct http_tls *tls = NULL;
    int rc = 2;
    if (load_files(&app, &tls)) {
        char err[512];
        struct http_service svc = {api_routes, api_routes_count, auth_check, api_error_dialects,
                                   api_error_dialects_count};
        struct http_server *server = http_server_bind(&app, &svc, tls, err, sizeof err);
        if (server == NULL) {
            fprintf(stderr, "allotd: %s\n", err);
            rc = 1;
        } else {
            rc = serve(&app, tls, server, &set);
        }
    }
    http_tls_free(tls);
    api_console_free(app.console);
    auth_cache_free(app.auth);
    db_pool_free(app.pool);
    app_free(&app);
    config_free(&cfg);
    curl_global_cleanup();
    return rc;
}

int main(int argc, char **argv)
{
    const char *cmd = argc > 1 ? argv[1] : "serve";
    if (strcmp(cmd, "export-events") == 0)
        return cmd_export_events(argc, argv);
    if (argc > 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0) {
        printf("allotd %s\n", ALLOT_VERSION);
        return 0;
    }
    if (strcmp(cmd, "serve") == 0)
        return cmd_serve();
    if (strcmp(cmd, "migrate") == 0)
        return cmd_migrate();
    if (strcmp(cmd, "healthcheck") == 0)
        return cmd_healthcheck();
    fprintf(stderr, "allotd: unknown command \"%s\"\n", cmd);
    usage(stderr);
    return 2;
}
