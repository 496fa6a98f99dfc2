/* The builds' cgroup root: a systemd service's delegated group, --cgroup-root, or the default;
 * entering and leaving a delegated group (see cgroup-delegate.h for the layout). */
#include "shared/cgroup-delegate.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "basic/macro.h"

/* Passes over S's processes when moving them to S/daemon: one normally, more when a process
 * of S forks while we move (its child is born in S). */
#define MOVE_PASSES 4

const char *cg_root_source_to_string(CgRootSource s) {
        switch (s) {
        case CG_ROOT_SOURCE_OPTION:
                return "option";
        case CG_ROOT_SOURCE_DELEGATED:
                return "delegated-service";
        default:
                return "default";
        }
}

int cg_root_option_parse(const char *s, const char **ret_path) {
        if (!s)
                return -EINVAL;
        if (strcmp(s, "auto") == 0) {
                *ret_path = NULL;
                return 0;
        }
        size_t n = strlen(s);
        if (s[0] != '/' || n < 2 || s[n - 1] == '/' || strstr(s, "//"))
                return -EINVAL;
        /* No "." or ".." component: the root must not climb out of where it says. */
        for (const char *c = s + 1; c;) {
                const char *e = strchr(c, '/');
                size_t cl = e ? (size_t) (e - c) : strlen(c);
                if ((cl == 1 && c[0] == '.') || (cl == 2 && c[0] == '.' && c[1] == '.'))
                        return -EINVAL;
                c = e ? e + 1 : NULL;
        }
        *ret_path = s;
        return 0;
}

static char *join3(const char *a, const char *b, const char *c) {
        char *s;
        return asprintf(&s, "%s%s%s", a ? a : "", b ? b : "", c ? c : "") < 0 ? NULL : s;
}

static const char *basename_of(const char *path) {
        const char *slash = strrchr(path, '/');
        return slash ? slash + 1 : path;
}

static bool is_service_name(const char *name, size_t len) {
        return len > 8 && memcmp(name + len - 8, ".service", 8) == 0;
}

/* The path of the "name=systemd" hierarchy in /proc/self/cgroup text (pure v1 hosts name the
 * service there), NULL when absent. */
static char *systemd_path(const char *buf, size_t len) {
        static const char key[] = ":name=systemd:";
        const char *p = buf, *end = buf + len;
        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t) (end - p));
                const char *le = nl ? nl : end;
                const char *k = memchr(p, ':', (size_t) (le - p));
                if (k && (size_t) (le - k) > sizeof(key) - 1 && memcmp(k, key, sizeof(key) - 1) == 0 &&
                    k[sizeof(key) - 1] == '/')
                        return strndup(k + sizeof(key) - 1, (size_t) (le - k) - (sizeof(key) - 1));
                p = le + 1;
        }
        return NULL;
}

/* S from our own group: ".../x.service" itself, or ".../x.service/daemon" (systemd put us
 * there with DelegateSubgroup=daemon, or an earlier exec of ours moved us). */
static char *service_of(const char *own, bool *ret_in_daemon) {
        if (!own || own[0] != '/')
                return NULL;
        const char *base = basename_of(own);
        if (is_service_name(base, strlen(base))) {
                *ret_in_daemon = false;
                return strdup(own);
        }
        if (strcmp(base, CG_DELEGATE_DAEMON) != 0 || base - own < 2)
                return NULL;
        size_t plen = (size_t) (base - 1 - own);
        const char *pslash = own;
        for (const char *c = own; c < own + plen; c++)
                if (*c == '/')
                        pslash = c;
        if (!is_service_name(pslash + 1, (size_t) (own + plen - pslash - 1)))
                return NULL;
        *ret_in_daemon = true;
        return strndup(own, plen);
}

/* The service group's directory in one hierarchy is ours to write: the group itself (to
 * create children) and its cgroup.procs (to move processes). */
static bool writable(const char *fs_root, const char *mount, const char *group) {
        _cleanup_free_ char *dir = join3(fs_root, mount, group);
        _cleanup_free_ char *procs = join3(dir, "/cgroup.procs", NULL);
        return dir && procs && access(dir, W_OK) == 0 && access(procs, W_OK) == 0;
}

/* systemd marks the groups it delegates (trusted.delegate; user.delegate for unprivileged
 * readers on newer versions). */
static bool has_delegate_xattr(const char *fs_root, const char *mount, const char *group) {
        _cleanup_free_ char *dir = join3(fs_root, mount, group);
        char v[8];
        if (!dir)
                return false;
        ssize_t n = getxattr(dir, "trusted.delegate", v, sizeof(v));
        if (n <= 0)
                n = getxattr(dir, "user.delegate", v, sizeof(v));
        return n == 1 && v[0] == '1';
}

static int set_all(const CgHost *h, const char *path, CgRoots *r) {
        if (h->v2 && !r->root.v2 && !(r->root.v2 = strdup(path)))
                return -ENOMEM;
        for (int c = 0; c < _CG_CONTROLLER_MAX; c++)
                if (h->v1[c] && !r->root.v1[c] && !(r->root.v1[c] = strdup(path)))
                        return -ENOMEM;
        return 0;
}

