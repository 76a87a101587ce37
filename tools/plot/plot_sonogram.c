/* dopflow plot sonogram: the spectral display of an HDF5 result with its
 * traced envelopes, beat onsets and artifact frames (layout of the input:
 * include/dopflow/h5_writer.h).
 *
 * Time decimation: a long recording has far more spectrogram rows than the
 * figure has pixel columns. Rows are read 256 at a time (hyperslabs) and
 * max-pooled into at most one image column per output pixel: max-pooling
 * keeps the systolic peaks and the spectral edge that the envelopes trace
 * (averaging would pull the edge inward and make a traced envelope look as
 * if it overshoots). The envelopes are reduced the same way to the minimum
 * and maximum per column, so they still sit on the displayed spectrum.
 *
 * Display range: the colour scale ends at the 99.5th percentile of the dB
 * values of the clean (non-artifact) rows shown, so that bursts do not wash
 * the blood signal out, and spans opt->range_db below it. By default that is
 * 55 dB (a typical scanner "dynamic range") but never below the median noise
 * floor the analysis measured (/frames/noise_db, same units): the background
 * then reads dark and the blood signal stands out, as on a well-set scanner.
 * The percentile comes from a 0.1 dB histogram filled while reading, so no
 * second pass or copy of the data is needed. */
#include "plot.h"

#include <math.h>
#include <plplot.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hdf5.h>

#include "dopflow/records.h"

#define SONO_CHUNK_ROWS 256
#define HIST_LO_DB (-400.0)
#define HIST_HI_DB 200.0
#define HIST_STEP_DB 0.1
#define HIST_BINS 6000

/* Envelope colours, chosen to stand out on each colour map, and the veil
 * over excluded frames: a hue the map does not use, so that the veil never
 * reads as signal (grey over the grey map would look like broadband power). */
typedef struct sono_palette {
    unsigned vmax, vmean, onset, zero, veil;
    double veil_alpha;
} sono_palette;

static sono_palette palette_for(plot_colormap cmap)
{
    switch (cmap) {
    case PLOT_CMAP_GREY: return (sono_palette){0xFF3B2F, 0x2FD3FF, 0xFFD400, 0xBBBBBB, 0xC0392B, 0.30};
    case PLOT_CMAP_HOT: return (sono_palette){0x33CCFF, 0x7CFC00, 0xFFFFFF, 0xBBBBBB, 0x2E86DE, 0.35};
    default: return (sono_palette){0xFF4B3A, 0xFFFFFF, 0xFFFFFF, 0xDDDDDD, 0xA0A0A0, 0.35};
    }
}

static void set_colormap(plot_colormap cmap)
{
    /* Anchors of matplotlib's viridis (van der Walt & Smith, 2015) at
     * 0, 1/8, ..., 1; interpolated linearly in RGB. */
    static const double viridis[9][3] = {
        {68, 1, 84},     {72, 40, 120},  {62, 73, 137},  {49, 104, 142}, {38, 130, 142},
        {31, 158, 137},  {53, 183, 121}, {110, 206, 88}, {253, 231, 37},
    };
    static const double hot[4][4] = {{0.0, 0, 0, 0}, {0.4, 230, 0, 0}, {0.75, 255, 210, 0}, {1.0, 255, 255, 255}};
    PLFLT pos[9], r[9], g[9], b[9];
    int n = 0;
    switch (cmap) {
    case PLOT_CMAP_GREY:
        pos[0] = 0.0, r[0] = g[0] = b[0] = 0.0;
        pos[1] = 1.0, r[1] = g[1] = b[1] = 1.0;
        n = 2;
        break;
    case PLOT_CMAP_HOT:
        for (n = 0; n < 4; n++) {
            pos[n] = hot[n][0];
            r[n] = hot[n][1] / 255.0, g[n] = hot[n][2] / 255.0, b[n] = hot[n][3] / 255.0;
        }
        break;
    default:
        for (n = 0; n < 9; n++) {
            pos[n] = n / 8.0;
            r[n] = viridis[n][0] / 255.0, g[n] = viridis[n][1] / 255.0, b[n] = viridis[n][2] / 255.0;
        }
        break;
    }
    plscmap1n(256);
    plscmap1l(1, n, pos, r, g, b, NULL);
}

/* cmap0 slots of this figure (after the shared ones). */
enum {
    COL_VMAX = PLOT_COL_SERIES + PLOT_N_SERIES, COL_VMEAN, COL_ONSET, COL_ZERO, COL_ARTIFACT, COL_REJECTED,
    COL_REJ_ONSET, COL_ART_STRIP, COL_REJ_STRIP, COL_LEGEND_BG, COL_LEGEND_TEXT, COL_VMAX_FAINT, COL_VMEAN_FAINT
};

typedef struct sonogram {
    /* axes */
    size_t rows, bins;        /* whole dataset */
    size_t r0, r1;            /* rows shown [r0, r1) */
    double t_lo, t_hi;        /* time window, s (row edges) */
    double v_lo, v_hi;        /* velocity window shown, cm/s */
    double img_v_lo, img_v_hi; /* velocity edges of the first and last bin, cm/s (the image) */
    double img_x0, img_x1;    /* time edges of the rows shown, s */
    int flip;                 /* velocity stored high to low */
    /* image: nx columns of bins values, column-major as PLplot wants */
    size_t nx;
    PLFLT **z;
    PLFLT *z_block;
    double z_lo, z_hi;        /* colour range, dB */
    /* frame series */
    double *ft, *vmax, *vmean, *flags;
    size_t nf;
    double hop_s;
    double *onset, *rejected;
    size_t nb, nrej;
} sonogram;

