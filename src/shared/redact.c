/* Redacting command lines (redact.h). A word is a run of non-blanks; an option's value is the
 * next word, and an access-tokens value goes on while words look like "host=token" (one
 * argument of several space-separated pairs, joined like the rest). Redacting too much is
 * harmless; keeping a token is not. */
#include "shared/redact.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Options whose value is a credential, or names the file that holds them. */
static const char *const secret_options[] = {
        "access-tokens",
        "extra-access-tokens",
        "netrc-file",
        "extra-netrc-file",
};

typedef struct Out {
        char *buf;
        size_t len, cap;
} Out;

static int out_put(Out *o, const char *s, size_t n) {
        if (o->len + n + 1 > o->cap) {
                size_t cap = (o->len + n + 1) * 2;
                char *b = realloc(o->buf, cap);
                if (!b)
                        return -ENOMEM;
                o->buf = b;
                o->cap = cap;
        }
        memcpy(o->buf + o->len, s, n);
        o->len += n;
        o->buf[o->len] = '\0';
        return 0;
}

static bool is_blank(char c) {
        return c == ' ' || c == '\t' || c == '\n';
}

static bool secret_name(const char *s, size_t n) {
        for (size_t i = 0; i < sizeof(secret_options) / sizeof(secret_options[0]); i++)
                if (strlen(secret_options[i]) == n && memcmp(s, secret_options[i], n) == 0)
                        return true;
        return false;
}

/* Is the word [s, s+n) "--NAME" or "--NAME=…" for a secret NAME? *ret_eq: where '=' is. */
static bool secret_flag(const char *s, size_t n, const char **ret_eq) {
        if (n < 3 || s[0] != '-' || s[1] != '-')
                return false;
        const char *eq = memchr(s, '=', n);
        size_t name_len = (eq ? (size_t) (eq - s) : n) - 2;
        if (!secret_name(s + 2, name_len))
                return false;
        *ret_eq = eq;
        return true;
}

/* "host=token": a word of an access-tokens list. */
static bool token_pair(const char *s, size_t n) {
        return n > 0 && s[0] != '-' && memchr(s, '=', n);
}

/* Writes the word with URL user information hidden. */
static int put_word(Out *o, const char *s, size_t n) {
        const char *p = s, *end = s + n;
        while (p < end) {
                const char *sep = NULL;
                for (const char *q = p; q + 3 <= end; q++)
                        if (memcmp(q, "://", 3) == 0) {
                                sep = q;
                                break;
                        }
                if (!sep)
                        break;
                const char *auth = sep + 3, *auth_end = auth;
                while (auth_end < end && !strchr("/?#", *auth_end))
                        auth_end++;
                const char *at = NULL;
                for (const char *q = auth; q < auth_end; q++)
                        if (*q == '@')
                                at = q;
                if (at && at > auth) {
                        if (out_put(o, p, (size_t) (auth - p)) < 0 ||
                            out_put(o, REDACTED, strlen(REDACTED)) < 0)
                                return -ENOMEM;
                        p = at;
                } else {
                        if (out_put(o, p, (size_t) (auth - p)) < 0)
                                return -ENOMEM;
                        p = auth;
                }
        }
        return out_put(o, p, (size_t) (end - p));
}

/* "NAME = value" or "NAME=value" for a secret NAME inside a word run starting at s (a
 * nix.conf line in an argument): returns where the value starts, else NULL. */
static const char *conf_assignment(const char *s, const char *word_end, const char *end) {
        for (size_t i = 0; i < sizeof(secret_options) / sizeof(secret_options[0]); i++) {
                size_t n = strlen(secret_options[i]);
                for (const char *q = s; q < word_end && q + n <= end; q++) {
                        if (memcmp(q, secret_options[i], n) != 0)
                                continue;
                        /* a whole name: not the tail of a longer one */
                        if (q > s && !is_blank(q[-1]) && q[-1] != '=' && q[-1] != '\'' && q[-1] != '"')
                                continue;
                        const char *v = q + n;
                        while (v < end && (*v == ' ' || *v == '\t'))
                                v++;
                        if (v < end && *v == '=')
                                return v + 1;
                }
        }
        return NULL;
}

int redact_cmdline(const char *cmdline, char **ret) {
        Out o = {};
        const char *p = cmdline, *end = cmdline + strlen(cmdline);
        /* 0: normal; 1: the next word is a secret value; 2: after one, more host=token words */
        int pending = 0;
        bool after_option = false; /* the previous word was --option */
        if (out_put(&o, "", 0) < 0)
                return -ENOMEM;
        while (p < end) {
                const char *w = p;
                while (p < end && is_blank(*p))
                        p++;
                if (out_put(&o, w, (size_t) (p - w)) < 0)
                        goto free_buf;
                if (p >= end)
                        break;
                w = p;
                while (p < end && !is_blank(*p))
                        p++;
                size_t n = (size_t) (p - w);
                const char *eq;
                if (pending == 1 || (pending == 2 && token_pair(w, n))) {
                        if (pending == 1 && out_put(&o, REDACTED, strlen(REDACTED)) < 0)
                                goto free_buf;
                        if (pending == 2 && o.len > 0) /* drop the blank before it too */
                                o.len -= 1, o.buf[o.len] = '\0';
                        pending = 2;
                        after_option = false;
                        continue;
                }
                pending = 0;
                if (after_option) {
                        after_option = false;
                        if (secret_name(w, n)) {
                                if (out_put(&o, w, n) < 0)
                                        goto free_buf;
                                pending = 1;
                                continue;
                        }
                }
                if (n == 8 && memcmp(w, "--option", 8) == 0) {
                        after_option = true;
                        if (out_put(&o, w, n) < 0)
                                goto free_buf;
                        continue;
                }
                if (secret_flag(w, n, &eq)) {
                        if (eq) {
                                if (out_put(&o, w, (size_t) (eq - w) + 1) < 0 ||
                                    out_put(&o, REDACTED, strlen(REDACTED)) < 0)
                                        goto free_buf;
                                pending = 2;
                        } else {
                                if (out_put(&o, w, n) < 0)
                                        goto free_buf;
                                pending = 1;
                        }
                        continue;
                }
                /* "access-tokens = …" in a nix.conf text: hidden to the end of its line. */
                const char *v = conf_assignment(w, p, end);
                if (v) {
                        if (out_put(&o, w, (size_t) (v - w)) < 0 ||
                            out_put(&o, " " REDACTED, strlen(REDACTED) + 1) < 0)
                                goto free_buf;
                        const char *nl = memchr(v, '\n', (size_t) (end - v));
                        p = nl ? nl : end;
                        continue;
                }
                if (put_word(&o, w, n) < 0)
                        goto free_buf;
        }
        *ret = o.buf;
        return 0;
free_buf:
        free(o.buf);
        return -ENOMEM;
}
