/* openapi/openapi.yaml agrees with the server.
 *
 * The document is read by a small, strict line reader for the block-style YAML
 * subset it is written in (two-space indentation, one-line flow lists, block
 * scalars for long text).  Anything outside that subset is a failure, so the
 * checks below can never pass by reading less than is there.
 *
 * Checked against the router table (api_routes) and the error registry
 * (include/allot/errors.def):
 *   - every route (but HEAD, implicit) is documented and every documented
 *     operation is a route; x-allot-roles equals the route's roles; public
 *     routes say `security: []`; a request body is documented where the route
 *     reads one;
 *   - components/schemas/ErrorType lists exactly the errorTypes of errors.def;
 *   - every error response is a components/responses entry whose example names
 *     an errorType of errors.def with that type's status, and it is documented
 *     under that status code;
 *   - every response documents X-Correlation-Id, a 201 documents Location, and
 *     each operation documents the errors it can answer (401/403 by its roles,
 *     400/413/415 when it reads a body, 500 always).
 * The file is found through ALLOT_SOURCE_ROOT (meson sets it), else ".". */
#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "allot/api.h"
#include "allot/http.h"
#include "ttest.h"

/* The registry, straight from the X-macro. */
struct def_error {
    const char *name;
    unsigned status;
    const char *type;
};

static const struct def_error def_errors[] = {
#define ERR(name, status, type, message) {#name, status, type},
#include "allot/errors.def"
#undef ERR
};
#define DEF_ERRORS_COUNT (sizeof def_errors / sizeof def_errors[0])

/* ---- What the reader keeps of the document ---- */

#define MAX_TEXT 160
#define MAX_DEPTH 32
#define MAX_OPS 128
#define MAX_PATHS 96
#define MAX_RESPONSES 24
#define MAX_COMPONENTS 48
#define MAX_ENUM 64
#define MAX_PROBLEMS 64

struct doc_response {
    char code[8];          /* "200", "404" */
    char ref[MAX_TEXT];    /* "#/components/responses/NotFound" or "" */
    bool has_corr_id;
    bool has_location;
    int line;
};

struct doc_op {
    char method[8];        /* upper case */
    char path[MAX_TEXT];
    unsigned roles;
    bool roles_seen;
    bool public_security;  /* security: [] */
    bool has_body;
    struct doc_response responses[MAX_RESPONSES];
    size_t n_responses;
    int line;
};

struct doc_component_response {
    char name[MAX_TEXT];
    char error_type[MAX_TEXT];
    long status;           /* statusCode of the example; -1 when none */
    bool has_corr_id;
    int line;
};

struct doc {
    bool read;             /* the file could be read */
    bool saw_paths;
    bool saw_error_type;
    struct doc_op ops[MAX_OPS];
    size_t n_ops;
    char paths[MAX_PATHS][MAX_TEXT];
    int path_lines[MAX_PATHS];
    size_t n_paths;
    struct doc_component_response components[MAX_COMPONENTS];
    size_t n_components;
    char error_types[MAX_ENUM][MAX_TEXT];
    size_t n_error_types;
    char problems[MAX_PROBLEMS][MAX_TEXT + 64];
    size_t n_problems;
    size_t problems_dropped;
};

static struct doc doc;
static char doc_file[4096];

__attribute__((format(printf, 2, 3)))
static void problem(int line, const char *fmt, ...)
{
    if (doc.n_problems == MAX_PROBLEMS) {
        doc.problems_dropped++;
        return;
    }
    char *out = doc.problems[doc.n_problems++];
    size_t cap = sizeof doc.problems[0];
    int n = snprintf(out, cap, "openapi.yaml:%d: ", line);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out + n, cap - (size_t)n, fmt, ap);
    va_end(ap);
}

/* Copies len bytes of src as a string; false (and a problem) when too long. */
static bool copy_text(char *dst, size_t cap, const char *src, size_t len, int line)
{
    if (len >= cap) {
        problem(line, "text too long for the reader (%zu bytes)", len);
        dst[0] = '\0';
        return false;
    }
    memcpy(dst, src, len);
    dst[len] = '\0';
    return true;
}

/* ---- The line reader ---- */

struct frame {
    int indent;
    char key[MAX_TEXT];
};

