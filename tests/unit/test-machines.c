/* Unit tests for src/shared/machines.c (builders / machines files) and src/shared/nixconf.c
 * (nix.conf syntax), with includes served from an in-memory file table. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "shared/machines.h"
#include "shared/nixconf.h"
#include "test-helpers.h"

typedef struct FakeFile {
        const char *path, *text;
        int error;
} FakeFile;

static const FakeFile *fake_files;

static int fake_read(const char *path, char **ret, size_t *ret_len, void *userdata) {
        for (const FakeFile *f = fake_files; f && f->path; f++)
                if (strcmp(f->path, path) == 0) {
                        if (f->error)
                                return -f->error;
                        *ret = strdup(f->text);
                        *ret_len = strlen(f->text);
                        return 0;
                }
        return -ENOENT;
}

static const MachinesParseOptions opts = {.this_system = "aarch64-linux", .read_file = fake_read};

static void parse(const char *spec, MachineList *l) {
        assert_int_equal(machines_parse(spec, strlen(spec), &opts, l), 0);
}

static void test_all_fields(void **state) {
        MachineList l;
        parse("ssh://root@b1?remote-program=/x x86_64-linux,i686-linux /k 4 2.5 kvm,big-parallel benchmark "
              "c3NoLWVkMjU1MTkgQUFBQQ==",
              &l);
        assert_int_equal(l.n_errors, 0);
        assert_int_equal(l.n_machines, 1);
        MachineSpec *m = &l.machines[0];
        assert_string_equal(m->uri, "ssh://root@b1?remote-program=/x");
        assert_int_equal(m->n_systems, 2);
        assert_string_equal(m->systems[0], "x86_64-linux");
        assert_string_equal(m->systems[1], "i686-linux");
        assert_string_equal(m->ssh_key, "/k");
        assert_int_equal(m->max_jobs, 4);
        assert_true(m->speed_factor == 2.5);
        assert_int_equal(m->n_supported_features, 2);
        assert_string_equal(m->supported_features[1], "big-parallel");
        assert_int_equal(m->n_mandatory_features, 1);
        assert_string_equal(m->mandatory_features[0], "benchmark");
        assert_string_equal(m->host_key, "c3NoLWVkMjU1MTkgQUFBQQ==");
        assert_string_equal(m->origin, "builders");
        assert_int_equal(m->line, 1);
        machine_list_done(&l);
}

static void test_defaults_and_dashes(void **state) {
        MachineList l;
        parse("host1; host2 - - - - - - -;ssh-ng://h3 x86_64-linux - 8", &l);
        assert_int_equal(l.n_errors, 0);
        assert_int_equal(l.n_machines, 3);
        for (int i = 0; i < 2; i++) {
                MachineSpec *m = &l.machines[i];
                assert_int_equal(m->n_systems, 1);
                assert_string_equal(m->systems[0], "aarch64-linux");
                assert_string_equal(m->ssh_key, "");
                assert_int_equal(m->max_jobs, 1);
                assert_true(m->speed_factor == 1.0);
                assert_int_equal(m->n_supported_features, 0);
                assert_int_equal(m->n_mandatory_features, 0);
                assert_string_equal(m->host_key, "");
        }
        assert_string_equal(l.machines[0].uri, "ssh://host1");
        assert_string_equal(l.machines[1].uri, "ssh://host2");
        assert_string_equal(l.machines[2].uri, "ssh-ng://h3");
        assert_int_equal(l.machines[2].max_jobs, 8);
        machine_list_done(&l);
}

static void test_comments_and_blank(void **state) {
        MachineList l;
        parse("# a comment\n\n   \nhost1 x86_64-linux # trailing\n#host2\n\t host3 ;; # x", &l);
        assert_int_equal(l.n_errors, 0);
        assert_int_equal(l.n_machines, 2);
        assert_string_equal(l.machines[0].uri, "ssh://host1");
        assert_int_equal(l.machines[0].line, 4);
        assert_string_equal(l.machines[1].uri, "ssh://host3");
        assert_int_equal(l.machines[1].line, 6);
        machine_list_done(&l);
}

static void test_includes(void **state) {
        static const FakeFile files[] = {
                {.path = "/etc/nix/machines",
                 .text = "a1\n@/etc/nix/more # more machines\n bad-jobs x - x\n"},
                {.path = "/etc/nix/more", .text = "a2 - - 3;@/etc/nix/loop"},
                {.path = "/etc/nix/loop", .text = "@/etc/nix/loop"},
                {.path = "/etc/nix/unreadable", .text = "", .error = EACCES},
                {},
        };
        fake_files = files;
        MachineList l;
        parse("@/etc/nix/machines;@/etc/nix/missing;@/etc/nix/unreadable;a3", &l);
        assert_int_equal(l.n_machines, 3);
        assert_string_equal(l.machines[0].uri, "ssh://a1");
        assert_string_equal(l.machines[0].origin, "/etc/nix/machines");
        assert_string_equal(l.machines[1].uri, "ssh://a2");
        assert_int_equal(l.machines[1].max_jobs, 3);
        assert_string_equal(l.machines[1].origin, "/etc/nix/more");
        assert_string_equal(l.machines[2].uri, "ssh://a3");
        /* errors: bad maxJobs (line 3 of machines), include loop, unreadable file */
        assert_int_equal(l.n_errors, 3);
        int saw_jobs = 0, saw_loop = 0, saw_unreadable = 0;
        for (size_t i = 0; i < l.n_errors; i++) {
                MachineError *e = &l.errors[i];
                if (strstr(e->message, "maxJobs")) {
                        saw_jobs++;
                        assert_string_equal(e->origin, "/etc/nix/machines");
                        assert_int_equal(e->line, 3);
                }
                saw_loop += strstr(e->message, "nested deeper") != NULL;
                saw_unreadable += strstr(e->message, "Permission denied") != NULL;
        }
        assert_int_equal(saw_jobs, 1);
        assert_int_equal(saw_loop, 1);
        assert_int_equal(saw_unreadable, 1);
        /* every file looked at, the missing one too */
        int saw_missing = 0;
        for (size_t i = 0; i < l.n_files; i++)
                saw_missing += strcmp(l.files[i], "/etc/nix/missing") == 0;
        assert_int_equal(saw_missing, 1);
        machine_list_done(&l);
        fake_files = NULL;
}

