/* A stand-in for nix-daemon, to test how the plugin meets a Nix it does not support: run as
 * `nix-daemon PLUGIN` (argv[0] must be nix-daemon: that is how the plugin recognises one),
 * it loads the plugin as Nix does (dlopen at startup), then a forked "worker" logs through
 * nix::logger and the process goes on. Built twice:
 *   FAKE_TUNNEL_LOGGER=1  defines its own nix::daemon::TunnelLogger (found before the real
 *                         one of libnixstore) that is not a Logger at all: a vtable whose
 *                         slots hold none of the methods the plugin hooks;
 *   FAKE_TUNNEL_LOGGER=0  the control: the real TunnelLogger of the libnixstore it links. */
#if NA_NIX_VERSION >= 228
#include <nix/util/logging.hh>
#else
#include <logging.hh>
#endif

#include <dlfcn.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#if FAKE_TUNNEL_LOGGER
namespace nix::daemon {
struct TunnelLogger {
        virtual ~TunnelLogger();
        virtual int f0();
        virtual int f1();
        virtual int f2();
        virtual int f3();
        virtual int f4();
        virtual int f5();
        virtual int f6();
        virtual int f7();
        virtual int f8();
        virtual int f9();
        virtual int f10();
        virtual int f11();
        virtual int f12();
        virtual int f13();
        virtual int f14();
        virtual int f15();
        virtual int f16();
        virtual int f17();
        virtual int f18();
        virtual int f19();
};
TunnelLogger::~TunnelLogger() = default;
int TunnelLogger::f0() {
        return 0;
}
int TunnelLogger::f1() {
        return 1;
}
int TunnelLogger::f2() {
        return 2;
}
int TunnelLogger::f3() {
        return 3;
}
int TunnelLogger::f4() {
        return 4;
}
int TunnelLogger::f5() {
        return 5;
}
int TunnelLogger::f6() {
        return 6;
}
int TunnelLogger::f7() {
        return 7;
}
int TunnelLogger::f8() {
        return 8;
}
int TunnelLogger::f9() {
        return 9;
}
int TunnelLogger::f10() {
        return 10;
}
int TunnelLogger::f11() {
        return 11;
}
int TunnelLogger::f12() {
        return 12;
}
int TunnelLogger::f13() {
        return 13;
}
int TunnelLogger::f14() {
        return 14;
}
int TunnelLogger::f15() {
        return 15;
}
int TunnelLogger::f16() {
        return 16;
}
int TunnelLogger::f17() {
        return 17;
}
int TunnelLogger::f18() {
        return 18;
}
int TunnelLogger::f19() {
        return 19;
}
} // namespace nix::daemon

/* Its methods still work after the plugin looked at (and must not have touched) them. */
static int fake_sum() {
        nix::daemon::TunnelLogger t;
        return t.f0() + t.f5() + t.f19();
}
#else
static int fake_sum() {
        return 24;
}
#endif

int main(int argc, char **argv) {
        if (argc != 2) {
                fprintf(stderr, "usage: nix-daemon PLUGIN\n");
                return 2;
        }
        if (!dlopen(argv[1], RTLD_NOW | RTLD_GLOBAL)) {
                fprintf(stderr, "dlopen: %s\n", dlerror());
                return 1;
        }
        fflush(stdout);
        pid_t pid = fork();
        if (pid < 0)
                return 1;
        if (pid == 0) {
                nix::logger->log(nix::lvlInfo, "a worker's message");
                _exit(0);
        }
        int status = 0;
        if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                fprintf(stderr, "the worker failed\n");
                return 1;
        }
        printf("alive %d\n", fake_sum());
        return 0;
}
