/* The only code that knows Nix's C++ types: registers the analytics-socket setting, wraps
 * nix::logger for nix/nix-build run directly, and patches nix-daemon's TunnelLogger vtable
 * so every daemon worker reports too (docs/nix-internals.md §5). Everything it hears
 * goes to the C core (core.h). Nothing here may throw into Nix.
 *
 * Meson sets NA_NIX_VERSION (major * 100 + minor) for CppNix, or NA_LIX_VERSION the same way
 * for Lix, from the headers we build against. Only layouts read from their sources are
 * compiled; any other version stops here with #error (no stable ABI: a guess would crash
 * Nix, not fail to build). CppNix Logger API changes:
 *   2.11 setPrintBuildLogs; 2.15 pause/resume and log() takes a string_view;
 *   2.27 nix::logger becomes a unique_ptr; 2.28 headers move under nix/<lib>/;
 *   2.35 nix::logger is a (leaked) raw pointer again, and TunnelLogger moves into an
 *        anonymous namespace: its vtable is no longer a dynamic symbol;
 *   2.36 (the development branch, not released) the logging methods are noexcept, fields
 *        come as std::span<const Field>, Field is a std::variant and result() gains an
 *        overload taking JSON.
 * Lix 2.95 (its own tree, headers under lix/<lib>/): the methods return a BufferState, the
 * activity ones are the protected start/stop/resultImpl, and GlobalConfig::Register is gone:
 * a plugin registers its settings with GlobalConfig::registerGlobalConfig from
 * nix_plugin_entry. */
#if defined(NA_LIX_VERSION)
#if NA_LIX_VERSION != 295
#error "libnix-analytics: only the Logger API of Lix 2.95 is known; this Lix is another (see docs/nix-internals.md)"
#endif
#if defined(NA_NIX_VERSION)
#error "libnix-analytics: NA_NIX_VERSION and NA_LIX_VERSION are both set"
#endif
#define NA_LIX         1
#define NA_NIX_VERSION 0 /* no CppNix version branch applies */
#elif !defined(NA_NIX_VERSION)
#error "libnix-analytics: NA_NIX_VERSION (or NA_LIX_VERSION) must give the version of the Nix headers"
#elif NA_NIX_VERSION < 208
#error "libnix-analytics: Nix older than 2.8 is not supported"
#elif NA_NIX_VERSION > 236
#error "libnix-analytics: this Nix is newer than any whose Logger API the shim knows (2.8 to 2.35, and the 2.36 development branch); refusing to guess its ABI"
#else
#define NA_LIX 0
#endif

/* What each layout has, named once. */
#define NA_LOG_STRING_VIEW   (NA_LIX || NA_NIX_VERSION >= 215)
#define NA_LOGGER_UNIQUE_PTR (NA_NIX_VERSION >= 227 && NA_NIX_VERSION < 235)
#define NA_LOGGER_NOEXCEPT   (NA_NIX_VERSION >= 236)
/* TunnelLogger's vtable is a dynamic symbol nix-daemon's plugins can find. */
#define NA_TUNNEL_VTABLE (NA_LIX || NA_NIX_VERSION < 235)

#if NA_LIX
#include <lix/libstore/globals.hh>
#include <lix/libutil/config.hh>
#include <lix/libutil/error.hh>
#include <lix/libutil/logging.hh>
#elif NA_NIX_VERSION >= 228
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

#include <algorithm>
#include <climits>
#include <sstream>
#if NA_LOGGER_NOEXCEPT
#include <span>
#include <variant>
#endif

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

/* How each layout passes an activity's fields, what its logging methods return, and how
 * they are declared. */
#if NA_LOGGER_NOEXCEPT
typedef std::span<const Logger::Field> FieldsArg;
#define NA_LOGGER_FN noexcept
#else
typedef const Logger::Fields &FieldsArg;
#define NA_LOGGER_FN
#endif
#if NA_LIX
typedef Logger::BufferState LogRet;
#else
typedef void LogRet;
#endif

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
#if !NA_LIX
nix::GlobalConfig::Register registerSettings(&settings);
#endif /* Lix: GlobalConfig::registerGlobalConfig in nix_plugin_entry() */

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

