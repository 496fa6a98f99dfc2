/* Reader for Nix .drv files:
 *   Derive([outputs],[inputDrvs],[inputSrcs],"system","builder",[args],[env])
 *   DrvWithVersion("tag",[outputs],[inputDrvs],...)
 * A small recursive-descent parser over a bounded cursor: every read checks the end of the
 * buffer, every list has a maximum length, nesting has a maximum depth. */
#include "shared/drv.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "basic/macro.h"

typedef struct Cursor {
        const char *p, *end;
} Cursor;

static bool expect(Cursor *c, const char *lit) {
        size_t n = strlen(lit);
        if ((size_t) (c->end - c->p) < n || memcmp(c->p, lit, n) != 0)
                return false;
        c->p += n;
        return true;
}

/* A quoted ATerm string with \" \\ \n \r \t escapes (any other escaped byte stands for
 * itself, as Nix reads it). An embedded NUL would hide the rest of the string from C
 * callers: rejected. */
static int parse_string(Cursor *c, char **ret) {
        if (!expect(c, "\""))
                return -EBADMSG;
        const char *start = c->p;
        size_t n = 0;
        for (const char *q = start; q < c->end; q++) {
                if (*q == '\0')
                        return -EBADMSG;
                if (*q == '"')
                        goto found;
                if (*q == '\\') {
                        if (++q >= c->end || *q == '\0')
                                return -EBADMSG;
                }
                n++;
        }
        return -EBADMSG;
found:;
        char *s = malloc(n + 1), *w = s;
        if (!s)
                return -ENOMEM;
        while (*c->p != '"') {
                char ch = *c->p++;
                if (ch == '\\') {
                        ch = *c->p++;
                        ch = ch == 'n' ? '\n' : ch == 'r' ? '\r' : ch == 't' ? '\t' : ch;
                }
                *w++ = ch;
        }
        *w = '\0';
        c->p++;
        *ret = s;
        return 0;
}

/* Skips a quoted string without keeping it. */
static int skip_string(Cursor *c) {
        char *s = NULL;
        int r = parse_string(c, &s);
        free(s);
        return r;
}

/* A list "[...]". With size > 0, each item gets a zeroed element appended to *array (grown by
 * doubling) before item(c, element, userdata) parses it; *ret_n counts the elements to free
 * even on failure. With size 0, items keep nothing here (userdata does). */
static int parse_list(Cursor *c, size_t max, void **array, size_t size,
                      int (*item)(Cursor *c, void *element, void *userdata), void *userdata, size_t *ret_n) {
        size_t n = 0, cap = 0;
        *ret_n = 0;
        if (!expect(c, "["))
                return -EBADMSG;
        if (expect(c, "]"))
                return 0;
        for (;;) {
                if (n >= max)
                        return -E2BIG;
                void *element = NULL;
                if (size > 0) {
                        if (n == cap) {
                                size_t ncap = cap ? cap * 2 : 4;
                                void *p = realloc(*array, ncap * size);
                                if (!p)
                                        return -ENOMEM;
                                *array = p;
                                cap = ncap;
                        }
                        element = (char *) *array + n * size;
                        memset(element, 0, size);
                        *ret_n = ++n;
                } else
                        n++;
                int r = item(c, element, userdata);
                if (r < 0)
                        return r;
                if (expect(c, "]"))
                        return 0;
                if (!expect(c, ","))
                        return -EBADMSG;
        }
}

/* ---- lists of strings ---- */

static int string_item(Cursor *c, void *element, void *userdata) {
        return parse_string(c, element);
}

static void strings_free(char **v, size_t n) {
        for (size_t i = 0; v && i < n; i++)
                free(v[i]);
        free(v);
}

static int parse_strings(Cursor *c, char ***ret, size_t *ret_n) {
        char **v = NULL;
        size_t n = 0;
        int r = parse_list(c, DRV_MAX_ITEMS, (void **) &v, sizeof(char *), string_item, NULL, &n);
        if (r < 0) {
                strings_free(v, n);
                return r;
        }
        *ret = v;
        *ret_n = n;
        return 0;
}

/* ---- outputs ---- */

