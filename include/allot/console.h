/* The admin web console: the built assets of console/ (ALLOT_CONSOLE_DIR),
 * read into memory once at start-up and served at /console/ (src/api/console.c).
 * Requests are answered from that table alone, so no request can reach a file
 * outside it. */
#ifndef ALLOT_CONSOLE_H
#define ALLOT_CONSOLE_H

#include <stddef.h>

#include "allot/http.h"

/* Bounds of what is read: a console is a few hundred kilobytes. */
#define CONSOLE_MAX_FILES 512
#define CONSOLE_MAX_FILE_BYTES (8u * 1024u * 1024u)
#define CONSOLE_MAX_TOTAL_BYTES (32u * 1024u * 1024u)
#define CONSOLE_MAX_DEPTH 8

struct console;

/* Reads every regular file under dir (symbolic links, hidden names and names
 * outside [A-Za-z0-9._~+@-] are skipped; index.html must be there).  NULL with
 * one line saying why in err. */
struct console *api_console_load(const char *dir, char *err, size_t errlen);
void api_console_free(struct console *c);
/* Files and bytes held. */
size_t api_console_files(const struct console *c);
size_t api_console_bytes(const struct console *c);

/* GET /console and /console/{path*}: the asset of that name; a name under
 * assets/ or with a file extension that is not there is 404; any other path
 * is a view of the single-page app and gets index.html. */
void api_console(struct http_request *r);

#endif