struct reader {
    struct frame stack[MAX_DEPTH];
    int depth;
    int block_indent;      /* >= 0 while inside a block scalar */
    int line;
    struct doc_op *op;     /* the operation being read, if any */
    struct doc_response *response;
    struct doc_component_response *component;
};

static bool is_method(const char *k)
{
    static const char *const methods[] = {"get", "put", "post", "patch", "delete",
                                          "head", "options", "trace"};
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
        if (strcmp(k, methods[i]) == 0)
            return true;
    return false;
}

static bool is_block_indicator(const char *v)
{
    if (v[0] != '|' && v[0] != '>')
        return false;
    for (const char *p = v + 1; *p; p++)
        if (*p != '-' && *p != '+' && !isdigit((unsigned char)*p))
            return false;
    return true;
}

/* Turns a raw scalar into its value in place: strips a trailing comment and
 * the quotes.  Refuses the forms the reader does not follow. */
static bool scalar_value(char *v, int line)
{
    size_t len = strlen(v);
    if (len == 0)
        return true;
    if (v[0] == '\'' || v[0] == '"') {
        char q = v[0];
        /* the closing quote ends the value; a comment may follow it */
        size_t i = 1, o = 0;
        for (;; i++) {
            if (v[i] == '\0') {
                problem(line, "quoted scalar not closed on its line");
                return false;
            }
            if (q == '"' && v[i] == '\\') {
                problem(line, "escape sequences are outside the reader's subset");
                return false;
            }
            if (v[i] == q) {
                if (q == '\'' && v[i + 1] == '\'') {
                    v[o++] = '\'';
                    i++;
                    continue;
                }
                break;
            }
            v[o++] = v[i];
        }
        const char *rest = v + i + 1;
        while (*rest == ' ')
            rest++;
        if (*rest != '\0' && *rest != '#') {
            problem(line, "text after a quoted scalar");
            return false;
        }
        v[o] = '\0'; /* o < i: the value was copied left over the quote */
        return true;
    }
    if (v[0] == '&' || v[0] == '*' || v[0] == '!' || v[0] == '%' || v[0] == '@' ||
        v[0] == '`') {
        problem(line, "anchors, aliases, tags and reserved indicators are outside "
                      "the reader's subset");
        return false;
    }
    /* plain: " #" starts a comment */
    for (size_t i = 0; i < len; i++) {
        if (v[i] == '#' && i > 0 && v[i - 1] == ' ') {
            v[i] = '\0';
            break;
        }
    }
    len = strlen(v);
    while (len > 0 && v[len - 1] == ' ')
        v[--len] = '\0';
    if (len == 0)
        return true;
    if ((v[0] == '[' && v[len - 1] != ']') || (v[0] == '{' && v[len - 1] != '}')) {
        problem(line, "flow collection not closed on its line");
        return false;
    }
    return true;
}

/* Splits "[a, 'b', c]" into items; calls fn for each.  false on a bad list. */
static bool flow_list(const char *v, int line, void (*fn)(const char *item, int l, void *ctx),
                      void *ctx)
{
    size_t len = strlen(v);
    if (len < 2 || v[0] != '[' || v[len - 1] != ']') {
        problem(line, "expected a one-line flow list [a, b]");
        return false;
    }
    char buf[512];
    if (!copy_text(buf, sizeof buf, v + 1, len - 2, line))
        return false;
    char *p = buf;
    while (*p == ' ')
        p++;
    if (*p == '\0')
        return true; /* [] */
    for (;;) {
        char *end = strchr(p, ',');
        if (end)
            *end = '\0';
        size_t n = strlen(p);
        while (n > 0 && p[n - 1] == ' ')
            p[--n] = '\0';
        if (n == 0 || strpbrk(p, "[]{}") != NULL) {
            problem(line, "empty or nested item in a flow list");
            return false;
        }
        if (!scalar_value(p, line))
            return false;
        fn(p, line, ctx);
        if (!end)
            return true;
        p = end + 1;
        while (*p == ' ')
            p++;
    }
}

static void add_role(const char *item, int line, void *ctx)
{
    unsigned *roles = ctx;
    unsigned bit = strcmp(item, "admin") == 0     ? ROLE_ADMIN
                   : strcmp(item, "auditor") == 0 ? ROLE_AUDITOR
                   : strcmp(item, "proxy") == 0   ? ROLE_PROXY
                   : strcmp(item, "scim") == 0    ? ROLE_SCIM
                                                  : 0;
    if (bit == 0)
        problem(line, "x-allot-roles: unknown role \"%s\"", item);
    else if (*roles & bit)
        problem(line, "x-allot-roles: \"%s\" twice", item);
    *roles |= bit;
}

