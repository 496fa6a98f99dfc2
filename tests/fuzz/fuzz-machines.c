/* Fuzz target: builders / machines files (src/shared/machines.c) and nix.conf
 * (src/shared/nixconf.c). Includes are served from the input itself, so nesting, loops and
 * unreadable files are reached without touching the file system. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "shared/machines.h"
#include "shared/nixconf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct Input {
        const char *data;
        size_t size;
} Input;

/* Every included file has the input's content, except paths containing "missing" (absent)
 * and "denied" (unreadable). */
static int read_input(const char *path, char **ret, size_t *ret_len, void *userdata) {
        const Input *in = userdata;
        if (strstr(path, "missing"))
                return -ENOENT;
        if (strstr(path, "denied"))
                return -EACCES;
        char *c = malloc(in->size + 1);
        if (!c)
                return -ENOMEM;
        memcpy(c, in->data, in->size);
        c[in->size] = '\0';
        *ret = c;
        *ret_len = in->size;
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        Input in = {(const char *) data, size};
        MachinesParseOptions o = {.this_system = "x86_64-linux", .read_file = read_input, .userdata = &in};
        MachineList l;
        if (machines_parse(in.data, size, &o, &l) == 0) {
                for (size_t i = 0; i < l.n_machines; i++) {
                        char *key = NULL, *dest = NULL;
                        unsigned port;
                        if (machine_uri_key(l.machines[i].uri, &key) == 0)
                                free(key);
                        if (machine_uri_ssh_target(l.machines[i].uri, &dest, &port) == 0)
                                free(dest);
                        MachineSpec copy;
                        if (machine_spec_copy(&l.machines[i], &copy) == 0)
                                machine_spec_done(&copy);
                }
                machine_list_done(&l);
        }
        NixConf c = {};
        (void) nixconf_apply(&c, in.data, size, "/etc/nix/nix.conf", read_input, &in);
        (void) nixconf_get(&c, "builders");
        nixconf_done(&c);
        return 0;
}
