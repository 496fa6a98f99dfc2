/* Helpers shared by unit tests: temporary directory trees; records fed to a model. */
#include "test-helpers.h"

#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "shared/cgroup.h"
#include "shared/nixlog.h"

char *test_mkdtemp(void) {
        char *t = strdup("/tmp/na-unit-XXXXXX");
        assert_non_null(t);
        assert_non_null(mkdtemp(t));
        return t;
}

void test_write_file(const char *dir, const char *relpath, const char *data, size_t len) {
        char path[PATH_MAX];
        assert_true(snprintf(path, sizeof(path), "%s/%s", dir, relpath) < (int) sizeof(path));
        for (char *p = path + strlen(dir) + 1; (p = strchr(p, '/')); p++) {
                *p = '\0';
                (void) mkdir(path, 0755);
                *p = '/';
        }
        if (len == (size_t) -1)
                len = strlen(data);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, data, len), (ssize_t) len);
        close(fd);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        return remove(path);
}

void test_rm_rf(const char *dir) {
        (void) nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

char *test_read_file(const char *dir, const char *name) {
        char path[PATH_MAX], *buf = NULL;
        assert_true(snprintf(path, sizeof(path), "%s%s", dir, name) < (int) sizeof(path));
        FILE *f = fopen(path, "re");
        if (!f)
                return strdup("");
        size_t cap = 0;
        ssize_t n = getdelim(&buf, &cap, '\0', f);
        fclose(f);
        if (n < 0) {
                free(buf);
                return strdup("");
        }
        return buf;
}

void test_cg_fake_host(const char *root, const char *name, const char *mountinfo, CgHost *h, char **ret_fs) {
        char *fs;
        assert_true(asprintf(&fs, "%s/%s", root, name) > 0);
        assert_int_equal(mkdir(fs, 0755), 0);
        test_write_file(fs, "proc/self/mountinfo", mountinfo, (size_t) -1);
        assert_int_equal(cg_host_detect(fs, NULL, h), 0);
        /* The mount points exist, as on a real host. */
        char keep[4096];
        if (h->v2) {
                snprintf(keep, sizeof(keep), "%s/.keep", h->v2 + 1);
                test_write_file(fs, keep, "", 0);
        }
        for (int c = 0; c < _CG_CONTROLLER_MAX; c++)
                if (h->v1[c]) {
                        snprintf(keep, sizeof(keep), "%s/.keep", h->v1[c] + 1);
                        test_write_file(fs, keep, "", 0);
                }
        *ret_fs = fs;
}

int test_feed(Model *m, Source *s, usec_t now, const char *fmt, ...) {
        char line[4096];
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(line, sizeof(line), fmt, ap);
        va_end(ap);
        assert_true(n > 0 && (size_t) n < sizeof(line));
        NixRecord rec;
        assert_int_equal(nix_record_parse(line, (size_t) n, &rec), 0);
        int r = model_apply(m, s, &rec, now);
        nix_record_done(&rec);
        return r;
}

int test_model_fixture_setup(void **state) {
        TestModelFixture *f = calloc(1, sizeof(*f));
        assert_non_null(f);
        f->dir = test_mkdtemp();
        snprintf(f->store, sizeof(f->store), "%s/store", f->dir);
        snprintf(f->proc, sizeof(f->proc), "%s/proc", f->dir);
        snprintf(f->drv, sizeof(f->drv), "%s/" TEST_FIXTURE_HA "-a.drv", f->store);
        test_write_file(f->dir, "proc/4242/stat",
                        "4242 (nix-build) S 1 4242 4242 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 55 0 0\n",
                        (size_t) -1);
        char drv[1024];
        snprintf(drv, sizeof(drv),
                 "Derive([(\"out\",\"%s/" TEST_FIXTURE_HO
                 "-a\",\"\",\"\")],[],[],\"x86_64-linux\",\"/bin/sh\",[],[])",
                 f->store);
        test_write_file(f->dir, "store/" TEST_FIXTURE_HA "-a.drv", drv, (size_t) -1);
        ModelConfig c;
        model_config_defaults(&c);
        c.store_dir = f->store;
        c.proc_root = f->proc;
        assert_int_equal(model_new(&c, &f->m), 0);
        assert_int_equal(model_source_new(f->m, 4242, 0, true, 1000 * USEC_PER_SEC, &f->s), 0);
        *state = f;
        return 0;
}

int test_model_fixture_teardown(void **state) {
        TestModelFixture *f = *state;
        model_free(f->m);
        test_rm_rf(f->dir);
        free(f->dir);
        free(f);
        return 0;
}
