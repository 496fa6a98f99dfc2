/* Fuzz target: what the TUI reads from the daemon (src/tui/store.c, columns.c, shared/fmt.c): lines of
 * JSON, each a subscription event or a list-builds / list-invocations result, applied to the
 * TUI's store, then every build rendered through every column. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "tui/columns.h"
#include "tui/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        Store s;
        store_init(&s, 0);
        const char *p = (const char *) data, *end = p + size;
        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t) (end - p));
                size_t len = nl ? (size_t) (nl - p) : (size_t) (end - p);
                cJSON *o = cJSON_ParseWithLength(p, len);
                if (cJSON_IsObject(o)) {
                        if (cJSON_GetObjectItemCaseSensitive(o, "builds"))
                                (void) store_load_builds(&s, o, 1000);
                        else if (cJSON_GetObjectItemCaseSensitive(o, "invocations"))
                                (void) store_load_invocations(&s, o);
                        else
                                (void) store_apply_event(&s, o, 1000);
                }
                cJSON_Delete(o);
                p += len + 1;
        }
        StoreBuild *b, *tb;
        HASH_ITER(hh, s.builds, b, tb) {
                char buf[64];
                for (size_t c = 0; c < n_columns; c++) {
                        columns[c].format(b, 1234.5, buf, sizeof(buf));
                        (void) columns[c].compare(b, s.builds, 1234.5);
                }
        }
        store_clear(&s);
        return 0;
}
