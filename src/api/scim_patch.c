/* SCIM PATCH (RFC 7644 section 3.5.2) over a resource as it was read, and
 * the member changes of a group's PATCH.  Pure: no database, no request. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "allot/scim.h"

#define NAME_MAX_LEN 200

json_t *scim_get(const json_t *obj, const char *name, const char **key)
{
    const char *k;
    json_t *v;
    if (!json_is_object(obj))
        return NULL;
    json_object_foreach((json_t *)(uintptr_t)obj, k, v) {
        if (strcasecmp(k, name) == 0) {
            if (key != NULL)
                *key = k;
            return v;
        }
    }
    return NULL;
}

bool scim_bool(const json_t *v, bool *out)
{
    if (json_is_boolean(v)) {
        *out = json_is_true(v);
        return true;
    }
    const char *s = json_string_value(v);
    if (s != NULL && strcasecmp(s, "true") == 0) {
        *out = true;
        return true;
    }
    if (s != NULL && strcasecmp(s, "false") == 0) {
        *out = false;
        return true;
    }
    return false;
}

static bool fail(struct scim_fault *f, const char *scim_type, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static bool fail(struct scim_fault *f, const char *scim_type, const char *fmt, ...)
{
    f->scim_type = scim_type;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->detail, sizeof f->detail, fmt, ap);
    va_end(ap);
    return false;
}

/* Deletes a member by name, case-insensitively (the key is copied first:
 * it lives in the object). */
static void del_ci(json_t *obj, const char *name)
{
    const char *key = NULL;
    if (scim_get(obj, name, &key) == NULL)
        return;
    char copy[NAME_MAX_LEN + 256];
    snprintf(copy, sizeof copy, "%s", key);
    json_object_del(obj, copy);
}

enum op { OP_ADD, OP_REPLACE, OP_REMOVE };

/* A path: [extension URN ':'] attr ['[' fattr eq value ']'] ['.' sub]. */
struct path {
    char ext[NAME_MAX_LEN];   /* "" or the extension schema's URN */
    char attr[NAME_MAX_LEN];
    char fattr[NAME_MAX_LEN]; /* "": no value filter */
    json_t *fvalue;           /* owned */
    char sub[NAME_MAX_LEN];
};

static const char *const core_urns[] = {SCIM_SCHEMA_USER ":", SCIM_SCHEMA_GROUP ":"};

static bool copy_name(char *out, const char *s, size_t n)
{
    if (n == 0 || n >= NAME_MAX_LEN)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '$'))
            return false;
    }
    memcpy(out, s, n);
    out[n] = '\0';
    return true;
}

static bool parse_path(const char *text, struct path *p, struct scim_fault *f)
{
    memset(p, 0, sizeof *p);
    const char *s = text;
    if (strncasecmp(s, "urn:", 4) == 0) {
        bool core = false;
        for (size_t i = 0; i < sizeof core_urns / sizeof core_urns[0]; i++) {
            size_t n = strlen(core_urns[i]);
            if (strncasecmp(s, core_urns[i], n) == 0) {
                s += n;
                core = true;
                break;
            }
        }
        if (!core) {
            /* an extension: its URN runs to the last ':' before the attribute */
            const char *bracket = strchr(s, '[');
            const char *colon = NULL;
            for (const char *c = s; *c != '\0' && (bracket == NULL || c < bracket); c++)
                if (*c == ':')
                    colon = c;
            if (colon == NULL || (size_t)(colon - s) >= sizeof p->ext)
                return fail(f, "invalidPath", "The path %.100s names no attribute", text);
            memcpy(p->ext, s, (size_t)(colon - s));
            p->ext[colon - s] = '\0';
            s = colon + 1;
        }
    }
    size_t n = strcspn(s, "[.");
    if (!copy_name(p->attr, s, n))
        return fail(f, "invalidPath", "The path %.100s is not one SCIM allows", text);
    s += n;
    if (*s == '[') {
        const char *close = strrchr(s, ']');
        if (close == NULL)
            return fail(f, "invalidPath", "The path %.100s has no closing ]", text);
        char inner[512];
        size_t len = (size_t)(close - s - 1);
        if (len >= sizeof inner)
            return fail(f, "invalidPath", "The path %.100s has too long a filter", text);
        memcpy(inner, s + 1, len);
        inner[len] = '\0';
        char *q = inner;
        while (*q == ' ')
            q++;
        size_t an = strcspn(q, " ");
        if (!copy_name(p->fattr, q, an))
            return fail(f, "invalidFilter", "The filter of %.100s names no attribute", text);
        q += an;
        while (*q == ' ')
            q++;
        if (strncasecmp(q, "eq ", 3) != 0)
            return fail(f, "invalidFilter", "The filter of %.100s: only eq is supported", text);
        q += 3;
        json_error_t err;
        p->fvalue = json_loads(q, JSON_DECODE_ANY, &err);
        if (p->fvalue == NULL || json_is_object(p->fvalue) || json_is_array(p->fvalue))
            return fail(f, "invalidFilter", "The filter of %.100s needs a plain value", text);
        s = close + 1;
    }
    if (*s == '.') {
        s++;
        if (!copy_name(p->sub, s, strlen(s)))
            return fail(f, "invalidPath", "The path %.100s is not one SCIM allows", text);
    } else if (*s != '\0') {
        return fail(f, "invalidPath", "The path %.100s is not one SCIM allows", text);
    }
    return true;
}