/* ("name","path","hashAlgo","hash") */
static int output_item(Cursor *c, void *element, void *userdata) {
        DrvOutput *out = element;
        int r = 0;
        if (!expect(c, "(") || (r = parse_string(c, &out->name)) < 0 || !expect(c, ",") ||
            (r = parse_string(c, &out->path)) < 0 || !expect(c, ",") || (r = skip_string(c)) < 0 ||
            !expect(c, ",") || (r = skip_string(c)) < 0 || !expect(c, ")"))
                return r < 0 ? r : -EBADMSG;
        return 0;
}

void drv_outputs_free(DrvOutput *o, size_t n) {
        if (!o)
                return;
        for (size_t i = 0; i < n; i++) {
                free(o[i].name);
                free(o[i].path);
        }
        free(o);
}

/* The opening "Derive(" or "DrvWithVersion("tag","; ret_version may be NULL. */
static int parse_head(Cursor *c, char **ret_version) {
        if (expect(c, "DrvWithVersion(")) {
                _cleanup_free_ char *version = NULL;
                int r = parse_string(c, &version);
                if (r < 0)
                        return r;
                if (!expect(c, ","))
                        return -EBADMSG;
                if (ret_version)
                        *ret_version = TAKE_PTR(version);
                return 0;
        }
        return expect(c, "Derive(") ? 0 : -EBADMSG;
}

static int parse_outputs(Cursor *c, DrvOutput **ret, size_t *ret_n) {
        DrvOutput *v = NULL;
        size_t n = 0;
        int r = parse_list(c, DRV_MAX_OUTPUTS, (void **) &v, sizeof(DrvOutput), output_item, NULL, &n);
        if (r == 0 && n == 0)
                r = -EBADMSG; /* a derivation has at least one output */
        if (r < 0) {
                drv_outputs_free(v, n);
                return r == -E2BIG ? -EBADMSG : r;
        }
        *ret = v;
        *ret_n = n;
        return 0;
}

int drv_parse_outputs(const char *buf, size_t len, DrvOutput **ret) {
        Cursor c = {buf, buf + len};
        DrvOutput *outs = NULL;
        size_t n = 0;
        int r;

        if ((r = parse_head(&c, NULL)) < 0 || (r = parse_outputs(&c, &outs, &n)) < 0)
                return r;
        if (!expect(&c, ",")) {
                drv_outputs_free(outs, n);
                return -EBADMSG;
        }
        *ret = outs;
        return (int) n;
}

/* ---- input derivations ---- */

/* Dynamic derivations (DrvWithVersion) write an input's outputs as
 * (["out",...],[("child",(...)),...]): outputs of derivations that the input's outputs
 * are. Only the first level is kept; the nested ones are checked and skipped. */
static int skip_child_map(Cursor *c, unsigned depth);

static int child_item(Cursor *c, void *element, void *userdata) {
        unsigned depth = *(unsigned *) userdata;
        int r;
        if (!expect(c, "(") || (r = skip_string(c)) < 0 || !expect(c, ","))
                return -EBADMSG;
        if ((r = skip_child_map(c, depth + 1)) < 0)
                return r;
        return expect(c, ")") ? 0 : -EBADMSG;
}

/* The list part, [("child",(...)),...], at nesting depth. */
static int skip_children(Cursor *c, unsigned depth) {
        size_t n;
        return parse_list(c, DRV_MAX_ITEMS, NULL, 0, child_item, &depth, &n);
}

static int skip_child_map(Cursor *c, unsigned depth) {
        if (depth > DRV_MAX_DEPTH)
                return -E2BIG;
        char **names = NULL;
        size_t n = 0;
        int r;
        if (!expect(c, "("))
                return -EBADMSG;
        if ((r = parse_strings(c, &names, &n)) < 0)
                return r;
        strings_free(names, n);
        if (!expect(c, ",") || (r = skip_children(c, depth)) < 0)
                return r < 0 ? r : -EBADMSG;
        return expect(c, ")") ? 0 : -EBADMSG;
}

