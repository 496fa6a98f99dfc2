/* Fuzz target for the build directory found from a builder's working directory (the text
 * of /proc/<pid>/cwd, which the builder chooses): never a crash, and when one is found, its
 * path is a prefix of the cwd ending at a component's end, with as many components below it
 * as the levels said. Input: the cwd (up to the first NUL). */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "shared/dirsize.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *cwd = strndup((const char *) data, size);
        if (!cwd)
                return 0;
        char *path = NULL;
        unsigned up = 0;
        if (dir_size_build_dir(cwd, &path, &up) == 0) {
                size_t n = strlen(path);
                if (strncmp(cwd, path, n) != 0 || (cwd[n] != '\0' && cwd[n] != '/'))
                        abort();
                unsigned below = 0;
                for (const char *p = cwd + n; *p; p++)
                        if (*p == '/' && p[1] && p[1] != '/')
                                below++;
                if (below != up)
                        abort();
                free(path);
        }
        free(cwd);
        return 0;
}
