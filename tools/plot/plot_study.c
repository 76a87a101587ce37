/* dopflow plot study: the study comparison figure from OUTDIR/conditions.csv
 * (written by dopflow study): one panel per artery, flow by epoch with one
 * line per condition, mean +/- SE error bars, and stars where the adjusted
 * p value is below 0.05 (*), 0.01 (**) or 0.001 (***), the usual
 * convention in physiology journals.
 *
 * Each artery has its own flow scale (brachial tens, femoral hundreds of
 * ml/min). Conditions are dodged sideways so that their error bars do not
 * overlap, and have both a colour (Okabe-Ito, colour-blind safe) and a
 * marker shape, so the figure survives greyscale printing. */
#include "plot.h"

#include <errno.h>
#include <math.h>
#include <plplot.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define STUDY_MAX_NAMES 32
#define STUDY_NAME_MAX 64

typedef struct name_list {
    char names[STUDY_MAX_NAMES][STUDY_NAME_MAX];
    int count;
} name_list;

typedef struct cell {
    int set;
    double mean, se, p_adj, n;
} cell;

typedef struct study_table {
    const char *path;
    int c_artery, c_condition, c_epoch, c_mean, c_sem, c_sd, c_n, c_p;
    name_list arteries, conditions, epochs;
    cell cells[STUDY_MAX_NAMES][STUDY_MAX_NAMES][STUDY_MAX_NAMES]; /* [artery][condition][epoch] */
    size_t rows;
} study_table;

/* Index of name in the list, adding it; -1 when the list is full. */
static int intern(name_list *list, const char *name)
{
    for (int i = 0; i < list->count; i++)
        if (strcmp(list->names[i], name) == 0) return i;
    if (list->count == STUDY_MAX_NAMES) return -1;
    snprintf(list->names[list->count], STUDY_NAME_MAX, "%s", name);
    return list->count++;
}

#define CONDITION_NAME(column) (dop_result_column_of(DOP_RESULT_CONDITIONS, column)->csv_name)

/* The columns of conditions.csv the figure reads (result_schema.h). */
static void find_columns(study_table *t, const char *const *fields, size_t count)
{
    t->c_artery = dop_result_csv_column_of(fields, count, DOP_RESULT_CONDITIONS, DOP_CONDITION_ARTERY);
    t->c_condition = dop_result_csv_column_of(fields, count, DOP_RESULT_CONDITIONS, DOP_CONDITION_CONDITION);
    t->c_epoch = dop_result_csv_column_of(fields, count, DOP_RESULT_CONDITIONS, DOP_CONDITION_EPOCH);
    t->c_mean = dop_result_csv_column_of(fields, count, DOP_RESULT_CONDITIONS, DOP_CONDITION_FLOW_MEAN);
    t->c_sem = dop_result_csv_column_of(fields, count, DOP_RESULT_CONDITIONS, DOP_CONDITION_FLOW_SEM);
    t->c_sd = dop_result_csv_column_of(fields, count, DOP_RESULT_CONDITIONS, DOP_CONDITION_FLOW_SD);
    t->c_n = dop_result_csv_column_of(fields, count, DOP_RESULT_CONDITIONS, DOP_CONDITION_N);
    t->c_p = dop_result_csv_column_of(fields, count, DOP_RESULT_CONDITIONS, DOP_CONDITION_P_ADJUSTED);
}

static dop_status missing_column(const char *path, int missing, dop_error *err)
{
    return dop_error_set(err, DOP_ERR_FORMAT,
                         "%s: no column '%s' (expected the conditions.csv of dopflow study: %s, %s, %s, %s, %s, %s, "
                         "%s, ...)",
                         path, CONDITION_NAME(missing), CONDITION_NAME(DOP_CONDITION_ARTERY),
                         CONDITION_NAME(DOP_CONDITION_CONDITION), CONDITION_NAME(DOP_CONDITION_EPOCH),
                         CONDITION_NAME(DOP_CONDITION_N), CONDITION_NAME(DOP_CONDITION_FLOW_MEAN),
                         CONDITION_NAME(DOP_CONDITION_FLOW_SEM), CONDITION_NAME(DOP_CONDITION_P_ADJUSTED));
}

