/* dopflow: acquisition metadata (transmit frequency, angle, speed of sound,
 * vessel diameter, channel layout) and the JSON sidecar that carries it.
 *
 * Precedence, lowest first: built-in defaults < sidecar JSON (INPUT.json or
 * --meta FILE) < study manifest columns < command-line options. Each layer
 * is a dop_acquisition whose unknown fields are NAN (or DOP_CHANNELS_UNSET),
 * merged with dop_acquisition_overlay(). */
#ifndef DOPFLOW_ACQUISITION_H
#define DOPFLOW_ACQUISITION_H

#include "dopflow/export.h"

#include "dopflow/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* How the recording's channels map to the complex Doppler signal. */
typedef enum dop_channels {
    DOP_CHANNELS_UNSET = 0,
    DOP_CHANNELS_IQ,   /* stereo: left = I, right = Q; positive f = toward probe */
    DOP_CHANNELS_QI,   /* stereo, swapped: left = Q, right = I */
    DOP_CHANNELS_MONO, /* one real channel: non-directional, analysed one-sided
                          (a stereo file: its left channel) */
    DOP_CHANNELS_LEFT, /* stereo: the left channel alone, as mono */
    DOP_CHANNELS_RIGHT /* stereo: the right channel alone, as mono */
} dop_channels;

typedef struct dop_acquisition {
    double f0_hz;        /* transmit (carrier) frequency, Hz; NAN = unknown */
    double angle_deg;    /* insonation angle beam-to-vessel axis, degrees, [0, 90) */
    double c_m_s;        /* speed of sound in tissue, m/s (default 1540) */
    double diameter_mm;  /* vessel inner diameter, mm; NAN = unknown (no flow) */
    dop_channels channels;
} dop_acquisition;

/* All fields unknown (NAN / DOP_CHANNELS_UNSET). */
DOP_API dop_acquisition dop_acquisition_unset(void);

/* Built-in defaults: c = 1540 m/s, everything else unknown. */
DOP_API dop_acquisition dop_acquisition_defaults(void);

/* Copy every field that is known in `over` onto `base`. */
DOP_API void dop_acquisition_overlay(dop_acquisition *base, const dop_acquisition *over);

/* Check that the metadata needed for velocities is present and physical:
 * f0 in (0, 100 MHz], angle in [0, 85] degrees (cos must not vanish),
 * c in [1000, 2500] m/s, diameter (when known) in (0, 100] mm.
 * Returns DOP_ERR_METADATA with a message naming the key. */
DOP_API dop_status dop_acquisition_validate(const dop_acquisition *acq, dop_error *err);

/* Parse "iq" | "qi" | "mono" | "left" | "right"; DOP_CHANNELS_UNSET when not
 * recognised. */
DOP_API dop_channels dop_channels_parse(const char *text);
DOP_API const char *dop_channels_name(dop_channels channels);

/* Read a JSON sidecar. Keys: f0_hz, angle_deg, c_m_s, diameter_mm (numbers),
 * channels ("iq" | "qi" | "mono" | "left" | "right"); unknown keys are ignored. Fields not in
 * the file stay NAN/UNSET in *out. Errors: DOP_ERR_IO (cannot open),
 * DOP_ERR_METADATA (malformed JSON, wrong type, non-physical value). */
DOP_API dop_status dop_sidecar_read(const char *path, dop_acquisition *out, dop_error *err);

/* Write the known fields of acq as a JSON sidecar (atomically: temporary
 * file renamed into place). Errors: DOP_ERR_IO. */
DOP_API dop_status dop_sidecar_write(const char *path, const dop_acquisition *acq, dop_error *err);

/* The sidecar path that belongs to an input: same path, extension replaced
 * by ".json" (appended when there is none). Caller frees. NULL on no memory. */
DOP_API char *dop_sidecar_path_for(const char *input_path);

#ifdef __cplusplus
}
#endif
#endif
