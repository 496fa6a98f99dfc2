/* Helpers shared by unit tests: temporary directory trees; records fed to a model. */
#pragma once

#include <stddef.h>

#include "shared/cgroup.h"
#include "shared/model.h"

/* Creates a fresh temporary directory; returns its path (static storage per call site). */
char *test_mkdtemp(void);
/* Writes len bytes (or strlen(data) when len is (size_t)-1) to dir/relpath, creating
 * parent directories. Fails the test on error. */
void test_write_file(const char *dir, const char *relpath, const char *data, size_t len);
/* The content of dir + name (name starts with '/'), "" when missing; free() it. */
char *test_read_file(const char *dir, const char *name);
/* rm -rf dir. */
void test_rm_rf(const char *dir);
/* A fake cgroup host under root/name: its mountinfo, detected into h, and its mount points
 * made. *ret_fs: the host's fs root (free() it). */
void test_cg_fake_host(const char *root, const char *name, const char *mountinfo, CgHost *h, char **ret_fs);
/* Parses one internal-json record (printf format) and applies it to m as from s at now; fails
 * the test when it does not parse. Returns model_apply's result. */
int test_feed(Model *m, Source *s, usec_t now, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* A model over a fake store and /proc in a temporary directory (cmocka setup and teardown):
 * <store>/TEST_FIXTURE_HA-a.drv whose output is <store>/TEST_FIXTURE_HO-a (not built yet), a
 * live nix process 4242 (start time 55), and a trusted source of it connected at 1000 s. */
#define TEST_FIXTURE_HA "hcdvxxibblyx54zh5h35428q32q9qwzb"
#define TEST_FIXTURE_HO "8gp0x1zy0kk0fmxyw2v1jyjps2xrygcy"
typedef struct TestModelFixture {
        char *dir;
        char store[512], proc[512], drv[1024];
        Model *m;
        Source *s;
} TestModelFixture;
int test_model_fixture_setup(void **state);
int test_model_fixture_teardown(void **state);