static void test_malformed_kept_good(void **state) {
        MachineList l;
        parse("good1\nh - - -3\nh - - 2 fast\nh - - - - - - not*base64\ngood2 - - 2 0.5\n - x", &l);
        assert_int_equal(l.n_machines, 2);
        assert_string_equal(l.machines[0].uri, "ssh://good1");
        assert_string_equal(l.machines[1].uri, "ssh://good2");
        assert_true(l.machines[1].speed_factor == 0.5);
        assert_int_equal(l.n_errors, 4);
        assert_non_null(strstr(l.errors[0].message, "maxJobs"));
        assert_int_equal(l.errors[0].line, 2);
        assert_non_null(strstr(l.errors[1].message, "speedFactor"));
        assert_non_null(strstr(l.errors[2].message, "base64"));
        assert_non_null(strstr(l.errors[3].message, "store URI"));
        assert_int_equal(l.errors[3].line, 6);
        machine_list_done(&l);
}

static void test_uri_forms(void **state) {
        char *s;
        assert_int_equal(machine_uri_canonical("local", &s), 0);
        assert_string_equal(s, "local");
        free(s);
        assert_int_equal(machine_uri_canonical("daemon?x=1", &s), 0);
        assert_string_equal(s, "daemon?x=1");
        free(s);
        assert_int_equal(machine_uri_canonical("/some/store", &s), 0);
        assert_string_equal(s, "/some/store");
        free(s);
        assert_int_equal(machine_uri_canonical("user@host", &s), 0);
        assert_string_equal(s, "ssh://user@host");
        free(s);

        assert_int_equal(machine_uri_key("SSH://host/?remote-program=/x/y", &s), 0);
        assert_string_equal(s, "ssh://host");
        free(s);
        assert_int_equal(machine_uri_key("host", &s), 0);
        assert_string_equal(s, "ssh://host");
        free(s);
        assert_int_equal(machine_uri_key("ssh-ng://u@h?a=b&c=d", &s), 0);
        assert_string_equal(s, "ssh-ng://u@h");
        free(s);

        unsigned port;
        assert_int_equal(machine_uri_ssh_target("ssh://root@nixremote?remote-program=/x", &s, &port), 0);
        assert_string_equal(s, "root@nixremote");
        assert_int_equal(port, 0);
        free(s);
        assert_int_equal(machine_uri_ssh_target("ssh-ng://h:2222", &s, &port), 0);
        assert_string_equal(s, "h");
        assert_int_equal(port, 2222);
        free(s);
        assert_int_equal(machine_uri_ssh_target("ssh://-oProxyCommand=x", &s, &port), -EINVAL);
        assert_int_equal(machine_uri_ssh_target("ssh://", &s, &port), -EINVAL);
        assert_int_equal(machine_uri_ssh_target("ssh://h:99999", &s, &port), -EINVAL);
        assert_int_equal(machine_uri_ssh_target("daemon", &s, &port), -EPROTONOSUPPORT);
}

static void test_base64(void **state) {
        assert_true(machines_base64_valid("QUJD"));
        assert_true(machines_base64_valid("QUI="));
        assert_false(machines_base64_valid(""));
        assert_false(machines_base64_valid("QUI"));
        assert_false(machines_base64_valid("Q=JD"));
        assert_false(machines_base64_valid("QU*D"));
}