static int input_item(Cursor *c, void *element, void *userdata) {
        DrvInput *d = element;
        int r = 0;
        if (!expect(c, "(") || (r = parse_string(c, &d->path)) < 0 || !expect(c, ","))
                return r < 0 ? r : -EBADMSG;
        if (expect(c, "(")) {
                if ((r = parse_strings(c, &d->outputs, &d->n_outputs)) < 0)
                        return r;
                if (!expect(c, ",") || (r = skip_children(c, 1)) < 0 || !expect(c, ")"))
                        return r < 0 ? r : -EBADMSG;
        } else if ((r = parse_strings(c, &d->outputs, &d->n_outputs)) < 0)
                return r;
        return expect(c, ")") ? 0 : -EBADMSG;
}

static void inputs_free(DrvInput *v, size_t n) {
        for (size_t i = 0; v && i < n; i++) {
                free(v[i].path);
                strings_free(v[i].outputs, v[i].n_outputs);
        }
        free(v);
}

/* ---- environment ---- */

static int env_item(Cursor *c, void *element, void *userdata) {
        DrvEnv *e = element;
        int r = 0;
        if (!expect(c, "(") || (r = parse_string(c, &e->name)) < 0 || !expect(c, ",") ||
            (r = parse_string(c, &e->value)) < 0 || !expect(c, ")"))
                return r < 0 ? r : -EBADMSG;
        return 0;
}

static void env_free(DrvEnv *v, size_t n) {
        for (size_t i = 0; v && i < n; i++) {
                free(v[i].name);
                free(v[i].value);
        }
        free(v);
}

/* ---- the whole derivation ---- */

Drv *drv_free(Drv *d) {
        if (!d)
                return NULL;
        free(d->version);
        drv_outputs_free(d->outputs, d->n_outputs);
        inputs_free(d->inputs, d->n_inputs);
        strings_free(d->srcs, d->n_srcs);
        free(d->system);
        free(d->builder);
        strings_free(d->args, d->n_args);
        env_free(d->env, d->n_env);
        free(d);
        return NULL;
}

static int parse_body(Cursor *c, Drv *d) {
        int r;

        if ((r = parse_head(c, &d->version)) < 0 || (r = parse_outputs(c, &d->outputs, &d->n_outputs)) < 0)
                return r;
        if (!expect(c, ","))
                return -EBADMSG;
        r = parse_list(c, DRV_MAX_ITEMS, (void **) &d->inputs, sizeof(DrvInput), input_item, NULL,
                       &d->n_inputs);
        if (r < 0)
                return r;
        if (!expect(c, ",") || (r = parse_strings(c, &d->srcs, &d->n_srcs)) < 0 || !expect(c, ",") ||
            (r = parse_string(c, &d->system)) < 0 || !expect(c, ",") ||
            (r = parse_string(c, &d->builder)) < 0 || !expect(c, ",") ||
            (r = parse_strings(c, &d->args, &d->n_args)) < 0 || !expect(c, ","))
                return r < 0 ? r : -EBADMSG;
        r = parse_list(c, DRV_MAX_ITEMS, (void **) &d->env, sizeof(DrvEnv), env_item, NULL, &d->n_env);
        if (r < 0)
                return r;
        if (!expect(c, ")"))
                return -EBADMSG;
        /* Nix writes no trailing newline; tolerate whitespace, nothing else. */
        while (c->p < c->end && isspace((unsigned char) *c->p))
                c->p++;
        return c->p == c->end ? 0 : -EBADMSG;
}

int drv_parse(const char *buf, size_t len, Drv **ret) {
        Cursor c = {buf, buf + len};
        Drv *d = calloc(1, sizeof(*d));
        if (!d)
                return -ENOMEM;
        int r = parse_body(&c, d);
        if (r < 0) {
                drv_free(d);
                return r;
        }
        *ret = d;
        return 0;
}

char *drv_name_pname(const char *name) {
        for (const char *p = name; *p; p++)
                if (*p == '-' && p[1] && !isalpha((unsigned char) p[1]))
                        return strndup(name, (size_t) (p - name));
        return strdup(name);
}

char *drv_buf_system(const char *buf, size_t len) {
        static const char key[] = "(\"system\",\"";
        const char *p = memmem(buf, len, key, sizeof(key) - 1);
        if (!p)
                return NULL;
        p += sizeof(key) - 1;
        const char *end = memchr(p, '"', len - (size_t) (p - buf));
        if (!end || end == p || end - p > 64)
                return NULL;
        return strndup(p, (size_t) (end - p));
}
