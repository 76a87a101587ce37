/* dopflow plot flow: volumetric flow and mean velocity over time, per frame
 * (light) and averaged over each beat (dark), with excluded frames shaded
 * and epochs shaded and labelled.
 *
 * Beat averages: from an HDF5 result they are the analysis' own
 * (/beats/flow_ml_min and /beats/tamean_cm_s: time averages over the beat
 * with bridged artifact frames interpolated; rejected beats left out). From
 * a frames CSV they are recomputed as the mean over the frames of each
 * `beat`, leaving out artifact frames (burst, saturated, dropout) and beats
 * with any rejected_beat frame: the same definition without the bridging,
 * so values can differ slightly where artifacts were bridged.
 *
 * Drawn as steps (one level from the beat's onset to the next onset): the
 * honest picture of a per-beat quantity, with no interpolation between
 * beats suggesting changes inside a beat. */
#include "plot.h"

#include <errno.h>
#include <math.h>
#include <plplot.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hdf5.h>

#include "dopflow/records.h"
#include "dopflow/result_csv.h"
#include "dopflow/summary.h"

typedef struct flow_series {
    size_t n, cap;
    double *t, *vmean, *flow, *flags, *beat;   /* per frame; beat = NAN outside beats */
    size_t nb;
    double *b_start, *b_end, *b_flow, *b_vmean, *b_rejected;
    double hop_s;
} flow_series;

static void series_free(flow_series *f)
{
    free(f->t);
    free(f->vmean);
    free(f->flow);
    free(f->flags);
    free(f->beat);
    free(f->b_start);
    free(f->b_end);
    free(f->b_flow);
    free(f->b_vmean);
    free(f->b_rejected);
}

/* ---- input: HDF5 result -------------------------------------------------- */

static dop_status load_h5(const char *path, flow_series *f, dop_error *err)
{
    int64_t file = -1;
    dop_status status = dop_result_h5_open(path, &file, err);
    if (status != DOP_OK) return status;
    size_t n[10] = {0};
    struct {
        dop_result_kind kind;
        int column;
        double **dst;
    } sets[10] = {
        {DOP_RESULT_FRAMES, DOP_FRAME_TIME, &f->t},          {DOP_RESULT_FRAMES, DOP_FRAME_VMEAN, &f->vmean},
        {DOP_RESULT_FRAMES, DOP_FRAME_FLOW, &f->flow},       {DOP_RESULT_FRAMES, DOP_FRAME_FLAGS, &f->flags},
        {DOP_RESULT_FRAMES, DOP_FRAME_BEAT, &f->beat},       {DOP_RESULT_BEATS, DOP_BEAT_START, &f->b_start},
        {DOP_RESULT_BEATS, DOP_BEAT_END, &f->b_end},         {DOP_RESULT_BEATS, DOP_BEAT_FLOW, &f->b_flow},
        {DOP_RESULT_BEATS, DOP_BEAT_TAMEAN, &f->b_vmean},    {DOP_RESULT_BEATS, DOP_BEAT_REJECTED, &f->b_rejected},
    };
    for (int i = 0; i < 10 && status == DOP_OK; i++)
        status = dop_result_h5_read_column(file, path, sets[i].kind, sets[i].column, sets[i].dst, &n[i], err);
    dop_result_h5_close(file);
    if (status != DOP_OK) return status;
    if (n[1] != n[0] || n[2] != n[0] || n[3] != n[0] || n[4] != n[0] || n[6] != n[5] || n[7] != n[5] ||
        n[8] != n[5] || n[9] != n[5])
        return dop_error_set(err, DOP_ERR_FORMAT, "%s: the /frames or /beats datasets differ in length", path);
    f->n = n[0];
    f->nb = n[5];
    for (size_t i = 0; i < f->n; i++)
        if (f->beat[i] < 0) f->beat[i] = NAN;
    return DOP_OK;
}

/* ---- input: frames CSV --------------------------------------------------- */

typedef struct csv_columns {
    int time, vmean, flow, quality, beat;
    char flag_names[32][32];      /* name of each flag bit in the quality column ("" = none) */
    const char *path;
    flow_series *f;
} csv_columns;

/* The quality column: flag names joined by '+' (dop_frame_quality_text).
 * The names are taken from that function, so new flags are understood. */
