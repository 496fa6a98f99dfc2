/* Per-uid quotas: one small table keyed by uid, with what each untrusted uid holds now and
 * what it was refused. Callers take and release at the points where resources are taken
 * (accept, build creation, log records, history rows); nothing else knows the limits. */
#include "daemon/quota.h"

#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "basic/log.h"
#include "basic/macro.h"
#include "basic/string-util.h"
#include "shared/logring.h"
#include "shared/model.h" /* HASH_FUNCTION before uthash */

#define LOG_INTERVAL_USEC (60 * USEC_PER_SEC)
#define HOUR_USEC         (3600 * USEC_PER_SEC)

typedef struct QuotaUser {
        uid_t uid;
        uint32_t held[_QUOTA_KIND_MAX]; /* connections and builds held now */
        uint32_t builds_finished;       /* of the builds held, those that ended */
        uint64_t log_held;              /* log bytes its builds hold */
        double log_tokens;              /* bytes that may come now */
        usec_t log_refill;              /* monotonic time of the last refill */
        usec_t history_window;          /* start of the current hour */
        uint32_t history_rows;          /* rows written in it */
        usec_t logged[_QUOTA_KIND_MAX]; /* last refusal logged (monotonic) */
        bool log_started;
        UT_hash_handle hh;
} QuotaUser;

struct Quota {
        QuotaLimits limits;
        uid_t trusted_uid;
        QuotaUser *users;
        uint64_t refused[_QUOTA_KIND_MAX];
};

static const char *const kind_table[_QUOTA_KIND_MAX] = {
        [QUOTA_EVENT_CONNECTIONS] = "event_connections",
        [QUOTA_CONTROL_CONNECTIONS] = "control_connections",
        [QUOTA_BUILDS] = "builds",
        [QUOTA_LOG_BYTES] = "log_bytes",
        [QUOTA_HISTORY_ROWS] = "history_rows",
};

const char *quota_kind_to_string(QuotaKind kind) {
        return kind >= 0 && kind < _QUOTA_KIND_MAX ? kind_table[kind] : NULL;
}

void quota_limits_defaults(QuotaLimits *l) {
        *l = (QuotaLimits){
                .event_connections = 64,
                .control_connections = 32,
                .builds = 4096,
                .log_bytes_per_sec = 1u << 20,
                .log_burst = 8u << 20,
                .log_bytes_held = 64u << 20,
                .history_rows_per_hour = 1000,
                .reserved_connections = 64,
        };
}

int quota_limits_parse(QuotaLimits *l, const char *assignment) {
        const char *eq = strchr(assignment, '=');
        if (!eq || eq == assignment || !string_is_digits(eq + 1) || strlen(eq + 1) > 12)
                return -EINVAL;
        size_t klen = (size_t) (eq - assignment);
        uint64_t v = strtoull(eq + 1, NULL, 10);
        static const struct {
                const char *key;
                size_t offset;
                bool wide;
        } keys[] = {
                {"event-connections", offsetof(QuotaLimits, event_connections), false},
                {"control-connections", offsetof(QuotaLimits, control_connections), false},
                {"builds", offsetof(QuotaLimits, builds), false},
                {"log-bytes-per-sec", offsetof(QuotaLimits, log_bytes_per_sec), true},
                {"log-burst", offsetof(QuotaLimits, log_burst), true},
                {"log-bytes-held", offsetof(QuotaLimits, log_bytes_held), true},
                {"history-rows-per-hour", offsetof(QuotaLimits, history_rows_per_hour), false},
                {"reserved-connections", offsetof(QuotaLimits, reserved_connections), false},
        };
        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                if (strlen(keys[i].key) != klen || memcmp(keys[i].key, assignment, klen) != 0)
                        continue;
                char *field = (char *) l + keys[i].offset;
                if (keys[i].wide) {
                        memcpy(field, &v, sizeof(v));
                        return 0;
                }
                if (v > UINT32_MAX)
                        return -EINVAL;
                uint32_t v32 = (uint32_t) v;
                memcpy(field, &v32, sizeof(v32));
                return 0;
        }
        return -EINVAL;
}

int quota_new(const QuotaLimits *l, uid_t trusted_uid, Quota **ret) {
        Quota *q = calloc(1, sizeof(*q));
        if (!q)
                return -ENOMEM;
        q->limits = *l;
        q->trusted_uid = trusted_uid;
        *ret = q;
        return 0;
}

Quota *quota_free(Quota *q) {
        if (!q)
                return NULL;
        QuotaUser *u, *tmp;
        HASH_ITER(hh, q->users, u, tmp) {
                HASH_DEL(q->users, u);
                free(u);
        }
        free(q);
        return NULL;
}

