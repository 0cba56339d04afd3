/* failover suite: allotd on a PostgreSQL primary with a synchronous streaming
 * standby (README, "A PostgreSQL with a standby").
 *
 * The test makes its own two clusters (initdb, pg_basebackup -R) with
 * ALLOT_TEST_PG_BIN, as ALLOT_TEST_PG_RUNAS when root; the standby is named in
 * the primary's synchronous_standby_names, so a commit is acknowledged only
 * once the standby has it.  allotd's ALLOT_DATABASE_URL names both hosts with
 * target_session_attrs=read-write.  Workers create users, allocations and
 * sessions while the primary is killed (pg_ctl -m immediate: its processes
 * die as in a crash) and the standby is promoted.  Meanwhile every answer is
 * a 2xx or 503 LICENSES-Unavailable with Retry-After; the same allotd process
 * answers 2xx again after the promotion, without a restart; and every user,
 * allocation and session it acknowledged is in the promoted database. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "tlicense.h"

T_DEFINE_STATE;

#define WORKERS 4
#define MAX_IDS 20000

static char dir[128];
static char primary[192], standby[192];
static int primary_port, standby_port;
static char bin[512];
static const char *runas; /* NULL: run PostgreSQL as ourselves */

static struct tl_authority auth;
static struct th_server srv;
static char url[512]; /* ALLOT_DATABASE_URL: both hosts */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Runs a PostgreSQL program of ALLOT_TEST_PG_BIN (as runas), stdout and stderr
 * to log; its exit status, -1 when it had to be killed after timeout_s. */
static int pg_run(const char *log, int timeout_s, const char *prog, const char *const *args)
{
    char path[640];
    snprintf(path, sizeof path, "%s/%s", bin, prog);
    const char *argv[32];
    size_t n = 0;
    if (runas != NULL) {
        argv[n++] = "runuser";
        argv[n++] = "-u";
        argv[n++] = runas;
        argv[n++] = "--";
    }
    argv[n++] = path;
    for (size_t i = 0; args[i] != NULL && n < 31; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        if (chdir("/") != 0)
            _exit(126);
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        dup2(fd, 1);
        dup2(fd, 2);
        execvp(argv[0], (char *const *)(void *)argv);
        _exit(127);
    }
    int status = 0;
    for (int waited = 0; waitpid(pid, &status, WNOHANG) != pid; waited += 50) {
        if (waited > timeout_s * 1000) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return -1;
        }
        tl_sleep_ms(50);
    }
    int rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (rc != 0) {
        printf("# %s failed (%d); its output:\n", prog, rc);
        char *text = th_file_text(log);
        for (char *line = text ? strtok(text, "\n") : NULL; line; line = strtok(NULL, "\n"))
            printf("#   %s\n", line);
        free(text);
    }
    return rc;
}

static bool append_conf(const char *datadir, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/postgresql.conf", datadir);
    FILE *f = fopen(path, "a");
    bool ok = f != NULL && fputs(text, f) >= 0;
    return f != NULL && fclose(f) == 0 && ok;
}

static void admin_url(int port, const char *db, char *out, size_t len)
{
    snprintf(out, len, "postgresql://allot@127.0.0.1:%d/%s", port, db);
}

/* ---- the clusters ---------------------------------------------------------------- */

static bool make_clusters(void)
{
    char log[256], conf[512], port_s[16], url_s[256];
    snprintf(log, sizeof log, "%s/setup.log", dir);
    const char *initdb[] = {"-D", primary, "--auth=trust", "--username=allot", "-E", "UTF8",
                            "--locale=C", NULL};
    if (pg_run(log, 120, "initdb", initdb) != 0)
        return false;
    snprintf(conf, sizeof conf,
             "\n# tests/failover\nlisten_addresses = '127.0.0.1'\nport = %d\n"
             "unix_socket_directories = ''\nwal_level = replica\nmax_wal_senders = 5\n"
             "wal_keep_size = '128MB'\nsynchronous_commit = on\nfsync = off\n"
             "max_connections = 100\n",
             primary_port);
    snprintf(port_s, sizeof port_s, "%d", primary_port);
    char plog[256];
    snprintf(plog, sizeof plog, "%s/primary.log", dir);
    const char *start[] = {"-D", primary, "-l", plog, "-w", "-t", "60", "start", NULL};
    if (!append_conf(primary, conf) || pg_run(log, 90, "pg_ctl", start) != 0)
        return false;
    admin_url(primary_port, "postgres", url_s, sizeof url_s);
    char *ok = th_sql(url_s, "CREATE DATABASE allot");
    free(ok);
    if (ok == NULL)
        return false;
    /* The standby: a base backup that follows the primary (-R), named
     * "standby" (cluster_name is its application_name to the primary). */
    const char *backup[] = {"-h", "127.0.0.1", "-p", port_s, "-U", "allot", "-D", standby,
                            "-R", "-X", "stream", "-c", "fast", NULL};
    if (pg_run(log, 120, "pg_basebackup", backup) != 0)
        return false;
    snprintf(conf, sizeof conf, "\n# the standby\nport = %d\ncluster_name = 'standby'\n",
             standby_port);
    char slog[256];
    snprintf(slog, sizeof slog, "%s/standby.log", dir);
    const char *start2[] = {"-D", standby, "-l", slog, "-w", "-t", "60", "start", NULL};
    if (!append_conf(standby, conf) || pg_run(log, 90, "pg_ctl", start2) != 0)
        return false;
    /* Only now: with no standby, a commit would wait for one for ever. */
    ok = th_sql(url_s, "ALTER SYSTEM SET synchronous_standby_names = 'standby'");
    free(ok);
    char *reloaded = ok != NULL ? th_sql(url_s, "SELECT pg_reload_conf()") : NULL;
    free(reloaded);
    return reloaded != NULL;
}

