/* dopflow figures: what the three figure kinds share (output, page, colours,
 * decimation, HDF5 reading).
 *
 * Why PLplot (with its cairo driver) rather than cairo directly: the figures
 * are mostly axes, ticks, labels, colour bars, legends and error bars, which
 * PLplot draws (plbox, plcolorbar, pllegend, plerry) and cairo does not;
 * with cairo alone we would be writing a plotting library by hand. PLplot's
 * cairo driver gives PNG, SVG and PDF from the same calls, with antialiased
 * lines and real fonts through pango, and renders images (plimagefr) as one
 * raster, so the spectrogram is crisp without cell seams and SVG/PDF stay
 * small. Its costs: global state (one thread; a stream per figure here) and
 * plexit() calling exit() on fatal internal errors (an exit handler below
 * removes the temporary figure first). Both are Debian packages
 * (libplplot-dev, plplot-driver-cairo).
 *
 * Page coordinates: PLplot measures the page in millimetres; margins here are
 * given in character heights (fig->char_mm) so that labels never collide with
 * the tick labels at any figure size. */
#include "plot.h"

#include <errno.h>
#include <math.h>
#include <plplot.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cli.h"
#include "dopflow/atomic_file.h"

plot_options plot_options_default(void)
{
    plot_options opt = {
        .width_px = 0,
        .height_px = 0,
        .from_s = NAN,
        .to_s = NAN,
        .epochs = NULL,
        .colormap = PLOT_CMAP_VIRIDIS,
        .range_db = NAN,
        .vel_lo_cm_s = NAN,
        .vel_hi_cm_s = NAN,
        .title = NULL,
    };
    return opt;
}

plot_format plot_format_for_path(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    const char *dot = strrchr(base, '.');
    if (!dot || dot == base) return PLOT_FORMAT_UNKNOWN;
    if (strcasecmp(dot, ".png") == 0) return PLOT_FORMAT_PNG;
    if (strcasecmp(dot, ".svg") == 0) return PLOT_FORMAT_SVG;
    if (strcasecmp(dot, ".pdf") == 0) return PLOT_FORMAT_PDF;
    return PLOT_FORMAT_UNKNOWN;
}

int plot_colormap_parse(const char *name, plot_colormap *out)
{
    if (strcmp(name, "viridis") == 0) *out = PLOT_CMAP_VIRIDIS;
    else if (strcmp(name, "grey") == 0 || strcmp(name, "gray") == 0) *out = PLOT_CMAP_GREY;
    else if (strcmp(name, "hot") == 0) *out = PLOT_CMAP_HOT;
    else return -1;
    return 0;
}

int plot_error_is_output(const char *out, const dop_error *err)
{
    if (!out || !err) return 0;
    size_t n = strlen(out);
    return n > 0 && strncmp(err->message, out, n) == 0 && err->message[n] == ':';
}

void plot_escape_text(const char *in, char *out, size_t size)
{
    size_t k = 0;
    for (; *in && k + 2 < size; in++) {
        if (*in == '#') out[k++] = '#';
        out[k++] = *in;
    }
    out[k] = '\0';
}

const char *plot_basename(const char *path)
{
    const char *slash = strrchr(path, '/');
    return (slash && slash[1]) ? slash + 1 : path;
}

dop_status plot_options_check(const plot_options *opt_in, const char *out, plot_options *opt, dop_error *err)
{
    *opt = opt_in ? *opt_in : plot_options_default();
    if (plot_format_for_path(out) == PLOT_FORMAT_UNKNOWN)
        return dop_error_set(err, DOP_ERR_INVALID_ARG,
                             "%s: unknown figure format: the name must end in .png, .svg or .pdf", out);
    if (isfinite(opt->from_s) && isfinite(opt->to_s) && !(opt->to_s > opt->from_s))
        return dop_error_set(err, DOP_ERR_INVALID_ARG, "--to (%g s) must be after --from (%g s)", opt->to_s,
                             opt->from_s);
    return DOP_OK;
}