static void sonogram_free(sonogram *s)
{
    free(s->z);
    free(s->z_block);
    free(s->ft);
    free(s->vmax);
    free(s->vmean);
    free(s->flags);
    free(s->onset);
    free(s->rejected);
}

/* The velocity axis must be uniform (it is the FFT's bin spacing). */
static dop_status check_velocity_axis(const char *path, const double *v, size_t bins, sonogram *s, dop_error *err)
{
    if (bins < 2) return dop_error_set(err, DOP_ERR_FORMAT, "%s: /velocity_cm_s has fewer than 2 bins", path);
    double dv = (v[bins - 1] - v[0]) / (double)(bins - 1);
    for (size_t j = 1; j < bins; j++)
        if (!isfinite(v[j]) || fabs((v[j] - v[j - 1]) - dv) > 1e-3 * fabs(dv) + 1e-6 || dv == 0.0)
            return dop_error_set(err, DOP_ERR_FORMAT, "%s: /velocity_cm_s is not evenly spaced (bin %zu)", path, j);
    s->flip = dv < 0.0;
    double lo = s->flip ? v[bins - 1] : v[0], hi = s->flip ? v[0] : v[bins - 1];
    s->v_lo = s->img_v_lo = lo - fabs(dv) / 2.0;
    s->v_hi = s->img_v_hi = hi + fabs(dv) / 2.0;
    return DOP_OK;
}

/* Rows [r0, r1) whose time lies in [from, to]. */
static void select_rows(const double *t, size_t n, double from, double to, size_t *r0, size_t *r1)
{
    size_t a = 0, b = n;
    if (isfinite(from))
        while (a < n && t[a] < from) a++;
    if (isfinite(to)) {
        b = a;
        while (b < n && t[b] <= to) b++;
    }
    *r0 = a;
    *r1 = b;
}

static double percentile_from_hist(const uint64_t *hist, uint64_t total, double q)
{
    uint64_t target = (uint64_t)ceil(q * (double)total), seen = 0;
    for (size_t k = 0; k < HIST_BINS; k++) {
        seen += hist[k];
        if (seen >= target && target > 0) return HIST_LO_DB + (k + 1) * HIST_STEP_DB;
    }
    return HIST_HI_DB;
}

static double median_period(const sonogram *s);

/* Read the spectrogram rows [r0, r1) in chunks, max-pool into s->z and fill
 * the dB histogram. In an overview (more than 6 rows per column) each
 * column pools at least 1.2 median beat periods around its centre, the
 * windows of neighbouring columns overlapping: disjoint pools shorter than a
 * beat catch systole in some columns and miss it in others, which shows as
 * a moire of dark stripes at the beat rate. */
