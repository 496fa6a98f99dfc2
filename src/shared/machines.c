/* The builders setting and machines files, as Nix's machines.cc reads them. */
#include "shared/machines.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/string-util.h"

#define ORIGIN_BUILDERS "builders"
#define N_FIELDS        8

typedef struct Parser {
        const MachinesParseOptions *o;
        MachineList *l;
} Parser;

static bool is_space(char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static void strv_free(char **v, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(v[i]);
        free(v);
}

void machine_spec_done(MachineSpec *m) {
        free(m->uri);
        strv_free(m->systems, m->n_systems);
        free(m->ssh_key);
        strv_free(m->supported_features, m->n_supported_features);
        strv_free(m->mandatory_features, m->n_mandatory_features);
        free(m->host_key);
        free(m->origin);
        *m = (MachineSpec){};
}

void machine_list_done(MachineList *l) {
        for (size_t i = 0; i < l->n_machines; i++)
                machine_spec_done(&l->machines[i]);
        free(l->machines);
        for (size_t i = 0; i < l->n_errors; i++) {
                free(l->errors[i].origin);
                free(l->errors[i].message);
        }
        free(l->errors);
        strv_free(l->files, l->n_files);
        *l = (MachineList){};
}

static char **strv_copy(char *const *v, size_t n) {
        char **c = calloc(n ? n : 1, sizeof(char *));
        if (!c)
                return NULL;
        for (size_t i = 0; i < n; i++)
                if (!(c[i] = strdup(v[i]))) {
                        strv_free(c, i);
                        return NULL;
                }
        return c;
}

int machine_spec_copy(const MachineSpec *from, MachineSpec *ret) {
        MachineSpec s = *from;
        s.uri = strdup(from->uri);
        s.ssh_key = strdup(from->ssh_key);
        s.host_key = strdup(from->host_key);
        s.origin = strdup(from->origin);
        s.systems = strv_copy(from->systems, from->n_systems);
        s.supported_features = strv_copy(from->supported_features, from->n_supported_features);
        s.mandatory_features = strv_copy(from->mandatory_features, from->n_mandatory_features);
        if (!s.uri || !s.ssh_key || !s.host_key || !s.origin || !s.systems || !s.supported_features ||
            !s.mandatory_features) {
                machine_spec_done(&s);
                return -ENOMEM;
        }
        *ret = s;
        return 0;
}

_printf_(4, 5) static int add_error(Parser *p, const char *origin, unsigned line, const char *fmt, ...) {
        MachineError *grown = realloc(p->l->errors, (p->l->n_errors + 1) * sizeof(MachineError));
        if (!grown)
                return -ENOMEM;
        p->l->errors = grown;
        MachineError *e = &grown[p->l->n_errors];
        *e = (MachineError){.line = line, .origin = strdup(origin)};
        va_list ap;
        va_start(ap, fmt);
        if (vasprintf(&e->message, fmt, ap) < 0)
                e->message = NULL;
        va_end(ap);
        if (!e->origin || !e->message) {
                free(e->origin);
                free(e->message);
                return -ENOMEM;
        }
        p->l->n_errors++;
        return 0;
}

/* Splits s[0..len) at any character of seps, skipping empty pieces, into a new array. */
static int split(const char *s, size_t len, const char *seps, char ***ret, size_t *ret_n) {
        char **v = NULL;
        size_t n = 0;
        for (size_t i = 0; i < len;) {
                if (strchr(seps, s[i])) {
                        i++;
                        continue;
                }
                size_t j = i;
                while (j < len && !strchr(seps, s[j]))
                        j++;
                char **grown = realloc(v, (n + 1) * sizeof(char *));
                if (!grown || !(grown[n] = strndup(s + i, j - i))) {
                        strv_free(grown ? grown : v, n);
                        return -ENOMEM;
                }
                v = grown;
                n++;
                i = j;
        }
        *ret = v;
        *ret_n = n;
        return 0;
}

static bool field_set(char **tok, size_t n, size_t i) {
        return i < n && strcmp(tok[i], "-") != 0;
}

static int parse_uint_field(const char *s, unsigned *ret) {
        uint64_t v;
        if (safe_atou64(s, &v) < 0 || v > UINT32_MAX)
                return -EINVAL;
        *ret = (unsigned) v;
        return 0;
}

static int parse_speed_field(const char *s, double *ret) {
        if (!*s || !(isdigit((unsigned char) s[0]) || s[0] == '.'))
                return -EINVAL;
        char *end;
        errno = 0;
        double v = strtod(s, &end);
        if (errno != 0 || *end || !isfinite(v) || v < 0)
                return -EINVAL;
        *ret = v;
        return 0;
}

bool machines_base64_valid(const char *s) {
        size_t n = strlen(s), pad = 0;
        if (n == 0 || n % 4 != 0)
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = s[i];
                if (c == '=') {
                        pad++;
                        continue;
                }
                if (pad > 0 || !(isalnum((unsigned char) c) || c == '+' || c == '/'))
                        return false;
        }
        return pad <= 2;
}

