/* dopflow: vessel diameter that changes during a recording (--diameter-csv).
 *
 * The track is read from a CSV file whose header row names the columns
 * `time_s` (s from the start of the recording) and `diameter_mm` (vessel
 * inner diameter, mm); other columns are ignored and may come in any order.
 * Quoted fields, CRLF line ends and a UTF-8 byte-order mark are accepted.
 * Rows must be in strictly increasing time; diameters in (0, 100] mm.
 *
 * dop_diameter_track_at() has the signature of dop_diameter_fn (analysis.h):
 * pass it as cfg.diameter_fn with the track as cfg.diameter_user. Between
 * rows the diameter is interpolated linearly; before the first row and after
 * the last it is held at the first / last value. */
#ifndef DOPFLOW_DIAMETER_H
#define DOPFLOW_DIAMETER_H

#include "dopflow/export.h"

#include <stddef.h>

#include "dopflow/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dop_diameter_track dop_diameter_track;

/* Read a diameter track. Errors (message names the file, and the row where
 * it applies): DOP_ERR_IO (cannot open or read), DOP_ERR_NOMEM,
 * DOP_ERR_METADATA (malformed CSV, missing column, non-numeric value, time
 * not increasing, diameter outside (0, 100] mm, no data row). */
DOP_API dop_status dop_diameter_track_load(const char *csv_path, dop_diameter_track **out, dop_error *err);

/* Diameter at time_s, mm (track is a dop_diameter_track*); NAN for a NAN
 * time. Errors: none. */
DOP_API double dop_diameter_track_at(double time_s, void *track);

/* Number of rows in the track. Errors: none. */
DOP_API size_t dop_diameter_track_count(const dop_diameter_track *track);

/* NULL is fine. Errors: none. */
DOP_API void dop_diameter_track_destroy(dop_diameter_track *track);

#ifdef __cplusplus
}
#endif
#endif