static void add_error_type(const char *item, int line, void *ctx)
{
    (void)ctx;
    for (size_t i = 0; i < doc.n_error_types; i++) {
        if (strcmp(doc.error_types[i], item) == 0) {
            problem(line, "ErrorType lists \"%s\" twice", item);
            return;
        }
    }
    if (doc.n_error_types == MAX_ENUM) {
        problem(line, "too many ErrorType values for the reader");
        return;
    }
    copy_text(doc.error_types[doc.n_error_types++], MAX_TEXT, item, strlen(item), line);
}

#define K(i) (r->stack[(i)].key)

/* A "key: value" line; the stack already ends with this key. */
static void on_key(struct reader *r, const char *value)
{
    int d = r->depth;
    int line = r->line;
    bool empty = value[0] == '\0';

    if (d == 1) {
        r->op = NULL;
        r->response = NULL;
        r->component = NULL;
        if (strcmp(K(0), "paths") == 0) {
            if (doc.saw_paths)
                problem(line, "second paths:");
            if (!empty)
                problem(line, "paths: must be a block mapping");
            doc.saw_paths = true;
        }
        return;
    }

    if (strcmp(K(0), "paths") == 0) {
        if (d == 2) {
            r->op = NULL;
            r->response = NULL;
            if (K(1)[0] != '/' || !empty) {
                problem(line, "under paths: expected a \"/path:\" key, got \"%s\"", K(1));
                return;
            }
            for (size_t i = 0; i < doc.n_paths; i++)
                if (strcmp(doc.paths[i], K(1)) == 0)
                    problem(line, "path %s twice", K(1));
            if (doc.n_paths == MAX_PATHS) {
                problem(line, "too many paths for the reader");
                return;
            }
            doc.path_lines[doc.n_paths] = line;
            copy_text(doc.paths[doc.n_paths++], MAX_TEXT, K(1), strlen(K(1)), line);
            return;
        }
        if (d == 3) {
            r->op = NULL;
            r->response = NULL;
            if (is_method(K(2))) {
                if (!empty) {
                    problem(line, "%s %s: operation must be a block mapping", K(2), K(1));
                    return;
                }
                if (doc.n_ops == MAX_OPS) {
                    problem(line, "too many operations for the reader");
                    return;
                }
                struct doc_op *op = &doc.ops[doc.n_ops++];
                memset(op, 0, sizeof *op);
                for (size_t i = 0; K(2)[i] && i + 1 < sizeof op->method; i++)
                    op->method[i] = (char)toupper((unsigned char)K(2)[i]);
                copy_text(op->path, sizeof op->path, K(1), strlen(K(1)), line);
                op->line = line;
                r->op = op;
                return;
            }
            if (strcmp(K(2), "summary") != 0 && strcmp(K(2), "description") != 0 &&
                strcmp(K(2), "parameters") != 0 && strcmp(K(2), "servers") != 0)
                problem(line, "path %s: unexpected key \"%s\"", K(1), K(2));
            return;
        }
        struct doc_op *op = r->op;
        if (op == NULL)
            return; /* under a path-level key (parameters, ...) */
        if (d == 4) {
            r->response = NULL;
            if (strcmp(K(3), "x-allot-roles") == 0) {
                if (op->roles_seen)
                    problem(line, "x-allot-roles twice");
                op->roles_seen = true;
                flow_list(value, line, add_role, &op->roles);
            } else if (strcmp(K(3), "security") == 0) {
                if (strcmp(value, "[]") != 0)
                    problem(line, "an operation's security may only be [] (public); "
                                  "others use the document's");
                else
                    op->public_security = true;
            } else if (strcmp(K(3), "requestBody") == 0) {
                op->has_body = true;
            }
            return;
        }
        if (strcmp(K(3), "responses") != 0)
            return;
        if (d == 5) {
            const char *code = K(4);
            bool digits = strlen(code) == 3 && isdigit((unsigned char)code[0]) &&
                          isdigit((unsigned char)code[1]) && isdigit((unsigned char)code[2]);
            if (!digits || !empty) {
                problem(line, "%s %s: response key \"%s\" is not a status code with a "
                              "block mapping", op->method, op->path, code);
                r->response = NULL;
                return;
            }
            if (op->n_responses == MAX_RESPONSES) {
                problem(line, "too many responses for the reader");
                r->response = NULL;
                return;
            }
            struct doc_response *resp = &op->responses[op->n_responses++];
            memset(resp, 0, sizeof *resp);
            copy_text(resp->code, sizeof resp->code, code, strlen(code), line);
            resp->line = line;
            r->response = resp;
            return;
        }
        struct doc_response *resp = r->response;
        if (resp == NULL)
            return;
        if (d == 6 && strcmp(K(5), "$ref") == 0)
            copy_text(resp->ref, sizeof resp->ref, value, strlen(value), line);
        if (d == 7 && strcmp(K(5), "headers") == 0) {
            if (strcmp(K(6), "X-Correlation-Id") == 0)
                resp->has_corr_id = true;
            if (strcmp(K(6), "Location") == 0)
                resp->has_location = true;
        }
        return;
    }

    if (strcmp(K(0), "components") != 0)
        return;

    if (strcmp(K(1), "responses") == 0) {
        if (d == 3) {
            if (doc.n_components == MAX_COMPONENTS) {
                problem(line, "too many component responses for the reader");
                r->component = NULL;
                return;
            }
            struct doc_component_response *c = &doc.components[doc.n_components++];
            memset(c, 0, sizeof *c);
            copy_text(c->name, sizeof c->name, K(2), strlen(K(2)), line);
            c->status = -1;
            c->line = line;
            r->component = c;
            return;
        }
        struct doc_component_response *c = r->component;
        if (c == NULL || d < 4)
            return;
        if (d == 5 && strcmp(K(3), "headers") == 0 && strcmp(K(4), "X-Correlation-Id") == 0)
            c->has_corr_id = true;
        /* content/<media type>/example/{errorType,statusCode} */
        if (d == 7 && strcmp(K(3), "content") == 0 && strcmp(K(5), "example") == 0) {
            if (strcmp(K(6), "errorType") == 0) {
                if (c->error_type[0])
                    problem(line, "response %s: errorType twice", c->name);
                copy_text(c->error_type, sizeof c->error_type, value, strlen(value), line);
            } else if (strcmp(K(6), "statusCode") == 0) {
                char *end;
                long s = strtol(value, &end, 10);
                if (end == value || *end != '\0' || s < 100 || s > 599)
                    problem(line, "response %s: statusCode \"%s\" is not a status",
                            c->name, value);
                else
                    c->status = s;
            }
        }
        return;
    }

    if (d == 4 && strcmp(K(1), "schemas") == 0 && strcmp(K(2), "ErrorType") == 0 &&
        strcmp(K(3), "enum") == 0) {
        if (doc.saw_error_type)
            problem(line, "ErrorType enum twice");
        doc.saw_error_type = true;
        if (!empty)
            flow_list(value, line, add_error_type, NULL);
    }
}

