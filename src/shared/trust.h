/* The trust model (docs/protocol.md "Trust model"): which event sources may speak for
 * processes that are not their own. A source is trusted when its peer is root or the
 * daemon's own uid (the plugin inside nix-daemon, root's nix); an untrusted source owns only
 * the processes its own nix process forked. Every attachment of a process to a source's
 * build goes through trust_may_attach(). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "shared/model.h"

/* May pid (a builder, or the nix process of a build found in /proc) be attached to a build
 * of source s? Always for a trusted source; for an untrusted one only when pid is s's own
 * nix process or descends from it, the nix process recognised by its start time (a reused
 * pid is not it). Walks the ppid chain under proc_root (bounded); NULL s: never. */
bool trust_may_attach(const char *proc_root, const Source *s, pid_t pid);

/* Is pid the process ancestor (start time ancestor_start, never 0) or one of its
 * descendants? The chain is read from <proc_root>/<pid>/stat; a parent younger than its
 * child (its pid reused during the walk) breaks it. */
bool trust_descends_from(const char *proc_root, pid_t pid, pid_t ancestor, uint64_t ancestor_start);