static bool matches(const json_t *elem, const struct path *p)
{
    const json_t *v = scim_get(elem, p->fattr, NULL);
    if (v == NULL)
        return false;
    if (json_is_string(v) && json_is_string(p->fvalue))
        return strcasecmp(json_string_value(v), json_string_value(p->fvalue)) == 0;
    return json_equal(v, p->fvalue);
}

/* Sets name in obj to value (taking it): an array is appended to (add) or
 * replaced, an object merged into (sub-attributes not given stay). */
static void put_value(json_t *obj, const char *name, enum op op, json_t *value)
{
    const char *key = NULL;
    json_t *cur = scim_get(obj, name, &key);
    if (cur != NULL && json_is_array(cur) && op == OP_ADD) {
        if (json_is_array(value))
            json_array_extend(cur, value);
        else
            json_array_append(cur, value);
        json_decref(value);
    } else if (cur != NULL && json_is_object(cur) && json_is_object(value)) {
        json_object_update(cur, value);
        json_decref(value);
    } else {
        json_object_set_new(obj, key ? key : name, value);
    }
}

/* The attributes no PATCH of a user may write. */
static bool read_only(const char *attr)
{
    return strcasecmp(attr, "id") == 0 || strcasecmp(attr, "meta") == 0 ||
           strcasecmp(attr, "groups") == 0;
}

static bool apply_path(json_t *res, enum op op, const char *text, const json_t *value,
                       struct scim_fault *f)
{
    struct path p;
    if (!parse_path(text, &p, f)) {
        json_decref(p.fvalue);
        return false;
    }
    bool ok = true;
    json_t *box = res;
    if (p.ext[0] != '\0') {
        const char *key = NULL;
        box = scim_get(res, p.ext, &key);
        if (box == NULL || !json_is_object(box)) {
            if (op == OP_REMOVE)
                goto done;
            box = json_object();
            json_object_set_new(res, p.ext, box);
        }
    } else if (read_only(p.attr)) {
        ok = fail(f, "mutability", "%s cannot be changed by a PATCH of a user", p.attr);
        goto done;
    } else if (strcasecmp(p.attr, "schemas") == 0) {
        goto done; /* allot keeps the schemas */
    }
    if (op != OP_REMOVE && value == NULL) {
        ok = fail(f, "invalidValue", "An %s operation needs a value", op == OP_ADD ? "add" : "replace");
        goto done;
    }
    if (p.fattr[0] == '\0') {
        if (p.sub[0] == '\0') {
            if (op != OP_REMOVE)
                put_value(box, p.attr, op, json_deep_copy(value));
            else
                del_ci(box, p.attr);
            goto done;
        }
        const char *key = NULL;
        json_t *obj = scim_get(box, p.attr, &key);
        if (obj == NULL || !json_is_object(obj)) {
            if (op == OP_REMOVE)
                goto done;
            obj = json_object();
            json_object_set_new(box, key ? key : p.attr, obj);
        }
        if (op == OP_REMOVE) {
            del_ci(obj, p.sub);
        } else {
            put_value(obj, p.sub, op, json_deep_copy(value));
        }
        goto done;
    }
    /* a value filter over a multi-valued attribute */
    const char *key = NULL;
    json_t *arr = scim_get(box, p.attr, &key);
    if (arr == NULL || !json_is_array(arr)) {
        if (op == OP_REMOVE)
            goto done;
        arr = json_array();
        json_object_set_new(box, key ? key : p.attr, arr);
    }
    if (op != OP_REMOVE && p.sub[0] == '\0' && !json_is_object(value)) {
        ok = fail(f, "invalidValue", "The value for %s must be an object", text);
        goto done;
    }
    bool hit = false;
    for (size_t i = 0; i < json_array_size(arr);) {
        json_t *elem = json_array_get(arr, i);
        if (!json_is_object(elem) || !matches(elem, &p)) {
            i++;
            continue;
        }
        hit = true;
        if (op == OP_REMOVE && p.sub[0] == '\0') {
            json_array_remove(arr, i);
            continue;
        }
        if (op == OP_REMOVE) {
            del_ci(elem, p.sub);
        } else if (p.sub[0] != '\0') {
            const char *sk = NULL;
            scim_get(elem, p.sub, &sk);
            json_object_set_new(elem, sk ? sk : p.sub, json_deep_copy(value));
        } else {
            json_object_update(elem, (json_t *)(uintptr_t)value);
        }
        i++;
    }
    if (!hit && op != OP_REMOVE) {
        /* Entra's replace of emails[type eq "work"].value when there is none:
         * the element is made */
        json_t *elem = json_object();
        json_object_set(elem, p.fattr, p.fvalue);
        if (p.sub[0] != '\0')
            json_object_set_new(elem, p.sub, json_deep_copy(value));
        else
            json_object_update(elem, (json_t *)(uintptr_t)value);
        json_array_append_new(arr, elem);
    }
done:
    json_decref(p.fvalue);
    return ok;
}

