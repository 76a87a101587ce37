/* Status codes: one message table (see include/dopflow/status.h). */
#include "dopflow/status.h"

#include <stdarg.h>
#include <stdio.h>

static const char *const status_messages[DOP_STATUS_COUNT] = {
    [DOP_OK] = "success",
    [DOP_ERR_INVALID_ARG] = "invalid argument",
    [DOP_ERR_NOMEM] = "out of memory",
    [DOP_ERR_IO] = "input/output error",
    [DOP_ERR_FORMAT] = "unusable file format",
    [DOP_ERR_ALIASING] = "sample rate too low for the velocities implied (aliasing)",
    [DOP_ERR_METADATA] = "bad acquisition metadata",
    [DOP_ERR_FFT] = "FFT planning failed",
    [DOP_ERR_HDF5] = "HDF5 error",
    [DOP_ERR_INTERRUPTED] = "interrupted",
    [DOP_ERR_NO_DATA] = "no data to analyse",
};

const char *dop_strerror(dop_status status)
{
    if ((int)status < 0 || status >= DOP_STATUS_COUNT) return "unknown status";
    return status_messages[status];
}

dop_status dop_error_set(dop_error *err, dop_status status, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
    return status;
}

void dop_error_clear(dop_error *err)
{
    if (err) err->message[0] = '\0';
}
