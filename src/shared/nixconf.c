/* nix.conf syntax, as Nix's AbstractConfig::applyConfig reads it. */
#include "shared/nixconf.h"

#include <errno.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/macro.h"
#include "shared/machines.h"

static void strv_free(char **v, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(v[i]);
        free(v);
}

void nixconf_done(NixConf *c) {
        for (size_t i = 0; i < c->n_settings; i++) {
                free(c->settings[i].name);
                free(c->settings[i].value);
        }
        free(c->settings);
        strv_free(c->errors, c->n_errors);
        strv_free(c->files, c->n_files);
        *c = (NixConf){};
}

static int strv_push(char ***v, size_t *n, char *s) {
        if (!s)
                return -ENOMEM;
        char **grown = realloc(*v, (*n + 1) * sizeof(char *));
        if (!grown) {
                free(s);
                return -ENOMEM;
        }
        grown[(*n)++] = s;
        *v = grown;
        return 0;
}

_printf_(4, 5) static int add_error(NixConf *c, const char *origin, unsigned line, const char *fmt, ...) {
        _cleanup_free_ char *msg = NULL;
        va_list ap;
        va_start(ap, fmt);
        int k = vasprintf(&msg, fmt, ap);
        va_end(ap);
        if (k < 0)
                return -ENOMEM;
        char *e = NULL;
        if (asprintf(&e, "%s:%u: %s", origin, line, msg) < 0)
                return -ENOMEM;
        return strv_push(&c->errors, &c->n_errors, e);
}

static int set(NixConf *c, const char *name, const char *value) {
        NixConfSetting *grown = realloc(c->settings, (c->n_settings + 1) * sizeof(NixConfSetting));
        if (!grown)
                return -ENOMEM;
        c->settings = grown;
        NixConfSetting s = {.name = strdup(name), .value = strdup(value)};
        if (!s.name || !s.value) {
                free(s.name);
                free(s.value);
                return -ENOMEM;
        }
        grown[c->n_settings++] = s;
        return 0;
}

/* Whitespace-separated tokens of line[0..len) (at most max; *ret_n may then exceed it). */
static size_t tokenize(const char *line, size_t len, const char **tok, size_t *tok_len, size_t max) {
        size_t n = 0;
        for (size_t i = 0; i < len;) {
                if (strchr(" \t\r", line[i])) {
                        i++;
                        continue;
                }
                size_t j = i;
                while (j < len && !strchr(" \t\r", line[j]))
                        j++;
                if (n < max) {
                        tok[n] = line + i;
                        tok_len[n] = j - i;
                }
                n++;
                i = j;
        }
        return n;
}

static int apply(NixConf *c, const char *buf, size_t len, const char *origin, NixConfReadFile rd, void *ud,
                 unsigned depth);

static int apply_path(NixConf *c, const char *path, bool must_exist, const char *origin, unsigned line,
                      NixConfReadFile rd, void *ud, unsigned depth) {
        if (depth >= NIXCONF_MAX_DEPTH)
                return add_error(c, origin, line, "include %s: nested deeper than %d (a loop?)", path,
                                 NIXCONF_MAX_DEPTH);
        if (c->n_files >= NIXCONF_MAX_FILES)
                return add_error(c, origin, line, "include %s: more than %d files", path, NIXCONF_MAX_FILES);
        int r = strv_push(&c->files, &c->n_files, strdup(path));
        if (r < 0)
                return r;
        _cleanup_free_ char *text = NULL;
        size_t n = 0;
        r = (rd ? rd : machines_read_file)(path, &text, &n, ud);
        if (r == -ENOENT)
                return must_exist ? add_error(c, origin, line, "included file '%s' not found", path) : 0;
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return add_error(c, origin, line, "cannot read '%s': %s", path, strerror(-r));
        return apply(c, text, n, path, rd, ud, depth + 1);
}