int machine_uri_canonical(const char *uri, char **ret) {
        static const char *const special[] = {"auto", "daemon", "local"};
        bool keep = strstr(uri, "://") || strchr(uri, '/') || uri[0] == '?';
        for (size_t i = 0; !keep && i < ELEMENTSOF(special); i++) {
                size_t k = strlen(special[i]);
                keep = strncmp(uri, special[i], k) == 0 && (uri[k] == '\0' || uri[k] == '?');
        }
        char *s = NULL;
        if (keep)
                s = strdup(uri);
        else if (asprintf(&s, "ssh://%s", uri) < 0)
                s = NULL;
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

int machine_uri_key(const char *uri, char **ret) {
        _cleanup_free_ char *c = NULL;
        int r = machine_uri_canonical(uri, &c);
        if (r < 0)
                return r;
        c[strcspn(c, "?#")] = '\0';
        size_t n = strlen(c);
        char *sep = strstr(c, "://");
        size_t scheme_end = sep ? (size_t) (sep - c) : 0;
        while (n > scheme_end + 3 && c[n - 1] == '/')
                c[--n] = '\0';
        for (size_t i = 0; i < scheme_end; i++)
                c[i] = (char) tolower((unsigned char) c[i]);
        *ret = TAKE_PTR(c);
        return 0;
}

int machine_uri_ssh_target(const char *uri, char **ret_destination, unsigned *ret_port) {
        const char *rest;
        if (strncmp(uri, "ssh://", 6) == 0)
                rest = uri + 6;
        else if (strncmp(uri, "ssh-ng://", 9) == 0)
                rest = uri + 9;
        else
                return -EPROTONOSUPPORT;
        size_t n = strcspn(rest, "?/#");
        if (n == 0)
                return -EINVAL;
        _cleanup_free_ char *dest = strndup(rest, n);
        if (!dest)
                return -ENOMEM;
        unsigned port = 0;
        /* host:port (not an IPv6 literal, which comes in brackets) */
        char *colon = strrchr(dest, ':');
        char *bracket = strrchr(dest, ']');
        if (colon && (!bracket || colon > bracket) && colon[1]) {
                if (parse_uint_field(colon + 1, &port) < 0 || port == 0 || port > 65535)
                        return -EINVAL;
                *colon = '\0';
        }
        if (!dest[0] || dest[0] == '-' || dest[strlen(dest) - 1] == '@')
                return -EINVAL; /* never let a host be read as an ssh option */
        *ret_destination = TAKE_PTR(dest);
        *ret_port = port;
        return 0;
}

/* Parses one entry (already trimmed, comment removed, not an include). Returns 0 also for a
 * malformed entry (reported in the list), -ENOMEM. */
static int parse_entry(Parser *p, const char *entry, const char *origin, unsigned line) {
        char **tok = NULL;
        size_t n = 0;
        int r = split(entry, strlen(entry), " \t\n\r", &tok, &n);
        if (r < 0)
                return r;
        MachineSpec m = {.max_jobs = 1, .speed_factor = 1.0, .line = line};

        if (!field_set(tok, n, 0)) {
                r = add_error(p, origin, line, "no store URI in the first field: '%s'", entry);
                goto free_tokens;
        }
        if (field_set(tok, n, 3) && parse_uint_field(tok[3], &m.max_jobs) < 0) {
                r = add_error(p, origin, line, "field 4 (maxJobs) is not a whole number: '%s'", tok[3]);
                goto free_tokens;
        }
        if (field_set(tok, n, 4) && parse_speed_field(tok[4], &m.speed_factor) < 0) {
                r = add_error(p, origin, line, "field 5 (speedFactor) is not a number >= 0: '%s'", tok[4]);
                goto free_tokens;
        }
        if (field_set(tok, n, 7) && !machines_base64_valid(tok[7])) {
                r = add_error(p, origin, line, "field 8 (public host key) is not base64: '%s'", tok[7]);
                goto free_tokens;
        }
        if (p->l->n_machines >= MACHINES_MAX_MACHINES) {
                r = add_error(p, origin, line, "more than %d machines: '%s' ignored", MACHINES_MAX_MACHINES,
                              tok[0]);
                goto free_tokens;
        }

        r = -ENOMEM;
        if (machine_uri_canonical(tok[0], &m.uri) < 0 || !(m.origin = strdup(origin)))
                goto free_tokens;
        if (field_set(tok, n, 1)) {
                if (split(tok[1], strlen(tok[1]), ",", &m.systems, &m.n_systems) < 0)
                        goto free_tokens;
        } else {
                m.systems = calloc(1, sizeof(char *));
                if (!m.systems ||
                    !(m.systems[0] = strdup(p->o->this_system ? p->o->this_system : "x86_64-linux")))
                        goto free_tokens;
                m.n_systems = 1;
        }
        if (!(m.ssh_key = strdup(field_set(tok, n, 2) ? tok[2] : "")) ||
            !(m.host_key = strdup(field_set(tok, n, 7) ? tok[7] : "")))
                goto free_tokens;
        if (field_set(tok, n, 5) &&
            split(tok[5], strlen(tok[5]), ",", &m.supported_features, &m.n_supported_features) < 0)
                goto free_tokens;
        if (field_set(tok, n, 6) &&
            split(tok[6], strlen(tok[6]), ",", &m.mandatory_features, &m.n_mandatory_features) < 0)
                goto free_tokens;

        MachineSpec *grown = realloc(p->l->machines, (p->l->n_machines + 1) * sizeof(MachineSpec));
        if (!grown)
                goto free_tokens;
        p->l->machines = grown;
        grown[p->l->n_machines++] = m;
        m = (MachineSpec){};
        r = 0;
free_tokens:
        machine_spec_done(&m);
        strv_free(tok, n);
        return r;
}

static int parse_text(Parser *p, const char *text, size_t len, const char *origin, unsigned depth);

static int parse_include(Parser *p, const char *path, const char *origin, unsigned line, unsigned depth) {
        if (!*path)
                return add_error(p, origin, line, "'@' without a file name");
        if (depth >= MACHINES_MAX_DEPTH)
                return add_error(p, origin, line, "@%s: includes nested deeper than %d (a loop?)", path,
                                 MACHINES_MAX_DEPTH);
        if (p->l->n_files >= MACHINES_MAX_FILES)
                return add_error(p, origin, line, "@%s: more than %d included files", path,
                                 MACHINES_MAX_FILES);

        char **grown = realloc(p->l->files, (p->l->n_files + 1) * sizeof(char *));
        if (!grown)
                return -ENOMEM;
        p->l->files = grown;
        if (!(grown[p->l->n_files] = strdup(path)))
                return -ENOMEM;
        p->l->n_files++;

        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        MachinesReadFile rd = p->o->read_file ? p->o->read_file : machines_read_file;
        int r = rd(path, &text, &len, p->o->userdata);
        if (r == -ENOENT)
                return 0; /* Nix: a missing machines file means no machines */
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return add_error(p, origin, line, "cannot read @%s: %s", path, strerror(-r));
        return parse_text(p, text, len, path, depth + 1);
}

/* Entries are separated by '\n' or ';'; a '#' ends the entry's text. */
static int parse_text(Parser *p, const char *text, size_t len, const char *origin, unsigned depth) {
        unsigned line = 1;
        for (size_t i = 0; i <= len;) {
                size_t j = i;
                while (j < len && text[j] != '\n' && text[j] != ';')
                        j++;
                /* The entry text: trimmed, cut at '#', without NULs (a NUL ends it). */
                size_t a = i, b = j;
                while (a < b && is_space(text[a]))
                        a++;
                while (b > a && is_space(text[b - 1]))
                        b--;
                const char *hash = memchr(text + a, '#', b - a);
                if (hash)
                        b = (size_t) (hash - text);
                const char *nul = memchr(text + a, '\0', b - a);
                if (nul)
                        b = (size_t) (nul - text);
                int r = 0;
                if (b > a) {
                        _cleanup_free_ char *entry = strndup(text + a, b - a);
                        if (!entry)
                                return -ENOMEM;
                        if (entry[0] == '@') {
                                char *path = entry + 1;
                                size_t k = strlen(path);
                                while (k > 0 && is_space(path[k - 1]))
                                        path[--k] = '\0';
                                while (is_space(*path))
                                        path++;
                                r = parse_include(p, path, origin, line, depth);
                        } else
                                r = parse_entry(p, entry, origin, line);
                }
                if (r < 0)
                        return r;
                if (j < len && text[j] == '\n')
                        line++;
                i = j + 1;
        }
        return 0;
}

int machines_parse(const char *spec, size_t len, const MachinesParseOptions *o, MachineList *ret) {
        static const MachinesParseOptions defaults = {};
        MachineList l = {};
        Parser p = {.o = o ? o : &defaults, .l = &l};
        int r = parse_text(&p, spec, len, ORIGIN_BUILDERS, 0);
        if (r < 0) {
                machine_list_done(&l);
                return r;
        }
        *ret = l;
        return 0;
}

int machines_read_file(const char *path, char **ret, size_t *ret_len, void *userdata) {
        /* Symbolic links are followed (NixOS links /etc/nix/machines into the store); a FIFO, a
         * tty or a device is refused without blocking on it, said as ever: EBADF. */
        int r = read_full_file_at(AT_FDCWD, path, MACHINES_FILE_MAX, READ_FILE_REFUSE_LARGER, ret, ret_len);
        return r == -EBADMSG ? -EBADF : r;
}
