/* libFuzzer: the study manifest CSV reader on arbitrary bytes. */
#include "dopflow/manifest.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FILE *in = fmemopen((void *)data, size ? size : 1, "rb");
    if (!in) return 0;
    if (size == 0) fseek(in, 0, SEEK_END);
    dop_manifest *m = NULL;
    dop_error err;
    dop_status st = dop_manifest_read_stream(in, "fuzz.csv", "/nonexistent", &m, &err);
    fclose(in);
    if (st == DOP_OK) {
        size_t n = dop_manifest_row_count(m);
        /* n == 0 is fine here: `study` refuses a manifest without rows */
        for (size_t i = 0; i < n; i++) {
            const dop_manifest_row *r = dop_manifest_row_at(m, i);
            if (!r->file[0] || !r->path) abort();
            for (int k = 0; k < DOP_MANIFEST_KEY_COUNT; k++) {
                size_t id = k == 0 ? r->subject : k == 1 ? r->condition : r->artery;
                if (!dop_manifest_name(m, (dop_manifest_key)k, id)) abort();
            }
        }
        if (strlen(dop_manifest_sha256(m)) != 64) abort();
    }
    dop_manifest_destroy(m);
    return 0;
}
