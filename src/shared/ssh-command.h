/* The ssh command line every part of the project runs the same way Nix does: ssh, the words of
 * $NIX_SSHOPTS, then options that make it safe to run unattended (no X11 or agent forwarding,
 * no terminal, BatchMode: it fails rather than prompt), the destination and the remote command.
 * Host keys and authentication are ssh's own (its configuration, known_hosts, agent). */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

typedef struct SshTarget {
        const char *destination;    /* "host" or "user@host" */
        unsigned port;              /* 0: ssh's default or its configuration's */
        const char *identity;       /* -i FILE, or NULL */
        unsigned connect_timeout;   /* seconds, 0: ssh's default */
        const char *const *options; /* more "-o" values (NULL-terminated), or NULL */
} SshTarget;

/* A NULL-terminated argv for ssh running command (one word, which the remote shell splits) on
 * t. Every string is the argv's own: free with ssh_argv_free(). 0 or -ENOMEM, -EINVAL for an
 * empty destination or one that starts with '-'. */
int ssh_argv(const SshTarget *t, const char *command, char ***ret);
char **ssh_argv_free(char **argv);
/* A copy of argv (NULL-terminated), or NULL (ENOMEM). */
char **ssh_argv_copy(char *const *argv);
static inline void ssh_argv_freep(char ***p) {
        *p = ssh_argv_free(*p);
}

/* s quoted for the remote shell ssh hands its command to: '...' with each ' as '\''. A new
 * string, or NULL (ENOMEM). */
char *ssh_quote_arg(const char *s);

/* Parses a host as a user gives it: "host", "user@host" or "ssh://[user@]host[:port]". */
int ssh_target_parse(const char *s, char **ret_destination, unsigned *ret_port);

/* Starts argv with one end of a socketpair as its stdin and stdout, its stderr on stderr_fd
 * (-1: inherited, so ssh's own messages reach the user), in a new session (ssh can never ask
 * the terminal for anything). *ret_fd is the other end (O_CLOEXEC), *ret_pid the child.
 * 0 or -errno. */
int ssh_spawn_stdio(char **argv, int stderr_fd, int *ret_fd, pid_t *ret_pid);
