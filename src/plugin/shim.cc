/* The only code that knows Nix's C++ types: registers the analytics-socket setting, wraps
 * nix::logger for nix/nix-build run directly, and patches nix-daemon's TunnelLogger vtable
 * so every daemon worker reports too (docs/nix-internals.md §5). Everything it hears
 * goes to the C core (core.h). Nothing here may throw into Nix.
 *
 * NA_NIX_VERSION is major * 100 + minor of the Nix whose headers we build against (meson
 * sets it). Logger API changes: 2.11 setPrintBuildLogs; 2.15 pause/resume and log() takes a
 * string_view; 2.27 nix::logger becomes a unique_ptr; 2.28 headers move under nix/<lib>/. */
#if NA_NIX_VERSION >= 228
#include <nix/store/globals.hh>
#include <nix/util/config-global.hh>
#include <nix/util/configuration.hh>
#include <nix/util/error.hh>
#include <nix/util/logging.hh>
#else
#include <config.hh>
#include <error.hh>
#include <globals.hh>
#include <logging.hh>
#endif
#if NA_NIX_VERSION >= 224 && NA_NIX_VERSION < 228
#include <config-global.hh>
#endif

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <sstream>

extern "C" {
#include "plugin/core.h"
#include "plugin/ident.h"
}

#define NA_EXPORT __attribute__((visibility("default")))

namespace {

using nix::ActivityId;
using nix::ActivityType;
using nix::Logger;
using nix::ResultType;
using nix::Verbosity;

std::string defaultSocketPath() {
        char *p = na_default_socket_path();
        std::string s = p ? p : "/run/nix-analytics/events.sock";
        free(p);
        return s;
}

struct AnalyticsSettings : nix::Config {
        nix::Setting<std::string> socket{
                this, defaultSocketPath(), "analytics-socket",
                "Path of nix-analyticsd's event socket, where libnix-analytics.so sends this process's "
                "build events."};
};

AnalyticsSettings settings;
nix::GlobalConfig::Register registerSettings(&settings);

/* Destroyed at exit before settings (the reverse of construction): from then on the core
 * (whose flusher thread and exit handler outlive this) no longer reads the setting. */
struct DetachAtExit {
        ~DetachAtExit() {
                na_core_detach();
        }
} detachAtExit;

int socketPath(char *buf, size_t size) noexcept {
        try {
                const std::string &p = settings.socket.get();
                if (p.empty() || p.size() >= size)
                        return -1;
                memcpy(buf, p.data(), p.size() + 1);
                return (int) p.size();
        } catch (...) {
                return -1;
        }
}

/* Logger::Fields to the core's plain records; a handful of fields in practice. */
template <typename F> void withFields(const Logger::Fields &fields, F f) noexcept {
        NaField small[8];
        size_t n = fields.size() < 8 ? fields.size() : 8;
        for (size_t i = 0; i < n; i++) {
                const auto &x = fields[i];
                small[i].is_string = x.type == Logger::Field::tString;
                small[i].i = x.i;
                small[i].s = x.s.data();
                small[i].len = x.s.size();
        }
        f(small, n);
}

void reportStart(NaRole role, ActivityId act, Verbosity lvl, ActivityType type, const std::string &s,
                 const Logger::Fields &fields, ActivityId parent) noexcept {
        withFields(fields, [&](const NaField *f, size_t n) {
                na_emit_start(role, act, (int) lvl, (int) type, s.data(), s.size(), f, n, parent);
        });
}

void reportResult(NaRole role, ActivityId act, ResultType type, const Logger::Fields &fields) noexcept {
        withFields(fields, [&](const NaField *f, size_t n) { na_emit_result(role, act, (int) type, f, n); });
}

void reportLog(NaRole role, Verbosity lvl, std::string_view s) noexcept {
        if (lvl > nix::verbosity)
                return; /* what Nix's own loggers show */
        na_emit_msg(role, (int) lvl, s.data(), s.size(), nullptr, 0);
}

void reportError(NaRole role, const nix::ErrorInfo &ei) noexcept {
        if (ei.level > nix::verbosity)
                return;
        try {
                std::ostringstream oss;
                nix::showErrorInfo(oss, ei, /* showTrace= */ false);
                std::string msg = oss.str(), raw = ei.msg.str();
                na_emit_msg(role, (int) ei.level, msg.data(), msg.size(), raw.data(), raw.size());
        } catch (...) {
        }
}

#if NA_NIX_VERSION >= 215
typedef std::string_view LogText;
std::string_view logText(LogText s) {
        return s;
}
#else
typedef const nix::FormatOrString &LogText;
std::string_view logText(LogText fs) {
        return fs.s;
}
#endif

/* ---- nix / nix-build run directly: a wrapper around the logger Nix set up ---- */

#if NA_NIX_VERSION >= 227
typedef std::unique_ptr<Logger> LoggerHandle;
#else
typedef Logger *LoggerHandle;
#endif

class Wrapper : public Logger {
        LoggerHandle inner;