static int apply(NixConf *c, const char *buf, size_t len, const char *origin, NixConfReadFile rd, void *ud,
                 unsigned depth) {
        unsigned line = 0;
        for (size_t i = 0; i < len;) {
                size_t j = i;
                while (j < len && buf[j] != '\n')
                        j++;
                line++;
                size_t end = j;
                const char *hash = memchr(buf + i, '#', end - i);
                if (hash)
                        end = (size_t) (hash - buf);
                const char *nul = memchr(buf + i, '\0', end - i);
                if (nul)
                        end = (size_t) (nul - buf);

                const char *tok[3];
                size_t tok_len[3];
                size_t n = tokenize(buf + i, end - i, tok, tok_len, 3);
                int r = 0;
                bool inc = n > 0 && tok_len[0] == 7 && memcmp(tok[0], "include", 7) == 0;
                bool opt_inc = n > 0 && tok_len[0] == 8 && memcmp(tok[0], "!include", 8) == 0;
                if (n == 0)
                        ;
                else if (inc || opt_inc) {
                        if (n != 2)
                                r = add_error(c, origin, line, "'%.*s' takes exactly one file name",
                                              (int) tok_len[0], tok[0]);
                        else {
                                _cleanup_free_ char *file = strndup(tok[1], tok_len[1]);
                                _cleanup_free_ char *dir = strdup(origin);
                                _cleanup_free_ char *path = NULL;
                                if (!file || !dir)
                                        return -ENOMEM;
                                if (file[0] == '/')
                                        path = strdup(file);
                                else if (asprintf(&path, "%s/%s", strchr(origin, '/') ? dirname(dir) : ".",
                                                  file) < 0)
                                        path = NULL;
                                if (!path)
                                        return -ENOMEM;
                                r = apply_path(c, path, inc, origin, line, rd, ud, depth);
                        }
                } else if (n < 2 || tok_len[1] != 1 || tok[1][0] != '=')
                        r = add_error(c, origin, line, "not a 'name = value' line: '%.*s'", (int) (end - i),
                                      buf + i);
                else {
                        /* The value: the tokens after '=' joined by single spaces. */
                        _cleanup_free_ char *name = strndup(tok[0], tok_len[0]);
                        _cleanup_free_ char *value = malloc(end - i + 1);
                        if (!name || !value)
                                return -ENOMEM;
                        size_t k = 0;
                        const char *p = tok[1] + 1, *e = buf + end;
                        while (p < e) {
                                while (p < e && strchr(" \t\r", *p))
                                        p++;
                                const char *q = p;
                                while (q < e && !strchr(" \t\r", *q))
                                        q++;
                                if (q > p) {
                                        if (k > 0)
                                                value[k++] = ' ';
                                        memcpy(value + k, p, (size_t) (q - p));
                                        k += (size_t) (q - p);
                                }
                                p = q;
                        }
                        value[k] = '\0';
                        r = set(c, name, value);
                }
                if (r < 0)
                        return r;
                i = j + 1;
        }
        return 0;
}

int nixconf_apply(NixConf *c, const char *buf, size_t len, const char *origin, NixConfReadFile rd,
                  void *userdata) {
        return apply(c, buf, len, origin, rd, userdata, 0);
}

int nixconf_apply_file(NixConf *c, const char *path, NixConfReadFile rd, void *userdata) {
        return apply_path(c, path, /* must_exist= */ false, path, 0, rd, userdata, 0);
}

const char *nixconf_get(const NixConf *c, const char *name) {
        for (size_t i = c->n_settings; i > 0; i--)
                if (strcmp(c->settings[i - 1].name, name) == 0)
                        return c->settings[i - 1].value;
        return NULL;
}

int nixconf_get_bool(const NixConf *c, const char *name) {
        const char *v = nixconf_get(c, name);
        if (!v)
                return -ENOENT;
        if (strcmp(v, "true") == 0)
                return 1;
        if (strcmp(v, "false") == 0)
                return 0;
        return -EINVAL;
}
