/* dopflow: a colour-flow frame from file to results (what `dopflow analyze
 * FILE --format clarius --color-csv OUT` does).
 *
 * Colour Doppler exports hold short ensembles (8-16 shots per beam line)
 * rather than long slow-time records: too short for a spectrum, long enough
 * for a wall filter and the lag-one autocorrelation. Each beam line of the
 * file (ensemble.h: polynomial-regression wall filter, Kasai phase) gives one
 * CSV row per depth sample; the whole file is read twice, one line at a
 * time (bounded memory): first for the strongest filtered power, then for
 * the rows and the flow summary. A pixel counts as flow when its filtered
 * power is within flow_db of that strongest power and its lag-one
 * correlation is at least min_correlation; the summary gives the median
 * phase and velocity of the flow pixels. */
#ifndef DOPFLOW_COLOR_JOB_H
#define DOPFLOW_COLOR_JOB_H

#include "dopflow/export.h"

#include <signal.h>
#include <stddef.h>

#include "dopflow/acquisition.h"
#include "dopflow/clarius_raw.h"
#include "dopflow/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dop_color_job {
    const char *path;            /* Clarius raw IQ file */
    size_t ensemble;             /* shots per beam line (default 12) */
    int wall_order;              /* regression order (default 1) */
    size_t axial_samples;        /* odd axial window (default 1) */
    double prf_hz;               /* NAN: phases only */
    dop_acquisition acq;         /* f0 (NAN: phases only), angle (default 0: along the beam), c */
    double flow_db;              /* flow pixels: within this of the strongest filtered power (default 6) */
    double min_correlation;      /* and |R1|/R0 at least this (default 0.5) */
    const char *csv_path;        /* rows; NULL = none, "-" = stdout */
    volatile sig_atomic_t *stop; /* when set, stop with DOP_ERR_INTERRUPTED */
} dop_color_job;

typedef struct dop_color_report {
    dop_clarius_raw_info input;
    size_t pixels;               /* rows written */
    double max_power_db;         /* strongest filtered power, dB re full scale^2 */
    size_t flow_pixels;
    double flow_median_phase_rad; /* NAN without flow pixels */
    double flow_median_velocity_cm_s; /* NAN without PRF and f0 */
    double nyquist_cm_s;         /* c PRF / (4 f0 cos angle); NAN when unknown */
} dop_color_report;

DOP_API dop_color_job dop_color_job_default(void);

/* The CSV columns, in order (header line without newline). */
DOP_API const char *dop_color_csv_header(void);

/* Errors: those of the reader and the estimator, DOP_ERR_IO writing,
 * DOP_ERR_INTERRUPTED. On error no output is left behind. */
DOP_API dop_status dop_color_job_run(const dop_color_job *job, dop_color_report *report, dop_error *err);

#ifdef __cplusplus
}
#endif
#endif