/* A "- scalar" item; the stack ends with the key that holds the sequence. */
static void on_item(struct reader *r, const char *value)
{
    if (r->depth == 4 && strcmp(K(0), "components") == 0 && strcmp(K(1), "schemas") == 0 &&
        strcmp(K(2), "ErrorType") == 0 && strcmp(K(3), "enum") == 0)
        add_error_type(value, r->line, NULL);
}

#undef K

static void pop_to(struct reader *r, int indent, bool keep_equal)
{
    while (r->depth > 0) {
        int top = r->stack[r->depth - 1].indent;
        if (top > indent || (top == indent && !keep_equal))
            r->depth--;
        else
            break;
    }
}

static bool push_key(struct reader *r, int indent, const char *key, size_t len)
{
    if (r->depth == MAX_DEPTH) {
        problem(r->line, "nesting too deep for the reader");
        return false;
    }
    struct frame *f = &r->stack[r->depth];
    if (!copy_text(f->key, sizeof f->key, key, len, r->line))
        return false;
    f->indent = indent;
    r->depth++;
    return true;
}

/* Finds "key:" at the start of s; sets the key's extent and where the value
 * starts.  false when s is not a mapping entry. */
static bool split_key(char *s, const char **key, size_t *key_len, char **value, int line)
{
    if (s[0] == '\'' || s[0] == '"') {
        char *close = strchr(s + 1, s[0]);
        if (close == NULL || close[1] != ':' || (close[2] != '\0' && close[2] != ' '))
            return false;
        if (memchr(s + 1, '\\', (size_t)(close - s - 1)) != NULL ||
            (s[0] == '\'' && close[1] == '\'')) {
            problem(line, "escapes in a quoted key are outside the reader's subset");
            return false;
        }
        *key = s + 1;
        *key_len = (size_t)(close - s - 1);
        *value = close + 2;
    } else {
        char *p = s;
        for (;; p++) {
            if (*p == '\0')
                return false;
            if (*p == ':' && (p[1] == '\0' || p[1] == ' '))
                break;
            if (*p == '#' && p > s && p[-1] == ' ')
                return false;
        }
        if (p == s)
            return false;
        *key = s;
        *key_len = (size_t)(p - s);
        *value = p + 1;
    }
    while (**value == ' ')
        (*value)++;
    if (**value == '#')
        *value += strlen(*value); /* only a comment */
    return true;
}

