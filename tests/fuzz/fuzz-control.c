/* Fuzz target: control request lines (src/shared/proto.c), as the daemon reads them. */
#include <stddef.h>
#include <stdint.h>

#include "shared/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        ControlRequest req;
        const char *error = NULL;
        if (control_request_parse((const char *) data, size, &req, &error) == 0) {
                const char *s;
                long long n;
                bool b;
                (void) control_arg_string(&req, "build", &s);
                (void) control_arg_int(&req, "tail", &n);
                (void) control_arg_bool(&req, "follow", &b);
                size_t len;
                char *line = control_format_result(req.id, cJSON_CreateObject(), &len);
                cJSON_free(line);
        }
        control_request_done(&req);
        return 0;
}