static unsigned quality_flags(const char *q, char names[32][32])
{
    unsigned flags = 0;
    while (*q) {
        const char *end = strchr(q, '+');
        size_t len = end ? (size_t)(end - q) : strlen(q);
        for (unsigned bit = 0; bit < 32; bit++)
            if (names[bit][0] && strlen(names[bit]) == len && strncmp(names[bit], q, len) == 0) flags |= 1u << bit;
        q += len;
        if (*q == '+') q++;
    }
    return flags;
}

/* "no column 'NAME' (a frames CSV from dopflow analyze --frames has A, B, ...)". */
static dop_status missing_frame_column(const char *path, const int *wanted, int n_wanted, int missing,
                                       dop_error *err)
{
    char names[256] = "";
    size_t used = 0;
    for (int k = 0; k < n_wanted && used < sizeof names; k++)
        used += (size_t)snprintf(names + used, sizeof names - used, "%s%s", k ? ", " : "",
                                 dop_result_column_of(DOP_RESULT_FRAMES, wanted[k])->csv_name);
    return dop_error_set(err, DOP_ERR_FORMAT, "%s: no column '%s' (a frames CSV from dopflow analyze --frames has %s)",
                         path, dop_result_column_of(DOP_RESULT_FRAMES, missing)->csv_name, names);
}

static dop_status on_frame_row(const char *const *fields, size_t count, size_t row, void *user, dop_error *err)
{
    csv_columns *c = user;
    flow_series *f = c->f;
    if (row == 0) {
        static const int wanted[] = {DOP_FRAME_TIME, DOP_FRAME_VMEAN, DOP_FRAME_FLOW, DOP_FRAME_FLAGS, DOP_FRAME_BEAT};
        int *found[] = {&c->time, &c->vmean, &c->flow, &c->quality, &c->beat};
        for (int k = 0; k < 5; k++) *found[k] = dop_result_csv_column_of(fields, count, DOP_RESULT_FRAMES, wanted[k]);
        for (int k = 0; k < 3; k++) /* time, vmean and flow are needed; quality and beat optional */
            if (*found[k] < 0) return missing_frame_column(c->path, wanted, 5, wanted[k], err);
        return DOP_OK;
    }
    if (f->n == f->cap) {
        size_t cap = f->cap ? 2 * f->cap : 4096;
        double **arrays[5] = {&f->t, &f->vmean, &f->flow, &f->flags, &f->beat};
        for (int k = 0; k < 5; k++) {
            double *grown = realloc(*arrays[k], cap * sizeof *grown);
            if (!grown) return dop_error_set(err, DOP_ERR_NOMEM, "%s: out of memory", c->path);
            *arrays[k] = grown;
        }
        f->cap = cap;
    }
#define FIELD(col) ((col) >= 0 && (size_t)(col) < count ? fields[col] : "")
    double t = dop_result_csv_number(FIELD(c->time));
    if (!isfinite(t))
        return dop_error_set(err, DOP_ERR_FORMAT, "%s: row %zu: %s '%s' is not a number", c->path, row + 1,
                             dop_result_column_of(DOP_RESULT_FRAMES, DOP_FRAME_TIME)->csv_name, FIELD(c->time));
    f->t[f->n] = t;
    f->vmean[f->n] = dop_result_csv_number(FIELD(c->vmean));
    f->flow[f->n] = dop_result_csv_number(FIELD(c->flow));
    f->flags[f->n] = c->quality >= 0 ? (double)quality_flags(FIELD(c->quality), c->flag_names) : 0.0;
    f->beat[f->n] = c->beat >= 0 ? dop_result_csv_number(FIELD(c->beat)) : NAN;
#undef FIELD
    f->n++;
    return DOP_OK;
}