static void read_line(struct reader *r, char *s)
{
    size_t len = strlen(s);
    while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == '\r'))
        s[--len] = '\0';
    int indent = 0;
    while (s[indent] == ' ')
        indent++;
    bool blank = s[indent] == '\0';

    if (r->block_indent >= 0) {
        if (blank || indent > r->block_indent)
            return;
        r->block_indent = -1;
    }
    if (blank || s[indent] == '#')
        return;
    if (s[indent] == '\t') {
        problem(r->line, "tab in indentation");
        return;
    }
    while (len > 0 && s[len - 1] == ' ')
        s[--len] = '\0';
    char *content = s + indent;
    if (strncmp(content, "---", 3) == 0 || strncmp(content, "...", 3) == 0 ||
        content[0] == '%') {
        problem(r->line, "document markers and directives are outside the reader's subset");
        return;
    }

    bool item = false;
    int key_indent = indent;
    if (content[0] == '-' && (content[1] == ' ' || content[1] == '\0')) {
        item = true;
        content += content[1] ? 2 : 1;
        while (*content == ' ')
            content++;
        key_indent = (int)(content - s);
        if (*content == '\0') {
            problem(r->line, "an item must be on its dash's line");
            return;
        }
        if (content[0] == '-' && (content[1] == ' ' || content[1] == '\0')) {
            problem(r->line, "nested sequence on one line is outside the reader's subset");
            return;
        }
        pop_to(r, indent, true);
    }

    const char *key;
    size_t key_len;
    char *value;
    bool is_pair = content[0] != '[' && content[0] != '{' &&
                   split_key(content, &key, &key_len, &value, r->line);
    if (!is_pair) {
        if (!item) {
            problem(r->line, "not a \"key: value\" line: \"%.60s\"", content);
            return;
        }
        if (is_block_indicator(content)) {
            r->block_indent = indent;
            return;
        }
        if (scalar_value(content, r->line))
            on_item(r, content);
        return;
    }
    if (!item)
        pop_to(r, key_indent, false);
    if (!push_key(r, key_indent, key, key_len))
        return;
    if (is_block_indicator(value)) {
        r->block_indent = key_indent;
        on_key(r, "");
        return;
    }
    if (value[0] != '\0' && !scalar_value(value, r->line))
        return;
    on_key(r, value);
}

static void read_document(void)
{
    const char *root = getenv("ALLOT_SOURCE_ROOT");
    snprintf(doc_file, sizeof doc_file, "%s/openapi/openapi.yaml",
             root && *root ? root : ".");
    FILE *f = fopen(doc_file, "r");
    if (f == NULL)
        return;
    doc.read = true;
    struct reader r = {.block_indent = -1};
    char *buf = NULL;
    size_t cap = 0;
    while (getline(&buf, &cap, f) != -1) {
        r.line++;
        read_line(&r, buf);
    }
    free(buf);
    fclose(f);
}

/* ---- Helpers over the router and the registry ---- */