dop_status plot_check_size(const plot_options *opt, int def_w, int def_h, int *w, int *h, dop_error *err)
{
    *w = opt->width_px > 0 ? opt->width_px : def_w;
    *h = opt->height_px > 0 ? opt->height_px : def_h;
    if (opt->width_px < 0 || opt->height_px < 0 || *w < PLOT_MIN_SIZE || *w > PLOT_MAX_SIZE || *h < PLOT_MIN_SIZE ||
        *h > PLOT_MAX_SIZE)
        return dop_error_set(err, DOP_ERR_INVALID_ARG, "figure size %d x %d is outside %d..%d", *w, *h, PLOT_MIN_SIZE,
                             PLOT_MAX_SIZE);
    return DOP_OK;
}

/* ---- the page ------------------------------------------------------------ */

/* PLplot calls exit() after a fatal internal error: remove the temporary
 * figure first so that no partial output is left, and exit with "internal". */
static const char *exit_temp_path;

static int on_plplot_exit(const char *message)
{
    if (exit_temp_path) unlink(exit_temp_path);
    fprintf(stderr, "dopflow plot: PLplot: %s\n", message ? message : "fatal error");
    return CLI_EXIT_INTERNAL;
}

static const char *device_for(plot_format format)
{
    switch (format) {
    case PLOT_FORMAT_PNG: return "pngcairo";
    case PLOT_FORMAT_SVG: return "svgcairo";
    case PLOT_FORMAT_PDF: return "pdfcairo";
    default: return NULL;
    }
}

/* Is the PLplot driver installed? (plinit would otherwise prompt on stdin.) */
static int device_available(const char *device)
{
    const char **menu = NULL, **names = NULL;
    int n = 64;
    menu = calloc((size_t)n, sizeof *menu);
    names = calloc((size_t)n, sizeof *names);
    if (!menu || !names) {
        free(menu);
        free(names);
        return 0;
    }
    plgDevs(&menu, &names, &n);
    int found = 0;
    for (int i = 0; i < n; i++)
        if (names[i] && strcmp(names[i], device) == 0) found = 1;
    free(menu);
    free(names);
    return found;
}

void plot_set_colour(int index, unsigned rgb, double alpha)
{
    plscol0a(index, (int)(rgb >> 16) & 255, (int)(rgb >> 8) & 255, (int)rgb & 255, alpha);
}

/* Okabe & Ito (2008) colour-blind-safe palette, yellow left out (unreadable
 * on white). */
static const unsigned series_colours[PLOT_N_SERIES] = {0x0072B2, 0xD55E00, 0x009E73, 0xE69F00,
                                                      0xCC79A7, 0x56B4E9, 0x000000};