/* Fills r->service and the delegated hierarchies, or says why not. */
static int detect(const CgHost *h, const char *self_cgroup, size_t len, const char *invocation_id,
                  CgRoots *r, const char **ret_why) {
        CgProcPaths own = {};
        _cleanup_free_ char *sd = NULL;
        int ret = 0;
        if (!self_cgroup) {
                *ret_why = "own cgroup unknown (/proc/self/cgroup unreadable)";
                return 0;
        }
        if (cg_parse_proc_cgroup(self_cgroup, len, &own) < 0)
                return -ENOMEM;
        /* S is named by the v2 hierarchy where there is one, else by systemd's own v1 one. */
        const char *primary = h->v2 ? own.v2 : (sd = systemd_path(self_cgroup, len));
        bool in_daemon = false;
        _cleanup_free_ char *service = primary ? service_of(primary, &in_daemon) : NULL;
        if (!primary) {
                *ret_why = h->v2 ? "no v2 (0::) line in /proc/self/cgroup"
                                 : "no name=systemd line in /proc/self/cgroup";
                goto free_own;
        }
        if (!service) {
                *ret_why = "own cgroup is not a systemd service's (*.service)";
                goto free_own;
        }
        const char *mount = h->v2;
        if (!mount) {
                /* Pure v1: the first controller hierarchy where we are in S stands for S. */
                for (int c = 0; c < _CG_CONTROLLER_MAX && !mount; c++)
                        if (h->v1[c] && own.v1[c] && strcmp(own.v1[c], primary) == 0)
                                mount = h->v1[c];
                if (!mount) {
                        *ret_why = "no cgroup controller hierarchy holds our service group";
                        goto free_own;
                }
        }
        r->xattr = has_delegate_xattr(h->fs_root, mount, service);
        if (!r->xattr && (!invocation_id || !invocation_id[0])) {
                *ret_why = "not started by systemd ($INVOCATION_ID unset, no delegate xattr)";
                goto free_own;
        }
        if (!writable(h->fs_root, mount, service)) {
                *ret_why = "service cgroup not writable (is Delegate=yes set?)";
                goto free_own;
        }
        r->delegated_v2 = h->v2 != NULL;
        for (int c = 0; c < _CG_CONTROLLER_MAX; c++)
                r->delegated_v1[c] = h->v1[c] && own.v1[c] && strcmp(own.v1[c], primary) == 0 &&
                                     writable(h->fs_root, h->v1[c], service);
        r->started_in_daemon = in_daemon;
        r->service = TAKE_PTR(service);
free_own:
        cg_proc_paths_done(&own);
        return ret;
}

int cg_roots_resolve(const CgHost *h, const char *option, const char *self_cgroup, size_t len,
                     const char *invocation_id, CgRoots *ret, const char **ret_why) {
        CgRoots r = {};
        const char *why = NULL;
        int rr;
        if (option) {
                r.source = CG_ROOT_SOURCE_OPTION;
                if ((rr = set_all(h, option, &r)) < 0)
                        goto free_roots;
                goto found;
        }
        if ((rr = detect(h, self_cgroup, len, invocation_id, &r, &why)) < 0)
                goto free_roots;
        if (r.service) {
                _cleanup_free_ char *builds = join3(r.service, "/", CG_DELEGATE_BUILDS);
                rr = -ENOMEM;
                if (!builds)
                        goto free_roots;
                r.source = CG_ROOT_SOURCE_DELEGATED;
                if (r.delegated_v2 && !(r.root.v2 = strdup(builds)))
                        goto free_roots;
                for (int c = 0; c < _CG_CONTROLLER_MAX; c++)
                        if (r.delegated_v1[c] && !(r.root.v1[c] = strdup(builds)))
                                goto free_roots;
        } else
                r.source = CG_ROOT_SOURCE_DEFAULT;
        /* Hierarchies outside the service (a v1 controller systemd does not manage, such as
         * the freezer) keep the default root. */
        if ((rr = set_all(h, CG_ROOT_DEFAULT_PATH, &r)) < 0)
                goto free_roots;
found:
        if (ret_why)
                *ret_why = why;
        *ret = r;
        return 0;
free_roots:
        cg_roots_done(&r);
        return rr;
}

static bool pid_in(const pid_t *pids, size_t n, pid_t pid) {
        for (size_t i = 0; i < n; i++)
                if (pids[i] == pid)
                        return true;
        return false;
}

/* Moves every process of dir into daemon_dir, again while new ones appear (a process of dir
 * forking meanwhile: its child is born in dir). 0, or -errno. */