/* One Logger::Field to the core's plain record. */
void toNaField(const Logger::Field &x, NaField *ret) noexcept {
#if NA_LOGGER_NOEXCEPT
        if (const std::string *s = std::get_if<std::string>(&x)) {
                ret->is_string = true;
                ret->i = 0;
                ret->s = s->data();
                ret->len = s->size();
        } else {
                ret->is_string = false;
                ret->i = std::get<uint64_t>(x);
                ret->s = "";
                ret->len = 0;
        }
#else
        ret->is_string = x.type == Logger::Field::tString;
        ret->i = x.i;
        ret->s = x.s.data();
        ret->len = x.s.size();
#endif
}

/* Logger fields to the core's plain records; a handful of fields in practice. */
template <typename F> void withFields(FieldsArg fields, F f) noexcept {
        NaField small[8];
        size_t n = fields.size() < 8 ? fields.size() : 8;
        for (size_t i = 0; i < n; i++)
                toNaField(fields[i], &small[i]);
        f(small, n);
}

void reportStart(NaRole role, ActivityId act, Verbosity lvl, ActivityType type, const std::string &s,
                 FieldsArg fields, ActivityId parent) noexcept {
        withFields(fields, [&](const NaField *f, size_t n) {
                na_emit_start(role, act, (int) lvl, (int) type, s.data(), s.size(), f, n, parent);
        });
}