dop_status plot_figure_begin(plot_figure *fig, const char *out, int width, int height, dop_error *err)
{
    memset(fig, 0, sizeof *fig);
    fig->stream = -1;
    snprintf(fig->out, sizeof fig->out, "%s", out);
    plot_format format = plot_format_for_path(out);
    if (format == PLOT_FORMAT_UNKNOWN)
        return dop_error_set(err, DOP_ERR_INVALID_ARG,
                             "%s: unknown figure format: the name must end in .png, .svg or .pdf", out);
    const char *device = device_for(format);
    if (!device_available(device))
        return dop_error_set(err, DOP_ERR_FORMAT,
                             "PLplot has no '%s' driver: install plplot-driver-cairo (tools/install-deps.sh)",
                             device);
    dop_status status = dop_atomic_open(out, &fig->file, err);
    if (status != DOP_OK) return status;
    dop_atomic_release_stream(fig->file);
    exit_temp_path = dop_atomic_temp_path(fig->file);
    fig->width = width;
    fig->height = height;

    PLINT prev = 0, strm = 0;
    plgstrm(&prev);
    plmkstrm(&strm);
    fig->prev_stream = prev;
    fig->stream = strm;
    plsError(&fig->errcode, fig->errmsg);
    plsexit(on_plplot_exit);
    plsdev(device);
    plsfnam(dop_atomic_temp_path(fig->file));
    plspage(0.0, 0.0, width, height, 0, 0);
    plscolbg(255, 255, 255);
    plscmap0n(32);
    plot_set_colour(PLOT_COL_BG, 0xFFFFFF, 1.0);
    plot_set_colour(PLOT_COL_FG, 0x222222, 1.0);
    plot_set_colour(PLOT_COL_GRID, 0xDDDDDD, 1.0);
    plot_set_colour(PLOT_COL_RAW, 0x9DB3C8, 1.0);
    plot_set_colour(PLOT_COL_SHADE, 0x888888, 0.22);
    plot_set_colour(PLOT_COL_EPOCH, 0x4C72B0, 0.10);
    plot_set_colour(PLOT_COL_EPOCH2, 0xDD8452, 0.10);
    plot_set_colour(PLOT_COL_LABEL_BG, 0xFFFFFF, 0.8);
    for (int i = 0; i < PLOT_N_SERIES; i++) plot_set_colour(PLOT_COL_SERIES + i, series_colours[i], 1.0);
    plinit();
    pladv(0);
    if (fig->errcode) {
        status = dop_error_set(err, DOP_ERR_IO, "%s: PLplot could not start the figure: %s", out, fig->errmsg);
        plot_figure_abort(fig);
        return status;
    }

    /* Text about 1.9% of the page's geometric mean size (16 px on 1200 x
     * 600), never below 11 px: readable on screen and when the figure is
     * shrunk to a column width. */
    PLFLT xmin, xmax, ymin, ymax;
    plgspa(&xmin, &xmax, &ymin, &ymax);
    fig->page_w_mm = xmax - xmin;
    fig->page_h_mm = ymax - ymin;
    double mm_per_px = fig->page_w_mm / width;
    double char_px = fmax(11.0, 0.019 * sqrt((double)width * height));
    fig->mm_per_px = mm_per_px;
    plot_set_text_px(fig, char_px);
    /* Plain numbers up to 6 digits ("3000", not "3 (x10^3)"). */
    plsxax(6, 0);
    plsyax(6, 0);
    plcol0(PLOT_COL_FG);
    plwidth(1.0);
    return DOP_OK;
}

void plot_set_text_px(plot_figure *fig, double px)
{
    PLFLT def_mm, cur_mm;
    plgchr(&def_mm, &cur_mm);
    plschr(0.0, px * fig->mm_per_px / def_mm);
    plgchr(&def_mm, &cur_mm);
    fig->char_mm = cur_mm;
}

static void close_stream(plot_figure *fig)
{
    if (fig->stream < 0) return;
    plsstrm(fig->stream);
    plend1();
    plsstrm(fig->prev_stream);
    fig->stream = -1;
}

dop_status plot_figure_end(plot_figure *fig, dop_error *err)
{
    close_stream(fig);
    exit_temp_path = NULL;
    if (fig->errcode) {
        /* PLplot's message starts with a banner line; keep the reason. */
        char *reason = strstr(fig->errmsg, "***\n");
        reason = reason ? reason + 4 : fig->errmsg;
        size_t len = strlen(reason);
        while (len > 0 && (reason[len - 1] == '\n' || reason[len - 1] == ' ')) reason[--len] = '\0';
        dop_status status = dop_error_set(err, DOP_ERR_IO, "%s: drawing failed (PLplot: %s)", fig->out, reason);
        dop_atomic_abort(fig->file);
        fig->file = NULL;
        return status;
    }
    /* An empty file means the driver could not write it. */
    FILE *check = fopen(dop_atomic_temp_path(fig->file), "rb");
    int empty = !check || fgetc(check) == EOF;
    if (check) fclose(check);
    if (empty) {
        dop_atomic_abort(fig->file);
        fig->file = NULL;
        return dop_error_set(err, DOP_ERR_IO, "%s: write failed (PLplot produced no output)", fig->out);
    }
    dop_status status = dop_atomic_commit(fig->file, err);
    fig->file = NULL;
    return status;
}