static int move_all(char *dir, char *daemon_dir) {
        CgGroup from = {.v2 = dir}, to = {.v2 = daemon_dir};
        _cleanup_free_ pid_t *moved = NULL;
        size_t n_moved = 0;
        for (int pass = 0; pass < MOVE_PASSES; pass++) {
                _cleanup_free_ pid_t *pids = NULL;
                int n = cg_group_pids(&from, &pids);
                if (n < 0)
                        return n;
                bool fresh = false;
                for (int i = 0; i < n; i++) {
                        if (pid_in(moved, n_moved, pids[i]))
                                continue;
                        int r = cg_group_attach(&to, pids[i]);
                        if (r < 0 && r != -ESRCH)
                                return r;
                        pid_t *grown = realloc(moved, (n_moved + 1) * sizeof(pid_t));
                        if (!grown)
                                return -ENOMEM;
                        moved = grown;
                        moved[n_moved++] = pids[i];
                        fresh = true;
                }
                if (!fresh)
                        return 0;
        }
        return -EBUSY;
}

/* S/daemon in one hierarchy: made where missing, every process of S moved there. *ours: we
 * are to remove it at exit: made now, or left by an earlier run of ours (systemd makes no
 * such group unless it started us in it, DelegateSubgroup=daemon). */
static int enter_one(const char *fs_root, const char *mount, const char *service, bool started_in_daemon,
                     bool *ours) {
        _cleanup_free_ char *dir = join3(fs_root, mount, service);
        _cleanup_free_ char *daemon_dir = join3(dir, "/", CG_DELEGATE_DAEMON);
        if (!dir || !daemon_dir)
                return -ENOMEM;
        if (mkdir(daemon_dir, 0755) == 0)
                *ours = true;
        else if (errno == EEXIST)
                *ours = !started_in_daemon;
        else
                return -errno;
        return move_all(dir, daemon_dir);
}

int cg_roots_enter(CgRoots *r, const CgHost *h) {
        int first = 0, e;
        if (r->source != CG_ROOT_SOURCE_DELEGATED || r->entered)
                return 0;
        r->entered = true;
        for (int c = 0; c < _CG_CONTROLLER_MAX; c++)
                if (r->delegated_v1[c] &&
                    (e = enter_one(h->fs_root, h->v1[c], r->service, r->started_in_daemon,
                                   &r->daemon_created_v1[c])) < 0 &&
                    first == 0)
                        first = e;
        if (!r->delegated_v2)
                return first;
        if ((e = enter_one(h->fs_root, h->v2, r->service, r->started_in_daemon, &r->daemon_created_v2)) < 0)
                return first ? first : e;
        _cleanup_free_ char *dir = join3(h->fs_root, h->v2, r->service);
        if (!dir)
                return -ENOMEM;
        if ((e = cg_subtree_enable(dir, &r->enabled)) < 0 && first == 0)
                first = e;
        return first;
}

static void rmdir_root(const char *fs_root, const char *mount, const char *root) {
        _cleanup_free_ char *dir = mount && root ? join3(fs_root, mount, root) : NULL;
        if (dir)
                (void) rmdir(dir); /* fails, as meant, while a group is still in it */
}

/* Back into S from S/daemon in one hierarchy, then S/daemon goes if we made it. */
static void leave_one(const char *fs_root, const char *mount, const char *service, bool created,
                      pid_t self) {
        _cleanup_free_ char *dir = join3(fs_root, mount, service);
        _cleanup_free_ char *daemon_dir = join3(dir, "/", CG_DELEGATE_DAEMON);
        if (!dir || !daemon_dir || !created)
                return;
        CgGroup back = {.v2 = dir};
        if (cg_group_attach(&back, self) == 0)
                (void) rmdir(daemon_dir); /* fails while a helper of ours still runs there */
}

void cg_roots_leave(CgRoots *r, const CgHost *h, pid_t self) {
        rmdir_root(h->fs_root, h->v2, r->root.v2);
        for (int c = 0; c < _CG_CONTROLLER_MAX; c++) {
                /* Hierarchies sharing a mount (cpu,cpuacct) share the root: removed once. */
                rmdir_root(h->fs_root, h->v1[c], r->root.v1[c]);
        }
        if (!r->entered)
                return;
        r->entered = false;
        for (int c = 0; c < _CG_CONTROLLER_MAX; c++)
                if (r->delegated_v1[c])
                        leave_one(h->fs_root, h->v1[c], r->service, r->daemon_created_v1[c], self);
        if (!r->delegated_v2)
                return;
        _cleanup_free_ char *dir = join3(h->fs_root, h->v2, r->service);
        /* A process may not join S while S enables controllers for its children: take back
         * the ones we enabled first (fails while a build's group is left in S/builds). */
        if (dir && cg_subtree_disable(dir, r->enabled) == 0) {
                r->enabled = 0;
                leave_one(h->fs_root, h->v2, r->service, r->daemon_created_v2, self);
        }
}

const char *cg_roots_primary(const CgRoots *r) {
        if (r->root.v2)
                return r->root.v2;
        for (int c = 0; c < _CG_CONTROLLER_MAX; c++)
                if (r->root.v1[c])
                        return r->root.v1[c];
        return NULL;
}

void cg_roots_done(CgRoots *r) {
        cg_proc_paths_done(&r->root);
        free(r->service);
        *r = (CgRoots){};
}
