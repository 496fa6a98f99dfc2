/* The fields yank copies. */
#include "tui/yank-field.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "basic/fileio.h"
#include "shared/drv.h"
#include "shared/json-read.h"
#include "tui/view-builds.h"
#include "tui/view-log.h"
#include "tui/yank.h"

static void yank_do(Tui *t, const char *what, const char *text) {
        const char *how = NULL;
        size_t len = strlen(text);
        int r = yank_copy(t->event, STDOUT_FILENO, text, len, &how);
        if (r < 0) {
                tui_status(t, true, "yank %s: %s", what, strerror(-r));
                return;
        }
        /* The terminal may have been written to behind curses' back. */
        tui_status(t, false, "yanked %s (%zu bytes%s) by %s: %.*s", what, len > YANK_MAX ? YANK_MAX : len,
                   len > YANK_MAX ? ", cut" : "", how,
                   (int) strcspn(text, "\n") > 60 ? 60 : (int) strcspn(text, "\n"), text);
}

static void got_processes(Client *c, const cJSON *result, const cJSON *error, void *userdata) {
        Tui *t = userdata;
        if (!result || !json_has_num(result, "builder")) {
                tui_status(t, true, "yank pid: %s",
                           error ? json_str(error, "message") ?: "refused" : "no builder process known");
                return;
        }
        char buf[32];
        snprintf(buf, sizeof(buf), "%.0f", json_num(result, "builder", 0));
        yank_do(t, "pid", buf);
}

static void got_log(Client *c, const cJSON *result, const cJSON *error, void *userdata) {
        Tui *t = userdata;
        if (!result) {
                tui_status(t, true, "yank log: %s",
                           error ? json_str(error, "message") ?: "refused" : "daemon gone");
                return;
        }
        size_t len = 0;
        const cJSON *l;
        cJSON_ArrayForEach(l, json_arr(result, "lines"))
                if (cJSON_IsString(l))
                        len += strlen(l->valuestring) + 1;
        char *s = malloc(len + 1), *p = s;
        if (!s)
                return;
        cJSON_ArrayForEach(l, json_arr(result, "lines"))
                if (cJSON_IsString(l))
                        p = stpcpy(stpcpy(p, l->valuestring), "\n");
        *p = 0;
        yank_do(t, "log", s);
        free(s);
}

/* The output paths of the build's .drv, space-separated. */
static char *output_paths(const char *drv) {
        _cleanup_free_ char *buf = NULL;
        size_t len;
        if (read_full_file(drv, 64 * 1024 * 1024, &buf, &len) < 0)
                return NULL;
        DrvOutput *o;
        int n = drv_parse_outputs(buf, len, &o);
        if (n <= 0)
                return NULL;
        size_t total = 1;
        for (int i = 0; i < n; i++)
                total += strlen(o[i].path) + 1;
        char *s = calloc(1, total), *p = s;
        for (int i = 0; s && i < n; i++)
                p = stpcpy(stpcpy(p, i ? " " : ""), o[i].path);
        drv_outputs_free(o, (size_t) n);
        return s;
}

void yank_field(Tui *t, int field) {
        StoreBuild *b = view_builds_current(t);
        if (!b) {
                tui_status(t, true, "yank: no build selected");
                return;
        }
        switch (field) {
        case 'd':
                yank_do(t, "drv path", b->drv);
                return;
        case 'n':
                yank_do(t, "name", b->name);
                return;
        case 'o': {
                _cleanup_free_ char *s = output_paths(b->drv);
                if (!s)
                        tui_status(t, true, "yank output path: cannot read %s", b->drv);
                else
                        yank_do(t, "output path", s);
                return;
        }
        case 'r': {
                const cJSON *req = json_obj(b->json, "requester");
                char buf[256];
                snprintf(buf, sizeof(buf), "%s (uid %.0f, pid %.0f)", b->user ?: "?",
                         json_num(req, "uid", -1), json_num(req, "pid", -1));
                yank_do(t, "requester", buf);
                return;
        }
        case 'c':
                if (!b->cmdline)
                        tui_status(t, true, "yank command line: not known for %s", b->name);
                else
                        yank_do(t, "command line", b->cmdline);
                return;
        case 'p':
        case 'l': {
                cJSON *args = cJSON_CreateObject();
                if (!args)
                        return;
                cJSON_AddNumberToObject(args, "build", (double) b->key);
                if (field == 'l')
                        cJSON_AddNumberToObject(args, "tail", 1000);
                if (client_request(tui_host(t, b->host)->client, field == 'p' ? "get-processes" : "get-log",
                                   args, field == 'p' ? got_processes : got_log, t) < 0)
                        tui_status(t, true, "yank: the daemon is not connected");
                return;
        }
        }
}