/* Beat averages from the frames: mean over the clean frames of each beat. */
static dop_status beats_from_frames(const char *path, flow_series *f, dop_error *err)
{
    size_t nb = 0;
    for (size_t i = 0; i < f->n; i++)
        if (isfinite(f->beat[i]) && (i == 0 || f->beat[i] != f->beat[i - 1])) nb++;
    double **arrays[5] = {&f->b_start, &f->b_end, &f->b_flow, &f->b_vmean, &f->b_rejected};
    for (int k = 0; k < 5; k++) {
        *arrays[k] = malloc((nb + 1) * sizeof **arrays[k]);
        if (!*arrays[k]) return dop_error_set(err, DOP_ERR_NOMEM, "%s: out of memory", path);
    }
    size_t b = 0, i = 0;
    while (i < f->n) {
        if (!isfinite(f->beat[i])) {
            i++;
            continue;
        }
        size_t j = i;
        double sum_flow = 0, sum_v = 0;
        size_t n_flow = 0, n_v = 0;
        int rejected = 0;
        for (; j < f->n && f->beat[j] == f->beat[i]; j++) {
            unsigned fl = (unsigned)f->flags[j];
            if (fl & DOP_FRAME_REJECTED_BEAT) rejected = 1;
            if (fl & DOP_FRAME_ARTIFACT_MASK) continue;
            if (isfinite(f->flow[j])) sum_flow += f->flow[j], n_flow++;
            if (isfinite(f->vmean[j])) sum_v += f->vmean[j], n_v++;
        }
        f->b_start[b] = f->t[i] - f->hop_s / 2.0;
        f->b_end[b] = f->t[j - 1] + f->hop_s / 2.0;
        f->b_flow[b] = n_flow ? sum_flow / (double)n_flow : NAN;
        f->b_vmean[b] = n_v ? sum_v / (double)n_v : NAN;
        f->b_rejected[b] = rejected;
        b++;
        i = j;
    }
    f->nb = b;
    return DOP_OK;
}

static dop_status load_csv(const char *path, flow_series *f, dop_error *err)
{
    csv_columns c = {.path = path, .f = f};
    for (unsigned bit = 0; bit < 32; bit++) {
        dop_frame_quality_text(1u << bit, c.flag_names[bit], sizeof c.flag_names[bit]);
        if (strcmp(c.flag_names[bit], "ok") == 0) c.flag_names[bit][0] = '\0'; /* bit without a name */
    }
    dop_status status = dop_result_csv_read(path, on_frame_row, &c, err);
    if (status != DOP_OK) return status;
    if (f->n == 0) return dop_error_set(err, DOP_ERR_NO_DATA, "%s: no frames (header only)", path);
    f->hop_s = f->n > 1 ? (f->t[f->n - 1] - f->t[0]) / (double)(f->n - 1) : 0.01;
    return beats_from_frames(path, f, err);
}

static dop_status load(const char *path, flow_series *f, dop_error *err)
{
    FILE *probe = fopen(path, "rb");
    if (!probe) return dop_error_set(err, DOP_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    unsigned char sig[8] = {0};
    size_t got = fread(sig, 1, sizeof sig, probe);
    fclose(probe);
    static const unsigned char hdf5_sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    dop_status status;
    if (got == 8 && memcmp(sig, hdf5_sig, 8) == 0) {
        status = load_h5(path, f, err);
        if (status == DOP_OK && f->n == 0) status = dop_error_set(err, DOP_ERR_NO_DATA, "%s: no frames", path);
        if (status == DOP_OK) f->hop_s = f->n > 1 ? (f->t[f->n - 1] - f->t[0]) / (double)(f->n - 1) : 0.01;
    } else {
        status = load_csv(path, f, err);
    }
    return status;
}

/* ---- drawing -------------------------------------------------------------- */

/* Beat averages as steps: (start, v) (end, v) per beat, NAN between beats
 * that do not touch and for rejected beats. Returns the number of points. */
static size_t beat_steps(const flow_series *f, const double *values, double *x, double *y)
{
    size_t m = 0;
    for (size_t b = 0; b < f->nb; b++) {
        if (f->b_rejected[b] != 0.0 || !isfinite(values[b])) continue;
        if (m > 0 && fabs(f->b_start[b] - x[m - 1]) > 1.5 * f->hop_s) {
            x[m] = x[m - 1];
            y[m++] = NAN;
        }
        x[m] = f->b_start[b], y[m++] = values[b];
        x[m] = f->b_end[b], y[m++] = values[b];
    }
    return m;
}

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Range of the clean frames' values (0.5th to 99.5th percentile, so that a
 * few wild frames do not squash the curves) and of the beat averages in
 * [t0, t1], with zero included and a margin. */
