/* Reads the builders setting from Nix's configuration and re-reads it when a file changes
 * (an mtime/size/inode check of every file involved on a timer: cheap, and it also notices
 * files that appear, which an inotify watch on a missing path would not). */
#include "daemon/machines-config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>

#include "basic/log.h"
#include "basic/macro.h"
#include "daemon/machines-poll.h"
#include "shared/machines.h"
#include "shared/model-machines.h"
#include "shared/nixconf.h"

#define CHECK_INTERVAL (2 * USEC_PER_SEC)

typedef struct FileSig {
        char *path;
        bool exists;
        struct timespec mtime;
        off_t size;
        ino_t ino;
} FileSig;

struct MachinesConfig {
        Daemon *daemon;
        char *conf_dir;
        char *builders;
        int use_substitutes; /* -1 unset */
        MachineList list;
        NixConf conf;
        FileSig *files;
        size_t n_files;
        usec_t loaded;
        sd_event_source *timer;
};

static void file_sig(FileSig *f) {
        struct stat st;
        f->exists = stat(f->path, &st) == 0;
        f->mtime = f->exists ? st.st_mtim : (struct timespec){};
        f->size = f->exists ? st.st_size : 0;
        f->ino = f->exists ? st.st_ino : 0;
}

static bool file_changed(const FileSig *f) {
        FileSig now = {.path = f->path};
        file_sig(&now);
        return now.exists != f->exists || now.size != f->size || now.ino != f->ino ||
               now.mtime.tv_sec != f->mtime.tv_sec || now.mtime.tv_nsec != f->mtime.tv_nsec;
}

static void files_clear(MachinesConfig *mc) {
        for (size_t i = 0; i < mc->n_files; i++)
                free(mc->files[i].path);
        free(mc->files);
        mc->files = NULL;
        mc->n_files = 0;
}

static int files_add(MachinesConfig *mc, char *const *paths, size_t n) {
        FileSig *grown = realloc(mc->files, (mc->n_files + n) * sizeof(FileSig));
        if (!grown && n > 0)
                return -ENOMEM;
        mc->files = grown;
        for (size_t i = 0; i < n; i++) {
                FileSig f = {.path = strdup(paths[i])};
                if (!f.path)
                        return -ENOMEM;
                file_sig(&f);
                mc->files[mc->n_files++] = f;
        }
        return 0;
}

static const char *this_system(void) {
        static char sys[80];
        struct utsname u;
        if (!sys[0] && uname(&u) == 0)
                snprintf(sys, sizeof(sys), "%s-linux",
                         strcmp(u.machine, "arm64") == 0 ? "aarch64" : u.machine);
        return sys[0] ? sys : "x86_64-linux";
}

/* (Re)reads everything. On allocation failure the previous state stays. */
static int load(MachinesConfig *mc) {
        NixConf conf = {};
        MachineList list = {};
        _cleanup_free_ char *path = NULL, *builders = NULL;
        int r;

        if (asprintf(&path, "%s/nix.conf", mc->conf_dir) < 0)
                return -ENOMEM;
        if ((r = nixconf_apply_file(&conf, path, NULL, NULL)) < 0)
                goto free_lists;
        const char *env = getenv("NIX_CONFIG");
        if (env && (r = nixconf_apply(&conf, env, strlen(env), "NIX_CONFIG", NULL, NULL)) < 0)
                goto free_lists;

        const char *b = nixconf_get(&conf, "builders");
        if (b)
                builders = strdup(b);
        else if (asprintf(&builders, "@%s/machines", mc->conf_dir) < 0)
                builders = NULL;
        if (!builders) {
                r = -ENOMEM;
                goto free_lists;
        }
        const char *sys = nixconf_get(&conf, "system");
        MachinesParseOptions o = {.this_system = sys ? sys : this_system()};
        if ((r = machines_parse(builders, strlen(builders), &o, &list)) < 0)
                goto free_lists;

        files_clear(mc);
        if ((r = files_add(mc, conf.files, conf.n_files)) < 0 ||
            (r = files_add(mc, list.files, list.n_files)) < 0)
                goto free_lists;
        if ((r = model_set_machines(mc->daemon->model, &list)) < 0)
                goto free_lists;

        for (size_t i = 0; i < conf.n_errors; i++)
                log_warning("nix configuration: %s", conf.errors[i]);
        for (size_t i = 0; i < list.n_errors; i++)
                log_warning("builders: %s:%u: %s", list.errors[i].origin, list.errors[i].line,
                            list.errors[i].message);
        log_info("builders: %zu machine(s) from '%s'", list.n_machines, builders);

        nixconf_done(&mc->conf);
        machine_list_done(&mc->list);
        free(mc->builders);
        mc->conf = conf;
        mc->list = list;
        mc->builders = TAKE_PTR(builders);
        mc->use_substitutes = nixconf_get_bool(&conf, "builders-use-substitutes");
        if (mc->use_substitutes < 0)
                mc->use_substitutes = -1;
        mc->loaded = now_realtime();
        if (mc->daemon->machines_poll)
                machines_poll_sync(mc->daemon->machines_poll);
        return 0;
free_lists:
        nixconf_done(&conf);
        machine_list_done(&list);
        return r;
}

