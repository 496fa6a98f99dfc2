/* What Nix says about builds. Success is not an event in Nix's log: failures ("builder for …
 * failed with exit code 3", "Cannot build '…'.\nReason: 1 dependency failed.", outcome.c
 * reads every wording) and the plan of an invocation ("these N derivations will be built:")
 * are only messages. Determinate Nix also reports each goal's outcome as a record. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "basic/macro.h"
#include "basic/string-util.h"
#include "shared/model-internal.h"
#include "shared/model-proc.h"
#include "shared/outcome.h"
#include "shared/storepath.h"

/* Bytes of an invocation's error kept (Invocation.error), before the "…" of a cut. */
#define INVOCATION_ERROR_MAX 512

/* Parses an unsigned decimal right after prefix in text. */
static bool parse_after(const char *text, const char *prefix, long *ret) {
        const char *p = strstr(text, prefix);
        if (!p)
                return false;
        p += strlen(prefix);
        const char *end;
        uint64_t v;
        if (parse_u64_prefix(p, strlen(p), &end, &v) < 0 || v > LONG_MAX)
                return false;
        *ret = (long) v;
        return true;
}

/* Kinds a reported outcome replaces: guesses made while Nix had not said (no outputs, an
 * end of the nix process) and its unrecognised words. */
static bool failure_is_guess(FailureKind k) {
        return k == FAILURE_NONE || k == FAILURE_OTHER || k == FAILURE_NO_OUTPUTS ||
               k == FAILURE_CANCELLED || k == FAILURE_NOT_STARTED;
}

/* The build an outcome is about, in the invocation of the source that reported it. One that
 * no event announced (a json-log-path stream carries no "will be built" plan; a stream
 * joined late) is made there, under that source's quota like any build it starts, for the
 * kinds that mean it never ran: one that ran had a build activity. Returns 1 and the build,
 * 0 when there is none, -ENOMEM (no memory, or refused by the source's quota). */
static int outcome_build(Model *m, Source *s, const NixOutcome *o, usec_t now, Build **ret) {
        Invocation *inv = &s->invocation;
        Build *b = invocation_find_build(inv, o->drv);
        if (!b && (o->kind == FAILURE_DEPENDENCY || o->kind == FAILURE_SUBSTITUTION)) {
                b = build_new(m, inv, o->drv, BUILD_QUEUED, now);
                if (!b)
                        return -ENOMEM;
        }
        *ret = b;
        return !!b;
}

/* Applies what Nix reported about how b ended: message is Nix's words (NULL: keep b's). A
 * structured outcome (Determinate's build result) wins over any message, before or after. */