static const char *roles_text(unsigned roles, char *buf, size_t cap)
{
    static const unsigned bits[] = {ROLE_ADMIN, ROLE_AUDITOR, ROLE_PROXY, ROLE_SCIM};
    size_t n = (size_t)snprintf(buf, cap, "[");
    for (size_t i = 0; i < sizeof bits / sizeof bits[0] && n < cap; i++)
        if (roles & bits[i])
            n += (size_t)snprintf(buf + n, cap - n, "%s%s", n > 1 ? ", " : "",
                                  http_role_name(bits[i]));
    if (n < cap)
        snprintf(buf + n, cap - n, "]");
    return buf;
}

/* A router pattern and a documented path name the same path: OpenAPI has no
 * rest-of-path template, so the router's final "{name*}" is documented as
 * "{name}" (its description says that it takes the rest of the path). */
static bool same_path(const char *pattern, const char *doc_path)
{
    size_t n = strlen(pattern);
    if (n > 3 && strcmp(pattern + n - 2, "*}") == 0)
        return strlen(doc_path) == n - 1 && strncmp(pattern, doc_path, n - 2) == 0 &&
               doc_path[n - 2] == '}';
    return strcmp(pattern, doc_path) == 0;
}

static const struct http_route *find_route(const char *method, const char *path)
{
    for (size_t i = 0; i < api_routes_count; i++)
        if (strcmp(api_routes[i].method, method) == 0 && same_path(api_routes[i].pattern, path))
            return &api_routes[i];
    return NULL;
}

static const struct doc_op *find_op(const char *method, const char *pattern)
{
    for (size_t i = 0; i < doc.n_ops; i++)
        if (strcmp(doc.ops[i].method, method) == 0 && same_path(pattern, doc.ops[i].path))
            return &doc.ops[i];
    return NULL;
}

static const struct def_error *find_def_error(const char *type)
{
    for (size_t i = 0; i < DEF_ERRORS_COUNT; i++)
        if (strcmp(def_errors[i].type, type) == 0)
            return &def_errors[i];
    return NULL;
}

static const struct doc_component_response *find_component(const char *ref)
{
    static const char prefix[] = "#/components/responses/";
    if (strncmp(ref, prefix, sizeof prefix - 1) != 0)
        return NULL;
    for (size_t i = 0; i < doc.n_components; i++)
        if (strcmp(doc.components[i].name, ref + sizeof prefix - 1) == 0)
            return &doc.components[i];
    return NULL;
}

static bool documents(const struct doc_op *op, const char *code)
{
    for (size_t i = 0; i < op->n_responses; i++)
        if (strcmp(op->responses[i].code, code) == 0)
            return true;
    return false;
}

static void require_code(const struct doc_op *op, const char *code, const char *why)
{
    if (!documents(op, code)) {
        printf("# %s %s (openapi.yaml:%d) does not document %s (%s)\n", op->method,
               op->path, op->line, code, why);
        t_state.current_failed = true;
    }
}

static void forbid_code(const struct doc_op *op, const char *code, const char *why)
{
    if (documents(op, code)) {
        printf("# %s %s (openapi.yaml:%d) documents %s, which it cannot answer (%s)\n",
               op->method, op->path, op->line, code, why);
        t_state.current_failed = true;
    }
}

/* ---- Tests ---- */

static void test_document_reads(void)
{
    if (!doc.read) {
        printf("# cannot open %s\n", doc_file);
        T_REQUIRE(doc.read);
    }
    for (size_t i = 0; i < doc.n_problems; i++)
        printf("# %s\n", doc.problems[i]);
    if (doc.problems_dropped)
        printf("# ... and %zu more problems\n", doc.problems_dropped);
    printf("# %s: %zu paths, %zu operations, %zu error types, %zu shared responses\n",
           doc_file, doc.n_paths, doc.n_ops, doc.n_error_types, doc.n_components);
    T_EQ_INT(doc.n_problems, 0);
    T_CHECK(doc.saw_paths);
    T_CHECK(doc.saw_error_type);
    T_CHECK(doc.n_ops > 0);
    for (size_t i = 0; i < doc.n_paths; i++) {
        bool has_op = false;
        for (size_t j = 0; j < doc.n_ops; j++)
            has_op = has_op || strcmp(doc.ops[j].path, doc.paths[i]) == 0;
        if (!has_op) {
            printf("# openapi.yaml:%d: path %s has no operation\n", doc.path_lines[i],
                   doc.paths[i]);
            t_state.current_failed = true;
        }
    }
}

