/* The `builders` setting, read as Nix reads it: entries separated by newlines or ';', '#'
 * comments, "@file" includes, eight whitespace-separated fields with '-' for a default
 * (see docs/nix-internals.md §7). Unlike Nix, a malformed entry is reported and
 * skipped, and the good ones are kept. Also: store URIs normalised for matching. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define MACHINES_MAX_DEPTH    8    /* nested @file includes */
#define MACHINES_MAX_MACHINES 4096 /* entries kept; more are reported as errors */
#define MACHINES_MAX_FILES    64   /* @files looked at */
#define MACHINES_FILE_MAX     (1u << 20)

typedef struct MachineSpec {
        char *uri; /* as Nix uses it: a bare host gets "ssh://" */
        char **systems;
        size_t n_systems; /* default: the configured system */
        char *ssh_key;    /* "" when unset */
        unsigned max_jobs;
        double speed_factor;
        char **supported_features;
        size_t n_supported_features;
        char **mandatory_features;
        size_t n_mandatory_features;
        char *host_key; /* base64 public host key, "" when unset */
        char *origin;   /* the file the entry came from, or "builders" */
        unsigned line;  /* 1-based line in origin */
} MachineSpec;

typedef struct MachineError {
        char *origin;
        unsigned line;
        char *message;
} MachineError;

typedef struct MachineList {
        MachineSpec *machines;
        size_t n_machines;
        MachineError *errors;
        size_t n_errors;
        char **files; /* every @file looked at, present or not (to notice changes) */
        size_t n_files;
} MachineList;

/* Reads an included file: 0 with a new buffer, -ENOENT when it does not exist (skipped
 * silently, as Nix does), another -errno otherwise (reported). */
typedef int (*MachinesReadFile)(const char *path, char **ret, size_t *ret_len, void *userdata);

typedef struct MachinesParseOptions {
        const char *this_system;    /* default for the systems field; NULL: x86_64-linux */
        MachinesReadFile read_file; /* NULL: machines_read_file */
        void *userdata;
} MachinesParseOptions;

/* Parses a builders value held in spec[0..len). Fills *ret (to be released with
 * machine_list_done) with the machines, the errors and the included files. Returns 0, or
 * -ENOMEM (then *ret is empty). Errors in the input are never a failure. */
int machines_parse(const char *spec, size_t len, const MachinesParseOptions *o, MachineList *ret);
void machine_list_done(MachineList *l);
void machine_spec_done(MachineSpec *m);
/* A deep copy. 0 or -ENOMEM. */
int machine_spec_copy(const MachineSpec *from, MachineSpec *ret);

/* The default reader: at most MACHINES_FILE_MAX bytes of a regular file, -EFBIG beyond. */
int machines_read_file(const char *path, char **ret, size_t *ret_len, void *userdata);

/* The store URI Nix makes of a machines-file entry: "host" -> "ssh://host"; URIs with a
 * scheme, paths and the special stores (auto, daemon, local) are kept. */
int machine_uri_canonical(const char *uri, char **ret);

/* The key two URIs of one machine share: scheme and authority, lower-case scheme, no query
 * string, no trailing '/'. "ssh://h?remote-program=x" and "ssh://h" both give "ssh://h"
 * (Nix names a machine by its full URI in build activities, without the query in copies). */
int machine_uri_key(const char *uri, char **ret);

/* For ssh:// and ssh-ng:// URIs: the ssh destination ("user@host") and port (0 when none).
 * -EPROTONOSUPPORT for other schemes, -EINVAL for an empty host. */
int machine_uri_ssh_target(const char *uri, char **ret_destination, unsigned *ret_port);

/* True when s is non-empty, padded base64 (what Nix accepts for the host key field). */
bool machines_base64_valid(const char *s);