static dop_status read_image(const char *path, hid_t dset, sonogram *s, double range_db, double noise_db,
                             dop_error *err)
{
    size_t shown = s->r1 - s->r0;
    size_t nx = s->nx, bins = s->bins;
    dop_status status = DOP_OK;
    float *buf = malloc(SONO_CHUNK_ROWS * bins * sizeof *buf);
    /* Two histograms: rows of clean frames, and all rows (used only when
     * every row shown is an artifact). Bursts would otherwise set the top of
     * the scale and leave the blood signal dim. */
    uint64_t *hist = calloc(2 * HIST_BINS, sizeof *hist);
    uint64_t *hist_all = hist ? hist + HIST_BINS : NULL;
    const int rows_are_frames = s->nf == s->rows;
    unsigned char *filled = calloc(nx, 1);
    s->z = malloc(nx * sizeof *s->z);
    s->z_block = malloc(nx * bins * sizeof *s->z_block);
    hid_t file_space = H5Dget_space(dset);
    hid_t mem_space = H5I_INVALID_HID;
    if (!buf || !hist || !filled || !s->z || !s->z_block) {
        status = dop_error_set(err, DOP_ERR_NOMEM, "%s: out of memory for a %zu x %zu image", path, nx, bins);
        goto done;
    }
    for (size_t c = 0; c < nx; c++) {
        s->z[c] = s->z_block + c * bins;
        for (size_t j = 0; j < bins; j++) s->z[c][j] = -INFINITY;
    }
    const double k_rows = (double)shown / (double)nx; /* rows per column */
    double half = k_rows / 2.0;                        /* rows pooled each side of a column's centre */
    int widen = 0;
    double period = median_period(s);
    if (k_rows > 6.0 && isfinite(period) && s->hop_s > 0.0 && 0.6 * period / s->hop_s > half) {
        half = 0.6 * period / s->hop_s;
        widen = 1;
    }
    uint64_t total = 0, total_all = 0;
    for (size_t r = s->r0; r < s->r1; r += SONO_CHUNK_ROWS) {
        size_t rows = s->r1 - r < SONO_CHUNK_ROWS ? s->r1 - r : SONO_CHUNK_ROWS;
        hsize_t start[2] = {r, 0}, count[2] = {rows, bins};
        if (mem_space >= 0) H5Sclose(mem_space);
        mem_space = H5Screate_simple(2, count, NULL);
        if (file_space < 0 || mem_space < 0 ||
            H5Sselect_hyperslab(file_space, H5S_SELECT_SET, start, NULL, count, NULL) < 0 ||
            H5Dread(dset, H5T_NATIVE_FLOAT, mem_space, file_space, H5P_DEFAULT, buf) < 0) {
            status = dop_error_set(err, DOP_ERR_HDF5, "%s: cannot read /spectrogram rows %zu..%zu", path, r,
                                   r + rows - 1);
            goto done;
        }
        for (size_t k = 0; k < rows; k++) {
            double q = (double)(r + k - s->r0) + 0.5; /* row centre, in rows from r0 */
            size_t c_lo, c_hi;
            if (widen) {
                double a = ceil((q - half) / k_rows - 0.5), b = floor((q + half) / k_rows - 0.5);
                c_lo = a < 0.0 ? 0 : (size_t)a;
                c_hi = b < 0.0 ? 0 : (size_t)b;
                if (c_hi >= nx) c_hi = nx - 1;
            } else {
                c_lo = c_hi = (size_t)((double)(r + k - s->r0) * (double)nx / (double)shown);
                if (c_lo >= nx) c_lo = c_hi = nx - 1;
            }
            const float *row = buf + k * bins;
            const int clean = !rows_are_frames || !((unsigned)s->flags[r + k] & DOP_FRAME_ARTIFACT_MASK);
            for (size_t c = c_lo; c <= c_hi; c++) {
                filled[c] = 1;
                PLFLT *col = s->z[c];
                for (size_t j = 0; j < bins; j++) {
                    double db = isfinite(row[j]) ? row[j] : HIST_LO_DB;
                    size_t jj = s->flip ? bins - 1 - j : j;
                    if (db > col[jj]) col[jj] = db;
                }
            }
            for (size_t j = 0; j < bins; j++) {
                double db = isfinite(row[j]) ? row[j] : HIST_LO_DB;
                long h = lround((db - HIST_LO_DB) / HIST_STEP_DB);
                if (h < 0) h = 0;
                if (h >= HIST_BINS) h = HIST_BINS - 1;
                hist_all[h]++;
                total_all++;
                if (clean) {
                    hist[h]++;
                    total++;
                }
            }
        }
    }
    /* Columns no row fell into (only when rows < pixels, which nx avoids)
     * repeat their left neighbour. */
    for (size_t c = 1; c < nx; c++)
        if (!filled[c]) memcpy(s->z[c], s->z[c - 1], bins * sizeof **s->z);
    s->z_hi = total > 0 ? percentile_from_hist(hist, total, 0.995) : percentile_from_hist(hist_all, total_all, 0.995);
    /* Max-pooling k rows of speckle (exponentially distributed power) raises
     * the expected value by the harmonic number H_k ~ ln k + 0.577: shift
     * the scale by as much, so that the background stays dark and the scale
     * means the same in an overview as in an excerpt. */
    double k = 2.0 * half; /* rows pooled per column */
    double pool_db = k > 1.5 ? 10.0 * log10(log(k) + 0.5772) : 0.0;
    s->z_hi += pool_db;
    if (isnan(range_db)) {
        s->z_lo = s->z_hi - 55.0;
        if (isfinite(noise_db) && noise_db + pool_db > s->z_lo && noise_db + pool_db < s->z_hi - 10.0)
            s->z_lo = noise_db + pool_db;
    } else {
        s->z_lo = s->z_hi - range_db;
    }
    /* plimagefr leaves values outside [zmin, zmax] undrawn: clamp. */
    for (size_t i = 0; i < nx * bins; i++) s->z_block[i] = fmin(fmax(s->z_block[i], s->z_lo), s->z_hi);
done:
    if (mem_space >= 0) H5Sclose(mem_space);
    if (file_space >= 0) H5Sclose(file_space);
    free(buf);
    free(hist);
    free(filled);
    return status;
}

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Velocity window: given, the whole Nyquist range, or (default) what the
 * maximum-velocity envelope of the clean frames shown reaches (its 0.5th to
 * 99.5th percentile; the signed envelope, because the per-direction maxima
 * trace noise in the direction without flow), padded by 15% and never
 * hiding zero, as a sonographer sets scale and baseline so that the
 * waveform fills the display. */
