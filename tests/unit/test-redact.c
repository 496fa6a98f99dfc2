/* Unit tests for src/shared/redact.c: no secret of a command line survives. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "shared/redact.h"

static void check(const char *in, const char *want) {
        char *got = NULL;
        assert_int_equal(redact_cmdline(in, &got), 0);
        assert_string_equal(got, want);
        free(got);
}

static void test_options(void **state) {
        check("nix-build --option access-tokens github.com=SECRET123 x.nix",
              "nix-build --option access-tokens <redacted> x.nix");
        /* one argument of several pairs, joined with spaces like the rest */
        check("nix build --option access-tokens github.com=A gitlab.com=B --impure",
              "nix build --option access-tokens <redacted> --impure");
        check("nix --option extra-access-tokens github.com=A",
              "nix --option extra-access-tokens <redacted>");
        check("nix-build --access-tokens=github.com=SECRET x", "nix-build --access-tokens=<redacted> x");
        check("nix-build --access-tokens github.com=SECRET x", "nix-build --access-tokens <redacted> x");
        check("nix-build --option netrc-file /root/.netrc x", "nix-build --option netrc-file <redacted> x");
        check("nix-build --netrc-file=/home/a/.netrc", "nix-build --netrc-file=<redacted>");
        /* other options stay */
        check("nix-build --option cores 4 --max-jobs 2 x.nix",
              "nix-build --option cores 4 --max-jobs 2 x.nix");
        check("nix-build --option access-tokens", "nix-build --option access-tokens");
        check("", "");
}

static void test_conf_text(void **state) {
        check("env NIX_CONFIG=access-tokens = github.com=SECRET nix build",
              "env NIX_CONFIG=access-tokens = <redacted>");
        check("sh -c access-tokens=github.com=SECRET", "sh -c access-tokens= <redacted>");
        check("x 'cores = 2\naccess-tokens = a=SECRET\nsubstitute = true'",
              "x 'cores = 2\naccess-tokens = <redacted>\nsubstitute = true'");
        /* a name that merely contains it is left alone */
        check("nix-build --arg my-access-tokens-count 3", "nix-build --arg my-access-tokens-count 3");
}

static void test_urls(void **state) {
        check("nix-build https://user:pass@example.org/x.tar.gz",
              "nix-build https://<redacted>@example.org/x.tar.gz");
        check("git fetch https://TOKEN@github.com/a/b", "git fetch https://<redacted>@github.com/a/b");
        check("nix flake update --override-input a git+https://u:p@h/r?ref=x@y",
              "nix flake update --override-input a git+https://<redacted>@h/r?ref=x@y");
        check("nix-build https://example.org/a@b.tar.gz", "nix-build https://example.org/a@b.tar.gz");
        check("x a=https://u:p@h:8080 b=ssh://root@host",
              "x a=https://<redacted>@h:8080 b=ssh://<redacted>@host");
        check("x https://", "x https://");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_options),
                cmocka_unit_test(test_conf_text),
                cmocka_unit_test(test_urls),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
