/* GET /console/...: the admin web console, built from console/ by Vite.
 *
 * The files are read once at start-up into a sorted table; a request looks
 * its name up there and never touches the file system, so no path (.., %2e,
 * symbolic links) can escape the directory.  Files under assets/ carry a
 * content hash in their names (Vite's build) and are cached for a year;
 * everything else, index.html first, is revalidated (ETag).  Every answer
 * carries a Content-Security-Policy that admits only the console's own
 * scripts and styles: no inline script or style, no other origin. */
#include "allot/console.h"
#include "allot/core.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "allot/app.h"

#define CSP                                                                                       \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; font-src 'self'; " \
    "connect-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'none'; "             \
    "frame-ancestors 'none'"
#define CACHE_IMMUTABLE "public, max-age=31536000, immutable"
#define CACHE_REVALIDATE "no-cache"

struct asset {
    char *name;       /* relative to the directory: "assets/index-3fA9c1x2.js" */
    char *data;
    size_t len;
    const char *type; /* Content-Type */
    bool immutable;   /* hashed name: cached for a year */
    char etag[24];    /* "\"<16 hex digits of SHA-256>\"" */
};

struct console {
    struct asset *assets; /* sorted by name */
    size_t n, cap;
    size_t bytes;
    const struct asset *index;
};

static const struct {
    const char *ext;
    const char *type;
} types[] = {
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".mjs", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".json", "application/json"},
    {".map", "application/json"},
    {".webmanifest", "application/manifest+json"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".ico", "image/x-icon"},
    {".woff2", "font/woff2"},
    {".txt", "text/plain; charset=utf-8"},
};

static const char *type_of(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (dot != NULL)
        for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
            if (strcmp(dot, types[i].ext) == 0)
                return types[i].type;
    return "application/octet-stream";
}

/* A name the table keeps: not hidden, plain characters only. */
static bool name_ok(const char *name)
{
    if (name[0] == '\0' || name[0] == '.')
        return false;
    for (const char *p = name; *p != '\0'; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-' || c == '~' || c == '+' || c == '@'))
            return false;
    }
    return true;
}

static void etag_of(struct asset *a)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (EVP_Digest(a->data, a->len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen < 8)
        memset(md, 0, 8);
    a->etag[0] = '"';
    core_hex(md, 8, a->etag + 1);
    a->etag[17] = '"';
    a->etag[18] = '\0';
}

/* Reads the regular file name (in the directory dirfd) as rel. */
static bool add_file(struct console *c, int dirfd, const char *name, const char *rel,
                     char *err, size_t errlen)
{
    int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        snprintf(err, errlen, "cannot read %.200s: %s", rel, strerror(errno));
        if (fd >= 0)
            close(fd);
        return false;
    }
    size_t size = (size_t)st.st_size;
    if (size > CONSOLE_MAX_FILE_BYTES || c->bytes + size > CONSOLE_MAX_TOTAL_BYTES ||
        c->n == CONSOLE_MAX_FILES) {
        snprintf(err, errlen, "more than the console's bounds (%u files, %u MiB) at %.200s",
                 CONSOLE_MAX_FILES, CONSOLE_MAX_TOTAL_BYTES >> 20, rel);
        close(fd);
        return false;
    }
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 32;
        struct asset *grown = realloc(c->assets, cap * sizeof *grown);
        if (grown == NULL) {
            close(fd);
            snprintf(err, errlen, "out of memory");
            return false;
        }
        c->assets = grown;
        c->cap = cap;
    }
    struct asset *a = &c->assets[c->n];
    memset(a, 0, sizeof *a);
    a->name = strdup(rel);
    a->data = malloc(size ? size : 1);
    size_t got = 0;
    while (a->name != NULL && a->data != NULL && got < size) {
        ssize_t k = read(fd, a->data + got, size - got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        got += (size_t)k;
    }
    close(fd);
    if (a->name == NULL || a->data == NULL || got != size) {
        snprintf(err, errlen, "cannot read %.200s", rel);
        free(a->name);
        free(a->data);
        return false;
    }
    a->len = size;
    a->type = type_of(rel);
    a->immutable = strncmp(rel, "assets/", 7) == 0;
    etag_of(a);
    c->bytes += size;
    c->n++;
    return true;
}

/* Walks the directory dirfd (named prefix, "" at the top), taking ownership of
 * dirfd. */