static void velocity_window(sonogram *s, const plot_options *opt)
{
    double nyq_lo = s->v_lo, nyq_hi = s->v_hi;
    if (isfinite(opt->vel_lo_cm_s) && isfinite(opt->vel_hi_cm_s)) {
        s->v_lo = opt->vel_lo_cm_s;
        s->v_hi = opt->vel_hi_cm_s;
        return;
    }
    if (isinf(opt->vel_lo_cm_s) || isinf(opt->vel_hi_cm_s)) return;
    double *fwd = malloc((2 * s->nf + 1) * sizeof *fwd), *rev = fwd ? fwd + s->nf : NULL;
    if (!fwd) return;
    size_t n = 0;
    for (size_t i = 0; i < s->nf; i++) {
        if (s->ft[i] < s->t_lo || s->ft[i] > s->t_hi) continue;
        if (((unsigned)s->flags[i] & (DOP_FRAME_ARTIFACT_MASK | DOP_FRAME_NO_SIGNAL)) != 0) continue;
        if (!isfinite(s->vmax[i])) continue;
        fwd[n] = rev[n] = s->vmax[i];
        n++;
    }
    if (n >= 10) {
        qsort(fwd, n, sizeof *fwd, compare_double);
        qsort(rev, n, sizeof *rev, compare_double);
        double hi = fmax(0.0, fwd[(size_t)(0.995 * (n - 1))]);
        double lo = fmin(0.0, rev[(size_t)(0.005 * (n - 1))]);
        double span = hi - lo;
        if (span > 0.0) {
            hi += 0.15 * span;
            lo -= 0.15 * span;
            /* Keep room on both sides of zero when the input is directional. */
            if (nyq_lo < 0.0) lo = fmin(lo, -0.12 * (hi - lo));
            hi = fmax(hi, 0.12 * (hi - lo));
            s->v_lo = fmax(lo, nyq_lo);
            s->v_hi = fmin(hi, nyq_hi);
        }
    }
    free(fwd);
}

/* Median of values over the clean frames shown (NAN if none). */
static double median_clean(const sonogram *s, const double *values)
{
    double *tmp = malloc((s->nf + 1) * sizeof *tmp);
    if (!tmp) return NAN;
    size_t n = 0;
    for (size_t i = 0; i < s->nf; i++)
        if (s->ft[i] >= s->t_lo && s->ft[i] <= s->t_hi && isfinite(values[i]) &&
            !((unsigned)s->flags[i] & DOP_FRAME_ARTIFACT_MASK))
            tmp[n++] = values[i];
    double median = NAN;
    if (n > 0) {
        qsort(tmp, n, sizeof *tmp, compare_double);
        median = n % 2 ? tmp[n / 2] : 0.5 * (tmp[n / 2 - 1] + tmp[n / 2]);
    }
    free(tmp);
    return median;
}

/* The spectrogram dataset at the HDF5 root (the result schema). */
#define SPECTROGRAM (dop_result_column_of(DOP_RESULT_SPECTRA, DOP_SPECTRA_SPECTROGRAM)->h5_name)

