/* How Nix says a derivation's goal ended (outcome.h): the wordings of Nix 2.8 to 2.35 and
 * Lix, and Determinate Nix's structured build result. */
#include "shared/outcome.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "basic/macro.h"
#include "basic/string-util.h"
#include "shared/storepath.h"

/* The lines of a message Nix wrote itself: a build log tail may follow, from a line of its
 * own "last N log lines:" (up to 2.28, Lix) or "Last N log lines:" (2.29+), each of its
 * lines starting with "> ". One pass over the text: it may be big and anyone's. */
static size_t message_len(const char *text) {
        const char *tail = strstr(text, " log lines:");
        if (!tail)
                return strlen(text);
        while (tail > text && tail[-1] != '\n')
                tail--;
        return (size_t) (tail - text);
}

/* Parses the decimal right after prefix in [text, text+len). */
static bool number_after(const char *text, size_t len, const char *prefix, long *ret) {
        const char *p = memmem(text, len, prefix, strlen(prefix));
        if (!p)
                return false;
        p += strlen(prefix);
        const char *end;
        uint64_t v;
        if (parse_u64_prefix(p, (size_t) (text + len - p), &end, &v) < 0 || v > INT32_MAX)
                return false;
        *ret = (long) v;
        return true;
}

static bool streq(const char *a, const char *b) {
        return strcmp(a, b) == 0;
}

