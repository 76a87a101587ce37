/* The colour-flow figure (dopflow plot color): one frame of a colour-flow
 * CSV (dopflow analyze --format clarius --color-csv) as a scanner shows it,
 * beam line across, depth down: the echo power before the wall filter
 * (clutter_db) in grey, and over it, in red (toward the probe) and blue
 * (away), the velocity (or, without PRF and f0, the lag-one phase) of the
 * pixels whose filtered power is within FLOW_DISPLAY_DB of the strongest and
 * whose lag-one correlation is at least MIN_CORRELATION (a scanner's colour
 * gain and its flow/noise decision). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <plplot.h>

#include "plot.h"

#define FLOW_DISPLAY_DB 20.0  /* coloured: filtered power within this of the strongest */
#define MIN_CORRELATION 0.5   /* and |R1|/R0 at least this */
#define GREY_RANGE_DB 60.0    /* echo power shown this far below its maximum */
#define MAX_PIXELS (1u << 24) /* larger frames are refused (memory) */

typedef struct color_frame {
    const char *path;
    int c_frame, c_line, c_depth, c_phase, c_velocity, c_power, c_clutter, c_corr;
    size_t n, cap;
    long *line, *depth;
    double *value, *power, *clutter, *corr;
    int use_velocity;          /* the velocity column holds numbers */
    long lines, depths;        /* grid size: largest index + 1 */
} color_frame;

static void frame_free(color_frame *f)
{
    free(f->line);
    free(f->depth);
    free(f->value);
    free(f->power);
    free(f->clutter);
    free(f->corr);
}

static dop_status on_row(const char *const *fields, size_t count, size_t row, void *user, dop_error *err)
{
    color_frame *f = user;
    if (row == 0) {
        int *cols[] = {&f->c_frame, &f->c_line, &f->c_depth, &f->c_phase, &f->c_velocity, &f->c_power, &f->c_clutter,
                       &f->c_corr};
        const char *names[] = {"frame", "line", "depth_sample", "phase_rad", "velocity_cm_s", "power_db", "clutter_db",
                               "correlation"};
        for (int k = 0; k < 8; k++)
            if ((*cols[k] = dop_result_csv_column(fields, count, names[k])) < 0)
                return dop_error_set(err, DOP_ERR_FORMAT, "%s: no column '%s' (a colour-flow CSV from dopflow analyze "
                                     "--format clarius --color-csv)", f->path, names[k]);
        return DOP_OK;
    }
    if (atol(fields[f->c_frame]) != 0) return DOP_OK; /* the first frame only */
    if (f->n == f->cap) {
        size_t cap = f->cap ? 2 * f->cap : 4096;
        if (cap > MAX_PIXELS)
            return dop_error_set(err, DOP_ERR_FORMAT, "%s: more than %u pixels in a frame: too large to draw", f->path,
                                 MAX_PIXELS);
        long *l = realloc(f->line, cap * sizeof *l);
        if (l) f->line = l;
        long *d = l ? realloc(f->depth, cap * sizeof *d) : NULL;
        if (d) f->depth = d;
        double **arrays[4] = {&f->value, &f->power, &f->clutter, &f->corr};
        int ok = l && d;
        for (int k = 0; k < 4 && ok; k++) {
            double *a = realloc(*arrays[k], cap * sizeof *a);
            if (a) *arrays[k] = a;
            ok = a != NULL;
        }
        if (!ok) return dop_error_set(err, DOP_ERR_NOMEM, "%s: out of memory", f->path);
        f->cap = cap;
    }
    char *end = NULL;
    long line = strtol(fields[f->c_line], &end, 10), depth = strtol(fields[f->c_depth], NULL, 10);
    if (end == fields[f->c_line] || line < 0 || depth < 0 || line >= 65536 || depth >= 65536)
        return dop_error_set(err, DOP_ERR_FORMAT, "%s: row %zu: line and depth_sample must be whole numbers 0..65535",
                             f->path, row + 1);
    const char *velocity = fields[f->c_velocity];
    if (row == 1) f->use_velocity = velocity[0] != '\0';
    f->line[f->n] = line;
    f->depth[f->n] = depth;
    f->value[f->n] = f->use_velocity ? atof(velocity) : atof(fields[f->c_phase]);
    f->power[f->n] = fields[f->c_power][0] ? atof(fields[f->c_power]) : -INFINITY;
    f->clutter[f->n] = fields[f->c_clutter][0] ? atof(fields[f->c_clutter]) : -INFINITY;
    f->corr[f->n] = atof(fields[f->c_corr]);
    if (line + 1 > f->lines) f->lines = line + 1;
    if (depth + 1 > f->depths) f->depths = depth + 1;
    f->n++;
    return DOP_OK;
}

/* Red (toward) - black - blue (away) for the velocity layer. */
static void velocity_colormap(void)
{
    PLFLT pos[5] = {0.0, 0.35, 0.5, 0.65, 1.0};
    PLFLT r[5] = {0.55, 0.0, 0.0, 0.85, 1.0}, g[5] = {0.85, 0.25, 0.0, 0.1, 0.9}, b[5] = {1.0, 0.9, 0.0, 0.0, 0.3};
    plscmap1n(256);
    plscmap1l(1, 5, pos, r, g, b, NULL);
}

static void grey_colormap(void)
{
    PLFLT pos[2] = {0.0, 1.0}, v0[2] = {0.0, 0.85};
    plscmap1n(256);
    plscmap1l(1, 2, pos, v0, v0, v0, NULL);
}