      public:
        explicit Wrapper(LoggerHandle l) : inner(std::move(l)) {
        }

        void stop() override {
                inner->stop();
        }
#if NA_NIX_VERSION >= 215
        void pause() override {
                inner->pause();
        }
        void resume() override {
                inner->resume();
        }
#endif
        bool isVerbose() override {
                return inner->isVerbose();
        }
        void log(Verbosity lvl, LogText s) override {
                reportLog(NA_ROLE_CLI, lvl, logText(s));
                inner->log(lvl, s);
        }
        void logEI(const nix::ErrorInfo &ei) override {
                reportError(NA_ROLE_CLI, ei);
                inner->logEI(ei);
        }
        void warn(const std::string &msg) override {
                std::string line = "warning: " + msg;
                reportLog(NA_ROLE_CLI, nix::lvlWarn, line);
                inner->warn(msg);
        }
        void startActivity(ActivityId act, Verbosity lvl, ActivityType type, const std::string &s,
                           const Fields &fields, ActivityId parent) override {
                reportStart(NA_ROLE_CLI, act, lvl, type, s, fields, parent);
                inner->startActivity(act, lvl, type, s, fields, parent);
        }
        void stopActivity(ActivityId act) override {
                na_emit_stop(NA_ROLE_CLI, act);
                inner->stopActivity(act);
        }
        void result(ActivityId act, ResultType type, const Fields &fields) override {
                reportResult(NA_ROLE_CLI, act, type, fields);
                inner->result(act, type, fields);
        }
        void writeToStdout(std::string_view s) override {
                inner->writeToStdout(s);
        }
        std::optional<char> ask(std::string_view s) override {
                return inner->ask(s);
        }
#if NA_NIX_VERSION >= 211
        void setPrintBuildLogs(bool printBuildLogs) override {
                inner->setPrintBuildLogs(printBuildLogs);
        }
#endif
};

void wrapLogger() {
#if NA_NIX_VERSION >= 227
        nix::logger = std::make_unique<Wrapper>(std::move(nix::logger));
#else
        nix::logger = new Wrapper(nix::logger);
#endif
}

/* ---- nix-daemon: the TunnelLogger vtable, patched once in the main process ----
 * Each worker sets nix::logger to a fresh TunnelLogger, so a wrapper installed here would
 * not survive; the vtable is shared by all of them and inherited by fork. The hooks take
 * the object as an explicit first argument, as the Itanium C++ ABI passes `this`. */

typedef void (*StartFn)(Logger *, ActivityId, Verbosity, ActivityType, const std::string &,
                        const Logger::Fields &, ActivityId);
typedef void (*StopFn)(Logger *, ActivityId);
typedef void (*ResultFn)(Logger *, ActivityId, ResultType, const Logger::Fields &);
typedef void (*LogFn)(Logger *, Verbosity, LogText);
typedef void (*LogEIFn)(Logger *, const nix::ErrorInfo &);

struct Originals {
        StartFn start;
        StopFn stop;
        ResultFn result;
        LogFn log;
        LogEIFn logEI;
} orig;

void hookStart(Logger *self, ActivityId act, Verbosity lvl, ActivityType type, const std::string &s,
               const Logger::Fields &fields, ActivityId parent) {
        reportStart(NA_ROLE_DAEMON_WORKER, act, lvl, type, s, fields, parent);
        orig.start(self, act, lvl, type, s, fields, parent);
}
void hookStop(Logger *self, ActivityId act) {
        na_emit_stop(NA_ROLE_DAEMON_WORKER, act);
        orig.stop(self, act);
}
void hookResult(Logger *self, ActivityId act, ResultType type, const Logger::Fields &fields) {
        reportResult(NA_ROLE_DAEMON_WORKER, act, type, fields);
        orig.result(self, act, type, fields);
}
void hookLog(Logger *self, Verbosity lvl, LogText s) {
        reportLog(NA_ROLE_DAEMON_WORKER, lvl, logText(s));
        orig.log(self, lvl, s);
}
void hookLogEI(Logger *self, const nix::ErrorInfo &ei) {
        reportError(NA_ROLE_DAEMON_WORKER, ei);
        orig.logEI(self, ei);
}

/* The vtable slot a pointer to a virtual member function designates. Itanium ABI: such a
 * pointer is {1 + byte offset of the slot from the address point, this-adjustment}. */
template <typename M> long slotOf(M m) {
        struct {
                uintptr_t ptr;
                ptrdiff_t adj;
        } raw;
        static_assert(sizeof(m) == sizeof(raw), "not an Itanium-ABI member function pointer");
        memcpy(&raw, &m, sizeof(raw));
        if (!(raw.ptr & 1) || raw.adj != 0)
                return -1;
        return (long) ((raw.ptr - 1) / sizeof(void *));
}

/* The slot must hold TunnelLogger's own override of the method we expect there. */
bool slotHolds(void *fn, const char *method) {
        Dl_info info;
        if (!dladdr(fn, &info) || !info.dli_sname)
                return false;
        char want[64];
        snprintf(want, sizeof(want), "12TunnelLogger%zu%s", strlen(method), method);
        return strstr(info.dli_sname, want) != nullptr;
}

void warnNoCapture(const char *what) {
        fprintf(stderr, "libnix-analytics: warning: %s; nix-daemon workers are not captured\n", what);
}

void patchTunnelLogger() {
        void **vtable = (void **) dlsym(RTLD_DEFAULT, "_ZTVN3nix6daemon12TunnelLoggerE");
        if (!vtable)
                return warnNoCapture(
                        "symbol _ZTVN3nix6daemon12TunnelLoggerE not found (Nix >= 2.35? use json-log-path)");
        void **slots = vtable + 2; /* after offset-to-top and the typeinfo pointer */
        void *typeinfo = dlsym(RTLD_DEFAULT, "_ZTIN3nix6daemon12TunnelLoggerE");
        if (typeinfo && vtable[1] != typeinfo)
                return warnNoCapture("TunnelLogger vtable layout does not match (typeinfo)");

        struct {
                long slot;
                const char *method;
                void *hook;
                void **save;
        } patches[] = {
                {slotOf(&Logger::startActivity), "startActivity", (void *) hookStart, (void **) &orig.start},
                {slotOf(&Logger::stopActivity), "stopActivity", (void *) hookStop, (void **) &orig.stop},
                {slotOf(&Logger::result), "result", (void *) hookResult, (void **) &orig.result},
                {slotOf(static_cast<void (Logger::*)(Verbosity, LogText)>(&Logger::log)), "log",
                 (void *) hookLog, (void **) &orig.log},
                {slotOf(static_cast<void (Logger::*)(const nix::ErrorInfo &)>(&Logger::logEI)), "logEI",
                 (void *) hookLogEI, (void **) &orig.logEI},
        };
        long lo = LONG_MAX, hi = -1;
        for (auto &p : patches) {
                if (p.slot < 0 || p.slot > 64 || !slotHolds(slots[p.slot], p.method)) {
                        char what[128];
                        snprintf(what, sizeof(what), "TunnelLogger vtable layout does not match (%s)",
                                 p.method);
                        return warnNoCapture(what);
                }
                lo = std::min(lo, p.slot);
                hi = std::max(hi, p.slot);
        }

        /* The vtable is in RELRO: make its page(s) writable for the patch, then read-only. */
        long page = sysconf(_SC_PAGESIZE);
        uintptr_t start = (uintptr_t) &slots[lo] & ~(uintptr_t) (page - 1);
        uintptr_t end = ((uintptr_t) &slots[hi + 1] + page - 1) & ~(uintptr_t) (page - 1);
        if (mprotect((void *) start, end - start, PROT_READ | PROT_WRITE) < 0)
                return warnNoCapture("cannot make the TunnelLogger vtable writable");
        for (auto &p : patches) {
                *p.save = slots[p.slot];
                slots[p.slot] = p.hook;
        }
        (void) mprotect((void *) start, end - start, PROT_READ);
}

__attribute__((constructor)) void pluginLoad() {
        try {
                na_core_init(nix::nixVersion.c_str(), socketPath);
                switch (ident_kind_self()) {
                case IDENT_BUILD_HOOK:
                        /* Its events reach the worker through the hook protocol anyway. */
                        na_core_silence();
                        break;
                case IDENT_NIX_DAEMON:
                        na_core_silence(); /* the main process itself; workers start afresh */
                        patchTunnelLogger();
                        break;
                case IDENT_NIX:
                        wrapLogger();
                        break;
                }
        } catch (...) {
                fprintf(stderr, "libnix-analytics: warning: failed to set up; nothing is captured\n");
        }
}

} // namespace

/* Nix >= 2.22 calls this after loading the plugin; the work is done at load already. */
extern "C" NA_EXPORT void nix_plugin_entry() {
}
