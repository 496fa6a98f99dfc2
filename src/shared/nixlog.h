/* Parser for Nix's internal-json log records (the "@nix {...}" lines of --log-format
 * internal-json, json-log-path streams, and the plugin/ingest event protocol). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

/* ActivityType, numbered as in Nix (same numbers in every version; new ones appended). */
typedef enum NixActivityType {
        NIX_ACT_UNKNOWN = 0,
        NIX_ACT_COPY_PATH = 100,
        NIX_ACT_FILE_TRANSFER = 101,
        NIX_ACT_REALISE = 102,
        NIX_ACT_COPY_PATHS = 103,
        NIX_ACT_BUILDS = 104,
        NIX_ACT_BUILD = 105,
        NIX_ACT_OPTIMISE_STORE = 106,
        NIX_ACT_VERIFY_PATHS = 107,
        NIX_ACT_SUBSTITUTE = 108,
        NIX_ACT_QUERY_PATH_INFO = 109,
        NIX_ACT_POST_BUILD_HOOK = 110,
        NIX_ACT_BUILD_WAITING = 111,
        NIX_ACT_FETCH_TREE = 112,
} NixActivityType;

/* ResultType, numbered as in Nix. */
typedef enum NixResultType {
        NIX_RES_FILE_LINKED = 100,
        NIX_RES_BUILD_LOG_LINE = 101,
        NIX_RES_UNTRUSTED_PATH = 102,
        NIX_RES_CORRUPTED_PATH = 103,
        NIX_RES_SET_PHASE = 104,
        NIX_RES_PROGRESS = 105,
        NIX_RES_SET_EXPECTED = 106,
        NIX_RES_POST_BUILD_LOG_LINE = 107,
        NIX_RES_FETCH_STATUS = 108,
        /* Vendors differ from here: Determinate Nix has 109 resHashMismatch and 110
         * resBuildResult, upstream 109 resFetchToStore. Decoded by the record's shape
         * ("payload"), never by the number alone. */
        NIX_RES_BUILD_RESULT = 110,
} NixResultType;

typedef enum NixAction {
        NIX_ACTION_START,
        NIX_ACTION_STOP,
        NIX_ACTION_RESULT,
        NIX_ACTION_MSG,
        NIX_ACTION_SET_PHASE, /* a builder's own {"action":"setPhase"} seen raw */
        NIX_ACTION_HELLO,     /* our extension: first line from the plugin or ingest */
        NIX_ACTION_DROPPED,   /* our extension: the sender dropped "count" records */
        _NIX_ACTION_MAX,
} NixAction;

/* Hello payload (protocol extension, see docs/protocol.md). Strings point into the record. */
typedef struct NixHello {
        int64_t protocol;
        int64_t pid, ppid, uid; /* -1 when absent */
        const char *role;       /* "daemon-worker", "cli", "ingest", ... or NULL */
        const char *nix_version;
        int64_t requester_pid, requester_uid; /* -1 when absent */
        const char *requester_cmdline;        /* NULL when absent */
} NixHello;

/* How many "fields" a record parsed in place may have without a tree (Nix's have at most
 * four), and one of them: a string, or an integer when str is NULL. */
#define NIX_QUICK_FIELDS 4
typedef struct NixQuickField {
        const char *str;
        int64_t num;
} NixQuickField;

/* Determinate Nix's structured outcome of one goal (result type 110, its "payload" object):
 * {"success":false,"status":"PermanentFailure","errorMsg":"Cannot build …","path":
 * {"drvPath":"<hash>-x.drv","outputs":["*"]},"timesBuilt":…} for a derivation,
 * "path":"<hash>-x" for a substitution. Strings point into the record, ANSI stripped. */
typedef struct NixBuildResult {
        bool success;
        const char *status; /* Nix's BuildResult status name: "Built", "TimedOut", ... */
        const char *path;   /* the drvPath (or the substituted path), as Nix wrote it: a
                             * store path's base name, or a whole store path */
        const char *error;  /* errorMsg, NULL when absent */
} NixBuildResult;

/* One parsed record. All string pointers point into the JSON tree owned by the record, or
 * into the line for one parsed in place, and live until nix_record_done(). Text fields are
 * valid UTF-8 with ANSI escapes stripped. Absent optional values: has_* false, strings NULL,
 * no fields. */
typedef struct NixRecord {
        cJSON *root;

        NixAction action;

        bool has_id;
        uint64_t id;

        bool has_parent; /* only from Nix >= 2.18, or our plugin */
        uint64_t parent;

        int64_t type;  /* start: activity type; result: result type; unknown numbers kept */
        int64_t level; /* start and msg; 0 when absent */

        const char *text;    /* start: text; msg: msg; setPhase: phase */
        const char *raw_msg; /* msg: raw_msg, or NULL */

        /* start/result "fields", read with nix_record_field_str()/_int(): the tree's array
         * (or NULL), or for a record that took the quick path, the values themselves. */
        const cJSON *fields;
        unsigned n_quick_fields;
        NixQuickField quick_fields[NIX_QUICK_FIELDS];

        bool has_time;
        uint64_t time_usec; /* our extension "t": sender's unix time in microseconds */

        bool has_build_result; /* result type 110 of that shape */
        NixBuildResult build_result;

        int64_t dropped; /* NIX_ACTION_DROPPED: count */
        NixHello hello;  /* NIX_ACTION_HELLO */
} NixRecord;

/* Parses one line (without its trailing newline; a leading "@nix " is skipped). The buffer
 * need not be NUL-terminated and may contain anything: bad input gives an error, never a
 * crash. On success fills *ret (which must later go to nix_record_done()).
 * Errors: -EBADMSG not JSON or not an object, -EPROTO missing/mistyped keys or unknown
 * action, -ENOMEM.
 * Details: a NUL byte or anything after the object is -EBADMSG; a key whose value is null
 * counts as absent; of duplicate keys the first counts; id, parent and t are exact over the
 * whole uint64 range (a fraction or exponent above 2^53 is -EPROTO); keys an action does
 * not use are not checked. */
int nix_record_parse(const char *buf, size_t len, NixRecord *ret);
/* The same for a line the caller owns and will not read again: the record's strings may be
 * cut out of it in place (NUL bytes written over its quotes), so buf must stay until
 * nix_record_done(). The usual log line then costs no tree and no allocation. The result is
 * always what nix_record_parse() gives for the same line. */
int nix_record_parse_in_place(char *buf, size_t len, NixRecord *ret);
void nix_record_done(NixRecord *r);

/* fields[i] as a string or integer. Return 0, or -ENOENT (absent) / -EINVAL (wrong type).
 * An integer must be whole and below 2^53 in magnitude (what cJSON's double holds exactly);
 * anything else is -EINVAL rather than a rounded value. */
int nix_record_field_str(const NixRecord *r, unsigned i, const char **ret);
int nix_record_field_int(const NixRecord *r, unsigned i, int64_t *ret);

const char *nix_action_to_string(NixAction a);
/* Names as in Nix ("build", "copyPath", ...); NULL for numbers Nix does not define. */
const char *nix_activity_type_to_string(int64_t t);
const char *nix_result_type_to_string(int64_t t);
