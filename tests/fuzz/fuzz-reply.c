/* Fuzz target: lines from the daemon as its clients read them (src/shared/proto-client.c):
 * results, errors, events, and what a hostile or broken daemon might send instead. */
#include <stddef.h>
#include <stdint.h>

#include "shared/json-read.h"
#include "shared/proto-client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        ProtoMessage m;
        if (proto_message_parse((const char *) data, size, &m) < 0)
                return 0;
        (void) proto_message_answers(&m, 0);
        if (m.kind == PROTO_EVENT)
                (void) json_u64(json_obj(m.root, "build"), "key", 0);
        else
                (void) proto_hello_check(m.result, m.error);
        proto_message_done(&m);
        return 0;
}