static void test_synchronous_standby(void)
{
    char u[256];
    admin_url(primary_port, "postgres", u, sizeof u);
    char *state = NULL;
    for (int i = 0; i < 300; i++) { /* up to 30 s */
        free(state);
        state = th_sql(u, "SELECT sync_state FROM pg_stat_replication "
                          "WHERE application_name = 'standby'");
        if (state != NULL && strcmp(state, "sync") == 0)
            break;
        tl_sleep_ms(100);
    }
    T_EQ_STR(state, "sync");
    free(state);
    admin_url(standby_port, "postgres", u, sizeof u);
    T_EQ_INT(th_sql_long(u, "SELECT pg_is_in_recovery()::int"), 1);
}

/* ---- the load ---------------------------------------------------------------------- */

enum { USER, ALLOCATION, SESSION, KINDS };
static const char *const kind_names[KINDS] = {"users", "allocations", "sessions"};

static struct {
    pthread_mutex_t lock;
    char (*ids[KINDS])[TL_ID_LEN]; /* acknowledged (2xx) ids */
    int count[KINDS];
    long ok, unavailable, unexpected, transport;
    double first_unavailable, last_unavailable, first_ok_after_promotion;
    char unexpected_example[300];
} acks = {.lock = PTHREAD_MUTEX_INITIALIZER};

static atomic_bool stop_load;
static atomic_bool promoted;
static atomic_int seq;

static void record_id(int kind, const char *id)
{
    pthread_mutex_lock(&acks.lock);
    if (acks.count[kind] < MAX_IDS)
        snprintf(acks.ids[kind][acks.count[kind]++], TL_ID_LEN, "%s", id);
    pthread_mutex_unlock(&acks.lock);
}

/* Counts the answer; true when it is a 2xx.  Anything but a 2xx or a 503
 * LICENSES-Unavailable with Retry-After is unexpected. */
static bool tally(bool sent, const struct th_resp *r, const char *what)
{
    double t = now_s();
    pthread_mutex_lock(&acks.lock);
    bool ok = sent && r->status >= 200 && r->status < 300;
    if (!sent) {
        acks.transport++;
    } else if (ok) {
        acks.ok++;
        if (atomic_load(&promoted) && acks.first_ok_after_promotion == 0)
            acks.first_ok_after_promotion = t;
    } else if (r->status == 503 && strcmp(th_error_type(r), "LICENSES-Unavailable") == 0 &&
               r->retry_after[0] != '\0') {
        acks.unavailable++;
        if (acks.first_unavailable == 0)
            acks.first_unavailable = t;
        acks.last_unavailable = t;
    } else {
        acks.unexpected++;
        snprintf(acks.unexpected_example, sizeof acks.unexpected_example,
                 "%s: %ld %s (Retry-After \"%s\")", what, r->status,
                 r->body ? r->body : "", r->retry_after);
    }
    pthread_mutex_unlock(&acks.lock);
    return ok;
}

static void *worker(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop_load)) {
        int n = atomic_fetch_add(&seq, 1);
        char body[256], user[TL_ID_LEN] = "";
        snprintf(body, sizeof body, "{\"userDirectory\": \"LOAD\", \"userId\": \"u%d\"}", n);
        struct th_resp r;
        bool sent = th_req(&srv, "POST", "/users", TH_ADMIN_KEY, body, &r);
        if (tally(sent, &r, "POST /users")) {
            snprintf(user, sizeof user, "%s", th_str(&r, "id"));
            record_id(USER, user);
        }
        th_resp_free(&r);
        if (user[0] == '\0') {
            tl_sleep_ms(20); /* the database is away: do not spin */
            continue;
        }
        snprintf(body, sizeof body, "{\"user\": \"%s\", \"type\": \"professional\"}", user);
        sent = th_req(&srv, "POST", "/allocations", TH_ADMIN_KEY, body, &r);
        bool allocated = tally(sent, &r, "POST /allocations");
        if (allocated)
            record_id(ALLOCATION, th_str(&r, "id"));
        th_resp_free(&r);
        if (!allocated)
            continue;
        snprintf(body, sizeof body, "{\"user\": \"%s\"}", user);
        sent = th_req(&srv, "POST", "/sessions", TH_ADMIN_KEY, body, &r);
        if (tally(sent, &r, "POST /sessions"))
            record_id(SESSION, th_str(&r, "id"));
        th_resp_free(&r);
    }
    return NULL;
}

