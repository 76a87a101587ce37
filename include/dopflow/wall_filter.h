/* dopflow stage 1: wall (clutter) filter.
 *
 * High-pass Butterworth IIR applied to I and Q alike (a real filter on a
 * complex signal), designed by the bilinear transform with pre-warping and
 * run as cascaded second-order sections in double precision, because for a
 * peripheral-artery cutoff (tens of Hz at kHz rates) the poles sit within
 * 1e-2 of z = 1. State carries across pushes: any block split gives the same
 * output. cutoff_hz = 0 disables the filter (output = input).
 *
 * Life: config_default, create, push, reset, destroy. No flush: an IIR
 * filter gives one output sample per input sample, so it holds nothing back. */
#ifndef DOPFLOW_WALL_FILTER_H
#define DOPFLOW_WALL_FILTER_H

#include "dopflow/export.h"

#include <complex.h>
#include <stddef.h>

#include "dopflow/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dop_wall_filter_config {
    double fs_hz;      /* sample rate, Hz (> 0) */
    double cutoff_hz;  /* -3 dB frequency, Hz, in [0, fs/2); 0 disables */
    int order;         /* Butterworth order, 1..12 */
} dop_wall_filter_config;

typedef struct dop_wall_filter dop_wall_filter;

/* order 4, cutoff 50 Hz: for peripheral arteries at 4-8 MHz this removes
 * wall and tissue motion (below ~20 Hz) by > 40 dB while keeping velocities
 * above ~2-3 cm/s (the gap below is interpolated by the envelope stage). */
DOP_API dop_wall_filter_config dop_wall_filter_config_default(void); /* Errors: none. */

/* Errors: DOP_ERR_INVALID_ARG (cutoff at/above Nyquist, order out of range,
 * fs not positive), DOP_ERR_NOMEM. */
DOP_API dop_status dop_wall_filter_create(const dop_wall_filter_config *cfg, dop_wall_filter **out, dop_error *err);

/* Filter n samples; in == out is allowed. Never allocates. Errors: none. */
DOP_API void dop_wall_filter_push(dop_wall_filter *wf, const float complex *in, float complex *out, size_t n);

/* Power response |H(f)|^2 of the filter at f_hz (two-sided: uses |f|). Errors: none. */
DOP_API double dop_wall_filter_power_gain(const dop_wall_filter *wf, double f_hz);

/* Forget the filter state (as after create). Errors: none. */
DOP_API void dop_wall_filter_reset(dop_wall_filter *wf);
/* NULL is fine. Errors: none. */
DOP_API void dop_wall_filter_destroy(dop_wall_filter *wf);

#ifdef __cplusplus
}
#endif
#endif