static int value_range(const flow_series *f, const double *v, const double *bv, double t0, double t1, double *lo,
                       double *hi)
{
    double a = INFINITY, b = -INFINITY;
    double *tmp = malloc((f->n + 1) * sizeof *tmp);
    size_t m = 0;
    for (size_t i = 0; tmp && i < f->n; i++) {
        if (f->t[i] < t0 || f->t[i] > t1 || !isfinite(v[i])) continue;
        if ((unsigned)f->flags[i] & (DOP_FRAME_ARTIFACT_MASK | DOP_FRAME_REJECTED_BEAT)) continue;
        tmp[m++] = v[i];
    }
    if (m > 0) {
        qsort(tmp, m, sizeof *tmp, compare_double);
        a = tmp[(size_t)(0.005 * (double)(m - 1))];
        b = tmp[(size_t)ceil(0.995 * (double)(m - 1))];
    }
    free(tmp);
    for (size_t k = 0; k < f->nb; k++)
        if (isfinite(bv[k]) && f->b_rejected[k] == 0.0 && f->b_end[k] >= t0 && f->b_start[k] <= t1)
            a = fmin(a, bv[k]), b = fmax(b, bv[k]);
    if (!(b >= a)) return 0;
    a = fmin(a, 0.0), b = fmax(b, 0.0);
    double pad = 0.08 * (b - a);
    if (pad <= 0.0) pad = 1.0;
    *lo = a < 0.0 ? a - pad : 0.0;
    *hi = b + pad;
    return 1;
}

/* Frames left out of the averages: artifacts not bridged, rejected beats. */
static int excluded(unsigned flags)
{
    return (flags & (DOP_FRAME_ARTIFACT_MASK | DOP_FRAME_REJECTED_BEAT)) && !(flags & DOP_FRAME_BRIDGED);
}

static void shade_span(double x0, double x1, double y0, double y1)
{
    PLFLT x[4] = {x0, x1, x1, x0}, y[4] = {y0, y0, y1, y1};
    plfill(4, x, y);
}

typedef struct panel {
    const double *raw, *beat;
    const char *ylabel;
    int colour;
} panel;

/* An epoch label on a white box at the top of the panel, centred on x. */
static void epoch_label(const plot_figure *fig, const char *label, double x, double t0, double t1, double lo,
                        double hi)
{
    PLFLT vx0, vx1, vy0, vy1;
    plgvpd(&vx0, &vx1, &vy0, &vy1);
    double x_per_mm = (t1 - t0) / ((vx1 - vx0) * fig->page_w_mm);
    double y_per_mm = (hi - lo) / ((vy1 - vy0) * fig->page_h_mm);
    double half_w = (plot_text_width_mm(fig, label) / 2.0 + 0.4 * fig->char_mm) * x_per_mm;
    double half_h = 0.75 * fig->char_mm * y_per_mm;
    double y = hi - 1.1 * fig->char_mm * y_per_mm;
    PLFLT bx[4] = {x - half_w, x + half_w, x + half_w, x - half_w};
    PLFLT by[4] = {y - half_h, y - half_h, y + half_h, y + half_h};
    plcol0(PLOT_COL_LABEL_BG);
    plfill(4, bx, by);
    plcol0(PLOT_COL_FG);
    plptex(x, y, 1.0, 0.0, 0.5, label);
}

