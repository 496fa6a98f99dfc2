/* Fuzz target: the build hook parsers (src/shared/buildhook.c): a hook's command line, and
 * the open-file targets read from /proc (pipes, machine slot locks, build logs). The same
 * bytes go to each: as a NUL-separated command line, and up to their first NUL as a link
 * target. Each must reject or parse, never crash or overread. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "shared/buildhook.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        (void) buildhook_cmdline_is_hook((const char *) data, size);
        char *target = strndup((const char *) data, size);
        if (!target)
                return 0;
        uint64_t ino;
        char *s = NULL;
        (void) buildhook_parse_pipe(target, &ino);
        if (buildhook_parse_slot_lock(target, &s) > 0)
                free(s);
        s = NULL;
        if (buildhook_parse_log(target, "/nix/store", &s) > 0)
                free(s);
        free(buildhook_escape_uri(target));
        free(target);
        return 0;
}