bool quota_uid_trusted(const Quota *q, uid_t uid) {
        return uid == 0 || uid == q->trusted_uid;
}

/* An entry lives as long as the daemon: one per local uid that ever connected, a number
 * bounded by the accounts on the machine (an unprivileged user namespace maps one uid). */
static QuotaUser *user_get(Quota *q, uid_t uid) {
        QuotaUser *u = NULL;
        HASH_FIND(hh, q->users, &uid, sizeof(uid), u);
        if (u)
                return u;
        u = calloc(1, sizeof(*u));
        if (!u)
                return NULL;
        u->uid = uid;
        HASH_ADD(hh, q->users, uid, sizeof(u->uid), u);
        return u;
}

static int refuse(Quota *q, QuotaUser *u, QuotaKind kind, usec_t now_mono) {
        q->refused[kind]++;
        if (u && (u->logged[kind] == 0 || now_mono >= u->logged[kind] + LOG_INTERVAL_USEC)) {
                u->logged[kind] = MAX(now_mono, (usec_t) 1);
                log_warning("quota: uid %u refused %s (limit reached; %" PRIu64 " refusals of this kind "
                            "so far, logged once a minute per uid)",
                            (unsigned) u->uid, kind_table[kind], q->refused[kind]);
        }
        return -EDQUOT;
}

static uint32_t held_limit(const Quota *q, QuotaKind kind) {
        switch (kind) {
        case QUOTA_EVENT_CONNECTIONS:
                return q->limits.event_connections;
        case QUOTA_CONTROL_CONNECTIONS:
                return q->limits.control_connections;
        case QUOTA_BUILDS:
                return q->limits.builds;
        default:
                return 0;
        }
}

int quota_take(Quota *q, QuotaKind kind, uid_t uid, usec_t now_mono) {
        assert(kind == QUOTA_EVENT_CONNECTIONS || kind == QUOTA_CONTROL_CONNECTIONS || kind == QUOTA_BUILDS);
        if (quota_uid_trusted(q, uid))
                return 0;
        QuotaUser *u = user_get(q, uid);
        if (!u)
                return refuse(q, NULL, kind, now_mono); /* no memory to count it: refuse */
        if (u->held[kind] >= held_limit(q, kind))
                return refuse(q, u, kind, now_mono);
        u->held[kind]++;
        return 0;
}

void quota_release(Quota *q, QuotaKind kind, uid_t uid) {
        if (!q || quota_uid_trusted(q, uid))
                return;
        QuotaUser *u = NULL;
        HASH_FIND(hh, q->users, &uid, sizeof(uid), u);
        if (u && u->held[kind] > 0)
                u->held[kind]--;
}

int quota_take_log(Quota *q, uid_t uid, size_t bytes, usec_t now_mono) {
        if (quota_uid_trusted(q, uid))
                return 0;
        QuotaUser *u = user_get(q, uid);
        if (!u)
                return refuse(q, NULL, QUOTA_LOG_BYTES, now_mono);
        double burst = (double) MAX(q->limits.log_burst, q->limits.log_bytes_per_sec);
        if (!u->log_started) {
                u->log_started = true;
                u->log_tokens = burst;
        } else if (now_mono > u->log_refill) {
                double add = (double) (now_mono - u->log_refill) * (double) q->limits.log_bytes_per_sec /
                             (double) USEC_PER_SEC;
                u->log_tokens = MIN(burst, u->log_tokens + add);
        }
        u->log_refill = now_mono;
        if ((double) bytes > u->log_tokens) {
                q->refused[QUOTA_LOG_BYTES] += bytes - 1; /* counted in bytes: refuse() adds one */
                return refuse(q, u, QUOTA_LOG_BYTES, now_mono);
        }
        u->log_tokens -= (double) bytes;
        return 0;
}

int quota_take_history_row(Quota *q, uid_t uid, usec_t now_mono) {
        if (quota_uid_trusted(q, uid))
                return 0;
        QuotaUser *u = user_get(q, uid);
        if (!u)
                return refuse(q, NULL, QUOTA_HISTORY_ROWS, now_mono);
        if (u->history_window == 0 || now_mono >= u->history_window + HOUR_USEC) {
                u->history_window = MAX(now_mono, (usec_t) 1);
                u->history_rows = 0;
        }
        if (u->history_rows >= q->limits.history_rows_per_hour)
                return refuse(q, u, QUOTA_HISTORY_ROWS, now_mono);
        u->history_rows++;
        return 0;
}