static dop_status load(const char *path, const plot_options *opt, int width, sonogram *s, dop_error *err)
{
    int64_t file = -1;
    double *t = NULL, *v = NULL, *beat_start = NULL, *beat_rej = NULL;
    size_t nt = 0, nv = 0, nbs = 0, nbr = 0, n2 = 0, n3 = 0, n4 = 0;
    hid_t dset = H5I_INVALID_HID, space = H5I_INVALID_HID;
    dop_status status = dop_result_h5_open(path, &file, err);
    if (status != DOP_OK) return status;
    if (H5Lexists((hid_t)file, SPECTROGRAM, H5P_DEFAULT) <= 0) {
        status = dop_error_set(err, DOP_ERR_FORMAT,
                               "%s: no /spectrogram dataset (write one with dopflow analyze --h5)", path);
        goto done;
    }
    if ((status = dop_result_h5_read_column(file, path, DOP_RESULT_SPECTRA, DOP_SPECTRA_TIME, &t, &nt, err)) != DOP_OK) goto done;
    if ((status = dop_result_h5_read_column(file, path, DOP_RESULT_SPECTRA, DOP_SPECTRA_VELOCITY, &v, &nv, err)) != DOP_OK) goto done;
    dset = H5Dopen2((hid_t)file, SPECTROGRAM, H5P_DEFAULT);
    space = dset >= 0 ? H5Dget_space(dset) : H5I_INVALID_HID;
    hsize_t dims[2] = {0, 0};
    if (space < 0 || H5Sget_simple_extent_ndims(space) != 2 || H5Sget_simple_extent_dims(space, dims, NULL) < 0) {
        status = dop_error_set(err, DOP_ERR_FORMAT, "%s: /spectrogram is not a 2-D dataset", path);
        goto done;
    }
    s->rows = (size_t)dims[0];
    s->bins = (size_t)dims[1];
    if (s->bins != nv || s->rows != nt) {
        status = dop_error_set(err, DOP_ERR_FORMAT,
                               "%s: /spectrogram is %zu x %zu but /time_s has %zu and /velocity_cm_s %zu values",
                               path, s->rows, s->bins, nt, nv);
        goto done;
    }
    if ((status = check_velocity_axis(path, v, nv, s, err)) != DOP_OK) goto done;
    if (s->rows == 0) {
        status = dop_error_set(err, DOP_ERR_NO_DATA, "%s: /spectrogram has no rows", path);
        goto done;
    }
    select_rows(t, nt, opt->from_s, opt->to_s, &s->r0, &s->r1);
    if (s->r1 <= s->r0) {
        status = dop_error_set(err, DOP_ERR_NO_DATA, "%s: no spectrogram rows between %g and %g s (data: %.2f to %.2f s)",
                               path, opt->from_s, opt->to_s, t[0], t[nt - 1]);
        goto done;
    }
    s->hop_s = nt > 1 ? (t[nt - 1] - t[0]) / (double)(nt - 1) : 0.01;
    s->t_lo = isfinite(opt->from_s) ? opt->from_s : t[s->r0] - s->hop_s / 2.0;
    if (!isfinite(opt->from_s) && s->t_lo > 0.0 && s->t_lo < 2.0 * s->hop_s) s->t_lo = 0.0; /* axis from 0 */
    s->t_hi = isfinite(opt->to_s) ? opt->to_s : t[s->r1 - 1] + s->hop_s / 2.0;
    if (!(s->t_hi > s->t_lo)) s->t_hi = s->t_lo + s->hop_s;
    s->img_x0 = t[s->r0] - s->hop_s / 2.0;
    s->img_x1 = t[s->r1 - 1] + s->hop_s / 2.0;
    /* The image covers exactly the rows shown; with --from/--to it is placed
     * at their times and the window may extend beyond the data. */
    size_t shown = s->r1 - s->r0;
    s->nx = shown < (size_t)width ? shown : (size_t)width;
    if ((status = dop_result_h5_read_column(file, path, DOP_RESULT_FRAMES, DOP_FRAME_TIME, &s->ft, &s->nf, err)) != DOP_OK) goto done;
    if ((status = dop_result_h5_read_column(file, path, DOP_RESULT_FRAMES, DOP_FRAME_VMAX, &s->vmax, &n2, err)) != DOP_OK) goto done;
    if ((status = dop_result_h5_read_column(file, path, DOP_RESULT_FRAMES, DOP_FRAME_VMEAN, &s->vmean, &n3, err)) != DOP_OK) goto done;
    if ((status = dop_result_h5_read_column(file, path, DOP_RESULT_FRAMES, DOP_FRAME_FLAGS, &s->flags, &n4, err)) != DOP_OK) goto done;
    if (n2 != s->nf || n3 != s->nf || n4 != s->nf) {
        status = dop_error_set(err, DOP_ERR_FORMAT, "%s: the /frames datasets differ in length", path);
        goto done;
    }
    double *noise = NULL;
    size_t nn = 0;
    if ((status = dop_result_h5_read_column(file, path, DOP_RESULT_FRAMES, DOP_FRAME_NOISE, &noise, &nn, err)) != DOP_OK) goto done;
    double noise_db = nn == s->nf ? median_clean(s, noise) : NAN;
    free(noise);
    if ((status = dop_result_h5_read_column(file, path, DOP_RESULT_BEATS, DOP_BEAT_START, &beat_start, &nbs, err)) != DOP_OK) goto done;
    if ((status = dop_result_h5_read_column(file, path, DOP_RESULT_BEATS, DOP_BEAT_REJECTED, &beat_rej, &nbr, err)) != DOP_OK) goto done;
    /* Onsets split into accepted and rejected beats. */
    s->onset = malloc((nbs + 1) * sizeof *s->onset);
    s->rejected = malloc((nbs + 1) * sizeof *s->rejected);
    if (!s->onset || !s->rejected) {
        status = dop_error_set(err, DOP_ERR_NOMEM, "%s: out of memory", path);
        goto done;
    }
    for (size_t i = 0; i < nbs; i++) {
        if (i < nbr && beat_rej[i] != 0.0) s->rejected[s->nrej++] = beat_start[i];
        else s->onset[s->nb++] = beat_start[i];
    }
    if ((status = read_image(path, dset, s, opt->range_db, noise_db, err)) != DOP_OK) goto done;
    velocity_window(s, opt);
done:
    if (space >= 0) H5Sclose(space);
    if (dset >= 0) H5Dclose(dset);
    dop_result_h5_close(file);
    free(t);
    free(v);
    free(beat_start);
    free(beat_rej);
    return status;
}

/* Shade runs of frames whose flags match `mask`, over [y0, y1]. */
static void shade_runs(const sonogram *s, unsigned mask, unsigned exclude, double y0, double y1)
{
    size_t i = 0;
    while (i < s->nf) {
        unsigned f = (unsigned)s->flags[i];
        if (!(f & mask) || (f & exclude)) {
            i++;
            continue;
        }
        size_t j = i;
        while (j + 1 < s->nf && ((unsigned)s->flags[j + 1] & mask) && !((unsigned)s->flags[j + 1] & exclude)) j++;
        double a = fmax(s->ft[i] - s->hop_s / 2.0, s->t_lo), b = fmin(s->ft[j] + s->hop_s / 2.0, s->t_hi);
        if (b > a) {
            PLFLT x[4] = {a, b, b, a}, y[4] = {y0, y0, y1, y1};
            plfill(4, x, y);
        }
        i = j + 1;
    }
}

/* Short ticks hanging from the top edge at each time in t. */
static void onset_ticks(const double *t, size_t n, double t_lo, double t_hi, double y_top, double len)
{
    for (size_t i = 0; i < n; i++) {
        if (t[i] < t_lo || t[i] > t_hi) continue;
        PLFLT x[2] = {t[i], t[i]}, y[2] = {y_top, y_top - len};
        plline(2, x, y);
    }
}

static int count_flagged(const sonogram *s, unsigned mask, unsigned exclude)
{
    for (size_t i = 0; i < s->nf; i++) {
        unsigned f = (unsigned)s->flags[i];
        if ((f & mask) && !(f & exclude) && s->ft[i] >= s->t_lo && s->ft[i] <= s->t_hi) return 1;
    }
    return 0;
}