void plot_figure_abort(plot_figure *fig)
{
    close_stream(fig);
    exit_temp_path = NULL;
    dop_atomic_abort(fig->file);
    fig->file = NULL;
}

void plot_viewport_mm(const plot_figure *fig, double left, double right, double bottom, double top)
{
    plsvpa(left, fig->page_w_mm - right, bottom, fig->page_h_mm - top);
}

/* ---- drawing helpers ----------------------------------------------------- */

/* PLplot has no public call that measures text, so widths are estimated
 * from the advance widths of DejaVu Sans (fontconfig's "sans" on Debian), in
 * 1/2048 em, for ASCII 32..126; other characters count as a digit. With the
 * cairo driver the em is 1.34 character heights (measured). Sub- and
 * superscripts (#d, #u) are 0.75 size. Good to a few per cent, which is all
 * the legend layout needs. */
static const unsigned short dejavu_advance[95] = {
    651,  821,  942,  1716, 1303, 1946, 1597, 563,  799,  799,  1024, 1716, 651,  739,  651,  690,
    1303, 1303, 1303, 1303, 1303, 1303, 1303, 1303, 1303, 1303, 690,  690,  1716, 1716, 1716, 1087,
    2048, 1401, 1405, 1430, 1577, 1294, 1178, 1587, 1540, 604,  604,  1343, 1141, 1767, 1532, 1612,
    1235, 1612, 1423, 1300, 1251, 1499, 1401, 2025, 1403, 1251, 1403, 799,  690,  799,  1716, 1024,
    1024, 1255, 1300, 1126, 1300, 1260, 721,  1300, 1298, 569,  569,  1186, 569,  1995, 1298, 1253,
    1300, 1300, 842,  1067, 803,  1298, 1212, 1675, 1212, 1212, 1075, 1303, 690,  1303, 1716,
};

double plot_text_width_mm(const plot_figure *fig, const char *text)
{
    double em = 0.0, scale = 1.0;
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        if (*p == '#' && p[1]) {
            if (p[1] == 'd') scale = scale < 1.0 ? 1.0 : 0.75;
            else if (p[1] == 'u') scale = scale < 1.0 ? 1.0 : 0.75;
            else if (p[1] == '#') em += scale * 1716 / 2048.0;
            p++;
            continue;
        }
        if (*p >= 32 && *p < 127) em += scale * dejavu_advance[*p - 32] / 2048.0;
        else if ((*p & 0xC0) != 0x80) em += scale * 1303 / 2048.0; /* first byte of a UTF-8 character */
    }
    return em * 1.34 * fig->char_mm;
}

double plot_key_row_width(const plot_figure *fig, const plot_key *keys, int n)
{
    const double ch = fig->char_mm;
    double total = 0.0;
    for (int i = 0; i < n; i++)
        total += (keys[i].kind == PLOT_KEY_TEXT ? 0.0 : 2.7 * ch) + plot_text_width_mm(fig, keys[i].text) +
                 (i + 1 < n ? 1.4 * ch : 0.0);
    return total;
}

/* Greedy line breaking of the header: the title and the first keys share
 * row 0, further rows hold the rest, each right-aligned. first[r] is the
 * first key of row r; returns the number of rows. */
static int header_layout(const plot_figure *fig, const char *title, const plot_key *keys, int n, double width_mm,
                         int first[PLOT_HEADER_MAX_ROWS + 1])
{
    const double ch = fig->char_mm;
    int rows = 0, k = 0;
    double avail = width_mm - plot_text_width_mm(fig, title) - 2.0 * ch;
    first[0] = 0;
    while (k < n && rows < PLOT_HEADER_MAX_ROWS) {
        int start = k;
        while (k < n && plot_key_row_width(fig, keys + start, k - start + 1) <= avail) k++;
        if (k == start && rows > 0) k++; /* a key wider than the page still gets its own row */
        rows++;
        first[rows] = k;
        avail = width_mm;
    }
    if (rows == 0) {
        rows = 1;
        first[1] = n;
    }
    if (k < n) first[rows] = n; /* out of rows: the last row takes the rest */
    return rows;
}

