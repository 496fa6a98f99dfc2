/* Corpus runner: feeds every file of the given files and directories to the fuzz target once,
 * so that seed corpora (and crash reproducers) run as ordinary tests under the build's
 * sanitizers, without libFuzzer. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/macro.h"
#include "fuzz.h"

/* Runs one file. Its bytes go in an exact-size allocation so that AddressSanitizer catches a
 * read one byte past the end, as libFuzzer's own buffers would. */
static int run_file(int dir_fd, const char *name, const char *display) {
        _cleanup_close_ int fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC);
        struct stat st;

        if (fd < 0 || fstat(fd, &st) < 0) {
                fprintf(stderr, "%s: %s\n", display, strerror(errno));
                return -errno;
        }
        if (!S_ISREG(st.st_mode))
                return 0;

        size_t size = (size_t) st.st_size;
        _cleanup_free_ uint8_t *data = malloc(MAX(size, (size_t) 1));
        if (!data)
                return -ENOMEM;
        for (size_t got = 0; got < size;) {
                ssize_t n = read(fd, data + got, size - got);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0) {
                        fprintf(stderr, "%s: short read\n", display);
                        return -EIO;
                }
                got += (size_t) n;
        }

        LLVMFuzzerTestOneInput(data, size);
        return 1;
}

static int run_dir(const char *path, unsigned *count) {
        DIR *d = opendir(path);
        if (!d) {
                fprintf(stderr, "%s: %s\n", path, strerror(errno));
                return -errno;
        }

        int r = 0;
        struct dirent *de;
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue;
                char display[4096];
                snprintf(display, sizeof(display), "%s/%s", path, de->d_name);
                r = run_file(dirfd(d), de->d_name, display);
                if (r < 0)
                        break;
                *count += (unsigned) r;
                r = 0;
        }
        closedir(d);
        return r;
}

int main(int argc, char *argv[]) {
        unsigned count = 0;

        if (argc < 2) {
                fprintf(stderr, "usage: %s CORPUS_DIR_OR_FILE...\n", argv[0]);
                return EXIT_FAILURE;
        }

        for (int i = 1; i < argc; i++) {
                struct stat st;
                int r;

                if (stat(argv[i], &st) < 0) {
                        fprintf(stderr, "%s: %s\n", argv[i], strerror(errno));
                        return EXIT_FAILURE;
                }
                if (S_ISDIR(st.st_mode))
                        r = run_dir(argv[i], &count);
                else {
                        r = run_file(AT_FDCWD, argv[i], argv[i]);
                        if (r > 0)
                                count++;
                }
                if (r < 0)
                        return EXIT_FAILURE;
        }

        /* An empty corpus is a broken test, not a passing one. */
        if (count == 0) {
                fprintf(stderr, "no inputs found\n");
                return EXIT_FAILURE;
        }
        printf("%u inputs ran\n", count);
        return EXIT_SUCCESS;
}
