/* Guards around HDF5 and libmatio (see lib_guard.h). */
#include "lib_guard.h"

#include <matio.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char matio_last[256];

/* Every level, including MATIO_LOG_LEVEL_ERROR (whose default handler
 * aborts the process), only replaces the kept message, cut to one line.
 * libmatio passes HDF5's error stack on entry by entry ("HDF5 error #002
 * in H5F__super_read()\n file : ...\n major: ...\n minor: File has been
 * truncated"): the last entry is the innermost, and its "minor" line says
 * what went wrong. */
static void keep_message(int level, char *message)
{
    (void)level;
    if (!message) message = "";
    const char *minor = strncmp(message, "HDF5 error", 10) == 0 ? strstr(message, "minor: ") : NULL;
    if (minor)
        snprintf(matio_last, sizeof matio_last, "HDF5: %s", minor + 7);
    else
        snprintf(matio_last, sizeof matio_last, "%s", message);
    matio_last[strcspn(matio_last, "\r\n")] = '\0';
}

void dop_matio_quiet(void)
{
    Mat_LogInitFunc("dopflow", keep_message);
    matio_last[0] = '\0';
}

const char *dop_matio_message(void) { return matio_last; }

static int type_sane(hid_t type, int depth)
{
    const size_t size = H5Tget_size(type);
    switch (H5Tget_class(type)) {
    case H5T_INTEGER:
    case H5T_FLOAT: {
        size_t precision = H5Tget_precision(type);
        int offset = H5Tget_offset(type);
        return size >= 1 && size <= 8 && precision >= 1 && offset >= 0 && (size_t)offset + precision <= 8 * size;
    }
    case H5T_STRING: return size >= 1 || H5Tis_variable_str(type) > 0;
    case H5T_COMPOUND: {
        int members = H5Tget_nmembers(type);
        if (depth > 2 || members < 1 || members > 64 || size == 0) return 0;
        for (int i = 0; i < members; i++) {
            hid_t member = H5Tget_member_type(type, (unsigned)i);
            if (member < 0) return 0;
            size_t at = H5Tget_member_offset(type, (unsigned)i), bytes = H5Tget_size(member);
            int ok = bytes > 0 && at <= size && bytes <= size - at && type_sane(member, depth + 1);
            H5Tclose(member);
            if (!ok) return 0;
        }
        return 1;
    }
    default: return 0;
    }
}

int dop_h5_type_sane(hid_t type) { return type >= 0 && type_sane(type, 0); }