static bool add_dir(struct console *c, int dirfd, const char *prefix, int depth, char *err,
                    size_t errlen)
{
    DIR *d = fdopendir(dirfd);
    if (d == NULL) {
        close(dirfd);
        snprintf(err, errlen, "cannot list %.200s: %s", *prefix ? prefix : ".", strerror(errno));
        return false;
    }
    bool ok = true;
    struct dirent *e;
    while (ok && (e = readdir(d)) != NULL) {
        if (!name_ok(e->d_name))
            continue; /* ".", "..", hidden files, odd names */
        char rel[512];
        if ((size_t)snprintf(rel, sizeof rel, "%s%s", prefix, e->d_name) >= sizeof rel)
            continue;
        struct stat st;
        if (fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
            continue;
        if (S_ISREG(st.st_mode)) {
            ok = add_file(c, dirfd, e->d_name, rel, err, errlen);
        } else if (S_ISDIR(st.st_mode) && depth < CONSOLE_MAX_DEPTH) {
            int sub = openat(dirfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub < 0)
                continue;
            char subprefix[512];
            if ((size_t)snprintf(subprefix, sizeof subprefix, "%s/", rel) >= sizeof subprefix) {
                close(sub);
                continue;
            }
            ok = add_dir(c, sub, subprefix, depth + 1, err, errlen);
        }
        /* symbolic links, devices, sockets: never served */
    }
    closedir(d);
    return ok;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const struct asset *)a)->name, ((const struct asset *)b)->name);
}

static const struct asset *find(const struct console *c, const char *name)
{
    struct asset key = {.name = (char *)name};
    return bsearch(&key, c->assets, c->n, sizeof *c->assets, by_name);
}

struct console *api_console_load(const char *dir, char *err, size_t errlen)
{
    struct console *c = calloc(1, sizeof *c);
    if (c == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open the directory \"%.200s\": %s", dir, strerror(errno));
        free(c);
        return NULL;
    }
    char why[400] = "";
    if (!add_dir(c, fd, "", 0, why, sizeof why)) {
        snprintf(err, errlen, "in \"%.200s\": %s", dir, why);
        api_console_free(c);
        return NULL;
    }
    qsort(c->assets, c->n, sizeof *c->assets, by_name);
    c->index = find(c, "index.html");
    if (c->index == NULL) {
        snprintf(err, errlen, "no index.html in \"%.200s\" (build the console: see README)", dir);
        api_console_free(c);
        return NULL;
    }
    return c;
}

void api_console_free(struct console *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->n; i++) {
        free(c->assets[i].name);
        free(c->assets[i].data);
    }
    free(c->assets);
    free(c);
}

size_t api_console_files(const struct console *c) { return c ? c->n : 0; }
size_t api_console_bytes(const struct console *c) { return c ? c->bytes : 0; }

/* A path that names a file rather than a view of the app: under assets/, or
 * a last segment with an extension ("favicon.svg", "x.js"). */
static bool names_a_file(const char *rest)
{
    if (strncmp(rest, "assets/", 7) == 0)
        return true;
    const char *last = strrchr(rest, '/');
    return strchr(last ? last + 1 : rest, '.') != NULL;
}

/* If-None-Match lists the asset's ETag (or is "*"). */
static bool not_modified(struct http_request *r, const struct asset *a)
{
    const char *inm = http_header(r, "If-None-Match");
    return inm != NULL && (strcmp(inm, "*") == 0 || strstr(inm, a->etag) != NULL);
}

void api_console(struct http_request *r)
{
    const struct console *c = http_app(r)->console;
    if (c == NULL) {
        http_reply_error(r, HTTP_ERR_NOT_FOUND, NULL,
                         "The console is not installed on this server (ALLOT_CONSOLE_DIR)");
        return;
    }
    const char *rest = http_param(r, 0); /* NULL on /console itself */
    const struct asset *a = rest != NULL && *rest != '\0' ? find(c, rest) : NULL;
    if (a == NULL && rest != NULL && names_a_file(rest)) {
        http_reply_error(r, HTTP_ERR_NOT_FOUND, NULL, "No such file in the console: %.200s",
                         rest);
        return;
    }
    if (a == NULL)
        a = c->index; /* a view of the app: a reload lands on it again */
    http_add_header(r, "Cache-Control", a->immutable ? CACHE_IMMUTABLE : CACHE_REVALIDATE);
    http_add_header(r, "ETag", a->etag);
    http_add_header(r, "Content-Security-Policy", CSP);
    http_add_header(r, "X-Content-Type-Options", "nosniff");
    http_add_header(r, "Referrer-Policy", "no-referrer");
    if (not_modified(r, a)) {
        http_reply_empty(r, 304);
        return;
    }
    http_reply_text(r, 200, a->type, a->data, a->len);
}
