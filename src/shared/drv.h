/* Reader for Nix .drv files (ATerm "Derive(...)" and "DrvWithVersion(...)"): the outputs
 * alone (which decide whether a build succeeded), or the whole derivation (the dependency
 * graph). Input is never trusted: malformed text is an error, sizes are bounded. */
#pragma once

#include <stddef.h>

/* Bounds on what one .drv may contain; more is rejected as malformed (-E2BIG). */
#define DRV_MAX_OUTPUTS 1024
#define DRV_MAX_ITEMS   (1u << 20) /* entries in any other list */
#define DRV_MAX_DEPTH   16         /* nesting of dynamic-derivation input outputs */

typedef struct DrvOutput {
        char *name; /* "out", "dev", ... */
        char *path; /* "" for content-addressed outputs not yet known */
} DrvOutput;

typedef struct DrvInput {
        char *path;     /* the input's .drv */
        char **outputs; /* the outputs of it this derivation uses */
        size_t n_outputs;
} DrvInput;

typedef struct DrvEnv {
        char *name, *value;
} DrvEnv;

typedef struct Drv {
        char *version; /* DrvWithVersion's tag, or NULL for plain Derive */
        DrvOutput *outputs;
        size_t n_outputs;
        DrvInput *inputs; /* input derivations */
        size_t n_inputs;
        char **srcs; /* input sources */
        size_t n_srcs;
        char *system, *builder;
        char **args;
        size_t n_args;
        DrvEnv *env;
        size_t n_env;
} Drv;

/* Parses the outputs list of a .drv held in buf[0..len) (need not be NUL-terminated).
 * Accepts "Derive(" and "DrvWithVersion(<version>," forms. Returns the number of outputs
 * (>= 1) and a new array, or -EBADMSG on malformed input, -ENOMEM. */
int drv_parse_outputs(const char *buf, size_t len, DrvOutput **ret);
void drv_outputs_free(DrvOutput *o, size_t n);

/* The system of a .drv held in buf[0..len): its env always holds ("system","…")
 * (derivation{} puts every attribute there). A new string, or NULL when absent, longer than
 * 64 bytes, or out of memory. */
char *drv_buf_system(const char *buf, size_t len);

/* Parses a whole .drv held in buf[0..len). Returns 0 and a new Drv, -EBADMSG on malformed
 * input (trailing bytes other than whitespace included), -E2BIG past the bounds above,
 * -ENOMEM. */
int drv_parse(const char *buf, size_t len, Drv **ret);
Drv *drv_free(Drv *d);

/* The package name of a derivation name: what comes before the first '-' followed by a
 * character that is not a letter ("hello-2.12.1" -> "hello", "gtk+-3.24" -> "gtk+",
 * "foo-bar-1" -> "foo-bar"), as Nix's DrvName splits it. A new string, or NULL (ENOMEM). */
char *drv_name_pname(const char *name);
