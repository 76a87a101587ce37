/* Private: guards around HDF5 and libmatio.
 *
 * Keep them from printing (the library never prints) and keep their last
 * message for ours; and refuse the element types HDF5 does not check
 * before converting them.
 *
 * HDF5 prints its error stack to stderr on every failed call unless the
 * automatic error handler is switched off; dop_h5_quiet_begin() switches it
 * off and dop_h5_quiet_end() clears the stack and puts back whatever the
 * caller had. libmatio logs through one process-wide function whose default
 * writes to stderr (and aborts on its "error" level); dop_matio_quiet()
 * installs one that only keeps the message, per thread. */
#ifndef DOPFLOW_LIB_GUARD_H
#define DOPFLOW_LIB_GUARD_H

#include <hdf5.h>

typedef struct dop_h5_quiet {
    H5E_auto2_t func;
    void *data;
} dop_h5_quiet;

static inline dop_h5_quiet dop_h5_quiet_begin(void)
{
    dop_h5_quiet q = {NULL, NULL};
    H5Eget_auto2(H5E_DEFAULT, &q.func, &q.data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    return q;
}

static inline void dop_h5_quiet_end(dop_h5_quiet q)
{
    H5Eclear2(H5E_DEFAULT);
    H5Eset_auto2(H5E_DEFAULT, q.func, q.data);
}

/* 1 if an HDF5 element type can be converted safely: integers and floats
 * of 1 to 8 bytes whose bits lie inside their size, compounds of those
 * whose members lie inside the compound, strings. HDF5 1.10 converts a
 * compound member placed past the end of its compound (a damaged file)
 * by reading out of bounds; this is checked before any read. */
int dop_h5_type_sane(hid_t type);

/* Route libmatio's log to a per-thread buffer and empty it. */
void dop_matio_quiet(void);

/* The last message libmatio logged since dop_matio_quiet(), "" if none. */
const char *dop_matio_message(void);

#endif