int plot_header_rows(const plot_figure *fig, const char *title, const plot_key *keys, int n, double width_mm)
{
    int first[PLOT_HEADER_MAX_ROWS + 1];
    return header_layout(fig, title, keys, n, width_mm, first);
}

double plot_header_height_mm(const plot_figure *fig, int rows)
{
    return (3.4 + 1.7 * (rows - 1)) * fig->char_mm;
}

void plot_header(const plot_figure *fig, const char *title, const plot_key *keys, int n, int rows, double left_mm,
                 double right_mm, double plot_top_mm)
{
    const double ch = fig->char_mm;
    int first[PLOT_HEADER_MAX_ROWS + 1];
    int layout_rows = header_layout(fig, title, keys, n, fig->page_w_mm - left_mm - right_mm, first);
    if (layout_rows > rows) layout_rows = rows;
    double y_top = plot_top_mm + 1.2 * ch + (rows - 1) * 1.7 * ch;
    for (int r = 0; r < layout_rows; r++) {
        int end = r + 1 == layout_rows ? n : first[r + 1];
        plot_key_row(fig, keys + first[r], end - first[r], fig->page_w_mm - right_mm, y_top - r * 1.7 * ch);
    }
    PLFLT vx0, vx1, vy0, vy1, wx0, wx1, wy0, wy1;
    plgvpd(&vx0, &vx1, &vy0, &vy1);
    plgvpw(&wx0, &wx1, &wy0, &wy1);
    plvpor(0.0, 1.0, 0.0, 1.0);
    plwind(0.0, fig->page_w_mm, 0.0, fig->page_h_mm);
    char escaped[1200];
    plot_escape_text(title, escaped, sizeof escaped);
    plcol0(PLOT_COL_FG);
    plptex(left_mm, y_top, 1.0, 0.0, 0.0, escaped);
    plvpor(vx0, vx1, vy0, vy1);
    plwind(wx0, wx1, wy0, wy1);
}

double plot_key_row(const plot_figure *fig, const plot_key *keys, int n, double x_right_mm, double y_mm)
{
    PLFLT vx0, vx1, vy0, vy1, wx0, wx1, wy0, wy1;
    plgvpd(&vx0, &vx1, &vy0, &vy1);
    plgvpw(&wx0, &wx1, &wy0, &wy1);
    /* The whole page, in millimetres. */
    plvpor(0.0, 1.0, 0.0, 1.0);
    plwind(0.0, fig->page_w_mm, 0.0, fig->page_h_mm);
    const double ch = fig->char_mm;
    const double sample = 2.2 * ch, gap = 0.5 * ch, spacing = 1.4 * ch;
    double total = plot_key_row_width(fig, keys, n);
    double x = x_right_mm - total;
    for (int i = 0; i < n; i++) {
        const plot_key *k = &keys[i];
        if (k->kind == PLOT_KEY_TEXT) {
            plcol0(PLOT_COL_FG);
            plptex(x, y_mm, 1.0, 0.0, 0.0, k->text);
            x += plot_text_width_mm(fig, k->text) + spacing;
            continue;
        }
        double x0 = x, x1 = x + sample, h = 0.45 * ch;
        if (k->swatch >= 0) {
            PLFLT sx[4] = {x0 - 0.2 * ch, x1 + 0.2 * ch, x1 + 0.2 * ch, x0 - 0.2 * ch};
            PLFLT sy[4] = {y_mm - 0.6 * ch, y_mm - 0.6 * ch, y_mm + 0.6 * ch, y_mm + 0.6 * ch};
            plcol0(k->swatch);
            plfill(4, sx, sy);
        }
        plcol0(k->colour);
        if (k->kind == PLOT_KEY_BOX) {
            PLFLT bx[4] = {x0, x1, x1, x0}, by[4] = {y_mm - h, y_mm - h, y_mm + h, y_mm + h};
            plfill(4, bx, by);
        } else if (k->kind == PLOT_KEY_LINE) {
            PLFLT lx[2] = {x0, x1}, ly[2] = {y_mm, y_mm};
            plwidth(k->width);
            pllsty(k->style > 0 ? k->style : 1);
            plline(2, lx, ly);
            pllsty(1);
        }
        if (k->symbol) {
            PLFLT px[1] = {(x0 + x1) / 2.0}, py[1] = {y_mm};
            plstring(1, px, py, k->symbol);
        }
        plcol0(PLOT_COL_FG);
        plptex(x1 + gap, y_mm, 1.0, 0.0, 0.0, k->text);
        x = x1 + gap + plot_text_width_mm(fig, k->text) + spacing;
    }
    plwidth(1.0);
    plvpor(vx0, vx1, vy0, vy1);
    plwind(wx0, wx1, wy0, wy1);
    return total;
}

