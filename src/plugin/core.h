/* The plugin's C core: one connection per process to nix-analyticsd's event socket, a
 * bounded send buffer, internal-json records with a timestamp. Called by the C++ shim
 * (shim.cc), which is the only code that knows Nix's types. Every function here is safe to
 * call from any thread, never blocks, never throws and never prints. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum NaRole {
        NA_ROLE_CLI,           /* nix / nix-build run directly: requester = this process */
        NA_ROLE_DAEMON_WORKER, /* a nix-daemon worker: requester = its client */
} NaRole;

/* One Logger::Field. */
typedef struct NaField {
        bool is_string;
        uint64_t i;
        const char *s;
        size_t len;
} NaField;

/* Writes the events socket path (NUL-terminated) into buf; returns its length, or -1 when
 * it does not fit or is unknown. Provided by the shim (the analytics-socket setting). */
typedef int (*NaSocketPathFn)(char *buf, size_t size);

/* Once, at load, in the process that loaded the plugin. */
void na_core_init(const char *nix_version, NaSocketPathFn socket_path);
/* The socket path callback is about to go away (the shim's static objects are destroyed at
 * exit): never call it again. */
void na_core_detach(void);
/* This process must never send (the build hook; the daemon main process). Its forked
 * children start afresh. */
void na_core_silence(void);

void na_emit_start(NaRole role, uint64_t id, int level, int type, const char *text, size_t text_len,
                   const NaField *fields, size_t n_fields, uint64_t parent);
void na_emit_stop(NaRole role, uint64_t id);
void na_emit_result(NaRole role, uint64_t id, int type, const NaField *fields, size_t n_fields);
/* raw may be NULL. */
void na_emit_msg(NaRole role, int level, const char *msg, size_t msg_len, const char *raw, size_t raw_len);

/* The default events socket path (resolved socket directory + events.sock), newly
 * allocated, or NULL. */
char *na_default_socket_path(void);

#ifdef __cplusplus
}
#endif