static dop_status on_row(const char *const *fields, size_t count, size_t row, void *user, dop_error *err)
{
    study_table *t = user;
    if (row == 0) {
        find_columns(t, fields, count);
        const int missing = t->c_artery < 0 ? DOP_CONDITION_ARTERY
                            : t->c_condition < 0 ? DOP_CONDITION_CONDITION
                            : t->c_epoch < 0 ? DOP_CONDITION_EPOCH
                            : t->c_mean < 0 ? DOP_CONDITION_FLOW_MEAN
                            : (t->c_sem < 0 && (t->c_sd < 0 || t->c_n < 0)) ? DOP_CONDITION_FLOW_SEM
                            : -1;
        if (missing >= 0) return missing_column(t->path, missing, err);
        return DOP_OK;
    }
#define FIELD(col) ((col) >= 0 && (size_t)(col) < count ? fields[col] : "")
    int a = intern(&t->arteries, FIELD(t->c_artery));
    int c = intern(&t->conditions, FIELD(t->c_condition));
    int e = intern(&t->epochs, FIELD(t->c_epoch));
    if (a < 0 || c < 0 || e < 0)
        return dop_error_set(err, DOP_ERR_FORMAT, "%s: more than %d arteries, conditions or epochs", t->path,
                             STUDY_MAX_NAMES);
    cell *x = &t->cells[a][c][e];
    x->set = 1;
    x->mean = dop_result_csv_number(FIELD(t->c_mean));
    x->n = dop_result_csv_number(FIELD(t->c_n));
    x->se = dop_result_csv_number(FIELD(t->c_sem));
    if (!isfinite(x->se) && x->n > 0) x->se = dop_result_csv_number(FIELD(t->c_sd)) / sqrt(x->n);
    x->p_adj = dop_result_csv_number(FIELD(t->c_p));
#undef FIELD
    t->rows++;
    return DOP_OK;
}

static const char *stars(double p)
{
    if (!isfinite(p) || p >= 0.05) return NULL;
    return p < 0.001 ? "***" : p < 0.01 ? "**" : "*";
}

/* Marker glyphs, one per condition (with the colour). */
static const char *const markers[PLOT_N_SERIES] = {"●", "■", "▲", "◆", "▼", "⬟", "✚"};

static void draw_panel(const plot_figure *fig, const study_table *t, int a, double lw)
{
    const int ne = t->epochs.count, nc = t->conditions.count;
    double lo = 0.0, hi = -INFINITY;
    for (int c = 0; c < nc; c++)
        for (int e = 0; e < ne; e++) {
            const cell *x = &t->cells[a][c][e];
            if (!x->set || !isfinite(x->mean)) continue;
            double se = isfinite(x->se) ? x->se : 0.0;
            hi = fmax(hi, x->mean + se);
            lo = fmin(lo, x->mean - se);
        }
    if (!isfinite(hi) || hi <= lo) hi = lo + 1.0;
    double span = hi - lo;
    hi += 0.14 * span; /* room for the stars */
    if (lo < 0.0) lo -= 0.05 * span;
    plwind(-0.5, ne - 0.5, lo, hi);

    plcol0(PLOT_COL_GRID);
    plwidth(lw * 0.6);
    const double ystep = plot_nice_step(hi - lo, 6);
    plbox("", 0.0, 0, "g", ystep, 0);
    const double dodge = nc > 1 ? fmin(0.12, 0.6 / nc) : 0.0;
    double star_dy = 0.035 * (hi - lo);
    for (int c = 0; c < nc; c++) {
        double x[STUDY_MAX_NAMES], y[STUDY_MAX_NAMES], ylo[STUDY_MAX_NAMES], yhi[STUDY_MAX_NAMES];
        int colour = PLOT_COL_SERIES + c % PLOT_N_SERIES;
        double off = (c - (nc - 1) / 2.0) * dodge;
        int m = 0;
        for (int e = 0; e < ne; e++) {
            const cell *cl = &t->cells[a][c][e];
            if (!cl->set || !isfinite(cl->mean)) {
                x[m] = e + off, y[m] = NAN, ylo[m] = yhi[m] = NAN;
            } else {
                double se = isfinite(cl->se) ? cl->se : 0.0;
                x[m] = e + off, y[m] = cl->mean, ylo[m] = cl->mean - se, yhi[m] = cl->mean + se;
            }
            m++;
        }
        plcol0(colour);
        plwidth(lw * 1.6);
        plot_line_gapped((size_t)m, x, y);
        plwidth(lw * 1.2);
        plsmin(0.0, 0.8);
        for (int k = 0; k < m; k++)
            if (isfinite(y[k])) plerry(1, &x[k], &ylo[k], &yhi[k]);
        for (int k = 0; k < m; k++)
            if (isfinite(y[k])) plstring(1, &x[k], &y[k], markers[c % PLOT_N_SERIES]);
        for (int e = 0; e < ne; e++) {
            const cell *cl = &t->cells[a][c][e];
            const char *mark = cl->set ? stars(cl->p_adj) : NULL;
            if (mark && isfinite(yhi[e])) plptex(x[e], yhi[e] + star_dy, 1.0, 0.0, 0.5, mark);
        }
    }
    plsmin(0.0, 1.0);
    plwidth(lw);
    plcol0(PLOT_COL_FG);
    plbox("bc", 1.0, 0, "binstv", ystep, 0);
    for (int e = 0; e < ne; e++) {
        char escaped[2 * STUDY_NAME_MAX];
        plot_escape_text(t->epochs.names[e], escaped, sizeof escaped);
        plmtex("b", 1.4, (e + 0.5) / ne, 0.5, escaped);
    }
    plmtex("b", 3.1, 0.5, 0.5, "Epoch");
    char ylabel[64];
    snprintf(ylabel, sizeof ylabel, "Flow (%s)", dop_result_column_of(DOP_RESULT_CONDITIONS, DOP_CONDITION_FLOW_MEAN)->unit);
    plmtex("l", plot_ylabel_disp(fig, lo, hi, ystep), 0.5, 0.5, ylabel);
    char name[2 * STUDY_NAME_MAX];
    plot_escape_text(t->arteries.names[a], name, sizeof name);
    plmtex("t", 0.9, 0.5, 0.5, name);
}