static void test_router_routes_are_documented(void)
{
    T_REQUIRE(doc.read && doc.n_problems == 0);
    T_CHECK(api_routes_count > 0);
    for (size_t i = 0; i < api_routes_count; i++) {
        const struct http_route *rt = &api_routes[i];
        if (strcmp(rt->method, "HEAD") == 0)
            continue; /* served by GET routes; implicit in the document */
        if (find_op(rt->method, rt->pattern) == NULL) {
            printf("# router has %s %s, openapi does not\n", rt->method, rt->pattern);
            t_state.current_failed = true;
        }
    }
}

static void test_documented_routes_exist(void)
{
    T_REQUIRE(doc.read && doc.n_problems == 0);
    for (size_t i = 0; i < doc.n_ops; i++) {
        const struct doc_op *op = &doc.ops[i];
        if (strcmp(op->method, "HEAD") == 0) {
            printf("# openapi.yaml:%d: HEAD %s is implicit (every GET answers HEAD); "
                   "do not document it\n", op->line, op->path);
            t_state.current_failed = true;
        } else if (find_route(op->method, op->path) == NULL) {
            printf("# openapi has %s %s, router does not\n", op->method, op->path);
            t_state.current_failed = true;
        }
    }
}

static void test_roles_agree(void)
{
    T_REQUIRE(doc.read && doc.n_problems == 0);
    char a[64], b[64];
    for (size_t i = 0; i < doc.n_ops; i++) {
        const struct doc_op *op = &doc.ops[i];
        const struct http_route *rt = find_route(op->method, op->path);
        if (!op->roles_seen) {
            printf("# %s %s (openapi.yaml:%d) has no x-allot-roles\n", op->method,
                   op->path, op->line);
            t_state.current_failed = true;
        }
        if (op->public_security != (op->roles_seen && op->roles == ROLE_PUBLIC)) {
            printf("# %s %s (openapi.yaml:%d): `security: []` must be there exactly "
                   "when x-allot-roles is []\n", op->method, op->path, op->line);
            t_state.current_failed = true;
        }
        if (rt == NULL || !op->roles_seen)
            continue;
        if (rt->roles != op->roles) {
            printf("# %s %s: router admits %s, openapi x-allot-roles: %s\n", op->method,
                   op->path, roles_text(rt->roles, a, sizeof a),
                   roles_text(op->roles, b, sizeof b));
            t_state.current_failed = true;
        }
        if (rt->needs_body != op->has_body) {
            printf("# %s %s: router %s, openapi %s\n", op->method, op->path,
                   rt->needs_body ? "reads a body" : "reads no body",
                   op->has_body ? "has a requestBody" : "has no requestBody");
            t_state.current_failed = true;
        }
    }
}

static void test_error_types_agree(void)
{
    T_REQUIRE(doc.read && doc.n_problems == 0);
    for (size_t i = 0; i < DEF_ERRORS_COUNT; i++) {
        bool found = false;
        for (size_t j = 0; j < doc.n_error_types; j++)
            found = found || strcmp(doc.error_types[j], def_errors[i].type) == 0;
        if (!found) {
            printf("# errors.def has %s (%s, %u), openapi ErrorType does not\n",
                   def_errors[i].type, def_errors[i].name, def_errors[i].status);
            t_state.current_failed = true;
        }
    }
    for (size_t j = 0; j < doc.n_error_types; j++) {
        if (find_def_error(doc.error_types[j]) == NULL) {
            printf("# openapi ErrorType has %s, errors.def does not\n", doc.error_types[j]);
            t_state.current_failed = true;
        }
    }
    /* two entries of errors.def with one type would make the enum ambiguous */
    for (size_t i = 0; i < DEF_ERRORS_COUNT; i++)
        for (size_t j = i + 1; j < DEF_ERRORS_COUNT; j++)
            if (strcmp(def_errors[i].type, def_errors[j].type) == 0) {
                printf("# errors.def has %s twice\n", def_errors[i].type);
                t_state.current_failed = true;
            }
}

