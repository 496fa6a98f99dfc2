/* Nix's configuration files as Nix reads them (nix.conf syntax: "name = value" lines, '#'
 * comments, "include FILE" and "!include FILE" relative to the including file), enough to
 * know the settings the daemon cares about (builders, builders-use-substitutes, system).
 * Later settings override earlier ones; NIX_CONFIG text is applied after the files. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define NIXCONF_MAX_DEPTH 8
#define NIXCONF_MAX_FILES 64
#define NIXCONF_FILE_MAX  (1u << 20)

typedef struct NixConfSetting {
        char *name;
        char *value;
} NixConfSetting;

typedef struct NixConf {
        NixConfSetting *settings; /* in order of appearance; the last of a name wins */
        size_t n_settings;
        char **errors; /* "FILE:LINE: message" */
        size_t n_errors;
        char **files; /* every file looked at, present or not (to notice changes) */
        size_t n_files;
} NixConf;

/* Same contract as MachinesReadFile: 0 with a new buffer, -ENOENT, or another -errno. */
typedef int (*NixConfReadFile)(const char *path, char **ret, size_t *ret_len, void *userdata);

/* Applies the text buf[0..len) read from origin (a path, or "NIX_CONFIG"): includes are
 * resolved relative to origin's directory. Returns 0 (errors in the text are recorded in
 * c->errors and the line skipped) or -ENOMEM. */
int nixconf_apply(NixConf *c, const char *buf, size_t len, const char *origin, NixConfReadFile rd,
                  void *userdata);

/* Applies the file at path (missing: nothing, as Nix does for nix.conf). 0 or -ENOMEM. */
int nixconf_apply_file(NixConf *c, const char *path, NixConfReadFile rd, void *userdata);

/* The value of a setting, or NULL when it was never set. */
const char *nixconf_get(const NixConf *c, const char *name);

/* A Nix boolean setting: 1 true, 0 false, -ENOENT unset, -EINVAL not "true"/"false". */
int nixconf_get_bool(const NixConf *c, const char *name);

void nixconf_done(NixConf *c);