/* Median beat period of the onsets shown, s (NAN with fewer than 3). */
static double median_period(const sonogram *s)
{
    if (s->nb < 3) return NAN;
    double *d = malloc(s->nb * sizeof *d);
    if (!d) return NAN;
    size_t m = 0;
    for (size_t i = 1; i < s->nb; i++)
        if (s->onset[i] >= s->t_lo && s->onset[i] <= s->t_hi) d[m++] = s->onset[i] - s->onset[i - 1];
    double med = NAN;
    if (m > 0) {
        qsort(d, m, sizeof *d, compare_double);
        med = d[m / 2];
    }
    free(d);
    return med;
}

/* The overview of the envelopes when a beat is only a few pixels wide: per
 * pixel column, over a window of at least 3 beats centred on it (fewer ripples at the beat rate), the 98th
 * and 2nd percentiles of Vmax (peak-systolic and end-diastolic traces,
 * robust to single wild frames) and the mean of Vmean (its trend). */
static void overview_traces(const sonogram *s, const double *vmax, const double *vmean, size_t cols, double lw,
                            double *ox, double *oy)
{
    double col_w = (s->t_hi - s->t_lo) / (double)cols;
    double period = median_period(s);
    double w = fmax(col_w, 3.0 * (isfinite(period) ? period : 1.0));
    double *buf = malloc((s->nf + 1) * sizeof *buf);
    double *hi = malloc(3 * cols * sizeof *hi);
    if (!buf || !hi) {
        free(buf);
        free(hi);
        return;
    }
    double *lo = hi + cols, *mean = lo + cols;
    size_t start = 0;
    for (size_t c = 0; c < cols; c++) {
        double xc = s->t_lo + ((double)c + 0.5) * col_w;
        while (start < s->nf && s->ft[start] < xc - w / 2.0) start++;
        size_t m = 0, nm = 0;
        double sum = 0.0;
        for (size_t i = start; i < s->nf && s->ft[i] <= xc + w / 2.0; i++) {
            if (isfinite(vmax[i])) buf[m++] = vmax[i];
            if (isfinite(vmean[i])) sum += vmean[i], nm++;
        }
        ox[c] = xc;
        if (m > 0) {
            qsort(buf, m, sizeof *buf, compare_double);
            hi[c] = buf[(size_t)(0.98 * (double)(m - 1))];
            lo[c] = buf[(size_t)(0.02 * (double)(m - 1))];
        } else {
            hi[c] = lo[c] = NAN;
        }
        mean[c] = nm ? sum / (double)nm : NAN;
    }
    const double *traces[3] = {hi, lo, mean};
    const int colours[3] = {COL_VMAX, COL_VMAX, COL_VMEAN};
    for (int k = 0; k < 3; k++) {
        memcpy(oy, traces[k], cols * sizeof *oy);
        plwidth(lw * 1.1);
        plcol0(colours[k]);
        plot_line_gapped(cols, ox, oy);
    }
    free(buf);
    free(hi);
}

/* The figure's colours: the palette's traces and veils, the colour map. */
static void set_colours(const plot_options *opt)
{
    sono_palette pal = palette_for(opt->colormap);
    plot_set_colour(COL_VMAX, pal.vmax, 1.0);
    plot_set_colour(COL_VMEAN, pal.vmean, 1.0);
    plot_set_colour(COL_ONSET, pal.onset, 0.95);
    plot_set_colour(COL_ZERO, pal.zero, 0.7);
    plot_set_colour(COL_VMAX_FAINT, pal.vmax, 0.45);
    plot_set_colour(COL_VMEAN_FAINT, pal.vmean, 0.45);
    plot_set_colour(COL_ARTIFACT, pal.veil, pal.veil_alpha);
    plot_set_colour(COL_REJECTED, pal.veil, 0.6 * pal.veil_alpha);
    plot_set_colour(COL_REJ_ONSET, 0xFF9900, 1.0);
    plot_set_colour(COL_ART_STRIP, 0xE8453C, 1.0);
    plot_set_colour(COL_REJ_STRIP, 0xFF9900, 1.0);
    plot_set_colour(COL_LEGEND_BG, opt->colormap == PLOT_CMAP_VIRIDIS ? 0x31275A : 0x202020, 1.0);
    plot_set_colour(COL_LEGEND_TEXT, 0xFFFFFF, 1.0);
    set_colormap(opt->colormap);
}

/* The legend: the traces, and the excluded frames when there are any;
 * returns the number of keys (at most 5). */
static int legend_keys(const sonogram *s, double lw, plot_key keys[5])
{
    int nk = 0;
    keys[nk++] = (plot_key){PLOT_KEY_LINE, COL_VMAX, lw * 1.6, 1, NULL, COL_LEGEND_BG, "V#dmax#u"};
    keys[nk++] = (plot_key){PLOT_KEY_LINE, COL_VMEAN, lw * 1.6, 1, NULL, COL_LEGEND_BG, "V#dmean#u"};
    keys[nk++] = (plot_key){PLOT_KEY_LINE, COL_ONSET, lw * 1.6, 1, NULL, COL_LEGEND_BG, "beat onset"};
    if (count_flagged(s, DOP_FRAME_ARTIFACT_MASK, 0))
        keys[nk++] = (plot_key){PLOT_KEY_BOX, COL_ART_STRIP, 0, 1, NULL, -1, "artifact"};
    if (count_flagged(s, DOP_FRAME_REJECTED_BEAT, DOP_FRAME_ARTIFACT_MASK) || s->nrej > 0)
        keys[nk++] = (plot_key){PLOT_KEY_BOX, COL_REJ_STRIP, 0, 1, NULL, -1, "rejected beat"};
    return nk;
}