void reportResult(NaRole role, ActivityId act, ResultType type, FieldsArg fields) noexcept {
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

#if NA_LOG_STRING_VIEW
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

#if NA_LIX
/* Lix's activity methods are protected: a pointer to member taken through a derived class
 * is the one lawful way to call them on another Logger (and to find their vtable slots). */
struct ImplAccess : Logger {
        static constexpr auto start = &ImplAccess::startActivityImpl;
        static constexpr auto stop = &ImplAccess::stopActivityImpl;
        static constexpr auto result = &ImplAccess::resultImpl;
};
#define NA_START_FN  startActivityImpl
#define NA_STOP_FN   stopActivityImpl
#define NA_RESULT_FN resultImpl
#else
#define NA_START_FN  startActivity
#define NA_STOP_FN   stopActivity
#define NA_RESULT_FN result
#endif

/* ---- nix / nix-build run directly: a wrapper around the logger Nix set up ---- */

#if NA_LOGGER_UNIQUE_PTR
typedef std::unique_ptr<Logger> LoggerHandle;
#else
typedef Logger *LoggerHandle; /* a raw global: the wrapper neither owns nor frees it */
#endif

class Wrapper : public Logger {
        LoggerHandle inner;

      public:
        explicit Wrapper(LoggerHandle l) : inner(std::move(l)) {
        }

#if !NA_LIX
        void stop() override {
                inner->stop();
        }
#endif
#if NA_LOG_STRING_VIEW
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
        LogRet log(Verbosity lvl, LogText s) NA_LOGGER_FN override {
                reportLog(NA_ROLE_CLI, lvl, logText(s));
                return inner->log(lvl, s);
        }
        LogRet logEI(const nix::ErrorInfo &ei) NA_LOGGER_FN override {
                reportError(NA_ROLE_CLI, ei);
                return inner->logEI(ei);
        }
#if NA_LIX
        void resetProgress() override {
                inner->resetProgress();
        }
        BufferState bufferState() const override {
                return inner->bufferState();
        }
        kj::Promise<nix::Result<void>> flush() override {
                return inner->flush();
        }
        void waitForSpace(nix::NeverAsync na) override {
                inner->waitForSpace(na);
        }
        void setPrintMultiline(bool printMultiline) override {
                inner->setPrintMultiline(printMultiline);
        }

      protected:
        BufferState startActivityImpl(ActivityId act, Verbosity lvl, ActivityType type, const std::string &s,
                                      const Fields &fields, ActivityId parent) override {
                reportStart(NA_ROLE_CLI, act, lvl, type, s, fields, parent);
                return ((*inner).*ImplAccess::start)(act, lvl, type, s, fields, parent);
        }
        BufferState stopActivityImpl(ActivityId act) override {
                na_emit_stop(NA_ROLE_CLI, act);
                return ((*inner).*ImplAccess::stop)(act);
        }
        BufferState resultImpl(ActivityId act, ResultType type, const Fields &fields) override {
                reportResult(NA_ROLE_CLI, act, type, fields);
                return ((*inner).*ImplAccess::result)(act, type, fields);
        }

      public:
#else
        void warn(const std::string &msg) NA_LOGGER_FN override {
                try {
                        std::string line = "warning: " + msg;
                        reportLog(NA_ROLE_CLI, nix::lvlWarn, line);
                } catch (...) {
                }
                inner->warn(msg);
        }
        void startActivity(ActivityId act, Verbosity lvl, ActivityType type, const std::string &s,
                           FieldsArg fields, ActivityId parent) NA_LOGGER_FN override {
                reportStart(NA_ROLE_CLI, act, lvl, type, s, fields, parent);
                inner->startActivity(act, lvl, type, s, fields, parent);
        }
        void stopActivity(ActivityId act) NA_LOGGER_FN override {
                na_emit_stop(NA_ROLE_CLI, act);
                inner->stopActivity(act);
        }
        void result(ActivityId act, ResultType type, FieldsArg fields) NA_LOGGER_FN override {
                reportResult(NA_ROLE_CLI, act, type, fields);
                inner->result(act, type, fields);
        }
#if NA_LOGGER_NOEXCEPT
        /* Structured results: no caller in Nix yet and nothing the core reads; passed on. */
        void result(ActivityId act, ResultType type, const nlohmann::json &json) noexcept override {
                inner->result(act, type, json);
        }
#endif
#endif
        void writeToStdout(std::string_view s) override {
                inner->writeToStdout(s);
        }
        std::optional<char> ask(std::string_view s) override {
                return inner->ask(s);
        }
#if NA_LIX || NA_NIX_VERSION >= 211
        void setPrintBuildLogs(bool printBuildLogs) override {
                inner->setPrintBuildLogs(printBuildLogs);
        }
#endif
};

void wrapLogger() {
#if NA_LOGGER_UNIQUE_PTR
        nix::logger = std::make_unique<Wrapper>(std::move(nix::logger));
#else
        nix::logger = new Wrapper(nix::logger);
#endif
}

void warnNoCapture(const char *what) {
        fprintf(stderr, "libnix-analytics: warning: %s; nix-daemon workers are not captured\n", what);
}

/* ---- nix-daemon: the TunnelLogger vtable, patched once in the main process ----
 * Each worker sets nix::logger to a fresh TunnelLogger, so a wrapper installed here would
 * not survive; the vtable is shared by all of them and inherited by fork. The hooks take
 * the object as an explicit first argument, as the Itanium C++ ABI passes `this`. */

#if NA_TUNNEL_VTABLE
typedef LogRet (*StartFn)(Logger *, ActivityId, Verbosity, ActivityType, const std::string &, FieldsArg,
                          ActivityId);
typedef LogRet (*StopFn)(Logger *, ActivityId);
typedef LogRet (*ResultFn)(Logger *, ActivityId, ResultType, FieldsArg);
typedef LogRet (*LogFn)(Logger *, Verbosity, LogText);
typedef LogRet (*LogEIFn)(Logger *, const nix::ErrorInfo &);

struct Originals {
        StartFn start;
        StopFn stop;
        ResultFn result;
        LogFn log;
        LogEIFn logEI;
} orig;

LogRet hookStart(Logger *self, ActivityId act, Verbosity lvl, ActivityType type, const std::string &s,
                 FieldsArg fields, ActivityId parent) {
        reportStart(NA_ROLE_DAEMON_WORKER, act, lvl, type, s, fields, parent);
        return orig.start(self, act, lvl, type, s, fields, parent);
}
LogRet hookStop(Logger *self, ActivityId act) {
        na_emit_stop(NA_ROLE_DAEMON_WORKER, act);
        return orig.stop(self, act);
}
LogRet hookResult(Logger *self, ActivityId act, ResultType type, FieldsArg fields) {
        reportResult(NA_ROLE_DAEMON_WORKER, act, type, fields);
        return orig.result(self, act, type, fields);
}
LogRet hookLog(Logger *self, Verbosity lvl, LogText s) {
        reportLog(NA_ROLE_DAEMON_WORKER, lvl, logText(s));
        return orig.log(self, lvl, s);
}
LogRet hookLogEI(Logger *self, const nix::ErrorInfo &ei) {
        reportError(NA_ROLE_DAEMON_WORKER, ei);
        return orig.logEI(self, ei);
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

#define NA_STR(x)  NA_STR_(x)
#define NA_STR_(x) #x

void patchTunnelLogger() {
        void **vtable = (void **) dlsym(RTLD_DEFAULT, "_ZTVN3nix6daemon12TunnelLoggerE");
        if (!vtable)
                return warnNoCapture("symbol _ZTVN3nix6daemon12TunnelLoggerE not found");
        void **slots = vtable + 2; /* after offset-to-top and the typeinfo pointer */
        void *typeinfo = dlsym(RTLD_DEFAULT, "_ZTIN3nix6daemon12TunnelLoggerE");
        if (typeinfo && vtable[1] != typeinfo)
                return warnNoCapture("TunnelLogger vtable layout does not match (typeinfo)");

#if NA_LIX
        auto startSlot = slotOf(ImplAccess::start), stopSlot = slotOf(ImplAccess::stop),
             resultSlot = slotOf(ImplAccess::result);
#else
        auto startSlot = slotOf(&Logger::startActivity), stopSlot = slotOf(&Logger::stopActivity),
             resultSlot = slotOf(
                     static_cast<void (Logger::*)(ActivityId, ResultType, FieldsArg)>(&Logger::result));
#endif
        struct {
                long slot;
                const char *method;
                void *hook;
                void **save;
        } patches[] = {
                {startSlot, NA_STR(NA_START_FN), (void *) hookStart, (void **) &orig.start},
                {stopSlot, NA_STR(NA_STOP_FN), (void *) hookStop, (void **) &orig.stop},
                {resultSlot, NA_STR(NA_RESULT_FN), (void *) hookResult, (void **) &orig.result},
                {slotOf(static_cast<LogRet (Logger::*)(Verbosity, LogText)>(&Logger::log)), "log",
                 (void *) hookLog, (void **) &orig.log},
                {slotOf(static_cast<LogRet (Logger::*)(const nix::ErrorInfo &)>(&Logger::logEI)), "logEI",
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
#else
void patchTunnelLogger() {
        /* 2.35 moved TunnelLogger into an anonymous namespace: nothing outside libnixstore can
         * find its vtable. nix-daemon's own json-log-path setting is the route there. */
        warnNoCapture("this Nix keeps its TunnelLogger internal (Nix >= 2.35): give nix-daemon "
                      "json-log-path instead");
}
#endif

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
                case IDENT_NIX_DAEMON_STDIO:
                        /* No workers: this process serves the connection (its TunnelLogger). */
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

/* Nix >= 2.22 and Lix call this after loading the plugin. CppNix registered the setting at
 * load already; Lix 2.95 accepts settings from here only. */
extern "C" NA_EXPORT void nix_plugin_entry() {
#if NA_LIX
        try {
                nix::GlobalConfig::registerGlobalConfig(settings);
        } catch (...) {
                fprintf(stderr, "libnix-analytics: warning: cannot register analytics-socket\n");
        }
#endif
}