static void test_error_statuses_agree(void)
{
    T_REQUIRE(doc.read && doc.n_problems == 0);
    for (size_t i = 0; i < doc.n_components; i++) {
        const struct doc_component_response *c = &doc.components[i];
        if (c->error_type[0] == '\0' && c->status < 0)
            continue; /* not an error response */
        const struct def_error *e = find_def_error(c->error_type);
        if (e == NULL) {
            printf("# response %s (openapi.yaml:%d): example errorType \"%s\" is not in "
                   "errors.def\n", c->name, c->line, c->error_type);
            t_state.current_failed = true;
        } else if (c->status != (long)e->status) {
            printf("# response %s (openapi.yaml:%d): example statusCode %ld, errors.def "
                   "gives %s status %u\n", c->name, c->line, c->status, e->type, e->status);
            t_state.current_failed = true;
        }
    }
    for (size_t i = 0; i < doc.n_ops; i++) {
        const struct doc_op *op = &doc.ops[i];
        for (size_t j = 0; j < op->n_responses; j++) {
            const struct doc_response *resp = &op->responses[j];
            if (resp->code[0] != '4' && resp->code[0] != '5')
                continue;
            const struct doc_component_response *c = find_component(resp->ref);
            if (c == NULL || c->error_type[0] == '\0') {
                printf("# %s %s %s (openapi.yaml:%d): an error response must be a $ref "
                       "to a components/responses entry with an errorType example\n",
                       op->method, op->path, resp->code, resp->line);
                t_state.current_failed = true;
                continue;
            }
            const struct def_error *e = find_def_error(c->error_type);
            if (e != NULL && strtol(resp->code, NULL, 10) != (long)e->status) {
                printf("# %s %s documents %s as %s, errors.def gives it status %u\n",
                       op->method, op->path, c->error_type, resp->code, e->status);
                t_state.current_failed = true;
            }
        }
    }
}

static void test_responses_complete(void)
{
    T_REQUIRE(doc.read && doc.n_problems == 0);
    for (size_t i = 0; i < doc.n_components; i++) {
        if (!doc.components[i].has_corr_id) {
            printf("# response %s (openapi.yaml:%d) has no X-Correlation-Id header\n",
                   doc.components[i].name, doc.components[i].line);
            t_state.current_failed = true;
        }
    }
    for (size_t i = 0; i < doc.n_ops; i++) {
        const struct doc_op *op = &doc.ops[i];
        bool has_success = false;
        for (size_t j = 0; j < op->n_responses; j++) {
            const struct doc_response *resp = &op->responses[j];
            has_success = has_success || resp->code[0] == '2';
            if (resp->ref[0] != '\0') {
                if (find_component(resp->ref) == NULL) {
                    printf("# %s %s %s (openapi.yaml:%d): $ref %s names no "
                           "components/responses entry\n", op->method, op->path,
                           resp->code, resp->line, resp->ref);
                    t_state.current_failed = true;
                }
                continue;
            }
            if (!resp->has_corr_id) {
                printf("# %s %s %s (openapi.yaml:%d) has no X-Correlation-Id header\n",
                       op->method, op->path, resp->code, resp->line);
                t_state.current_failed = true;
            }
            if (strcmp(resp->code, "201") == 0 && !resp->has_location) {
                printf("# %s %s 201 (openapi.yaml:%d) has no Location header\n",
                       op->method, op->path, resp->line);
                t_state.current_failed = true;
            }
        }
        if (!has_success) {
            printf("# %s %s (openapi.yaml:%d) documents no 2xx response\n", op->method,
                   op->path, op->line);
            t_state.current_failed = true;
        }
        require_code(op, "500", "any request may fail");
        if (!op->roles_seen)
            continue;
        if (op->roles == ROLE_PUBLIC) {
            forbid_code(op, "401", "public route");
            forbid_code(op, "403", "public route");
        } else {
            require_code(op, "401", "needs an API key");
            if (op->roles == ROLE_ANY)
                forbid_code(op, "403", "every role is admitted");
            else
                require_code(op, "403", "not every role is admitted");
        }
        if (op->has_body) {
            require_code(op, "400", "reads a body");
            require_code(op, "413", "reads a body");
            require_code(op, "415", "reads a body");
        }
    }
}

int main(void)
{
    read_document();
    T_RUN(test_document_reads);
    T_RUN(test_router_routes_are_documented);
    T_RUN(test_documented_routes_exist);
    T_RUN(test_roles_agree);
    T_RUN(test_error_types_agree);
    T_RUN(test_error_statuses_agree);
    T_RUN(test_responses_complete);
    return t_done();
}
