/* The document of active builds kept across a daemon restart: the model to JSON and back. */
#include "shared/resume.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "basic/base64.h"
#include "basic/macro.h"

static bool add_u64(cJSON *o, const char *key, uint64_t v) {
        return cJSON_AddNumberToObject(o, key, (double) v) != NULL;
}

static cJSON *usage_to_json(const BuildUsage *u) {
        cJSON *o = cJSON_CreateObject();
        if (!o)
                return NULL;
        bool ok = add_u64(o, "cpu_user", u->cpu_user) && add_u64(o, "cpu_system", u->cpu_system) &&
                  add_u64(o, "mem_current", u->mem_current) && add_u64(o, "mem_peak", u->mem_peak) &&
                  add_u64(o, "io_read", u->io_read) && add_u64(o, "io_write", u->io_write) &&
                  add_u64(o, "procs", u->n_procs) && cJSON_AddBoolToObject(o, "oom_killed", u->oom_killed);
        if (!ok) {
                cJSON_Delete(o);
                return NULL;
        }
        return o;
}

/* The id of b's build activity on its stream, 0 none. */
static uint64_t build_activity_id(const Build *b) {
        const Source *s = b->invocation ? b->invocation->source : NULL;
        if (!s)
                return 0;
        if (b->rediscovered)
                return b->resume_activity;
        for (const Activity *a = s->activities; a; a = a->hh.next)
                if (a->build == b && a->type == NIX_ACT_BUILD)
                        return a->id;
        return 0;
}

/* Its timeline as base64 text (it is binary, and 3 to 4 times smaller than arrays would be:
 * the document is written every few seconds); true when there is none. */
static bool add_timeline(cJSON *o, const Timeline *tl) {
        _cleanup_free_ uint8_t *blob = NULL;
        _cleanup_free_ char *text = NULL;
        size_t len;
        if (tl->n == 0)
                return true;
        return timeline_encode(tl, &blob, &len) == 0 && base64_encode(blob, len, &text) == 0 &&
               cJSON_AddStringToObject(o, "timeline", text);
}

/* Its phases so far, [{"name", "time"}...]; true when there are none. */
static bool add_phases(cJSON *o, const Build *b) {
        cJSON *a = b->n_phases ? cJSON_AddArrayToObject(o, "phases") : NULL;
        if (b->n_phases && !a)
                return false;
        for (uint32_t i = 0; i < b->n_phases; i++) {
                cJSON *p = cJSON_CreateObject();
                if (!p || !cJSON_AddItemToArray(a, p) ||
                    !cJSON_AddStringToObject(p, "name", b->phases[i].name) ||
                    !add_u64(p, "time", b->phases[i].time))
                        return false;
        }
        return true;
}