static long acked(void)
{
    pthread_mutex_lock(&acks.lock);
    long n = acks.ok;
    pthread_mutex_unlock(&acks.lock);
    return n;
}

static bool wait_until(bool (*cond)(void), int timeout_ms)
{
    for (int waited = 0; waited < timeout_ms; waited += 20) {
        if (cond())
            return true;
        tl_sleep_ms(20);
    }
    return cond();
}

static long acked_mark;
static bool more_acked(void) { return acked() >= acked_mark; }
static bool seen_unavailable(void)
{
    pthread_mutex_lock(&acks.lock);
    bool seen = acks.unavailable >= 20;
    pthread_mutex_unlock(&acks.lock);
    return seen;
}
static bool ok_after_promotion(void)
{
    pthread_mutex_lock(&acks.lock);
    bool seen = acks.first_ok_after_promotion != 0;
    pthread_mutex_unlock(&acks.lock);
    return seen;
}

static void test_allotd_follows_the_failover(void)
{
    pthread_t threads[WORKERS];
    for (int i = 0; i < WORKERS; i++)
        pthread_create(&threads[i], NULL, worker, NULL);
    acked_mark = 200;
    T_CHECK(wait_until(more_acked, 60000)); /* under load on the primary */

    char log[256];
    snprintf(log, sizeof log, "%s/setup.log", dir);
    const char *kill_primary[] = {"-D", primary, "-m", "immediate", "-w", "-t", "60", "stop", NULL};
    double killed = now_s();
    T_CHECK(pg_run(log, 90, "pg_ctl", kill_primary) == 0);
    long before_kill = acked();
    printf("# primary killed after %ld acknowledged requests\n", before_kill);
    /* No primary: requests are refused with 503 and Retry-After (a few of
     * them, before an operator or a cluster manager promotes the standby). */
    T_CHECK(wait_until(seen_unavailable, 20000));

    const char *promote[] = {"-D", standby, "-w", "-t", "60", "promote", NULL};
    double promoting = now_s();
    T_CHECK(pg_run(log, 90, "pg_ctl", promote) == 0);
    double promoted_at = now_s();
    atomic_store(&promoted, true);
    /* The same allotd finds the new primary by itself. */
    bool recovered = wait_until(ok_after_promotion, 30000);
    T_CHECK(recovered);
    acked_mark = acked() + 200;
    T_CHECK(wait_until(more_acked, 60000)); /* and goes on */
    atomic_store(&stop_load, true);
    for (int i = 0; i < WORKERS; i++)
        pthread_join(threads[i], NULL);

    pthread_mutex_lock(&acks.lock);
    printf("# %ld acknowledged, %ld answered 503 with Retry-After, %ld unexpected, "
           "%ld transport errors\n", acks.ok, acks.unavailable, acks.unexpected, acks.transport);
    if (recovered)
        printf("# measured: 503s from %.2f s to %.2f s after the kill; pg_ctl promote took "
               "%.2f s; the first 2xx came %.2f s after it returned\n",
               acks.first_unavailable - killed, acks.last_unavailable - killed,
               promoted_at - promoting, acks.first_ok_after_promotion - promoted_at);
    if (acks.unexpected > 0)
        printf("#   for example %s\n", acks.unexpected_example);
    T_EQ_INT(acks.unexpected, 0);
    T_EQ_INT(acks.transport, 0);
    pthread_mutex_unlock(&acks.lock);

    /* Not restarted: the process started before the failover answers. */
    T_CHECK(waitpid(srv.pid, NULL, WNOHANG) == 0);
    struct th_resp r;
    T_CHECK(th_req(&srv, "GET", "/ready", NULL, NULL, &r));
    T_STATUS(r, 200);
    th_resp_free(&r);
}