static void test_nixconf(void **state) {
        static const FakeFile files[] = {
                {.path = "/etc/nix/nix.conf",
                 .text = "# system\nbuilders = @/etc/nix/machines  # c\n"
                         "include extra.conf\n!include /nope\ninclude /missing\n"
                         "builders-use-substitutes = true\nbroken line\nx=y\n"},
                {.path = "/etc/nix/extra.conf", .text = "max-jobs =   4\nsystem = x86_64-linux   \n"},
                {},
        };
        fake_files = files;
        NixConf c = {};
        assert_int_equal(nixconf_apply_file(&c, "/etc/nix/nix.conf", fake_read, NULL), 0);
        const char *env = "builders = ssh://a x86_64-linux ; ssh://b\nextra-x = 1";
        assert_int_equal(nixconf_apply(&c, env, strlen(env), "NIX_CONFIG", fake_read, NULL), 0);
        assert_string_equal(nixconf_get(&c, "builders"), "ssh://a x86_64-linux ; ssh://b");
        assert_string_equal(nixconf_get(&c, "max-jobs"), "4");
        assert_string_equal(nixconf_get(&c, "system"), "x86_64-linux");
        assert_int_equal(nixconf_get_bool(&c, "builders-use-substitutes"), 1);
        assert_int_equal(nixconf_get_bool(&c, "nope"), -ENOENT);
        assert_null(nixconf_get(&c, "x"));
        /* errors: /missing (include, not !include), "broken line", "x=y" */
        assert_int_equal(c.n_errors, 3);
        assert_non_null(strstr(c.errors[0], "/etc/nix/nix.conf:5:"));
        assert_non_null(strstr(c.errors[0], "'/missing' not found"));
        assert_non_null(strstr(c.errors[1], "/etc/nix/nix.conf:7:"));
        assert_non_null(strstr(c.errors[2], "/etc/nix/nix.conf:8:"));
        nixconf_done(&c);
        fake_files = NULL;
}

static void test_nixconf_include_loop(void **state) {
        static const FakeFile files[] = {
                {.path = "/a/nix.conf", .text = "include nix.conf\nbuilders = x\n"},
                {},
        };
        fake_files = files;
        NixConf c = {};
        assert_int_equal(nixconf_apply_file(&c, "/a/nix.conf", fake_read, NULL), 0);
        assert_string_equal(nixconf_get(&c, "builders"), "x");
        assert_int_equal(c.n_errors, 1);
        assert_non_null(strstr(c.errors[0], "nested deeper"));
        nixconf_done(&c);
        fake_files = NULL;
}

/* The real reader, on what a machines path may hold: a file, a link to one (NixOS), and
 * what must be refused at once rather than read or waited on. */
static void test_machines_read_file(void **state) {
        char *dir = test_mkdtemp(), path[512], link[512];
        test_write_file(dir, "machines", "ssh://a x86_64-linux\n", (size_t) -1);
        snprintf(path, sizeof(path), "%s/machines", dir);
        char *buf = NULL;
        size_t len = 0;
        assert_int_equal(machines_read_file(path, &buf, &len, NULL), 0);
        assert_string_equal(buf, "ssh://a x86_64-linux\n");
        assert_int_equal(len, 21);
        free(buf);
        buf = NULL;

        snprintf(link, sizeof(link), "%s/link", dir);
        assert_int_equal(symlink(path, link), 0);
        assert_int_equal(machines_read_file(link, &buf, &len, NULL), 0);
        assert_string_equal(buf, "ssh://a x86_64-linux\n");
        free(buf);
        buf = NULL;

        /* A FIFO nobody writes to: refused, not waited on. */
        snprintf(path, sizeof(path), "%s/fifo", dir);
        assert_int_equal(mkfifo(path, 0644), 0);
        assert_int_equal(machines_read_file(path, &buf, &len, NULL), -EBADF);
        assert_int_equal(machines_read_file("/dev/null", &buf, &len, NULL), -EBADF);
        assert_int_equal(machines_read_file(dir, &buf, &len, NULL), -EISDIR);
        snprintf(path, sizeof(path), "%s/missing", dir);
        assert_int_equal(machines_read_file(path, &buf, &len, NULL), -ENOENT);

        /* Past MACHINES_FILE_MAX: refused whole, not cut. */
        char *big = malloc(MACHINES_FILE_MAX + 2);
        assert_non_null(big);
        memset(big, '#', MACHINES_FILE_MAX + 1);
        big[MACHINES_FILE_MAX + 1] = '\0';
        test_write_file(dir, "big", big, (size_t) -1);
        free(big);
        snprintf(path, sizeof(path), "%s/big", dir);
        assert_int_equal(machines_read_file(path, &buf, &len, NULL), -EFBIG);
        assert_null(buf);
        test_rm_rf(dir);
        free(dir);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_all_fields),
                cmocka_unit_test(test_defaults_and_dashes),
                cmocka_unit_test(test_comments_and_blank),
                cmocka_unit_test(test_includes),
                cmocka_unit_test(test_malformed_kept_good),
                cmocka_unit_test(test_uri_forms),
                cmocka_unit_test(test_base64),
                cmocka_unit_test(test_nixconf),
                cmocka_unit_test(test_nixconf_include_loop),
                cmocka_unit_test(test_machines_read_file),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