static int build_apply_outcome(Model *m, Build *b, const NixOutcome *o, const char *message, bool structured,
                               usec_t now) {
        bool builder_ended = o->kind == FAILURE_EXIT_CODE || o->kind == FAILURE_SIGNAL;
        bool was_no_outputs = b->failure == FAILURE_NO_OUTPUTS;
        int r;

        if (b->structured != 0 && !structured)
                return 0;
        if (o->kind == FAILURE_NONE) {
                /* Nix said it succeeded (only a structured result says so): whatever its
                 * messages seemed to say is not how it ended. */
                b->structured = 1;
                if (b->failure != FAILURE_NONE) {
                        r = build_set_failure(b, FAILURE_NONE, NULL);
                        if (r < 0)
                                return r;
                        b->exit_code = -1;
                        b->signal = 0;
                        build_mark(m, b, CHANGE_CHANGED);
                }
                if (b->state == BUILD_FAILED) {
                        build_set_state(m, b, BUILD_SUCCEEDED);
                        build_mark(m, b, CHANGE_CHANGED);
                } else if (b->state == BUILD_FINISHING ||
                           (!build_state_is_final(b->state) && b->n_activities_open == 0 &&
                            b->output_check_at != 0))
                        build_finish(m, b, BUILD_SUCCEEDED, b->finished ? b->finished : now);
                return 0;
        }
        if (structured)
                b->structured = -1;

        if (failure_is_guess(b->failure) || structured ||
            /* the builder's end and the OOM killer's mark are told apart by the sampler */
            (b->failure == FAILURE_OOM && builder_ended)) {
                if (b->failure != FAILURE_OOM || !builder_ended) {
                        r = build_set_failure(b, o->kind, message ?: b->failure_message);
                        if (r < 0)
                                return r;
                }
                if (o->exit_code >= 0)
                        b->exit_code = o->exit_code;
                if (o->signal > 0)
                        b->signal = o->signal;
        }
        if (builder_ended && b->usage.oom_killed)
                b->failure = FAILURE_OOM; /* the sampler saw the OOM killer in its cgroup */

        if (b->state == BUILD_QUEUED) {
                /* Never ran: a dependency or a substitution failed. Nix's other words about
                 * a queued build wait for the end of its nix process (build_end_unstarted). */
                if (o->kind == FAILURE_OTHER)
                        return 1;
                build_finish(m, b, BUILD_FAILED, now);
        } else if (b->state == BUILD_RUNNING || b->state == BUILD_FROZEN || b->state == BUILD_FINISHING) {
                /* The builder's end is the end of the build: Nix 2.8 may hold the activity's
                 * stop back until the whole invocation ends (with -k after a failure). Other
                 * failures end it once it has stopped (the message may come after the stop
                 * while outputs are looked for again). */
                if (builder_ended || b->n_activities_open == 0)
                        build_finish(m, b, BUILD_FAILED, b->finished ? b->finished : now);
        } else if (b->state == BUILD_SUCCEEDED) {
                /* Decided from its outputs before Nix's word came (a hash mismatch registers
                 * the output): a failure Nix reported is never shown succeeded. */
                build_set_state(m, b, BUILD_FAILED);
                build_mark(m, b, CHANGE_CHANGED);
        } else {
                build_mark(m, b, CHANGE_CHANGED);
                /* Failed once Nix moved on without its outputs (2.8 under -k words it only at
                 * the end): its record takes Nix's reason. */
                if (was_no_outputs && b->failure != FAILURE_NO_OUTPUTS && build_state_is_final(b->state))
                        build_mark(m, b, CHANGE_REVISED);
        }
        return 1;
}

/* What a failure naming no derivation (2.34's "timed out after N seconds") is about. Nix
 * counts the failure, stops the build's activity (it kills the builder) and then logs the
 * words; it says them again for each goal that waited on the build and once more at the
 * end. So: when Nix's failed count is above the failures it reported for builds that ran,
 * of the builds that ended with no reason of Nix's the one that stopped last (stopped and
 * undecided, or failed on the daemon's own guess when its processes were gone before the
 * stop came); else the words are said again, about a build that has them already. Returns
 * the build (*ret), 1 said again, 0 neither (none, or two stopped at the same time). */
static int drvless_failure_build(Invocation *inv, const NixOutcome *o, Build **ret) {
        Build *found = NULL;
        bool tie = false, said = false;
        int64_t reported = 0;
        *ret = NULL;
        for (Build *b = inv->by_drv; b; b = b->hh_drv.next) {
                if (b->started != 0 && failure_kind_is_reported(b->failure) &&
                    b->failure != FAILURE_DEPENDENCY)
                        reported++;
                if (b->failure == o->kind && b->failure_message &&
                    strcmp(b->failure_message, o->message) == 0)
                        said = true;
                bool unexplained = b->failure == FAILURE_NO_OUTPUTS ||
                                   (!build_state_is_final(b->state) && b->n_activities_open == 0 &&
                                    b->failure == FAILURE_NONE);
                if (!unexplained || b->finished == 0)
                        continue;
                if (found && b->finished == found->finished)
                        tie = true;
                else if (!found || b->finished > found->finished) {
                        found = b;
                        tie = false;
                }
        }
        if (inv->progress[3] <= reported)
                return said;
        *ret = tie ? NULL : found;
        return 0;
}

/* Nix's last words when several of the derivations asked for were not built: "build of
 * '<drv>', '<drv>' failed". They name builds that failed, that Nix stopped and that never
 * started alike, and say why of none: the reason of each is its own message, or none. */
static bool is_goals_summary(const char *text) {
        size_t first = strcspn(text, "\n");
        return startswith(text, "build of '") && first >= 7 && memcmp(text + first - 7, " failed", 7) == 0;
}

