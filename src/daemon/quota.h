/* Per-uid quotas: what one untrusted local user may hold of the daemon (connections,
 * builds in memory, log bytes per second and held, history rows per hour). Root and the
 * daemon's own uid are never limited. Every refusal is counted per kind and logged, at most
 * once per uid and kind a minute. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <cjson/cJSON.h>

#include "basic/time-util.h"

typedef enum QuotaKind {
        QUOTA_EVENT_CONNECTIONS,
        QUOTA_CONTROL_CONNECTIONS,
        QUOTA_BUILDS,
        QUOTA_LOG_BYTES,
        QUOTA_HISTORY_ROWS,
        _QUOTA_KIND_MAX,
} QuotaKind;

typedef struct QuotaLimits {
        uint32_t event_connections;     /* open at once, per untrusted uid */
        uint32_t control_connections;   /* open at once, per untrusted uid */
        uint32_t builds;                /* held in memory (active + finished kept) */
        uint64_t log_bytes_per_sec;     /* sustained rate of build log records */
        uint64_t log_burst;             /* bytes that may come at once */
        uint64_t log_bytes_held;        /* log bytes its builds hold in memory */
        uint32_t history_rows_per_hour; /* finished builds written to history */
        uint32_t reserved_connections;  /* of each global cap, kept for trusted peers */
} QuotaLimits;

typedef struct Quota Quota;

void quota_limits_defaults(QuotaLimits *l);
/* One "key=value" assignment (--quota): 0, or -EINVAL for an unknown key or a bad number. */
int quota_limits_parse(QuotaLimits *l, const char *assignment);

/* trusted_uid: the daemon's own uid (root is always trusted). */
int quota_new(const QuotaLimits *l, uid_t trusted_uid, Quota **ret);
Quota *quota_free(Quota *q);

bool quota_uid_trusted(const Quota *q, uid_t uid);

/* Takes one connection or one build for uid: 0, or -EDQUOT when uid holds its limit already
 * (counted and logged as refused). Always 0 for a trusted uid, whose use is not counted. */
int quota_take(Quota *q, QuotaKind kind, uid_t uid, usec_t now_mono);
/* Gives back what quota_take took (a no-op for a trusted uid). */
void quota_release(Quota *q, QuotaKind kind, uid_t uid);

/* bytes of build log from uid: 0, or -EDQUOT when its rate is exceeded (token bucket). */
int quota_take_log(Quota *q, uid_t uid, size_t bytes, usec_t now_mono);
/* One history row for uid: 0, or -EDQUOT past its rows this hour. */
int quota_take_history_row(Quota *q, uid_t uid, usec_t now_mono);

uint64_t quota_refused(const Quota *q, QuotaKind kind);
uint32_t quota_used(const Quota *q, QuotaKind kind, uid_t uid);
uint64_t quota_log_held(const Quota *q, uid_t uid); /* log bytes its builds hold */
const QuotaLimits *quota_limits(const Quota *q);
const char *quota_kind_to_string(QuotaKind kind);

/* Makes the model count builds of untrusted sources against their uid's quota. */
struct Model;
void quota_attach_model(Quota *q, struct Model *m);

/* {"refused": {...}, "limits": {...}} for status. */
cJSON *quota_status_json(const Quota *q);