void plot_line_gapped(size_t n, const double *x, const double *y)
{
    size_t i = 0;
    while (i < n) {
        while (i < n && !(isfinite(x[i]) && isfinite(y[i]))) i++;
        size_t start = i;
        while (i < n && isfinite(x[i]) && isfinite(y[i])) i++;
        if (i - start >= 2) plline((PLINT)(i - start), x + start, y + start);
    }
}

size_t plot_decimate_minmax(size_t n, const double *x, const double *y, double x0, double x1, size_t cols,
                            double *ox, double *oy)
{
    if (n <= 2 * cols || !(x1 > x0) || cols == 0) {
        memcpy(ox, x, n * sizeof *x);
        memcpy(oy, y, n * sizeof *y);
        return n;
    }
    size_t m = 0;
    size_t i = 0;
    for (size_t c = 0; c < cols; c++) {
        double edge = x0 + (x1 - x0) * (double)(c + 1) / (double)cols;
        size_t imin = (size_t)-1, imax = (size_t)-1, seen = 0;
        for (; i < n && (x[i] < edge || c + 1 == cols); i++) {
            seen++;
            if (!isfinite(y[i]) || !isfinite(x[i])) continue;
            if (imin == (size_t)-1 || y[i] < y[imin]) imin = i;
            if (imax == (size_t)-1 || y[i] > y[imax]) imax = i;
        }
        if (seen == 0) continue;
        if (imin == (size_t)-1) { /* only gaps in this column */
            ox[m] = x0 + (x1 - x0) * ((double)c + 0.5) / (double)cols;
            oy[m++] = NAN;
            continue;
        }
        size_t a = imin < imax ? imin : imax, b = imin < imax ? imax : imin;
        ox[m] = x[a];
        oy[m++] = y[a];
        if (b != a) {
            ox[m] = x[b];
            oy[m++] = y[b];
        }
    }
    return m;
}

double plot_ylabel_disp(const plot_figure *fig, double lo, double hi, double step)
{
    if (!(step > 0.0) || !(hi > lo)) return 3.0;
    int decimals = step >= 1.0 ? 0 : (int)ceil(-log10(step) - 1e-9);
    if (fabs(step * pow(10.0, decimals) - round(step * pow(10.0, decimals))) > 1e-6) decimals++; /* 2.5, 0.25 */
    double widest = 0.0;
    for (double v = ceil(lo / step) * step; v <= hi + 1e-9 * step; v += step) {
        char label[64];
        snprintf(label, sizeof label, "%.*f", decimals, fabs(v) < 1e-9 * step ? 0.0 : v);
        widest = fmax(widest, plot_text_width_mm(fig, label));
    }
    /* Outward ticks put the tick labels about 1.1 character heights from the
     * axis; the rotated label's centre goes a gap and half a height beyond
     * them (measured on the cairo driver). */
    return widest / fig->char_mm + 2.3;
}

double plot_nice_step(double span, int target)
{
    if (!(span > 0.0) || target < 1) return 1.0;
    double raw = span / target;
    double mag = pow(10.0, floor(log10(raw)));
    static const double steps[] = {1.0, 2.0, 2.5, 5.0, 10.0};
    double best = mag;
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++)
        if (fabs(steps[i] * mag - raw) < fabs(best - raw)) best = steps[i] * mag;
    return best;
}
