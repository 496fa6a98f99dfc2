/* ssh command lines and a child ssh on a socketpair (ssh-command.h). */
#include "shared/ssh-command.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "basic/macro.h"
#include "basic/string-util.h"

#define SSH_ARGV_MAX 96
#define SSHOPTS_MAX  64 /* words taken from $NIX_SSHOPTS */

char **ssh_argv_free(char **argv) {
        if (!argv)
                return NULL;
        for (char **a = argv; *a; a++)
                free(*a);
        free(argv);
        return NULL;
}

char **ssh_argv_copy(char *const *argv) {
        size_t n = 0;
        while (argv[n])
                n++;
        char **copy = calloc(n + 1, sizeof(char *));
        if (!copy)
                return NULL;
        for (size_t i = 0; i < n; i++)
                if (!(copy[i] = strdup(argv[i])))
                        return ssh_argv_free(copy);
        return copy;
}

int ssh_argv(const SshTarget *t, const char *command, char ***ret) {
        if (!t->destination || !t->destination[0] || t->destination[0] == '-')
                return -EINVAL; /* never an option to ssh */
        char **argv = calloc(SSH_ARGV_MAX + 1, sizeof(char *));
        if (!argv)
                return -ENOMEM;
        size_t n = 0;
        bool oom = false;
#define ADD(s)                                              \
        do {                                                \
                if (n < SSH_ARGV_MAX && !(argv[n++] = (s))) \
                        oom = true;                         \
        } while (0)

        ADD(strdup("ssh"));
        const char *opts = getenv("NIX_SSHOPTS"); /* as Nix takes it: words split at blanks */
        _cleanup_free_ char *copy = opts ? strdup(opts) : NULL;
        char *save = NULL;
        unsigned words = 0;
        for (char *w = copy ? strtok_r(copy, " \t\n", &save) : NULL; w && words < SSHOPTS_MAX;
             w = strtok_r(NULL, " \t\n", &save), words++)
                ADD(strdup(w));
        ADD(strdup("-x"));
        ADD(strdup("-a"));
        ADD(strdup("-T"));
        ADD(strdup("-o"));
        ADD(strdup("BatchMode=yes"));
        if (t->connect_timeout > 0) {
                char *o = NULL;
                ADD(strdup("-o"));
                ADD(asprintf(&o, "ConnectTimeout=%u", t->connect_timeout) < 0 ? NULL : o);
        }
        for (const char *const *o = t->options; o && *o; o++) {
                ADD(strdup("-o"));
                ADD(strdup(*o));
        }
        if (t->identity && t->identity[0]) {
                ADD(strdup("-i"));
                ADD(strdup(t->identity));
        }
        if (t->port > 0) {
                char *p = NULL;
                ADD(strdup("-p"));
                ADD(asprintf(&p, "%u", t->port) < 0 ? NULL : p);
        }
        ADD(strdup("--"));
        ADD(strdup(t->destination));
        ADD(strdup(command));
#undef ADD
        if (oom) {
                /* argv may have holes where strdup failed: free what was made. */
                for (size_t i = 0; i < SSH_ARGV_MAX; i++)
                        free(argv[i]);
                free(argv);
                return -ENOMEM;
        }
        *ret = argv;
        return 0;
}

char *ssh_quote_arg(const char *s) {
        size_t quotes = 0;
        for (const char *p = s; *p; p++)
                quotes += *p == '\'';
        char *q = malloc(strlen(s) + 3 * quotes + 3), *w = q;
        if (!q)
                return NULL;
        *w++ = '\'';
        for (const char *p = s; *p; p++) {
                if (*p == '\'') {
                        memcpy(w, "'\\''", 4);
                        w += 4;
                } else
                        *w++ = *p;
        }
        *w++ = '\'';
        *w = '\0';
        return q;
}

int ssh_target_parse(const char *s, char **ret_destination, unsigned *ret_port) {
        if (!s || !s[0] || s[0] == '-')
                return -EINVAL;
        const char *rest = startswith(s, "ssh://");
        if (!rest)
                rest = startswith(s, "ssh-ng://");
        unsigned port = 0;
        size_t len = strlen(rest ? rest : s);
        const char *dest = rest ? rest : s;
        if (rest) {
                const char *colon = strrchr(dest, ':');
                if (colon) {
                        uint64_t v;
                        if (safe_atou64(colon + 1, &v) < 0 || v == 0 || v > 65535)
                                return -EINVAL;
                        port = (unsigned) v;
                        len = (size_t) (colon - dest);
                }
                if (len > 0 && dest[len - 1] == '/')
                        len--;
        }
        if (len == 0 || memchr(dest, '/', len) || memchr(dest, ' ', len) || dest[0] == '-' ||
            dest[len - 1] == '@')
                return -EINVAL;
        char *d = strndup(dest, len);
        if (!d)
                return -ENOMEM;
        *ret_destination = d;
        *ret_port = port;
        return 0;
}

int ssh_spawn_stdio(char **argv, int stderr_fd, int *ret_fd, pid_t *ret_pid) {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
                return -errno;
        pid_t pid = fork();
        if (pid < 0) {
                int r = -errno;
                close(sv[0]);
                close(sv[1]);
                return r;
        }
        if (pid == 0) {
                sigset_t none;
                sigemptyset(&none);
                sigprocmask(SIG_SETMASK, &none, NULL);
                signal(SIGPIPE, SIG_DFL);
                if (dup2(sv[1], STDIN_FILENO) < 0 || dup2(sv[1], STDOUT_FILENO) < 0)
                        _exit(127);
                if (stderr_fd >= 0 && dup2(stderr_fd, STDERR_FILENO) < 0)
                        _exit(127);
                setsid(); /* no controlling terminal: ssh can never prompt */
                execvp(argv[0], argv);
                fprintf(stderr, "cannot run %s: %m\n", argv[0]);
                _exit(127);
        }
        close(sv[1]);
        *ret_fd = sv[0];
        *ret_pid = pid;
        return 0;
}
