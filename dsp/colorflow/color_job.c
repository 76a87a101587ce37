/* A colour-flow frame from file to results (see color_job.h). The median
 * phase of the flow pixels comes from a histogram of PHASE_BINS bins over
 * (-pi, pi] (resolution 2 pi / 3600 = 0.0017 rad), so memory does not grow
 * with the file; the velocity median follows from it by the Doppler
 * equation, which is monotonic in the phase. */
#include "dopflow/color_job.h"
#include "dopflow/atomic_file.h"
#include "dopflow/ensemble.h"
#include "core/fmt.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PHASE_BINS 3600

dop_color_job dop_color_job_default(void)
{
    dop_color_job job;
    memset(&job, 0, sizeof job);
    /* The estimator's own defaults, in one place (ensemble.c). */
    const dop_ensemble_config est = dop_ensemble_config_default();
    job.ensemble = est.ensemble;
    job.wall_order = est.wall_order;
    job.axial_samples = est.axial_samples;
    job.prf_hz = est.prf_hz;
    job.acq = est.acq;
    job.flow_db = 6.0;
    job.min_correlation = 0.5;
    return job;
}

const char *dop_color_csv_header(void)
{
    return "frame,line,depth_sample,phase_rad,velocity_cm_s,power_db,clutter_db,correlation";
}

typedef struct color_state {
    dop_clarius_raw *raw;
    dop_ensemble *est;
    float complex *line;
    dop_ensemble_pixel *pixels;
    unsigned long *histogram;
    const dop_clarius_raw_info *info;
} color_state;

static void free_state(color_state *s)
{
    dop_clarius_raw_close(s->raw);
    dop_ensemble_destroy(s->est);
    free(s->line);
    free(s->pixels);
    free(s->histogram);
}

static dop_status open_state(const dop_color_job *job, color_state *s, dop_error *err)
{
    memset(s, 0, sizeof *s);
    dop_clarius_raw_config rc = dop_clarius_raw_config_default();
    rc.path = job->path;
    rc.ensemble = job->ensemble;
    dop_status st = dop_clarius_raw_open(&rc, &s->raw, err);
    if (st != DOP_OK) return st;
    s->info = dop_clarius_raw_get_info(s->raw);
    dop_ensemble_config ec = dop_ensemble_config_default();
    ec.ensemble = job->ensemble;
    ec.wall_order = job->wall_order;
    ec.axial_samples = job->axial_samples;
    ec.max_depth = s->info->samples;
    ec.prf_hz = job->prf_hz;
    ec.acq = job->acq;
    if ((st = dop_ensemble_create(&ec, &s->est, err)) != DOP_OK) return st;
    const size_t values = s->info->samples * job->ensemble;
    s->line = malloc(values * sizeof *s->line);
    s->pixels = malloc(s->info->samples * sizeof *s->pixels);
    s->histogram = calloc(PHASE_BINS, sizeof *s->histogram);
    if (!s->line || !s->pixels || !s->histogram)
        return dop_error_set(err, DOP_ERR_NOMEM, "%s: out of memory", job->path);
    return DOP_OK;
}

/* Estimate beam line `b` of frame `f` into s->pixels. */
static dop_status estimate_line(color_state *s, size_t f, size_t b, dop_error *err)
{
    const size_t values = s->info->samples * s->info->ensemble;
    dop_status st = dop_clarius_raw_read_line(s->raw, f, b, s->line, values, err);
    if (st == DOP_OK) st = dop_ensemble_push(s->est, s->line, s->info->samples, s->pixels, err);
    return st;
}

/* Stop if asked, else estimate the next line. */
static dop_status next_line(const dop_color_job *job, color_state *s, size_t f, size_t b, dop_error *err)
{
    if (job->stop && *job->stop) return dop_error_set(err, DOP_ERR_INTERRUPTED, "%s: interrupted", job->path);
    return estimate_line(s, f, b, err);
}