/* Excluded frames: a veil over the spectrum and a strip along the bottom;
 * then the zero-velocity line (dashed) when it is in view. */
static void draw_excluded_and_zero(const sonogram *s, double lw)
{
    const double strip = 0.035 * (s->v_hi - s->v_lo);
    plcol0(COL_ARTIFACT);
    shade_runs(s, DOP_FRAME_ARTIFACT_MASK, 0, s->v_lo, s->v_hi);
    plcol0(COL_REJECTED);
    shade_runs(s, DOP_FRAME_REJECTED_BEAT, DOP_FRAME_ARTIFACT_MASK, s->v_lo, s->v_hi);
    plcol0(COL_ART_STRIP);
    shade_runs(s, DOP_FRAME_ARTIFACT_MASK, 0, s->v_lo, s->v_lo + strip);
    plcol0(COL_REJ_STRIP);
    shade_runs(s, DOP_FRAME_REJECTED_BEAT, DOP_FRAME_ARTIFACT_MASK, s->v_lo, s->v_lo + strip);

    plcol0(COL_ZERO);
    plwidth(lw * 0.8);
    pllsty(2);
    PLFLT zx[2] = {s->t_lo, s->t_hi}, zy[2] = {0.0, 0.0};
    if (s->v_lo < 0.0 && s->v_hi > 0.0) plline(2, zx, zy);
    pllsty(1);
}

/* Envelopes, reduced to min/max per pixel column (cols columns). In
 * artifact frames the envelopes trace the artifact: drawn thin and faint
 * there, full strength where the frame is clean. -1 when out of memory. */
static int draw_envelopes(const sonogram *s, size_t cols, double lw)
{
    double *ox = malloc((4 * (s->nf + cols) + 2 * s->nf) * sizeof *ox);
    if (!ox) return -1;
    double *oy = ox + 2 * (s->nf + cols), *clean_max = oy + 2 * (s->nf + cols), *clean_mean = clean_max + s->nf;
    for (size_t i = 0; i < s->nf; i++) {
        int bad = ((unsigned)s->flags[i] & DOP_FRAME_ARTIFACT_MASK) != 0;
        clean_max[i] = bad ? NAN : s->vmax[i];
        clean_mean[i] = bad ? NAN : s->vmean[i];
    }
    /* Frames shown per pixel column: with more than 8 (a beat narrower than
     * ~10 px) the waveform cannot be resolved, and a min/max band would
     * cover the spectrum: draw the outline of Vmax (its maximum and minimum
     * per column: peak systolic and end-diastolic traces) and the trend of
     * Vmean (its mean per column) instead. */
    size_t shown = 0;
    for (size_t i = 0; i < s->nf; i++) shown += s->ft[i] >= s->t_lo && s->ft[i] <= s->t_hi;
    if ((double)shown / (double)cols <= 8.0) {
        const double *series[4] = {s->vmean, s->vmax, clean_mean, clean_max};
        const int colours[4] = {COL_VMEAN_FAINT, COL_VMAX_FAINT, COL_VMEAN, COL_VMAX};
        const double widths[4] = {0.7, 0.7, 1.1, 1.1};
        for (int k = 0; k < 4; k++) {
            plwidth(lw * widths[k]);
            plcol0(colours[k]);
            size_t m = plot_decimate_minmax(s->nf, s->ft, series[k], s->t_lo, s->t_hi, cols, ox, oy);
            plot_line_gapped(m, ox, oy);
        }
    } else {
        overview_traces(s, clean_max, clean_mean, cols, lw, ox, oy);
    }
    free(ox);
    return 0;
}

/* Beat onsets: ticks hanging from the top edge; thin when they are dense
 * (a long recording), so that a missed beat still shows as a gap. */
static void draw_onsets(const sonogram *s, size_t cols, double lw)
{
    const double span_v = s->v_hi - s->v_lo;
    double px_per_beat = s->nb > 1 ? (double)cols * (s->onset[s->nb - 1] - s->onset[0]) /
                                         ((double)(s->nb - 1) * (s->t_hi - s->t_lo))
                                   : 100.0;
    plwidth(px_per_beat < 6.0 ? 0.6 : lw * 1.6);
    plcol0(COL_ONSET);
    onset_ticks(s->onset, s->nb, s->t_lo, s->t_hi, s->v_hi, 0.05 * span_v);
    plcol0(COL_REJ_ONSET);
    onset_ticks(s->rejected, s->nrej, s->t_lo, s->t_hi, s->v_hi, 0.05 * span_v);
}

/* Page margins and header height, mm. */
typedef struct sono_layout {
    double left, right, bottom, top;
} sono_layout;

/* Colour bar: dB, its own axis on the right. Its title is placed here
 * rather than by plcolorbar, which sets it too close to the tick labels at
 * small sizes. */
