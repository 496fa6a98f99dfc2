/* Reader for Nix .drv files (ATerm "Derive(...)"). The full parser (inputs, env) comes with
 * the dependency graph; this reads the first list, the outputs, strictly. */
#include "shared/drv.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "basic/macro.h"

#define DRV_MAX_OUTPUTS 1024

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

/* A quoted ATerm string with \" \\ \n \r \t escapes. */
static int parse_string(Cursor *c, char **ret) {
        if (!expect(c, "\""))
                return -EBADMSG;
        const char *start = c->p;
        size_t n = 0;
        for (const char *q = start; q < c->end; q++) {
                if (*q == '"')
                        goto found;
                if (*q == '\\') {
                        if (++q >= c->end)
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

void drv_outputs_free(DrvOutput *o, size_t n) {
        if (!o)
                return;
        for (size_t i = 0; i < n; i++) {
                free(o[i].name);
                free(o[i].path);
        }
        free(o);
}

int drv_parse_outputs(const char *buf, size_t len, DrvOutput **ret) {
        Cursor c = {buf, buf + len};
        DrvOutput *outs = NULL;
        size_t n = 0;
        int r;

        if (expect(&c, "DrvWithVersion(")) {
                _cleanup_free_ char *version = NULL;
                r = parse_string(&c, &version);
                if (r < 0)
                        return r;
                if (!expect(&c, ","))
                        return -EBADMSG;
        } else if (!expect(&c, "Derive("))
                return -EBADMSG;

        if (!expect(&c, "["))
                return -EBADMSG;
        for (;;) {
                if (n == 0 && expect(&c, "]"))
                        break;
                if (n >= DRV_MAX_OUTPUTS) {
                        r = -EBADMSG;
                        goto fail;
                }
                DrvOutput *grown = realloc(outs, (n + 1) * sizeof(*outs));
                if (!grown) {
                        r = -ENOMEM;
                        goto fail;
                }
                outs = grown;
                outs[n] = (DrvOutput){};
                n++;
                /* ("name","path","hashAlgo","hash") */
                _cleanup_free_ char *algo = NULL, *hash = NULL;
                r = 0;
                if (!expect(&c, "(") || (r = parse_string(&c, &outs[n - 1].name)) < 0 || !expect(&c, ",") ||
                    (r = parse_string(&c, &outs[n - 1].path)) < 0 || !expect(&c, ",") ||
                    (r = parse_string(&c, &algo)) < 0 || !expect(&c, ",") ||
                    (r = parse_string(&c, &hash)) < 0 || !expect(&c, ")")) {
                        r = r < 0 ? r : -EBADMSG;
                        goto fail;
                }
                if (expect(&c, "]"))
                        break;
                if (!expect(&c, ",")) {
                        r = -EBADMSG;
                        goto fail;
                }
        }
        if (n == 0 || !expect(&c, ",")) {
                r = -EBADMSG;
                goto fail;
        }
        *ret = outs;
        return (int) n;

fail:
        drv_outputs_free(outs, n);
        return r;
}