static void draw_panel(const plot_figure *fig, const flow_series *f, const panel *p, const dop_epoch *epochs,
                       size_t n_epochs, double t0, double t1, int label_epochs, int last, double lw, size_t cols,
                       double *ox, double *oy)
{
    double lo, hi;
    int has_data = value_range(f, p->raw, p->beat, t0, t1, &lo, &hi);
    if (!has_data) lo = 0.0, hi = 1.0;
    /* Room for the epoch labels above the data. */
    if (label_epochs && n_epochs > 0) hi += 0.12 * (hi - lo);
    plwind(t0, t1, lo, hi);

    /* Epochs, alternating colours, labelled at the top of the first panel. */
    for (size_t e = 0; e < n_epochs; e++) {
        double a = fmax(epochs[e].start_s, t0), b = fmin(epochs[e].end_s, t1);
        if (b <= a) continue;
        plcol0(e % 2 ? PLOT_COL_EPOCH2 : PLOT_COL_EPOCH);
        shade_span(a, b, lo, hi);
    }
    /* Frames left out of the averages. */
    plcol0(PLOT_COL_SHADE);
    for (size_t i = 0; i < f->n;) {
        if (!excluded((unsigned)f->flags[i])) {
            i++;
            continue;
        }
        size_t j = i;
        while (j + 1 < f->n && excluded((unsigned)f->flags[j + 1])) j++;
        double a = fmax(f->t[i] - f->hop_s / 2.0, t0), b = fmin(f->t[j] + f->hop_s / 2.0, t1);
        if (b > a) shade_span(a, b, lo, hi);
        i = j + 1;
    }
    /* Grid and zero. */
    plcol0(PLOT_COL_GRID);
    plwidth(lw * 0.6);
    const double xstep = plot_nice_step(t1 - t0, 7), ystep = plot_nice_step(hi - lo, 4);
    plbox("g", xstep, 0, "g", ystep, 0);
    if (lo < 0.0) {
        plcol0(PLOT_COL_FG);
        PLFLT zx[2] = {t0, t1}, zy[2] = {0.0, 0.0};
        plline(2, zx, zy);
    }
    if (has_data) {
        /* In an overview (many frames per pixel) the per-frame curve is a
         * band: lighten it so that the epochs and grid show through. */
        size_t shown = 0;
        for (size_t i = 0; i < f->n; i++) shown += f->t[i] >= t0 && f->t[i] <= t1;
        if ((double)shown / (double)cols > 8.0) plot_set_colour(PLOT_COL_RAW, 0x9DB3C8, 0.55);
        plcol0(PLOT_COL_RAW);
        plwidth(lw * 0.8);
        size_t m = plot_decimate_minmax(f->n, f->t, p->raw, t0, t1, cols, ox, oy);
        plot_line_gapped(m, ox, oy);
        plcol0(p->colour);
        plwidth(lw * 2.0);
        m = beat_steps(f, p->beat, ox, oy);
        plot_line_gapped(m, ox, oy);
    } else {
        plcol0(PLOT_COL_FG);
        plptex((t0 + t1) / 2.0, 0.5, 1.0, 0.0, 0.5, "no vessel diameter: flow not computed");
    }
    for (size_t e = 0; label_epochs && e < n_epochs; e++) {
        double a = fmax(epochs[e].start_s, t0), b = fmin(epochs[e].end_s, t1);
        if (b > a) epoch_label(fig, epochs[e].label, (a + b) / 2.0, t0, t1, lo, hi);
    }
    plwidth(lw);
    plcol0(PLOT_COL_FG);
    plbox(last ? "binst" : "bist", xstep, 0, has_data ? "binstv" : "bi", ystep, 0);
    plbox("c", 0.0, 0, "c", 0.0, 0);
    plmtex("l", has_data ? plot_ylabel_disp(fig, lo, hi, ystep) : 1.5, 0.5, 0.5, p->ylabel);
    if (last) plmtex("b", 3.3, 0.5, 0.5, "Time (s)");
}

/* Fill runs of bridged frames (NAN in v) linearly between their neighbours. */
static void bridge(const flow_series *f, double *v)
{
    for (size_t i = 0; i < f->n;) {
        if (!((unsigned)f->flags[i] & DOP_FRAME_BRIDGED)) {
            i++;
            continue;
        }
        size_t j = i;
        while (j < f->n && ((unsigned)f->flags[j] & DOP_FRAME_BRIDGED)) j++;
        if (i > 0 && j < f->n && isfinite(v[i - 1]) && isfinite(v[j]))
            for (size_t k = i; k < j; k++) {
                double w = (f->t[k] - f->t[i - 1]) / (f->t[j] - f->t[i - 1]);
                v[k] = v[i - 1] + w * (v[j] - v[i - 1]);
            }
        i = j;
    }
}

