/* Hiding other users' command lines from control clients (privacy.h). Replies and events are
 * built once as the daemon sees them; this pass nulls what the peer may not see, by the
 * requester each object names: a build or invocation's "requester", a history row's
 * "requester_uid", a process list's "build", an OOM kill's "requester_uid" (its victim). */
#include "daemon/privacy.h"

#include <sys/socket.h>

#include "daemon/daemon.h"
#include "shared/model.h"

#define PEER_GROUPS_MAX 256
#define DEPTH_MAX       16

static bool peer_privileged(ControlConn *c) {
        Daemon *d = c->daemon;
        if (c->uid == 0)
                return true;
        if (!d->config.has_admin_gid)
                return false;
        if (c->gid == d->config.admin_gid)
                return true;
        gid_t groups[PEER_GROUPS_MAX];
        socklen_t len = sizeof(groups);
        if (getsockopt(c->fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0)
                return false;
        for (size_t i = 0; i < len / sizeof(gid_t); i++)
                if (groups[i] == d->config.admin_gid)
                        return true;
        return false;
}

/* Asked for every event sent to the client: the kernel's answer is kept (see ControlConn). */
bool privacy_privileged(ControlConn *c) {
        if (c->privileged < 0)
                c->privileged = peer_privileged(c);
        return c->privileged;
}

bool privacy_sees(ControlConn *c, int64_t requester_uid) {
        return (requester_uid >= 0 && (uid_t) requester_uid == c->uid) || privacy_privileged(c);
}

static void hide(cJSON *o, const char *name) {
        if (cJSON_GetObjectItemCaseSensitive(o, name))
                cJSON_ReplaceItemInObjectCaseSensitive(o, name, cJSON_CreateNull());
}

static int64_t uid_of(const cJSON *v) {
        return cJSON_IsNumber(v) ? (int64_t) v->valuedouble : -1;
}

/* The walk runs only for unprivileged peers: the requester's uid alone decides. */
static bool own(ControlConn *c, int64_t uid) {
        return uid >= 0 && (uid_t) uid == c->uid;
}

static void walk(ControlConn *c, cJSON *o, int depth) {
        if (depth > DEPTH_MAX)
                return;
        if (cJSON_IsObject(o)) {
                cJSON *req = cJSON_GetObjectItemCaseSensitive(o, "requester");
                if (cJSON_IsObject(req) && !own(c, uid_of(cJSON_GetObjectItemCaseSensitive(req, "uid"))))
                        hide(req, "cmdline");
                cJSON *ruid = cJSON_GetObjectItemCaseSensitive(o, "requester_uid");
                if (cJSON_GetObjectItemCaseSensitive(o, "requester_cmdline") && !own(c, uid_of(ruid)))
                        hide(o, "requester_cmdline");
                /* An OOM kill's victim: its command, as a command line's, and its cgroup (a
                 * session's unit names say what its user runs); not a build's: no one's. */
                cJSON *victim = cJSON_GetObjectItemCaseSensitive(o, "victim");
                if (cJSON_IsObject(victim) && !own(c, uid_of(ruid))) {
                        hide(victim, "command");
                        hide(victim, "memcg");
                }
                cJSON *procs = cJSON_GetObjectItemCaseSensitive(o, "processes");
                cJSON *key = cJSON_GetObjectItemCaseSensitive(o, "build");
                if (cJSON_IsArray(procs) && cJSON_IsNumber(key)) {
                        const Build *b = model_build_by_key(c->daemon->model, (uint64_t) key->valuedouble);
                        if (!b || !own(c, b->requester.uid)) {
                                cJSON *p;
                                cJSON_ArrayForEach(p, procs)
                                        hide(p, "cmdline");
                        }
                }
        }
        cJSON *child;
        cJSON_ArrayForEach(child, o)
                if (cJSON_IsObject(child) || cJSON_IsArray(child))
                        walk(c, child, depth + 1);
}

void privacy_filter(ControlConn *c, cJSON *root) {
        if (root && !privacy_privileged(c))
                walk(c, root, 0);
}