static cJSON *build_to_resume_json(const Build *b) {
        const Invocation *inv = b->invocation;
        const Source *src = inv ? inv->source : NULL;
        cJSON *o = cJSON_CreateObject(), *req = NULL, *prog = NULL, *usage = usage_to_json(&b->usage);
        if (!o || !usage || !cJSON_AddItemToObject(o, "usage", usage)) {
                cJSON_Delete(usage);
                cJSON_Delete(o);
                return NULL;
        }
        bool ok = cJSON_AddStringToObject(o, "drv", b->drv) && cJSON_AddStringToObject(o, "name", b->name) &&
                  add_u64(o, "queued", b->queued) && add_u64(o, "started", b->started) &&
                  cJSON_AddBoolToObject(o, "start_unknown", b->start_unknown) &&
                  add_u64(o, "log_lines", b->log.total) &&
                  add_u64(o, "nix_pid", src ? (uint64_t) src->pid : 0) &&
                  add_u64(o, "nix_start", src ? src->pid_starttime : 0) &&
                  add_u64(o, "activity", build_activity_id(b)) &&
                  add_u64(o, "builds_activity",
                          !src                 ? 0
                          : src->has_builds_id ? src->builds_id
                                               : src->resume_builds_id) &&
                  cJSON_AddBoolToObject(o, "untrusted", !src || !src->trusted) &&
                  (req = cJSON_AddObjectToObject(o, "requester")) &&
                  cJSON_AddNumberToObject(req, "uid", (double) b->requester.uid) &&
                  cJSON_AddNumberToObject(req, "pid", (double) b->requester.pid) &&
                  (!b->requester.user || cJSON_AddStringToObject(req, "user", b->requester.user)) &&
                  (!b->requester.cmdline || cJSON_AddStringToObject(req, "cmdline", b->requester.cmdline)) &&
                  add_u64(o, "invocation_started", inv ? inv->started : 0) &&
                  add_timeline(o, &b->timeline) && add_phases(o, b) &&
                  (prog = cJSON_AddArrayToObject(o, "progress"));
        for (unsigned i = 0; ok && i < 4; i++)
                ok = cJSON_AddItemToArray(prog, cJSON_CreateNumber(inv ? (double) inv->progress[i] : 0));
        cJSON *ended = ok && inv ? cJSON_AddObjectToObject(o, "ended") : NULL;
        for (BuildCount c = 0; ended && c < _COUNT_MAX; c++)
                if (build_count_is_final(c))
                        ok = ok && add_u64(ended, build_count_to_string(c), inv->counts[c]);
        ok = ok && (!inv || ended);
        if (!ok) {
                cJSON_Delete(o);
                return NULL;
        }
        return o;
}

int resume_snapshot(Model *m, usec_t now, char **ret, size_t *ret_count) {
        cJSON *doc = cJSON_CreateObject(), *builds = NULL;
        if (!doc || !cJSON_AddNumberToObject(doc, "version", RESUME_VERSION) ||
            !add_u64(doc, "written", now) || !(builds = cJSON_AddArrayToObject(doc, "builds"))) {
                cJSON_Delete(doc);
                return -ENOMEM;
        }
        size_t n = 0, n_queued = 0;
        for (Build *b = model_builds_first(m); b; b = b->next) {
                bool queued = b->state == BUILD_QUEUED && b->queued && n_queued < RESUME_QUEUED_MAX;
                if (b->machine[0] || (!queued && ((b->state != BUILD_RUNNING && b->state != BUILD_FROZEN &&
                                                   b->state != BUILD_FINISHING) ||
                                                  !b->started)))
                        continue;
                n_queued += queued;
                cJSON *o = build_to_resume_json(b);
                if (!o || !cJSON_AddItemToArray(builds, o)) {
                        cJSON_Delete(o);
                        cJSON_Delete(doc);
                        return -ENOMEM;
                }
                n++;
        }
        char *s = cJSON_PrintUnformatted(doc);
        cJSON_Delete(doc);
        if (!s)
                return -ENOMEM;
        *ret = s;
        *ret_count = n;
        return 0;
}

/* A whole number in [0, max] (JSON numbers are doubles: 2^53 is plenty for microseconds). */
static bool get_u64(const cJSON *o, const char *key, uint64_t max, uint64_t *ret) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
        if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < 0 ||
            v->valuedouble > (double) max || v->valuedouble > 9007199254740992.0)
                return false;
        *ret = (uint64_t) v->valuedouble;
        return true;
}

static int64_t get_i64_or(const cJSON *o, const char *key, int64_t dflt) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
        if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || fabs(v->valuedouble) > 9007199254740992.0)
                return dflt;
        return (int64_t) v->valuedouble;
}

static bool get_bool(const cJSON *o, const char *key) {
        return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, key));
}

/* A copy of o[key] when it is a string of at most max bytes without NULs; NULL otherwise
 * (*ok false only when out of memory). */
static char *get_str(const cJSON *o, const char *key, size_t max, bool *ok) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
        if (!cJSON_IsString(v) || strlen(v->valuestring) > max)
                return NULL;
        char *s = strdup(v->valuestring);
        if (!s)
                *ok = false;
        return s;
}

