/* libFuzzer: the JSON sidecar reader (dop_sidecar_read) on arbitrary bytes. */
#include <math.h>

#include "dopflow/acquisition.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file("sidecar.json", data, size);
    dop_acquisition acq = dop_acquisition_unset();
    dop_error err;
    dop_status st = dop_sidecar_read(path, &acq, &err);
    if (st == DOP_OK) {
        /* what it accepts must be physical or unknown */
        if (!isnan(acq.f0_hz) && !(acq.f0_hz > 0)) abort();
        if (!isnan(acq.diameter_mm) && !(acq.diameter_mm > 0)) abort();
        dop_acquisition merged = dop_acquisition_defaults();
        dop_acquisition_overlay(&merged, &acq);
        (void)dop_acquisition_validate(&merged, &err);
    } else if (!memchr(err.message, '\0', sizeof err.message) || !err.message[0]) {
        abort(); /* every error has a message */
    }
    return 0;
}
