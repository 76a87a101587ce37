/* dopflow: analysis of samples held in memory, for language bindings
 * (python/dopflow calls it through ctypes).
 *
 * Nothing but opaque handles, numbers and strings crosses this interface:
 *  - options are set by name, with the names and values of the command
 *    line's analysis options (dop_options_set(o, "wall_hz", "50"), as
 *    `--wall-hz 50`), so a binding offers the same options as `dopflow
 *    analyze` without mirroring dop_analysis_config;
 *  - results come as the exact CSV text that `dopflow analyze` writes with
 *    --frames, --beats and --summary (result_csv.h, summary.h), so a binding
 *    reads columns by name and follows any change of the result schema.
 * The same samples and options give byte for byte the CSV of the command
 * line for the same recording. */
#ifndef DOPFLOW_SAMPLES_H
#define DOPFLOW_SAMPLES_H

#include "dopflow/export.h"

#include <complex.h>
#include <stddef.h>

#include "dopflow/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dop_options dop_options;

/* Defaults of every stage; fs_hz, f0_hz and angle_deg must be set. */
DOP_API dop_status dop_options_create(dop_options **out, dop_error *err);

/* Set one option by name ('-' and '_' are the same). Names (units as the
 * command line's): fs_hz (sample rate or PRF, Hz), gates (samples per pulse),
 * f0_hz, angle_deg, c_m_s, diameter_mm, channels (iq|qi|mono), wall_hz,
 * wall_order, window (hann|hamming|blackman|gaussian), window_ms, hop_ms,
 * fft, vmax (mgm|percentile|threshold), percentile, threshold_db,
 * vmean (intensity|half-max|kasai), baseline_shift_cm_s, unwrap
 * (auto|off|on; auto = off here, as for audio), epochs
 * ("label:start:end,...", s from the first sample). Short forms as on the
 * command line: f0, angle, c, diameter, baseline_shift. Errors:
 * DOP_ERR_INVALID_ARG naming the option and the value. */
DOP_API dop_status dop_options_set(dop_options *o, const char *name, const char *value, dop_error *err);

DOP_API void dop_options_destroy(dop_options *o); /* NULL is fine */

typedef struct dop_result dop_result;

/* Analyse n_pulses pulses of x (n_pulses x gates samples, pulse-major,
 * full scale 1.0; mono: I = x, Q = 0). Errors: those of dop_analysis_create
 * (DOP_ERR_METADATA, DOP_ERR_ALIASING, DOP_ERR_INVALID_ARG), DOP_ERR_NO_DATA
 * (not one complete analysis window), DOP_ERR_NOMEM. */
DOP_API dop_status dop_analyze_samples(const dop_options *o, const float complex *x, size_t n_pulses,
                                       dop_result **out, dop_error *err);

/* CSV text of a table: "frames", "beats" or "summary" (header line, then one
 * line per row, each ending in '\n'); NULL for another name. Valid until
 * dop_result_destroy. */
DOP_API const char *dop_result_csv(const dop_result *r, const char *table);
/* Nyquist velocity c fs / (4 f0 cos angle), cm/s. */
DOP_API double dop_result_nyquist_cm_s(const dop_result *r);
DOP_API void dop_result_destroy(dop_result *r); /* NULL is fine */

/* A whole recording read into memory with the reader (reader.h) as `dopflow
 * analyze` reads it (channel mapping from the file; stereo = I/Q). */
typedef struct dop_samples dop_samples;

/* Errors: those of dop_reader_open and dop_reader_read; DOP_ERR_NOMEM. */
DOP_API dop_status dop_samples_read(const char *path, dop_samples **out, dop_error *err);
DOP_API const float complex *dop_samples_data(const dop_samples *s); /* pulses x gates */
DOP_API size_t dop_samples_pulses(const dop_samples *s);
DOP_API long dop_samples_gates(const dop_samples *s);
DOP_API double dop_samples_rate_hz(const dop_samples *s);
DOP_API const char *dop_samples_channels(const dop_samples *s); /* "iq", "qi" or "mono" */
DOP_API void dop_samples_destroy(dop_samples *s); /* NULL is fine */

#ifdef __cplusplus
}
#endif
#endif