dop_status plot_color(const char *csv_path, const char *out, const plot_options *opt_in, dop_error *err)
{
    plot_options opt;
    dop_status status = plot_options_check(opt_in, out, &opt, err);
    if (status != DOP_OK) return status;
    int width = 0, height = 0;
    status = plot_check_size(&opt, 900, 720, &width, &height, err);
    if (status != DOP_OK) return status;
    color_frame f;
    memset(&f, 0, sizeof f);
    f.path = csv_path;
    status = dop_result_csv_read(csv_path, on_row, &f, err);
    if (status == DOP_OK && f.n == 0) status = dop_error_set(err, DOP_ERR_NO_DATA, "%s: no pixels of frame 0", csv_path);
    if (status != DOP_OK) {
        frame_free(&f);
        return status;
    }
    const size_t cells = (size_t)f.lines * (size_t)f.depths;
    PLFLT *grey_block = malloc(2 * cells * sizeof *grey_block);
    PLFLT **grey = malloc(2 * (size_t)f.lines * sizeof *grey);
    if (!grey_block || !grey) {
        free(grey_block);
        free(grey);
        frame_free(&f);
        return dop_error_set(err, DOP_ERR_NOMEM, "%s: out of memory", out);
    }
    PLFLT **colour = grey + f.lines;
    for (long i = 0; i < f.lines; i++) {
        grey[i] = grey_block + (size_t)i * (size_t)f.depths;
        colour[i] = grey_block + cells + (size_t)i * (size_t)f.depths;
    }
    double max_power = -INFINITY, max_clutter = -INFINITY;
    for (size_t k = 0; k < f.n; k++) {
        if (f.power[k] > max_power) max_power = f.power[k];
        if (f.clutter[k] > max_clutter) max_clutter = f.clutter[k];
    }
    for (size_t k = 0; k < cells; k++) grey_block[k] = max_clutter - GREY_RANGE_DB, grey_block[cells + k] = HUGE_VAL;
    double v_abs = 0.0;
    for (size_t k = 0; k < f.n; k++) {
        grey[f.line[k]][f.depth[k]] = fmax(f.clutter[k], max_clutter - GREY_RANGE_DB);
        if (f.power[k] >= max_power - FLOW_DISPLAY_DB && f.corr[k] >= MIN_CORRELATION && isfinite(f.value[k])) {
            colour[f.line[k]][f.depth[k]] = f.value[k];
            v_abs = fmax(v_abs, fabs(f.value[k]));
        }
    }
    if (!(v_abs > 0.0)) v_abs = 1.0;

    plot_figure fig;
    status = plot_figure_begin(&fig, out, width, height, err);
    if (status == DOP_OK) {
        const double ch = fig.char_mm;
        const char *title = opt.title ? opt.title : plot_basename(csv_path);
        const double left = 6.8 * ch, right = 9.4 * ch, bottom = 4.6 * ch;
        int rows = plot_header_rows(&fig, title, NULL, 0, fig.page_w_mm - left - right);
        const double top = plot_header_height_mm(&fig, rows);
        plot_viewport_mm(&fig, left, right, bottom, top);
        plwind(0.0, (double)f.lines, (double)f.depths, 0.0); /* depth down, as on a scanner */
        grey_colormap();
        plimagefr((PLFLT_MATRIX)grey, (PLINT)f.lines, (PLINT)f.depths, 0.0, (double)f.lines, 0.0, (double)f.depths,
                  max_clutter - GREY_RANGE_DB, max_clutter, max_clutter - GREY_RANGE_DB, max_clutter, NULL, NULL);
        velocity_colormap();
        /* Values outside [zmin, zmax] are not drawn: the grey shows through. */
        plimagefr((PLFLT_MATRIX)colour, (PLINT)f.lines, (PLINT)f.depths, 0.0, (double)f.lines, 0.0, (double)f.depths,
                  -v_abs, v_abs, -v_abs, v_abs, NULL, NULL);
        plcol0(PLOT_COL_FG);
        /* whole-numbered axes: integer tick steps */
        plbox("binst", ceil(plot_nice_step((double)f.lines, 6)), 0, "binstv", ceil(plot_nice_step((double)f.depths, 6)),
              0);
        plbox("c", 0.0, 0, "c", 0.0, 0);
        plmtex("b", 3.3, 0.5, 0.5, "Beam line");
        plmtex("l", 4.6, 0.5, 0.5, "Depth sample");
        plot_header(&fig, title, NULL, 0, rows, left, right, fig.page_h_mm - top);
        const char *axis_opts[1] = {"bcvtm"};
        PLFLT ticks[1] = {plot_nice_step(2.0 * v_abs, 5)};
        PLINT sub_ticks[1] = {0}, n_values[1] = {2};
        PLFLT range[2] = {-v_abs, v_abs};
        const PLFLT *values[1] = {range};
        const double vp_w_mm = fig.page_w_mm - left - right;
        PLFLT cbw, cbh;
        plcolorbar(&cbw, &cbh, PL_COLORBAR_IMAGE, PL_POSITION_RIGHT | PL_POSITION_OUTSIDE | PL_POSITION_VIEWPORT,
                   1.0 * ch / vp_w_mm, 0.0, 1.1 * ch / vp_w_mm, 1.0, 0, PLOT_COL_FG, 1, 0.0, 0.0, 0, 0.0, 0, NULL, NULL,
                   1, axis_opts, ticks, sub_ticks, n_values, values);
        plot_viewport_mm(&fig, left, right, bottom, top);
        plwind(0.0, (double)f.lines, (double)f.depths, 0.0);
        plcol0(PLOT_COL_FG);
        plmtex("r", 2.1 + plot_ylabel_disp(&fig, -v_abs, v_abs, ticks[0]) - 0.9, 0.5, 0.5,
               f.use_velocity ? "Velocity along the beam (cm/s)" : "Lag-one phase (rad)");
        status = plot_figure_end(&fig, err);
    }
    free(grey_block);
    free(grey);
    frame_free(&f);
    return status;
}
