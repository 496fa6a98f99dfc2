/* OSC 52 and clipboard tools. */
#include "tui/yank.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "basic/base64.h"
#include "basic/macro.h"

extern char **environ;

int yank_osc52(const char *data, size_t len, bool tmux, char **ret) {
        _cleanup_free_ char *enc = NULL;
        if (base64_encode((const uint8_t *) data, len, &enc) < 0)
                return -ENOMEM;
        size_t enc_len = strlen(enc);
        /* Plain: ESC ] 52 ; c ; <base64> BEL. Inside tmux the plain form is what tmux itself
         * takes (set-clipboard on), the wrapped one what it hands to the outer terminal
         * (allow-passthrough on): both are sent, either may be configured. */
        size_t n = enc_len + 16 + (tmux ? enc_len + 32 : 0);
        char *s = malloc(n);
        if (!s)
                return -ENOMEM;
        int k = snprintf(s, n, "\033]52;c;%s\a", enc);
        if (tmux)
                snprintf(s + k, n - (size_t) k, "\033Ptmux;\033\033]52;c;%s\a\033\\", enc);
        *ret = s;
        return 0;
}

static int yank_reap(sd_event_source *s, const siginfo_t *si, void *userdata) {
        sd_event_source_disable_unref(s);
        return 0;
}

/* Runs argv with data on its stdin; true when it was started. */
static bool yank_spawn(sd_event *e, char *const argv[], const char *data, size_t len) {
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
                return false;
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, p[0], STDIN_FILENO);
        int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
        if (devnull >= 0) {
                posix_spawn_file_actions_adddup2(&fa, devnull, STDOUT_FILENO);
                posix_spawn_file_actions_adddup2(&fa, devnull, STDERR_FILENO);
        }
        pid_t pid;
        int r = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        close(p[0]);
        if (devnull >= 0)
                close(devnull);
        if (r != 0) {
                close(p[1]);
                return false;
        }
        /* At most YANK_MAX bytes: within a pipe's buffer, so this cannot block for long. */
        size_t off = 0;
        while (off < len) {
                ssize_t w = write(p[1], data + off, len - off);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w <= 0)
                        break;
                off += (size_t) w;
        }
        close(p[1]);
        if (sd_event_add_child(e, NULL, pid, WEXITED, yank_reap, NULL) < 0) {
                /* Not watched by the loop (SIGCHLD not blocked): wait here. */
                (void) waitpid(pid, NULL, 0);
        }
        return true;
}

static bool in_path(const char *prog) {
        const char *path = getenv("PATH");
        if (!path)
                return false;
        _cleanup_free_ char *copy = strdup(path);
        if (!copy)
                return false;
        char *save = NULL;
        for (char *d = strtok_r(copy, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
                _cleanup_free_ char *p = NULL;
                if (asprintf(&p, "%s/%s", d, prog) >= 0 && access(p, X_OK) == 0)
                        return true;
        }
        return false;
}

int yank_copy(sd_event *e, int tty_fd, const char *data, size_t len, const char **ret_how) {
        if (len > YANK_MAX)
                len = YANK_MAX;
        bool tmux = getenv("TMUX") != NULL;
        _cleanup_free_ char *seq = NULL;
        int r = yank_osc52(data, len, tmux, &seq);
        if (r < 0)
                return r;
        size_t n = strlen(seq), off = 0;
        while (off < n) {
                ssize_t w = write(tty_fd, seq + off, n - off);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w < 0)
                        return -errno;
                off += (size_t) w;
        }
        const char *how = tmux ? "OSC 52 (tmux)" : "OSC 52";
        if (getenv("WAYLAND_DISPLAY") && in_path("wl-copy")) {
                char *const argv[] = {(char *) "wl-copy", NULL};
                if (yank_spawn(e, argv, data, len))
                        how = tmux ? "OSC 52 (tmux) + wl-copy" : "OSC 52 + wl-copy";
        } else if (getenv("DISPLAY") && in_path("xclip")) {
                char *const argv[] = {(char *) "xclip", (char *) "-selection", (char *) "clipboard", NULL};
                if (yank_spawn(e, argv, data, len))
                        how = tmux ? "OSC 52 (tmux) + xclip" : "OSC 52 + xclip";
        }
        *ret_how = how;
        return 0;
}
