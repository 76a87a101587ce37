/* dopflow: status codes and detailed error messages.
 *
 * Every call that can fail returns a dop_status. dop_strerror() reads one
 * message table. Calls that can fail also take an optional dop_error* (NULL is
 * fine) that receives a detailed, human-readable message such as
 * "wall cutoff 900 Hz is at or above fs/2 = 500 Hz". The library never prints
 * and never exits: the command line decides what to say. */
#ifndef DOPFLOW_STATUS_H
#define DOPFLOW_STATUS_H

#include "dopflow/export.h"

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum dop_status {
    DOP_OK = 0,
    DOP_ERR_INVALID_ARG,   /* a parameter is outside its valid range */
    DOP_ERR_NOMEM,         /* an allocation failed */
    DOP_ERR_IO,            /* a file cannot be opened, read or written */
    DOP_ERR_FORMAT,        /* the file's format or layout cannot be used */
    DOP_ERR_ALIASING,      /* sample rate too low for the velocities implied */
    DOP_ERR_METADATA,      /* acquisition metadata missing, malformed or absurd */
    DOP_ERR_FFT,           /* FFTW could not make a plan */
    DOP_ERR_HDF5,          /* the HDF5 library reported an error */
    DOP_ERR_INTERRUPTED,   /* stopped on request (signal) */
    DOP_ERR_NO_DATA,       /* nothing to analyse (empty span, no samples) */
    DOP_STATUS_COUNT
} dop_status;

/* Detailed message of the last failure of a call (NUL-terminated, may be empty). */
typedef struct dop_error {
    char message[512];
} dop_error;

/* Fixed text for a status code; never NULL. Errors: none. */
DOP_API const char *dop_strerror(dop_status status);

/* Fill err (if not NULL) with a printf-style message; returns status so that
 * callers can write `return dop_error_set(err, DOP_ERR_IO, "...", ...);`.
 * Messages name parameters by their config names (f0_hz, raw_rate_hz),
 * never command-line flags: a front end adds how to give them there.
 * Errors: returns status itself. */
DOP_API dop_status dop_error_set(dop_error *err, dop_status status, const char *fmt, ...)
            __attribute__((format(printf, 3, 4)));

/* Clear a detailed message (NULL is fine). Errors: none. */
DOP_API void dop_error_clear(dop_error *err);

#ifdef __cplusplus
}
#endif
#endif