static void draw_colour_bar(const plot_figure *fig, const sonogram *s, const sono_layout *lay)
{
    const double ch = fig->char_mm;
    const char *axis_opts[1] = {"bcvtm"};
    PLFLT ticks[1] = {plot_nice_step(s->z_hi - s->z_lo, 5)};
    PLINT sub_ticks[1] = {0};
    PLINT n_values[1] = {2};
    PLFLT range[2] = {s->z_lo, s->z_hi};
    const PLFLT *values[1] = {range};
    double vp_w_mm = fig->page_w_mm - lay->left - lay->right;
    const double bar_off = 1.0, bar_w = 1.1; /* character heights */
    PLFLT cbw, cbh;
    plcolorbar(&cbw, &cbh, PL_COLORBAR_IMAGE, PL_POSITION_RIGHT | PL_POSITION_OUTSIDE | PL_POSITION_VIEWPORT,
               bar_off * ch / vp_w_mm, 0.0, bar_w * ch / vp_w_mm, 1.0, 0, PLOT_COL_FG, 1, 0.0, 0.0, 0, 0.0, 0, NULL,
               NULL, 1, axis_opts, ticks, sub_ticks, n_values, values);
    double label_disp = bar_off + bar_w + plot_ylabel_disp(fig, s->z_lo, s->z_hi, ticks[0]) - 0.9;
    plot_viewport_mm(fig, lay->left, lay->right, lay->bottom, lay->top);
    plwind(s->t_lo, s->t_hi, s->v_lo, s->v_hi);
    plcol0(PLOT_COL_FG);
    plmtex("r", label_disp, 0.5, 0.5, "Power (dB re FS#u2#d/Hz)");
}

static dop_status draw(const char *path, const char *out, const plot_options *opt, const sonogram *s, int width,
                       int height, dop_error *err)
{
    plot_figure fig;
    dop_status status = plot_figure_begin(&fig, out, width, height, err);
    if (status != DOP_OK) return status;
    set_colours(opt);

    const double ch = fig.char_mm;
    const double lw = fmax(1.0, ch / fig.page_h_mm * height / 9.0); /* line width ~ 1/9 of the text height */
    const char *title = opt->title ? opt->title : plot_basename(path);
    plot_key keys[5];
    int nk = legend_keys(s, lw, keys);
    sono_layout lay = {6.8 * ch, 9.4 * ch, 4.6 * ch, 0.0};
    int rows = plot_header_rows(&fig, title, keys, nk, fig.page_w_mm - lay.left - lay.right);
    lay.top = plot_header_height_mm(&fig, rows);
    plot_viewport_mm(&fig, lay.left, lay.right, lay.bottom, lay.top);
    plwind(s->t_lo, s->t_hi, s->v_lo, s->v_hi);

    plimagefr((PLFLT_MATRIX)s->z, (PLINT)s->nx, (PLINT)s->bins, s->img_x0, s->img_x1, s->img_v_lo, s->img_v_hi, s->z_lo,
              s->z_hi, s->z_lo, s->z_hi, NULL, NULL);
    draw_excluded_and_zero(s, lw);
    PLFLT xmin_d, xmax_d, ymin_d, ymax_d;
    plgvpd(&xmin_d, &xmax_d, &ymin_d, &ymax_d);
    size_t cols = (size_t)fmax(1.0, (xmax_d - xmin_d) * width);
    if (draw_envelopes(s, cols, lw) != 0) {
        plot_figure_abort(&fig);
        return dop_error_set(err, DOP_ERR_NOMEM, "%s: out of memory", out);
    }
    draw_onsets(s, cols, lw);

    /* Axes. */
    plwidth(lw);
    plcol0(PLOT_COL_FG);
    const double span_v = s->v_hi - s->v_lo;
    double vstep = plot_nice_step(span_v, 5);
    plbox("binst", plot_nice_step(s->t_hi - s->t_lo, 7), 0, "binstv", vstep, 0);
    plbox("c", 0.0, 0, "c", 0.0, 0);
    plmtex("b", 3.3, 0.5, 0.5, "Time (s)");
    plmtex("l", plot_ylabel_disp(&fig, s->v_lo, s->v_hi, vstep), 0.5, 0.5, "Velocity (cm/s)");
    plot_header(&fig, title, keys, nk, rows, lay.left, lay.right, fig.page_h_mm - lay.top);
    draw_colour_bar(&fig, s, &lay);
    return plot_figure_end(&fig, err);
}

dop_status plot_sonogram(const char *h5_path, const char *out, const plot_options *opt_in, dop_error *err)
{
    plot_options opt;
    dop_status status = plot_options_check(opt_in, out, &opt, err);
    if (status != DOP_OK) return status;
    int width = 0, height = 0;
    status = plot_check_size(&opt, 1200, 560, &width, &height, err);
    if (status != DOP_OK) return status;
    if (!isnan(opt.range_db) && !(opt.range_db >= 10.0 && opt.range_db <= 200.0))
        return dop_error_set(err, DOP_ERR_INVALID_ARG, "dynamic range %g dB is outside 10..200", opt.range_db);
    sonogram s;
    memset(&s, 0, sizeof s);
    status = load(h5_path, &opt, width, &s, err);
    if (status == DOP_OK) status = draw(h5_path, out, &opt, &s, width, height, err);
    sonogram_free(&s);
    return status;
}