static void resume_build_done(ResumeBuild *r) {
        timeline_done(&r->timeline);
        for (uint32_t i = 0; i < r->n_phases; i++)
                free(r->phases[i].name);
        free(r->phases);
        free(r->drv);
        free(r->name);
        free(r->requester.user);
        free(r->requester.cmdline);
}

void resume_builds_free(ResumeBuild *r, size_t n) {
        for (size_t i = 0; r && i < n; i++)
                resume_build_done(&r[i]);
        free(r);
}

/* Its phases: each a name and a time, in time order; the first that is not ends the list. 0 or
 * -ENOMEM. */
static int parse_phases(const cJSON *a, ResumeBuild *r) {
        if (!cJSON_IsArray(a))
                return 0;
        uint32_t n = (uint32_t) MIN((size_t) cJSON_GetArraySize(a), (size_t) RESUME_PHASES_MAX);
        if (n == 0 || !(r->phases = calloc(n, sizeof(Phase))))
                return n == 0 ? 0 : -ENOMEM;
        const cJSON *p;
        cJSON_ArrayForEach(p, a) {
                const cJSON *name = cJSON_GetObjectItemCaseSensitive(p, "name");
                usec_t t;
                if (r->n_phases == n || !cJSON_IsString(name) || !name->valuestring[0] ||
                    strlen(name->valuestring) > RESUME_PHASE_NAME_MAX ||
                    !get_u64(p, "time", UINT64_MAX, &t) ||
                    (r->n_phases > 0 && t < r->phases[r->n_phases - 1].time))
                        break;
                if (!(r->phases[r->n_phases].name = strdup(name->valuestring)))
                        return -ENOMEM;
                r->phases[r->n_phases++].time = t;
        }
        return 0;
}

