/* libFuzzer: the epoch spec parser (label:start:end,...). */
#include <math.h>

#include "dopflow/summary.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *spec = fuzz_string(data, size);
    dop_epoch *epochs = NULL;
    size_t n = 0;
    dop_error err;
    if (dop_epochs_parse(spec, 2.5, &epochs, &n, &err) == DOP_OK) {
        if (n == 0) abort();
        for (size_t i = 0; i < n; i++)
            if (!isfinite(epochs[i].start_s) || !isfinite(epochs[i].end_s) || !(epochs[i].start_s < epochs[i].end_s))
                abort();
    }
    free(epochs);
    free(spec);
    return 0;
}
