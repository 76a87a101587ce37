/* dopflow: CSV forms of frames and beats (every column named with its
 * unit). NAN is written as an empty field. */
#ifndef DOPFLOW_RESULT_CSV_H
#define DOPFLOW_RESULT_CSV_H

#include "dopflow/export.h"

#include <stdio.h>

#include "dopflow/records.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Header line (no newline) and rows of --frames. `quality` is "ok" or the
 * set flags joined by '+': burst, saturated, dropout, no_signal,
 * near_nyquist, rejected_beat, bridged, unwrapped, excluded, not_pulsatile,
 * tissue_burst (records.h). */
DOP_API const char *dop_frame_csv_header(void);
DOP_API void dop_frame_csv_row(FILE *out, const dop_frame *frame);
/* The headers are the result schema's (result_schema.h). None of these
 * calls fails (Errors: none; write errors show on the stream: ferror). */

/* Text of a flag set as in the quality column, into buf. Errors: none. */
DOP_API void dop_frame_quality_text(unsigned flags, char *buf, size_t size);

/* Header line and rows of --beats. pi is Gosling's (PSV-EDV)/TAMAX;
 * pi_tamean is (PSV-EDV)/TAMEAN. Errors: none. */
DOP_API const char *dop_beat_csv_header(void);
DOP_API void dop_beat_csv_row(FILE *out, const dop_beat *beat);
/* The same with the reject_reason column given as text (NULL or "": the
 * reason's name); the text is quoted. Errors: none. */
DOP_API void dop_beat_csv_row_reason(FILE *out, const dop_beat *beat, const char *reason_text);

#ifdef __cplusplus
}
#endif
#endif