/* Every acknowledged user, allocation and session is in the promoted database. */
static void test_acknowledged_writes_survive(void)
{
    char u[256];
    admin_url(standby_port, "allot", u, sizeof u);
    T_EQ_INT(th_sql_long(u, "SELECT pg_is_in_recovery()::int"), 0);
    static const char *const tables[KINDS] = {"users", "allocations", "sessions"};
    for (int k = 0; k < KINDS; k++) {
        size_t cap = (size_t)acks.count[k] * (TL_ID_LEN + 4) + 256;
        char *sql = malloc(cap);
        T_REQUIRE(sql != NULL);
        size_t len = (size_t)snprintf(sql, cap, "SELECT count(*) FROM %s WHERE id = ANY('{",
                                      tables[k]);
        for (int i = 0; i < acks.count[k]; i++)
            len += (size_t)snprintf(sql + len, cap - len, "%s%s", i ? "," : "", acks.ids[k][i]);
        snprintf(sql + len, cap - len, "}'::uuid[])");
        char *found = th_sql(u, sql);
        long n = found && *found ? strtol(found, NULL, 10) : -1;
        printf("# %s: %d acknowledged, %ld in the promoted database\n", kind_names[k],
               acks.count[k], n);
        T_EQ_INT(n, acks.count[k]);
        T_CHECK(acks.count[k] > 0);
        free(found);
        free(sql);
    }
}

/* ---- set-up ------------------------------------------------------------------------ */

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void stop_clusters(void)
{
    char log[256];
    snprintf(log, sizeof log, "%s/setup.log", dir);
    const char *const datadirs[] = {primary, standby};
    for (size_t i = 0; i < 2; i++) {
        char pid[256];
        snprintf(pid, sizeof pid, "%s/postmaster.pid", datadirs[i]);
        if (access(pid, F_OK) != 0)
            continue;
        const char *stop[] = {"-D", datadirs[i], "-m", "immediate", "-w", "-t", "60", "stop", NULL};
        pg_run(log, 90, "pg_ctl", stop);
    }
}

int main(void)
{
    const char *pg_bin = getenv("ALLOT_TEST_PG_BIN");
    if (pg_bin == NULL || *pg_bin == '\0') {
        /* A machine without PostgreSQL's server programs cannot run this. */
        printf("Bail out! ALLOT_TEST_PG_BIN is not set (scripts/test sets it to the "
               "PostgreSQL bin directory: initdb, pg_ctl, pg_basebackup)\n");
        return 1;
    }
    snprintf(bin, sizeof bin, "%s", pg_bin);
    const char *r = getenv("ALLOT_TEST_PG_RUNAS");
    runas = r != NULL && *r != '\0' ? r : NULL;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    for (int k = 0; k < KINDS; k++)
        acks.ids[k] = calloc(MAX_IDS, TL_ID_LEN);

    /* Under /var/tmp, which the cluster's user can reach. */
    snprintf(dir, sizeof dir, "/var/tmp/allot-failover-XXXXXX");
    if (mkdtemp(dir) == NULL) {
        printf("Bail out! mkdtemp: %s\n", strerror(errno));
        return 1;
    }
    if (runas != NULL) {
        struct passwd *pw = getpwnam(runas);
        if (pw == NULL || chown(dir, pw->pw_uid, pw->pw_gid) != 0) {
            printf("Bail out! cannot give %s to user %s\n", dir, runas);
            return 1;
        }
    }
    snprintf(primary, sizeof primary, "%s/primary", dir);
    snprintf(standby, sizeof standby, "%s/standby", dir);
    primary_port = th_free_port();
    do
        standby_port = th_free_port();
    while (standby_port == primary_port);

    if (!make_clusters()) {
        printf("Bail out! could not make the primary and its standby (logs in %s)\n", dir);
        stop_clusters();
        return 1;
    }
    T_RUN(test_synchronous_standby);

    snprintf(url, sizeof url,
             "host=127.0.0.1,127.0.0.1 port=%d,%d dbname=allot user=allot "
             "target_session_attrs=read-write",
             primary_port, standby_port);
    bool started = th_migrate(url) == 0 && tl_authority_make(&auth) &&
                   th_server_start(&srv, url,
                                   (const char *[]){auth.env_pub, "ALLOT_DB_CONNECT_TIMEOUT=2s",
                                                    "ALLOT_THREADS=8", "ALLOT_DB_POOL_SIZE=8",
                                                    NULL},
                                   true) &&
                   tl_apply(&srv, &auth, "--professional", "100000", NULL);
    if (!started) {
        printf("Bail out! allotd did not start on the primary (log %s)\n", srv.log_path);
        th_server_stop(&srv);
        stop_clusters();
        return 1;
    }
    T_RUN(test_allotd_follows_the_failover);
    T_RUN(test_acknowledged_writes_survive);

    T_EQ_INT(th_server_stop(&srv), 0);
    tl_authority_remove(&auth);
    stop_clusters();
    if (t_state.failed_tests == 0)
        nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    else
        printf("# the clusters and their logs are kept in %s\n", dir);
    for (int k = 0; k < KINDS; k++)
        free(acks.ids[k]);
    curl_global_cleanup();
    return t_done();
}