/* Build failures are only visible in Nix's error messages: attach them to the build.
 * Returns 1 when the message is about a build of the invocation, 0 when not, -errno. */
static int apply_error_message(Model *m, Source *s, const char *text, usec_t now) {
        _cleanup_(outcome_done) NixOutcome o = NIX_OUTCOME_NULL;
        Invocation *inv = &s->invocation;
        int r = outcome_from_message(m->config.store_dir, text, &o);
        if (r < 0)
                return r;
        if (r > 0 && !o.drv) {
                Build *b;
                r = drvless_failure_build(inv, &o, &b);
                if (!b)
                        return r; /* said again, or the invocation's own error */
                r = build_apply_outcome(m, b, &o, o.message, /* structured= */ false, now);
                return r < 0 ? r : 1;
        }
        if (r == 0 && is_goals_summary(text))
                return 1;
        if (r == 0) {
                /* Words of Nix's not known here about a derivation: kept as they are. */
                r = store_path_find_drv(m->config.store_dir, text, &o.drv);
                if (r <= 0)
                        return r;
                o.kind = FAILURE_OTHER;
        }

        Build *b;
        r = outcome_build(m, s, &o, now, &b);
        if (r <= 0)
                return r;
        if (o.kind == FAILURE_OTHER && b->failure != FAILURE_NONE && b->failure != FAILURE_NO_OUTPUTS)
                return 1; /* the first words count */
        if (o.kind == FAILURE_OTHER && build_state_is_final(b->state) &&
            (b->failure == FAILURE_NONE || b->failure == FAILURE_NO_OUTPUTS) && b->state != BUILD_FAILED)
                return 1; /* "build of … failed" after it succeeded or was killed: not news */
        r = build_apply_outcome(m, b, &o, o.message ?: text, /* structured= */ false, now);
        return r < 0 ? r : 1;
}

int model_apply_build_result(Model *m, Source *s, const NixRecord *rec, usec_t now) {
        _cleanup_(outcome_done) NixOutcome o = NIX_OUTCOME_NULL;
        int r = outcome_from_build_result(m->config.store_dir, &rec->build_result, &o);
        if (r <= 0)
                return r;
        Build *b;
        r = outcome_build(m, s, &o, now, &b);
        if (r <= 0)
                return r;
        r = build_apply_outcome(m, b, &o, o.message, /* structured= */ true, now);
        return MIN(r, 0);
}

/* Appends at most avail bytes of s[0..len) to buf at *pos, cut at a character boundary
 * (the text is valid UTF-8), control characters made spaces. Returns false when it cut. */
static bool append_bounded(char *buf, size_t *pos, size_t avail, const char *s, size_t len) {
        bool cut = len > avail;
        if (cut) {
                len = avail;
                while (len > 0 && ((unsigned char) s[len] & 0xC0) == 0x80)
                        len--;
        }
        for (size_t i = 0; i < len; i++) {
                unsigned char c = (unsigned char) s[i];
                buf[(*pos)++] = c < 0x20 || c == 0x7F ? ' ' : (char) c;
        }
        return !cut;
}

/* What of an error message is kept: its first paragraph (lines up to the first empty one,
 * so not the "at file:line" context, the code excerpt or the trace that follow), each line
 * without its indentation, joined by spaces into one line of at most INVOCATION_ERROR_MAX
 * bytes (then ending in "…"). text is valid UTF-8 without ANSI escapes (nixlog made it so)
 * and may be anything a local user wrote: only the kept part is looked at. NULL for a
 * message with nothing in it. */