static bool parse_op(const json_t *o, enum op *op, const char **path, const json_t **value,
                     struct scim_fault *f)
{
    const char *name = json_string_value(scim_get(o, "op", NULL));
    if (!json_is_object(o) || name == NULL)
        return fail(f, "invalidSyntax", "Each operation needs an op%s", "");
    if (strcasecmp(name, "add") == 0)
        *op = OP_ADD;
    else if (strcasecmp(name, "replace") == 0)
        *op = OP_REPLACE;
    else if (strcasecmp(name, "remove") == 0)
        *op = OP_REMOVE;
    else
        return fail(f, "invalidSyntax", "op must be add, replace or remove, not %.40s", name);
    const json_t *p = scim_get(o, "path", NULL);
    if (p != NULL && !json_is_string(p) && !json_is_null(p))
        return fail(f, "invalidPath", "path must be a string%s", "");
    *path = json_string_value(p);
    if (*path != NULL && (*path)[0] == '\0')
        *path = NULL;
    *value = scim_get(o, "value", NULL);
    return true;
}

static const json_t *operations(const json_t *body, struct scim_fault *f)
{
    const json_t *ops = scim_get(body, "Operations", NULL);
    if (!json_is_object(body) || !json_is_array(ops) || json_array_size(ops) == 0) {
        fail(f, "invalidSyntax", "A PATCH body needs Operations, a list of operations%s", "");
        return NULL;
    }
    return ops;
}

bool scim_patch_user(json_t *res, const json_t *body, struct scim_fault *f)
{
    const json_t *ops = operations(body, f);
    if (ops == NULL)
        return false;
    size_t i;
    const json_t *o;
    json_array_foreach(ops, i, o) {
        enum op op;
        const char *path;
        const json_t *value;
        if (!parse_op(o, &op, &path, &value, f))
            return false;
        if (path != NULL) {
            if (!apply_path(res, op, path, value, f))
                return false;
            continue;
        }
        if (op == OP_REMOVE)
            return fail(f, "noTarget", "A remove needs a path%s", "");
        if (!json_is_object(value))
            return fail(f, "invalidValue", "An operation without a path needs an object value%s", "");
        const char *k;
        const json_t *v;
        json_object_foreach((json_t *)(uintptr_t)value, k, v) {
            /* Okta sends the id along; the schemas and meta are allot's */
            if (strcasecmp(k, "id") == 0 || strcasecmp(k, "schemas") == 0 ||
                strcasecmp(k, "meta") == 0)
                continue;
            if (!apply_path(res, op, k, v, f))
                return false;
        }
    }
    return true;
}

/* A member list as SCIM sends it ([{"value": id}, ...], or one such
 * object): the ids, appended to out. */
static bool member_ids(const json_t *v, json_t *out, struct scim_fault *f)
{
    if (json_is_object(v)) {
        const char *id = json_string_value(scim_get(v, "value", NULL));
        if (id == NULL)
            return fail(f, "invalidValue", "Each member needs a value, the user's id%s", "");
        json_array_append_new(out, json_string(id));
        return true;
    }
    if (!json_is_array(v))
        return fail(f, "invalidValue", "members must be a list of {\"value\": id}%s", "");
    size_t i;
    const json_t *m;
    json_array_foreach(v, i, m) {
        if (!json_is_object(m) || !member_ids(m, out, f))
            return fail(f, "invalidValue", "members must be a list of {\"value\": id}%s", "");
    }
    return true;
}