static void write_row(FILE *out, size_t f, size_t b, size_t d, const dop_ensemble_pixel *p)
{
    char row[160], *q = row;
    q += dop_fmt_int(q, (long long)f);
    *q++ = ',';
    q += dop_fmt_int(q, (long long)b);
    *q++ = ',';
    q += dop_fmt_int(q, (long long)d);
    const double values[] = {p->phase_rad, p->velocity_cm_s, p->power_db, p->clutter_db, p->correlation};
    const int precision[] = {4, 3, 2, 2, 4};
    for (int i = 0; i < 5; i++) {
        *q++ = ',';
        if (isfinite(values[i])) q += dop_fmt_fixed(q, values[i], precision[i]);
    }
    *q++ = '\n';
    fwrite(row, 1, (size_t)(q - row), out);
}

/* Median of the histogrammed phases (bin centre). */
static double histogram_median(const unsigned long *h, size_t count)
{
    size_t seen = 0;
    for (int k = 0; k < PHASE_BINS; k++) {
        seen += h[k];
        if (2 * seen >= count) return -M_PI + (k + 0.5) * (2.0 * M_PI / PHASE_BINS);
    }
    return NAN;
}

dop_status dop_color_job_run(const dop_color_job *job, dop_color_report *report, dop_error *err)
{
    dop_color_report local;
    dop_color_report *rep = report ? report : &local;
    memset(rep, 0, sizeof *rep);
    rep->flow_median_phase_rad = rep->flow_median_velocity_cm_s = rep->nyquist_cm_s = NAN;
    if (!job->path) return dop_error_set(err, DOP_ERR_INVALID_ARG, "no input given");
    if (!(job->flow_db > 0.0) || !(job->min_correlation >= 0.0 && job->min_correlation <= 1.0))
        return dop_error_set(err, DOP_ERR_INVALID_ARG, "flow threshold must be > 0 dB and correlation in [0, 1]");
    color_state s;
    dop_atomic_file *csv = NULL;
    dop_status st = open_state(job, &s, err);
    if (st != DOP_OK) goto done;
    rep->input = *s.info;
    const size_t frames = s.info->frames, lines = s.info->beam_lines, depth = s.info->samples;

    /* Pass 1: the strongest filtered power. */
    double max_db = -INFINITY;
    for (size_t f = 0; f < frames; f++)
        for (size_t b = 0; b < lines; b++) {
            if ((st = next_line(job, &s, f, b, err)) != DOP_OK) goto done;
            for (size_t d = 0; d < depth; d++)
                if (s.pixels[d].power_db > max_db) max_db = s.pixels[d].power_db;
        }
    rep->max_power_db = max_db;

    /* Pass 2: the rows and the flow pixels. */
    if (job->csv_path) {
        if ((st = dop_atomic_open(job->csv_path, &csv, err)) != DOP_OK) goto done;
        fprintf(dop_atomic_stream(csv), "%s\n", dop_color_csv_header());
    }
    for (size_t f = 0; f < frames; f++)
        for (size_t b = 0; b < lines; b++) {
            if ((st = next_line(job, &s, f, b, err)) != DOP_OK) goto done;
            for (size_t d = 0; d < depth; d++) {
                const dop_ensemble_pixel *p = &s.pixels[d];
                if (csv) write_row(dop_atomic_stream(csv), f, b, d, p);
                if (p->power_db >= max_db - job->flow_db && p->correlation >= job->min_correlation) {
                    int k = (int)floor((p->phase_rad + M_PI) / (2.0 * M_PI) * PHASE_BINS);
                    s.histogram[k < 0 ? 0 : k >= PHASE_BINS ? PHASE_BINS - 1 : k]++;
                    rep->flow_pixels++;
                }
            }
            rep->pixels += depth;
        }
    if (rep->flow_pixels > 0) rep->flow_median_phase_rad = histogram_median(s.histogram, rep->flow_pixels);
    if (isfinite(job->prf_hz) && isfinite(job->acq.f0_hz)) {
        /* v = c PRF phase / (4 pi f0 cos angle), cm/s; Nyquist at phase = pi. */
        double scale = dop_ensemble_cm_s_per_rad(job->prf_hz, &job->acq);
        rep->nyquist_cm_s = scale * M_PI;
        rep->flow_median_velocity_cm_s = scale * rep->flow_median_phase_rad;
    }
    if (csv) {
        dop_atomic_file *c = csv;
        csv = NULL;
        st = dop_atomic_commit(c, err);
    }
done:
    dop_atomic_abort(csv);
    free_state(&s);
    return st;
}
