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

/* The metadata layers of one recording that do not come from the recording
 * itself (its own header, e.g. an IQ file's f0, sits between the built-in
 * defaults and these: defaults < file < layered). */
typedef struct dop_acquisition_layers {
    dop_acquisition sidecar;   /* the sidecar's fields; all unknown without one */
    dop_acquisition overrides; /* manifest row < command line (no sidecar) */
    dop_acquisition layered;   /* sidecar < manifest row < command line */
    char sidecar_path[4096];   /* the sidecar read; "" = none */
} dop_acquisition_layers;

/* Find the sidecar of the recording at input_path and layer the metadata:
 * sidecar < row < command_line (row, command_line: NULL = absent layer).
 * The sidecar is meta_path when given (it must then exist), else
 * dop_sidecar_path_for(input_path) when that file exists, else none;
 * standard input ("-") has no sidecar of its own. A sidecar that exists
 * (or is named) but cannot be read is an error, never skipped.
 * Errors: DOP_ERR_METADATA (the sidecar cannot be opened, its JSON is
 * malformed, a key has the wrong type, a value is not physical: see
 * dop_sidecar_read), DOP_ERR_INVALID_ARG (input_path NULL), DOP_ERR_NOMEM.
 * On error *out holds no sidecar and the row and command line layered. */
DOP_API dop_status dop_acquisition_resolve(const char *input_path, const char *meta_path, const dop_acquisition *row,
                                           const dop_acquisition *command_line, dop_acquisition_layers *out,
                                           dop_error *err);

#ifdef __cplusplus
}
#endif
#endif