uint64_t quota_refused(const Quota *q, QuotaKind kind) {
        return q->refused[kind];
}

uint32_t quota_used(const Quota *q, QuotaKind kind, uid_t uid) {
        QuotaUser *u = NULL;
        HASH_FIND(hh, q->users, &uid, sizeof(uid), u);
        if (!u)
                return 0;
        return kind == QUOTA_HISTORY_ROWS ? u->history_rows : u->held[kind];
}

const QuotaLimits *quota_limits(const Quota *q) {
        return &q->limits;
}

cJSON *quota_status_json(const Quota *q) {
        cJSON *o = cJSON_CreateObject();
        cJSON *refused = cJSON_AddObjectToObject(o, "refused");
        cJSON *limits = cJSON_AddObjectToObject(o, "limits");
        if (!refused || !limits) {
                cJSON_Delete(o);
                return NULL;
        }
        for (int k = 0; k < _QUOTA_KIND_MAX; k++)
                cJSON_AddNumberToObject(refused, kind_table[k], (double) q->refused[k]);
        const QuotaLimits *l = &q->limits;
        cJSON_AddNumberToObject(limits, "event_connections", l->event_connections);
        cJSON_AddNumberToObject(limits, "control_connections", l->control_connections);
        cJSON_AddNumberToObject(limits, "builds", l->builds);
        cJSON_AddNumberToObject(limits, "log_bytes_per_sec", (double) l->log_bytes_per_sec);
        cJSON_AddNumberToObject(limits, "log_burst", (double) l->log_burst);
        cJSON_AddNumberToObject(limits, "log_bytes_held", (double) l->log_bytes_held);
        cJSON_AddNumberToObject(limits, "history_rows_per_hour", l->history_rows_per_hour);
        cJSON_AddNumberToObject(limits, "reserved_connections", l->reserved_connections);
        cJSON_AddNumberToObject(limits, "log_line_bytes", LOG_LINE_MAX);
        return o;
}

static bool model_builds_full(void *userdata, uid_t uid) {
        Quota *q = userdata;
        QuotaUser *u = NULL;
        HASH_FIND(hh, q->users, &uid, sizeof(uid), u);
        return u && u->held[QUOTA_BUILDS] >= q->limits.builds && u->builds_finished > 0;
}

static void model_builds_finished(void *userdata, uid_t uid) {
        Quota *q = userdata;
        QuotaUser *u = NULL;
        HASH_FIND(hh, q->users, &uid, sizeof(uid), u);
        if (u)
                u->builds_finished++;
}

static int model_builds_take(void *userdata, uid_t uid) {
        return quota_take(userdata, QUOTA_BUILDS, uid, now_monotonic());
}

static void model_builds_release(void *userdata, uid_t uid, bool finished) {
        Quota *q = userdata;
        QuotaUser *u = NULL;
        HASH_FIND(hh, q->users, &uid, sizeof(uid), u);
        if (u && finished && u->builds_finished > 0)
                u->builds_finished--;
        quota_release(q, QUOTA_BUILDS, uid);
}

static bool model_log_full(void *userdata, uid_t uid, size_t line_bytes) {
        Quota *q = userdata;
        QuotaUser *u = user_get(q, uid);
        if (u && u->log_held < q->limits.log_bytes_held)
                return false;
        q->refused[QUOTA_LOG_BYTES] += line_bytes > 0 ? line_bytes - 1 : 0; /* in bytes */
        (void) refuse(q, u, QUOTA_LOG_BYTES, now_monotonic());
        return true;
}

static void model_log_held(void *userdata, uid_t uid, int64_t delta) {
        Quota *q = userdata;
        QuotaUser *u = user_get(q, uid);
        if (!u)
                return;
        if (delta < 0 && (uint64_t) -delta > u->log_held)
                u->log_held = 0;
        else
                u->log_held = (uint64_t) ((int64_t) u->log_held + delta);
}

uint64_t quota_log_held(const Quota *q, uid_t uid) {
        QuotaUser *u = NULL;
        HASH_FIND(hh, q->users, &uid, sizeof(uid), u);
        return u ? u->log_held : 0;
}

void quota_attach_model(Quota *q, Model *m) {
        model_set_build_quota(m, &(ModelBuildQuota){
                                         .full = model_builds_full,
                                         .take = model_builds_take,
                                         .finished = model_builds_finished,
                                         .log_full = model_log_full,
                                         .log_held = model_log_held,
                                         .release = model_builds_release,
                                         .userdata = q,
                                 });
}