dop_status plot_study(const char *outdir, const char *out, const plot_options *opt_in, dop_error *err)
{
    plot_options opt;
    dop_status status = plot_options_check(opt_in, out, &opt, err);
    if (status != DOP_OK) return status;
    /* OUTDIR, or the conditions.csv itself. */
    char path[4096];
    struct stat st;
    if (stat(outdir, &st) != 0) return dop_error_set(err, DOP_ERR_IO, "%s: cannot open: %s", outdir, strerror(errno));
    if (S_ISDIR(st.st_mode)) snprintf(path, sizeof path, "%s/conditions.csv", outdir);
    else snprintf(path, sizeof path, "%s", outdir);

    study_table *t = calloc(1, sizeof *t);
    if (!t) return dop_error_set(err, DOP_ERR_NOMEM, "out of memory");
    t->path = path;
    status = dop_result_csv_read(path, on_row, t, err);
    if (status == DOP_OK && t->rows == 0)
        status = dop_error_set(err, DOP_ERR_NO_DATA, "%s: no rows (header only)", path);
    const int na = t->arteries.count;
    /* One row of up to three panels, then a near-square grid. */
    const int cols = na <= 3 ? (na > 0 ? na : 1) : (int)ceil(sqrt((double)na));
    const int rows_p = na > 0 ? (na + cols - 1) / cols : 1;
    int width = 0, height = 0;
    if (status == DOP_OK)
        status = plot_check_size(&opt, 200 + 500 * cols, 140 + 440 * rows_p, &width, &height, err);
    plot_figure fig;
    if (status == DOP_OK) status = plot_figure_begin(&fig, out, width, height, err);
    if (status != DOP_OK) {
        free(t);
        return status;
    }
    /* Text sized to the panels rather than the page, so that a grid of
     * panels keeps the proportions of a single one. */
    plot_set_text_px(&fig, fmax(11.0, 0.024 * sqrt((double)width / cols * height / rows_p)));
    const double ch = fig.char_mm;
    const double lw = fmax(1.0, ch / fig.page_h_mm * height / 9.0);
    plot_key keys[PLOT_N_SERIES + 1];
    int nk = 0;
    for (int c = 0; c < t->conditions.count && c < PLOT_N_SERIES; c++)
        keys[nk++] = (plot_key){PLOT_KEY_LINE, PLOT_COL_SERIES + c, lw * 1.6, 1, markers[c], -1, t->conditions.names[c]};
    keys[nk++] = (plot_key){PLOT_KEY_TEXT, PLOT_COL_FG, 0.0, 1, NULL, -1,
                            "mean ± SE;  * p#dadj#u < 0.05, ** < 0.01, *** < 0.001"};
    char title[1100];
    if (opt.title) snprintf(title, sizeof title, "%s", opt.title);
    else {
        /* The study folder's name, not "conditions.csv". */
        char dir[4096];
        snprintf(dir, sizeof dir, "%s", S_ISDIR(st.st_mode) ? outdir : path);
        size_t len = strlen(dir);
        while (len > 1 && dir[len - 1] == '/') dir[--len] = '\0';
        snprintf(title, sizeof title, "%s", plot_basename(dir));
    }
    const double left = 7.6 * ch, right = 1.5 * ch, bottom = 4.6 * ch, hgap = 8.6 * ch, vgap = 6.0 * ch;
    int header_rows = plot_header_rows(&fig, title, keys, nk, fig.page_w_mm - left - right);
    const double top = plot_header_height_mm(&fig, header_rows) + 2.2 * ch; /* and the panel titles */
    double pw = (fig.page_w_mm - left - right - (cols - 1) * hgap) / cols;
    double ph = (fig.page_h_mm - top - bottom - (rows_p - 1) * vgap) / rows_p;
    for (int a = 0; a < na; a++) {
        int r = a / cols, c = a % cols;
        double x0 = left + c * (pw + hgap), y1 = fig.page_h_mm - top - r * (ph + vgap);
        plsvpa(x0, x0 + pw, y1 - ph, y1);
        draw_panel(&fig, t, a, lw);
    }
    plot_header(&fig, title, keys, nk, header_rows, left, right, fig.page_h_mm - top + 2.2 * ch);
    free(t);
    return plot_figure_end(&fig, err);
}