/* Takes the ids of `ids` out of list. */
static void drop_ids(json_t *list, const json_t *ids)
{
    for (size_t i = 0; i < json_array_size(list);) {
        bool found = false;
        size_t j;
        const json_t *id;
        json_array_foreach(ids, j, id) {
            if (json_equal(id, json_array_get(list, i))) {
                found = true;
                break;
            }
        }
        if (found)
            json_array_remove(list, i);
        else
            i++;
    }
}

static bool group_members(struct scim_group_patch *g, enum op op, const json_t *value,
                          struct scim_fault *f)
{
    json_t *ids = json_array();
    if (value != NULL && !json_is_null(value) && !member_ids(value, ids, f)) {
        json_decref(ids);
        return false;
    }
    if (op == OP_REPLACE || (op == OP_REMOVE && (value == NULL || json_is_null(value)))) {
        json_decref(g->replace);
        g->replace = ids; /* a remove without a value: no members */
        json_array_clear(g->add);
        json_array_clear(g->remove);
        return true;
    }
    if (op == OP_ADD) {
        if (g->replace != NULL)
            json_array_extend(g->replace, ids);
        else {
            drop_ids(g->remove, ids);
            json_array_extend(g->add, ids);
        }
    } else {
        if (g->replace != NULL)
            drop_ids(g->replace, ids);
        else {
            drop_ids(g->add, ids);
            json_array_extend(g->remove, ids);
        }
    }
    json_decref(ids);
    return true;
}

static bool group_attr(struct scim_group_patch *g, enum op op, const char *attr,
                       const json_t *value, struct scim_fault *f)
{
    if (strcasecmp(attr, "members") == 0)
        return group_members(g, op, value, f);
    if (strcasecmp(attr, "displayName") == 0) {
        if (op == OP_REMOVE || !json_is_string(value))
            return fail(f, "invalidValue", "displayName must be a string%s", "");
        g->display = json_string_value(value);
        return true;
    }
    if (strcasecmp(attr, "externalId") == 0) {
        if (op != OP_REMOVE && !json_is_string(value) && !json_is_null(value))
            return fail(f, "invalidValue", "externalId must be a string%s", "");
        g->set_external = true;
        g->external_id = op == OP_REMOVE ? NULL : json_string_value(value);
        return true;
    }
    if (strcasecmp(attr, "id") == 0 || strcasecmp(attr, "schemas") == 0 ||
        strcasecmp(attr, "meta") == 0)
        return true; /* Okta sends the id along */
    return fail(f, "invalidPath", "A group has no attribute %.100s to change", attr);
}

bool scim_patch_group(const json_t *body, struct scim_group_patch *g, struct scim_fault *f)
{
    memset(g, 0, sizeof *g);
    g->add = json_array();
    g->remove = json_array();
    const json_t *ops = operations(body, f);
    if (ops == NULL)
        return false;
    size_t i;
    const json_t *o;
    json_array_foreach(ops, i, o) {
        enum op op;
        const char *path;
        const json_t *value;
        if (!parse_op(o, &op, &path, &value, f))
            return false;
        if (path == NULL) {
            if (op == OP_REMOVE)
                return fail(f, "noTarget", "A remove needs a path%s", "");
            if (!json_is_object(value))
                return fail(f, "invalidValue", "An operation without a path needs an object value%s", "");
            const char *k;
            const json_t *v;
            json_object_foreach((json_t *)(uintptr_t)value, k, v) {
                if (!group_attr(g, op, k, v, f))
                    return false;
            }
            continue;
        }
        struct path p;
        bool ok = parse_path(path, &p, f);
        if (ok && p.fattr[0] != '\0') {
            /* members[value eq "id"]: that member */
            if (strcasecmp(p.attr, "members") != 0 || strcasecmp(p.fattr, "value") != 0 ||
                !json_is_string(p.fvalue) || p.sub[0] != '\0' || op != OP_REMOVE)
                ok = fail(f, "invalidPath", "Only a remove of members[value eq \"id\"] takes a "
                          "filter%s", "");
            else {
                json_t *one = json_pack("[{s:O}]", "value", p.fvalue);
                ok = group_members(g, OP_REMOVE, one, f);
                json_decref(one);
            }
        } else if (ok && (p.sub[0] != '\0' || p.ext[0] != '\0')) {
            ok = fail(f, "invalidPath", "A group has no attribute %.100s to change", path);
        } else if (ok) {
            ok = group_attr(g, op, p.attr, value, f);
        }
        json_decref(p.fvalue);
        if (!ok)
            return false;
    }
    return true;
}

void scim_group_patch_free(struct scim_group_patch *p)
{
    json_decref(p->replace);
    json_decref(p->add);
    json_decref(p->remove);
    memset(p, 0, sizeof *p);
}