static char *error_summary(const char *text) {
        static const char ellipsis[] = "\xe2\x80\xa6"; /* … */
        char *buf = malloc(INVOCATION_ERROR_MAX + sizeof(ellipsis));
        if (!buf)
                return NULL;
        size_t pos = 0;
        bool whole = true;

        text += strspn(text, " \t\r\n");
        const char *e = startswith(text, "error: ");
        if (e)
                text = e;
        for (const char *line = text; whole && *line;) {
                size_t len = strcspn(line, "\n");
                const char *next = line[len] ? line + len + 1 : line + len;
                size_t skip = strspn(line, " \t\r");
                line += MIN(skip, len);
                len -= MIN(skip, len);
                while (len > 0 && strchr(" \t\r", line[len - 1]))
                        len--;
                if (len == 0) {
                        if (pos > 0)
                                break; /* the end of the first paragraph */
                } else {
                        if (pos > 0)
                                whole = append_bounded(buf, &pos, INVOCATION_ERROR_MAX - pos, " ", 1);
                        if (whole)
                                whole = append_bounded(buf, &pos, INVOCATION_ERROR_MAX - pos, line, len);
                }
                line = next;
        }
        if (pos == 0) {
                free(buf);
                return strdup("unknown error");
        }
        if (!whole) {
                memcpy(buf + pos, ellipsis, sizeof(ellipsis) - 1);
                pos += sizeof(ellipsis) - 1;
        }
        buf[pos] = '\0';
        return buf;
}

/* An error Nix reported that is about none of the invocation's builds: the invocation's own
 * (no build users, no store, evaluation, daemon unreachable). The last one counts: Nix
 * reports what ends it last. A nix-daemon worker's json-log-path stream carries one client's
 * records and is given a hello naming that client (event-conn.c); a stream still without a
 * hello is one whose client could not be told: an error there is pinned on no one. */
static int invocation_set_error(Model *m, Source *s, const char *text) {
        if (!s->hello)
                return 0;
        char *summary = error_summary(text);
        if (!summary)
                return -ENOMEM;
        Invocation *inv = &s->invocation;
        free(inv->error);
        inv->error = summary;
        inv->interrupted = strcmp(summary, "interrupted by the user") == 0;
        model_invocation_changed(m, inv);
        return 0;
}

/* "these N derivations will be built:" / "this derivation will be built:" followed by the
 * paths, one per line: in one message (newer Nix) or one message per line (2.8). */
static int apply_plan_line(Model *m, Source *s, const char *line, usec_t now) {
        while (*line == ' ')
                line++;
        if (!s->expect_is_build || !store_path_valid(m->config.store_dir, line))
                return 0;
        if (invocation_find_build(&s->invocation, line))
                return 0;
        /* Found running in /proc before this stream (re)connected: it is that build. */
        if (model_claim_rediscovered(m, &s->invocation, line))
                return 0;
        return build_new(m, &s->invocation, line, BUILD_QUEUED, now) ? 0 : -ENOMEM;
}

int model_apply_msg(Model *m, Source *s, const NixRecord *rec, usec_t now) {
        Invocation *inv = &s->invocation;
        const char *text = rec->text ? rec->text : "";
        long n;
        int r;

        inv->messages++;

        if (s->expect_drv_lines > 0 && text[0] == ' ') {
                s->expect_drv_lines--;
                return apply_plan_line(m, s, text, now);
        }
        s->expect_drv_lines = 0;

        const char *body = text;
        const char *e = startswith(body, "error: ");
        if (e)
                body = e;

        if (parse_after(body, "these ", &n) &&
            (strstr(body, " will be built:") || strstr(body, " will be fetched"))) {
                s->expect_is_build = strstr(body, " will be built:") != NULL;
                s->expect_drv_lines = n;
        } else if (startswith(body, "this derivation will be built:")) {
                s->expect_is_build = true;
                s->expect_drv_lines = 1;
        } else if (startswith(body, "this path will be fetched")) {
                s->expect_is_build = false;
                s->expect_drv_lines = 1;
        } else if (rec->level == 0 && e) {
                const char *what = rec->raw_msg ? rec->raw_msg : body;
                r = apply_error_message(m, s, what, now);
                return r == 0 ? invocation_set_error(m, s, what) : MIN(r, 0);
        } else
                return 0;

        /* Newer Nix: the list follows in the same message. */
        const char *nl = strchr(text, '\n');
        while (nl && s->expect_drv_lines > 0) {
                const char *line = nl + 1;
                nl = strchr(line, '\n');
                _cleanup_free_ char *copy = strndup(line, nl ? (size_t) (nl - line) : strlen(line));
                if (!copy)
                        return -ENOMEM;
                s->expect_drv_lines--;
                r = apply_plan_line(m, s, copy, now);
                if (r < 0)
                        return r;
        }
        return 0;
}