static bool ends_with(const char *s, const char *suffix) {
        size_t n = strlen(s), k = strlen(suffix);
        return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

static bool contains(const char *text, size_t len, const char *what) {
        return memmem(text, len, what, strlen(what)) != NULL;
}

/* "failed with exit code N" / "failed due to signal N": how a builder ended (Nix's
 * statusToString, the same words in every version and in Lix). */
static bool builder_status(const char *text, size_t len, NixOutcome *o) {
        long n;
        if (number_after(text, len, "failed with exit code ", &n)) {
                o->kind = FAILURE_EXIT_CODE;
                o->exit_code = (int) n;
                return true;
        }
        if (number_after(text, len, "failed due to signal ", &n)) {
                o->kind = FAILURE_SIGNAL;
                o->signal = (int) n;
                return true;
        }
        return false;
}

/* The line of the "Reason: …" of 2.29+'s "Cannot build '<drv>'." */
static bool reason_line(const char *text, size_t len, const char **ret, size_t *ret_len) {
        for (const char *p = memmem(text, len, "Reason: ", 8); p;
             p = memmem(p + 1, (size_t) (text + len - p - 1), "Reason: ", 8)) {
                const char *bol = p;
                while (bol > text && (bol[-1] == ' ' || bol[-1] == '\t'))
                        bol--;
                if (bol != text && bol[-1] != '\n')
                        continue;
                p += 8;
                const char *eol = memchr(p, '\n', (size_t) (text + len - p));
                *ret = p;
                *ret_len = eol ? (size_t) (eol - p) : (size_t) (text + len - p);
                return true;
        }
        return false;
}

/* What the message says, with o->drv still unset. False when it is none of the wordings. */
static bool classify(const char *text, size_t len, NixOutcome *o) {
        const char *first_nl = memchr(text, '\n', len);
        size_t first = first_nl ? (size_t) (first_nl - text) : len;
        const char *reason;
        size_t rlen;

        if (startswith(text, "Cannot build '") && reason_line(text, len, &reason, &rlen)) {
                if (startswith(reason, "builder ") && builder_status(reason, rlen, o))
                        return true;
                if (contains(reason, rlen, " dependency failed") ||
                    contains(reason, rlen, " dependencies failed")) {
                        o->kind = FAILURE_DEPENDENCY;
                        return true;
                }
                return false; /* local builds disabled, platform mismatch, …: Nix's own words */
        }
        if (startswith(text, "builder for '") && builder_status(text, first, o))
                return true;
        if (contains(text, first, " dependencies of derivation '") &&
            contains(text, first, "' failed to build")) {
                o->kind = FAILURE_DEPENDENCY;
                return true;
        }
        if (startswith(text, "hash mismatch in fixed-output derivation '")) {
                o->kind = FAILURE_HASH_MISMATCH;
                return true;
        }
        if (startswith(text, "some substitutes for the outputs of derivation '")) {
                o->kind = FAILURE_SUBSTITUTION;
                return true;
        }
        long n;
        if (number_after(text, first, "timed out after ", &n) && contains(text, first, " seconds")) {
                o->kind = contains(text, first, " seconds of silence") ? FAILURE_SILENT_TIMEOUT
                                                                       : FAILURE_TIMEOUT;
                return true;
        }
        if (contains(text, first, " killed after writing more than ") &&
            contains(text, first, " bytes of log output")) {
                o->kind = FAILURE_LOG_LIMIT;
                return true;
        }
        return false;
}

void outcome_done(NixOutcome *o) {
        if (!o)
                return;
        free(o->drv);
        o->drv = NULL;
        free(o->message);
        o->message = NULL;
}

int outcome_from_message(const char *store_dir, const char *text, NixOutcome *ret) {
        NixOutcome o = NIX_OUTCOME_NULL;

        text += strspn(text, " \t\r\n");
        const char *e = startswith(text, "error: ");
        if (e)
                text = e;
        size_t len = message_len(text);
        if (!classify(text, len, &o))
                return 0;

        /* The first .drv of the message's first line is the one it is about ("building of
         * '<drv>^out' from .drv file timed out …" included); 2.34's timeouts name none. */
        const char *nl = memchr(text, '\n', len);
        _cleanup_free_ char *first = strndup(text, nl ? (size_t) (nl - text) : len);
        if (!first)
                return -ENOMEM;
        int r = store_path_find_drv(store_dir, first, &o.drv);
        if (r < 0)
                return r;
        /* The words kept: the first line, and 2.29+'s reason that the second line gives. */
        const char *reason;
        size_t rlen;
        if (startswith(first, "Cannot build '") && reason_line(text, len, &reason, &rlen))
                r = asprintf(&o.message, "%s Reason: %.*s", first, (int) MIN(rlen, (size_t) INT32_MAX),
                             reason);
        else
                r = (o.message = strdup(first)) ? 0 : -1;
        if (r < 0) {
                outcome_done(&o);
                return -ENOMEM;
        }
        *ret = o;
        return 1;
}

static const struct {
        const char *status;
        FailureKind kind;
} status_table[] = {
        /* Nix's BuildResult statuses that say what failed by themselves; the others
         * (PermanentFailure, TransientFailure, MiscFailure, …) are told by errorMsg. */
        {"DependencyFailed", FAILURE_DEPENDENCY}, {"HashMismatch", FAILURE_HASH_MISMATCH},
        {"LogLimitExceeded", FAILURE_LOG_LIMIT},  {"NoSubstituters", FAILURE_SUBSTITUTION},
        {"Cancelled", FAILURE_CANCELLED},
};

int outcome_from_build_result(const char *store_dir, const NixBuildResult *br, NixOutcome *ret) {
        NixOutcome o = NIX_OUTCOME_NULL;
        _cleanup_free_ char *drv = NULL;

        if (br->path[0] == '/')
                drv = strdup(br->path);
        else if (asprintf(&drv, "%s/%s", store_dir, br->path) < 0)
                drv = NULL;
        if (!drv)
                return -ENOMEM;
        if (!store_path_valid(store_dir, drv) || !ends_with(drv, ".drv"))
                return 0;

        if (!br->success) {
                NixOutcome said = NIX_OUTCOME_NULL;
                int r = br->error ? outcome_from_message(store_dir, br->error, &said) : 0;
                if (r < 0)
                        return r;
                o.kind = r > 0 ? said.kind : FAILURE_OTHER;
                o.message = TAKE_PTR(said.message);
                outcome_done(&said);
                if (!o.message && br->error && !(o.message = strndup(br->error, strcspn(br->error, "\n"))))
                        return -ENOMEM;
                o.exit_code = said.exit_code;
                o.signal = said.signal;
                if (streq(br->status, "TimedOut") && o.kind != FAILURE_SILENT_TIMEOUT)
                        o.kind = FAILURE_TIMEOUT;
                for (size_t i = 0; i < ELEMENTSOF(status_table); i++)
                        if (streq(br->status, status_table[i].status))
                                o.kind = status_table[i].kind;
        }
        o.drv = TAKE_PTR(drv);
        *ret = o;
        return 1;
}
