/* allot-authority's state directory: one JSON file per license number.
 *
 * DIR/licenses/NUMBER.json (mode 0600):
 *   {"licenseNumber": "...", "revoked": false, "syncCount": 0,
 *    "definition": "<license key>", "definitionIssuedAt": <its iat>,
 *    "lastSyncAt": <unix>, "site": "...", "assignments": {...},
 *    "siteDefinitionIssuedAt": <unix>}
 * The last five members are absent until known. */
#include "authority.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#define STATE_FILE_MAX (1024 * 1024)
#define TIME_MAX 253402300799LL

void astate_init(struct astate *st, const char *number)
{
    memset(st, 0, sizeof *st);
    size_t len = strnlen(number, LIC_NUMBER_MAX);
    memcpy(st->license_number, number, len);
    st->license_number[len] = '\0';
}

void astate_free(struct astate *st)
{
    if (st == NULL)
        return;
    if (st->definition != NULL) {
        OPENSSL_cleanse(st->definition, strlen(st->definition));
        free(st->definition);
    }
    st->definition = NULL;
}

/* "DIR/licenses[/name]" in buf; false when it does not fit. */
static bool state_path(char *buf, size_t len, const char *dir, const char *name)
{
    int n = name != NULL ? snprintf(buf, len, "%s/licenses/%s", dir, name)
                         : snprintf(buf, len, "%s/licenses", dir);
    return n > 0 && (size_t)n < len;
}

static bool file_path(char *buf, size_t len, const char *dir, const char *number)
{
    char name[LIC_NUMBER_MAX + 8];
    snprintf(name, sizeof name, "%s.json", number);
    return state_path(buf, len, dir, name);
}