static dop_status draw(const char *path, const char *out, const plot_options *opt, const flow_series *f,
                       const dop_epoch *epochs, size_t n_epochs, int width, int height, dop_error *err)
{
    double t0 = isfinite(opt->from_s) ? opt->from_s : f->t[0] - f->hop_s / 2.0;
    double t1 = isfinite(opt->to_s) ? opt->to_s : f->t[f->n - 1] + f->hop_s / 2.0;
    if (!isfinite(opt->from_s) && t0 > 0.0 && t0 < 2.0 * f->hop_s) t0 = 0.0; /* axis from 0 */
    if (!(t1 > t0)) t1 = t0 + 1.0;
    plot_figure fig;
    dop_status status = plot_figure_begin(&fig, out, width, height, err);
    if (status != DOP_OK) return status;
    const double ch = fig.char_mm;
    const double lw = fmax(1.0, ch / fig.page_h_mm * height / 9.0);
    const char *title = opt->title ? opt->title : plot_basename(path);
    plot_key keys[3] = {
        {PLOT_KEY_LINE, PLOT_COL_RAW, lw * 1.2, 1, NULL, -1, "per frame"},
        {PLOT_KEY_LINE, PLOT_COL_SERIES, lw * 2.0, 1, NULL, -1, "beat average"},
        {PLOT_KEY_BOX, PLOT_COL_SHADE, 0, 1, NULL, -1, "excluded frames"},
    };
    int nk = 2;
    for (size_t i = 0; i < f->n && nk == 2; i++)
        if (f->t[i] >= t0 && f->t[i] <= t1 && excluded((unsigned)f->flags[i])) nk = 3;
    const double left = 7.6 * ch, right = 2.0 * ch, bottom = 4.6 * ch, gap = 1.0 * ch;
    int rows = plot_header_rows(&fig, title, keys, nk, fig.page_w_mm - left - right);
    const double top = plot_header_height_mm(&fig, rows);
    const double panel_h = (fig.page_h_mm - bottom - top - gap) / 2.0;
    size_t cols = (size_t)fmax(1.0, (fig.page_w_mm - left - right) / fig.page_w_mm * width);
    size_t cap = f->n + 3 * f->nb + 2 * cols + 4;
    double *ox = malloc(2 * cap * sizeof *ox);
    if (!ox) {
        plot_figure_abort(&fig);
        return dop_error_set(err, DOP_ERR_NOMEM, "%s: out of memory", out);
    }
    double *oy = ox + cap;
    /* Per-frame values of artifact frames are the artifact's, not blood's:
     * excluded frames are left out (a gap in the shading), bridged ones are
     * drawn as the analysis counts them, interpolated from their neighbours. */
    double *clean = malloc(2 * (f->n + 1) * sizeof *clean);
    if (!clean) {
        free(ox);
        plot_figure_abort(&fig);
        return dop_error_set(err, DOP_ERR_NOMEM, "%s: out of memory", out);
    }
    for (size_t i = 0; i < f->n; i++) {
        int bad = ((unsigned)f->flags[i] & DOP_FRAME_ARTIFACT_MASK) != 0;
        clean[i] = bad ? NAN : f->flow[i];
        clean[f->n + i] = bad ? NAN : f->vmean[i];
    }
    bridge(f, clean);
    bridge(f, clean + f->n);
    char flow_label[64], vel_label[64]; /* units from the result schema */
    snprintf(flow_label, sizeof flow_label, "Flow (%s)", dop_result_column_of(DOP_RESULT_BEATS, DOP_BEAT_FLOW)->unit);
    snprintf(vel_label, sizeof vel_label, "Mean velocity (%s)",
             dop_result_column_of(DOP_RESULT_BEATS, DOP_BEAT_TAMEAN)->unit);
    panel flow = {clean, f->b_flow, flow_label, PLOT_COL_SERIES};
    panel vel = {clean + f->n, f->b_vmean, vel_label, PLOT_COL_SERIES};
    plot_viewport_mm(&fig, left, right, bottom + panel_h + gap, top);
    draw_panel(&fig, f, &flow, epochs, n_epochs, t0, t1, 1, 0, lw, cols, ox, oy);
    plot_viewport_mm(&fig, left, right, bottom, top + panel_h + gap);
    draw_panel(&fig, f, &vel, epochs, n_epochs, t0, t1, 0, 1, lw, cols, ox, oy);
    free(ox);
    free(clean);
    plot_header(&fig, title, keys, nk, rows, left, right, fig.page_h_mm - top);
    return plot_figure_end(&fig, err);
}

dop_status plot_flow(const char *input, const char *out, const plot_options *opt_in, dop_error *err)
{
    plot_options opt;
    dop_status status = plot_options_check(opt_in, out, &opt, err);
    if (status != DOP_OK) return status;
    int width = 0, height = 0;
    status = plot_check_size(&opt, 1200, 700, &width, &height, err);
    if (status != DOP_OK) return status;
    dop_epoch *epochs = NULL;
    size_t n_epochs = 0;
    if (opt.epochs) {
        status = dop_epochs_parse(opt.epochs, 0.0, &epochs, &n_epochs, err);
        if (status != DOP_OK) return status;
    }
    flow_series f;
    memset(&f, 0, sizeof f);
    status = load(input, &f, err);
    if (status == DOP_OK) status = draw(input, out, &opt, &f, epochs, n_epochs, width, height, err);
    series_free(&f);
    free(epochs);
    return status;
}