static int on_check(sd_event_source *s, uint64_t usec, void *userdata) {
        MachinesConfig *mc = userdata;
        for (size_t i = 0; i < mc->n_files; i++)
                if (file_changed(&mc->files[i])) {
                        log_info("builders: %s changed, reading the Nix configuration again",
                                 mc->files[i].path);
                        int r = load(mc);
                        if (r < 0)
                                log_warning_errno(r, "builders: cannot re-read the configuration: %m");
                        break;
                }
        (void) sd_event_source_set_time_relative(s, CHECK_INTERVAL);
        (void) sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        return 0;
}

int machines_config_start(Daemon *d, const char *conf_dir, MachinesConfig **ret) {
        MachinesConfig *mc = calloc(1, sizeof(*mc));
        if (!mc)
                return -ENOMEM;
        mc->daemon = d;
        mc->use_substitutes = -1;
        const char *env = getenv("NIX_CONF_DIR");
        mc->conf_dir = strdup(conf_dir ? conf_dir : env && *env ? env : "/etc/nix");
        int r = mc->conf_dir ? load(mc) : -ENOMEM;
        if (r >= 0)
                r = sd_event_add_time_relative(d->event, &mc->timer, CLOCK_MONOTONIC, CHECK_INTERVAL,
                                               USEC_PER_SEC / 10, on_check, mc);
        if (r < 0) {
                machines_config_free(mc);
                return r;
        }
        *ret = mc;
        return 0;
}

MachinesConfig *machines_config_free(MachinesConfig *mc) {
        if (!mc)
                return NULL;
        sd_event_source_disable_unref(mc->timer);
        files_clear(mc);
        nixconf_done(&mc->conf);
        machine_list_done(&mc->list);
        free(mc->builders);
        free(mc->conf_dir);
        free(mc);
        return NULL;
}

cJSON *machines_config_to_json(const MachinesConfig *mc) {
        cJSON *o = cJSON_CreateObject();
        if (!o)
                return NULL;
        cJSON_AddStringToObject(o, "conf_dir", mc->conf_dir);
        cJSON_AddStringToObject(o, "builders", mc->builders ? mc->builders : "");
        if (mc->use_substitutes >= 0)
                cJSON_AddBoolToObject(o, "builders_use_substitutes", mc->use_substitutes);
        else
                cJSON_AddNullToObject(o, "builders_use_substitutes");
        cJSON_AddNumberToObject(o, "loaded", usec_to_sec(mc->loaded));
        cJSON *files = cJSON_AddArrayToObject(o, "files");
        for (size_t i = 0; files && i < mc->n_files; i++) {
                cJSON *f = cJSON_CreateObject();
                if (!f || !cJSON_AddItemToArray(files, f)) {
                        cJSON_Delete(f);
                        break;
                }
                cJSON_AddStringToObject(f, "path", mc->files[i].path);
                cJSON_AddBoolToObject(f, "exists", mc->files[i].exists);
        }
        cJSON *errors = cJSON_AddArrayToObject(o, "errors");
        for (size_t i = 0; errors && i < mc->conf.n_errors; i++)
                cJSON_AddItemToArray(errors, cJSON_CreateString(mc->conf.errors[i]));
        for (size_t i = 0; errors && i < mc->list.n_errors; i++) {
                char *e = NULL;
                if (asprintf(&e, "%s:%u: %s", mc->list.errors[i].origin, mc->list.errors[i].line,
                             mc->list.errors[i].message) >= 0) {
                        cJSON_AddItemToArray(errors, cJSON_CreateString(e));
                        free(e);
                }
        }
        return o;
}

static int parse_seconds(const char *opt, const char *arg, double min, usec_t *ret) {
        char *end;
        errno = 0;
        double v = strtod(arg, &end);
        if (errno || end == arg || *end || !(v == 0 || v >= min) || v > 86400)
                return log_error_errno(EINVAL, "invalid value for %s: '%s' (seconds, 0 or %g to 86400)", opt,
                                       arg, min);
        *ret = (usec_t) (v * (double) USEC_PER_SEC);
        return 0;
}

int machines_parse_option(int which, const char *arg, DaemonConfig *cfg) {
        switch (which) {
        case 0:
                if (arg[0] != '/')
                        return log_error_errno(EINVAL, "--nix-conf-dir must be an absolute path: '%s'", arg);
                free(cfg->nix_conf_dir);
                cfg->nix_conf_dir = strdup(arg);
                return cfg->nix_conf_dir ? 0 : log_error_errno(ENOMEM, "out of memory");
        case 1:
                return parse_seconds("--machines-poll-interval", arg, 0.1, &cfg->machines_poll_interval);
        case 2: {
                int r = parse_seconds("--machines-poll-timeout", arg, 1, &cfg->machines_poll_timeout);
                if (r >= 0 && cfg->machines_poll_timeout == 0)
                        return log_error_errno(EINVAL, "--machines-poll-timeout must be at least 1 second");
                return r;
        }
        case 3:
                /* it is quoted in single quotes for the remote shell */
                if (!*arg || strpbrk(arg, "'\n"))
                        return log_error_errno(EINVAL,
                                               "--machines-remote-ctl: a command without quotes: '%s'", arg);
                free(cfg->machines_remote_ctl);
                cfg->machines_remote_ctl = strdup(arg);
                return cfg->machines_remote_ctl ? 0 : log_error_errno(ENOMEM, "out of memory");
        default:
                return -EINVAL;
        }
}