int astate_prepare(const char *dir, char *why, size_t whylen)
{
    char path[4096];
    if (!state_path(path, sizeof path, dir, ".lock")) {
        snprintf(why, whylen, "%s: path too long", dir);
        return -1;
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        snprintf(why, whylen, "cannot create %s: %s", dir, strerror(errno));
        return -1;
    }
    char sub[4096];
    state_path(sub, sizeof sub, dir, NULL);
    if (mkdir(sub, 0700) != 0 && errno != EEXIST) {
        snprintf(why, whylen, "cannot create %s: %s", sub, strerror(errno));
        return -1;
    }
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(why, whylen, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    close(fd);
    return 0;
}

/* ---- JSON <-> struct ------------------------------------------------------------ */

static json_t *to_json(const struct astate *st)
{
    json_t *o = json_pack("{s:s, s:b, s:I}", "licenseNumber", st->license_number, "revoked",
                          (int)st->revoked, "syncCount", (json_int_t)st->sync_count);
    int err = o == NULL;
    if (!err && st->definition != NULL) {
        err |= json_object_set_new(o, "definition", json_string(st->definition));
        err |= json_object_set_new(o, "definitionIssuedAt",
                                   json_integer((json_int_t)st->definition_iat));
    }
    if (!err && st->synced) {
        err |= json_object_set_new(o, "lastSyncAt", json_integer((json_int_t)st->last_sync_at));
        err |= json_object_set_new(o, "site", json_string(st->site));
        err |= json_object_set_new(o, "assignments", sync_assignments_to_json(&st->assignments));
        err |= json_object_set_new(o, "siteDefinitionIssuedAt",
                                   json_integer((json_int_t)st->site_definition_iat));
    }
    if (!err && st->rate_window_start > 0) {
        err |= json_object_set_new(o, "rateWindowStart",
                                   json_integer((json_int_t)st->rate_window_start));
        err |= json_object_set_new(o, "rateCount", json_integer((json_int_t)st->rate_count));
    }
    if (err) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static bool get_time(const json_t *o, const char *name, int64_t *out)
{
    const json_t *v = json_object_get(o, name);
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > TIME_MAX)
        return false;
    *out = (int64_t)json_integer_value(v);
    return true;
}

static bool from_json(const json_t *o, struct astate *st, char *why, size_t whylen)
{
    const json_t *num = json_object_get(o, "licenseNumber");
    const json_t *rev = json_object_get(o, "revoked");
    const json_t *cnt = json_object_get(o, "syncCount");
    if (!json_is_object(o) || !json_is_string(num) ||
        strcmp(json_string_value(num), st->license_number) != 0 || !json_is_boolean(rev) ||
        !json_is_integer(cnt) || json_integer_value(cnt) < 0) {
        snprintf(why, whylen, "licenseNumber, revoked or syncCount missing or wrong");
        return false;
    }
    st->revoked = json_is_true(rev);
    st->sync_count = (int64_t)json_integer_value(cnt);
    const json_t *def = json_object_get(o, "definition");
    if (def != NULL) {
        if (!json_is_string(def) || !get_time(o, "definitionIssuedAt", &st->definition_iat)) {
            snprintf(why, whylen, "definition or definitionIssuedAt wrong");
            return false;
        }
        st->definition = strdup(json_string_value(def));
        if (st->definition == NULL) {
            snprintf(why, whylen, "out of memory");
            return false;
        }
    }
    if (json_object_get(o, "lastSyncAt") != NULL) {
        const json_t *site = json_object_get(o, "site");
        char reason[160];
        if (!get_time(o, "lastSyncAt", &st->last_sync_at) || !json_is_string(site) ||
            json_string_length(site) > SYNC_SITE_MAX ||
            !get_time(o, "siteDefinitionIssuedAt", &st->site_definition_iat) ||
            !sync_assignments_parse(json_object_get(o, "assignments"), &st->assignments,
                                    reason, sizeof reason)) {
            snprintf(why, whylen, "lastSyncAt, site, assignments or siteDefinitionIssuedAt "
                     "wrong");
            return false;
        }
        memcpy(st->site, json_string_value(site), json_string_length(site) + 1);
        st->synced = true;
    }
    if (json_object_get(o, "rateWindowStart") != NULL) {
        const json_t *cnt2 = json_object_get(o, "rateCount");
        if (!get_time(o, "rateWindowStart", &st->rate_window_start) || !json_is_integer(cnt2) ||
            json_integer_value(cnt2) < 0) {
            snprintf(why, whylen, "rateWindowStart or rateCount wrong");
            return false;
        }
        st->rate_count = (int64_t)json_integer_value(cnt2);
    }
    return true;
}

json_t *astate_public_json(const struct astate *st)
{
    char t[CORE_TIME_BUFSZ];
    json_t *o = json_pack("{s:s, s:b, s:I}", "licenseNumber", st->license_number, "revoked",
                          (int)st->revoked, "syncCount", (json_int_t)st->sync_count);
    if (o == NULL)
        return NULL;
    int err = 0;
    err |= json_object_set_new(o, "lastSyncAt", st->synced &&
                               core_time_format(st->last_sync_at, t, sizeof t)
                               ? json_string(t) : json_null());
    err |= json_object_set_new(o, "site", st->synced ? json_string(st->site) : json_null());
    err |= json_object_set_new(o, "assignments", st->synced
                               ? sync_assignments_to_json(&st->assignments) : json_null());
    err |= json_object_set_new(o, "siteDefinitionIssuedAt", st->synced &&
                               core_time_format(st->site_definition_iat, t, sizeof t)
                               ? json_string(t) : json_null());
    err |= json_object_set_new(o, "definitionIssuedAt", st->definition != NULL &&
                               core_time_format(st->definition_iat, t, sizeof t)
                               ? json_string(t) : json_null());
    if (err) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* ---- files ---------------------------------------------------------------------- */

int astate_read(const char *dir, const char *number, struct astate *st, char *why,
                size_t whylen)
{
    astate_init(st, number);
    char path[4096];
    if (!authority_number_ok(number) || !file_path(path, sizeof path, dir, number)) {
        snprintf(why, whylen, "not a license number, or the state directory path is too long");
        return -1;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        if (errno == ENOENT)
            return 0;
        snprintf(why, whylen, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    struct stat sb;
    char *buf = NULL;
    size_t len = 0;
    int rc = -1;
    if (fstat(fd, &sb) != 0) {
        snprintf(why, whylen, "%s: %s", path, strerror(errno));
        goto out;
    }
    if (sb.st_size > STATE_FILE_MAX) {
        snprintf(why, whylen, "%s: too large for a state file", path);
        goto out;
    }
    buf = malloc((size_t)sb.st_size + 1);
    if (buf == NULL) {
        snprintf(why, whylen, "out of memory");
        goto out;
    }
    while (len < (size_t)sb.st_size) {
        ssize_t n = read(fd, buf + len, (size_t)sb.st_size - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    json_error_t err;
    json_t *o = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &err);
    char reason[200];
    if (o == NULL || !from_json(o, st, reason, sizeof reason)) {
        snprintf(why, whylen, "%s: corrupt state file: %s", path,
                 o == NULL ? err.text : reason);
        astate_free(st);
        astate_init(st, number);
    } else {
        rc = 1;
    }
    json_decref(o);
out:
    if (buf != NULL) {
        OPENSSL_cleanse(buf, len);
        free(buf);
    }
    close(fd);
    return rc;
}

static int write_all(int fd, const char *data, size_t len)
{
    for (size_t off = 0; off < len;) {
        ssize_t n = write(fd, data + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        off += (size_t)n;
    }
    return 0;
}

/* Replaces DIR/licenses/NUMBER.json: temporary file, fsync, rename, fsync dir. */
static int write_state(const char *dir, const struct astate *st, char *why, size_t whylen)
{
    char path[4096], tmp[4096 + 16], sub[4096];
    if (!file_path(path, sizeof path, dir, st->license_number) ||
        !state_path(sub, sizeof sub, dir, NULL)) {
        snprintf(why, whylen, "state directory path too long");
        return -1;
    }
    snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", path);
    json_t *o = to_json(st);
    char *text = o != NULL ? json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    if (text == NULL) {
        snprintf(why, whylen, "cannot encode the state of license %s", st->license_number);
        return -1;
    }
    int rc = -1;
    int fd = mkstemp(tmp); /* mode 0600 */
    if (fd < 0) {
        snprintf(why, whylen, "cannot create %s: %s", tmp, strerror(errno));
        goto out;
    }
    if (write_all(fd, text, strlen(text)) != 0 || write_all(fd, "\n", 1) != 0 ||
        fsync(fd) != 0) {
        snprintf(why, whylen, "cannot write %s: %s", tmp, strerror(errno));
        close(fd);
        unlink(tmp);
        goto out;
    }
    if (close(fd) != 0 || rename(tmp, path) != 0) {
        snprintf(why, whylen, "cannot replace %s: %s", path, strerror(errno));
        unlink(tmp);
        goto out;
    }
    int dfd = open(sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd); /* makes the rename durable; the data is already safe */
        close(dfd);
    }
    rc = 0;
out:
    OPENSSL_cleanse(text, strlen(text));
    free(text);
    return rc;
}

int astate_update(const char *dir, const char *number, astate_change_fn change, void *arg,
                  struct astate *out, char *why, size_t whylen)
{
    if (out != NULL)
        astate_init(out, number);
    if (!authority_number_ok(number)) {
        snprintf(why, whylen, "'%.40s' is not a license number (1 to %d digits)", number,
                 LIC_NUMBER_MAX);
        return -1;
    }
    if (astate_prepare(dir, why, whylen) != 0)
        return -1;
    char lockpath[4096];
    state_path(lockpath, sizeof lockpath, dir, ".lock");
    int lfd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lfd < 0) {
        snprintf(why, whylen, "cannot open %s: %s", lockpath, strerror(errno));
        return -1;
    }
    int rc;
    while ((rc = flock(lfd, LOCK_EX)) != 0 && errno == EINTR)
        ;
    if (rc != 0) {
        snprintf(why, whylen, "cannot lock %s: %s", lockpath, strerror(errno));
        close(lfd);
        return -1;
    }
    struct astate st;
    rc = astate_read(dir, number, &st, why, whylen) < 0 ? -1 : 0;
    if (rc == 0)
        rc = change(&st, arg, why, whylen) != 0 ? -1 : 0;
    if (rc == 0)
        rc = write_state(dir, &st, why, whylen);
    close(lfd); /* releases the lock */
    if (rc == 0 && out != NULL)
        *out = st; /* moves the definition */
    else
        astate_free(&st);
    return rc;
}

static int cmp_names(const void *a, const void *b)
{
    const char *x = *(const char *const *)a, *y = *(const char *const *)b;
    size_t lx = strlen(x), ly = strlen(y);
    return lx != ly ? (lx < ly ? -1 : 1) : strcmp(x, y);
}

int astate_list(const char *dir, int (*fn)(const struct astate *st, void *arg), void *arg,
                char *why, size_t whylen)
{
    char sub[4096];
    if (!state_path(sub, sizeof sub, dir, NULL)) {
        snprintf(why, whylen, "state directory path too long");
        return -1;
    }
    DIR *d = opendir(sub);
    if (d == NULL) {
        if (errno == ENOENT)
            return 0;
        snprintf(why, whylen, "cannot read %s: %s", sub, strerror(errno));
        return -1;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 6 || strcmp(e->d_name + len - 5, ".json") != 0)
            continue;
        char *name = strndup(e->d_name, len - 5);
        if (name == NULL || !authority_number_ok(name)) {
            free(name);
            continue;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **grown = realloc(names, cap * sizeof *names);
            if (grown == NULL) {
                free(name);
                rc = -1;
                snprintf(why, whylen, "out of memory");
                break;
            }
            names = grown;
        }
        names[n++] = name;
    }
    closedir(d);
    if (n > 0)
        qsort(names, n, sizeof *names, cmp_names);
    for (size_t i = 0; i < n && rc == 0; i++) {
        struct astate st;
        int found = astate_read(dir, names[i], &st, why, whylen);
        if (found < 0)
            rc = -1;
        else if (found > 0 && fn(&st, arg) != 0)
            rc = 1;
        astate_free(&st);
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc < 0 ? -1 : 0;
}