/* One record from o: 1, 0 to skip it, -ENOMEM. */
static int parse_one(const cJSON *o, ResumeBuild *r) {
        bool ok = true;
        uint64_t v;
        *r = (ResumeBuild){.requester = {.uid = -1, .pid = -1}};
        r->drv = get_str(o, "drv", 4096, &ok);
        r->name = get_str(o, "name", 4096, &ok);
        const cJSON *req = cJSON_GetObjectItemCaseSensitive(o, "requester");
        if (cJSON_IsObject(req)) {
                r->requester.uid = MAX(get_i64_or(req, "uid", -1), -1);
                r->requester.pid = MAX(get_i64_or(req, "pid", -1), -1);
                r->requester.user = get_str(req, "user", 256, &ok);
                r->requester.cmdline = get_str(req, "cmdline", 1u << 20, &ok);
        }
        if (!ok) {
                resume_build_done(r);
                return -ENOMEM;
        }
        (void) get_u64(o, "started", UINT64_MAX, &r->started);
        (void) get_u64(o, "queued", UINT64_MAX, &r->queued);
        if (!r->drv || !r->name || (r->started == 0 && r->queued == 0)) {
                resume_build_done(r);
                return 0;
        }
        (void) get_u64(o, "invocation_started", UINT64_MAX, &r->inv_started);
        (void) get_u64(o, "log_lines", UINT64_MAX, &r->log_lines);
        if (get_u64(o, "nix_pid", INT32_MAX, &v))
                r->nix_pid = (pid_t) v;
        (void) get_u64(o, "nix_start", UINT64_MAX, &r->nix_start);
        (void) get_u64(o, "activity", UINT64_MAX, &r->activity);
        (void) get_u64(o, "builds_activity", UINT64_MAX, &r->builds_activity);
        r->start_unknown = get_bool(o, "start_unknown");
        r->untrusted = get_bool(o, "untrusted") || !cJSON_HasObjectItem(o, "untrusted");
        const cJSON *prog = cJSON_GetObjectItemCaseSensitive(o, "progress");
        if (cJSON_IsArray(prog) && cJSON_GetArraySize(prog) == 4)
                for (int i = 0; i < 4; i++) {
                        const cJSON *p = cJSON_GetArrayItem(prog, i);
                        if (cJSON_IsNumber(p) && p->valuedouble >= 0 && p->valuedouble < 1e15)
                                r->progress[i] = (int64_t) p->valuedouble;
                }
        const cJSON *ended = cJSON_GetObjectItemCaseSensitive(o, "ended");
        for (BuildCount c = 0; cJSON_IsObject(ended) && c < _COUNT_MAX; c++)
                if (build_count_is_final(c) && get_u64(ended, build_count_to_string(c), UINT32_MAX, &v))
                        r->ended[c] = (uint32_t) v;
        /* A timeline that does not read back (damaged, or of a newer blob) is left out: the
         * build goes on with what is sampled from now on. */
        const cJSON *tl = cJSON_GetObjectItemCaseSensitive(o, "timeline");
        _cleanup_free_ uint8_t *blob = NULL;
        size_t len;
        if (cJSON_IsString(tl) && strlen(tl->valuestring) <= RESUME_TIMELINE_TEXT_MAX) {
                int k = base64_decode(tl->valuestring, strlen(tl->valuestring), &blob, &len);
                if (k == 0)
                        k = timeline_decode(blob, len, &r->timeline);
                if (k == -ENOMEM) {
                        resume_build_done(r);
                        return -ENOMEM;
                }
        }
        if (parse_phases(cJSON_GetObjectItemCaseSensitive(o, "phases"), r) < 0) {
                resume_build_done(r);
                return -ENOMEM;
        }
        const cJSON *u = cJSON_GetObjectItemCaseSensitive(o, "usage");
        if (cJSON_IsObject(u)) {
                BuildUsage *x = &r->usage;
                x->sampled = get_u64(u, "cpu_user", UINT64_MAX, &x->cpu_user) &&
                             get_u64(u, "cpu_system", UINT64_MAX, &x->cpu_system) &&
                             get_u64(u, "mem_peak", UINT64_MAX, &x->mem_peak);
                (void) get_u64(u, "mem_current", UINT64_MAX, &x->mem_current);
                (void) get_u64(u, "io_read", UINT64_MAX, &x->io_read);
                (void) get_u64(u, "io_write", UINT64_MAX, &x->io_write);
                if (get_u64(u, "procs", UINT32_MAX, &v))
                        x->n_procs = (uint32_t) v;
                x->oom_killed = get_bool(u, "oom_killed");
        }
        return 1;
}

int resume_parse(const char *buf, size_t len, ResumeBuild **ret, size_t *ret_n) {
        if (len > RESUME_FILE_MAX)
                return -EBADMSG;
        cJSON *doc = cJSON_ParseWithLength(buf, len);
        const cJSON *builds = cJSON_GetObjectItemCaseSensitive(doc, "builds");
        if (!cJSON_IsObject(doc) || get_i64_or(doc, "version", 0) != RESUME_VERSION ||
            !cJSON_IsArray(builds)) {
                cJSON_Delete(doc);
                return -EBADMSG;
        }
        size_t cap = MIN((size_t) cJSON_GetArraySize(builds), (size_t) RESUME_MAX), n = 0;
        ResumeBuild *r = cap ? calloc(cap, sizeof(*r)) : NULL;
        if (cap && !r) {
                cJSON_Delete(doc);
                return -ENOMEM;
        }
        const cJSON *o;
        cJSON_ArrayForEach(o, builds) {
                if (n >= cap)
                        break;
                int k = cJSON_IsObject(o) ? parse_one(o, &r[n]) : 0;
                if (k < 0) {
                        resume_builds_free(r, n);
                        cJSON_Delete(doc);
                        return k;
                }
                n += (size_t) k;
        }
        cJSON_Delete(doc);
        *ret = r;
        *ret_n = n;
        return 0;
}
