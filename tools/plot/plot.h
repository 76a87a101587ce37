/* dopflow figures: the sonogram with its traced envelopes, flow over time,
 * and the study comparison, drawn with PLplot's cairo driver to PNG, SVG or
 * PDF (chosen by the output's extension).
 *
 * Every figure is written atomically (include/dopflow/atomic_file.h): on any
 * failure no figure, complete or partial, is left at `out`. Inputs are read
 * and checked before the output is created.
 *
 * PLplot keeps global state: call these from one thread at a time. Each call
 * opens its own PLplot stream and closes it, so calls may follow each other
 * (as `analyze --plots` and `study --plots` do). */
#ifndef DOPFLOW_TOOLS_PLOT_H
#define DOPFLOW_TOOLS_PLOT_H

#include <stddef.h>
#include <stdint.h>

#include "dopflow/result_schema.h"
#include "dopflow/result_reader.h"
#include "dopflow/status.h"

typedef enum plot_format {
    PLOT_FORMAT_UNKNOWN = -1,
    PLOT_FORMAT_PNG = 0,   /* raster, size in pixels */
    PLOT_FORMAT_SVG,       /* vector, size in points (1/72 in); the spectrogram is embedded as an image */
    PLOT_FORMAT_PDF
} plot_format;

/* Format from the file name's extension (.png .svg .pdf, any case). */
plot_format plot_format_for_path(const char *path);

typedef enum plot_colormap {
    PLOT_CMAP_VIRIDIS = 0, /* perceptually uniform dark blue -> yellow (default) */
    PLOT_CMAP_GREY,        /* black -> white, the look of a scanner's spectral display */
    PLOT_CMAP_HOT          /* black -> red -> yellow -> white */
} plot_colormap;

/* "viridis", "grey" (or "gray"), "hot"; 0 on success, -1 if unknown. */
int plot_colormap_parse(const char *name, plot_colormap *out);

typedef struct plot_options {
    int width_px, height_px;   /* figure size (PNG pixels, SVG/PDF points); 0 = the figure's default;
                                  accepted range PLOT_MIN_SIZE..PLOT_MAX_SIZE */
    double from_s, to_s;       /* time span shown, s from file start; NAN = start / end of the data */
    const char *epochs;        /* flow: "label:start:end,..." shaded and labelled (NULL = none) */
    plot_colormap colormap;    /* sonogram colour map */
    double range_db;           /* sonogram dynamic range below the 99.5th percentile, dB; NAN = automatic:
                                  55 dB, but not below the median noise floor (/frames/noise_db) */
    double vel_lo_cm_s, vel_hi_cm_s; /* sonogram velocity window, cm/s; NAN = automatic (the envelopes'
                                  range with a margin, within the Nyquist range); -INFINITY and
                                  INFINITY = the whole Nyquist range */
    const char *title;         /* figure title; NULL = the input's file name */
} plot_options;

#define PLOT_MIN_SIZE 200
#define PLOT_MAX_SIZE 10000

plot_options plot_options_default(void);

/* In the three calls below opt may be NULL (defaults); out's extension
 * chooses the format. */

/* The spectral display of an HDF5 result (dopflow analyze --h5): /spectrogram
 * (dB) over time and velocity, the maximum and mean velocity envelopes, beat
 * onsets, and artifact / rejected-beat frames shaded. Rows are read in chunks
 * and max-pooled into at most one image column per output pixel, so memory
 * does not grow with the recording's length beyond the 1-D frame series.
 * Errors: DOP_ERR_INVALID_ARG (options, unknown extension), DOP_ERR_IO (input
 * unreadable, output not writable), DOP_ERR_FORMAT (not an HDF5 result, no
 * /spectrogram, inconsistent axes), DOP_ERR_NO_DATA (no rows in --from/--to),
 * DOP_ERR_NOMEM, DOP_ERR_HDF5. */
dop_status plot_sonogram(const char *h5_path, const char *out, const plot_options *opt, dop_error *err);

/* Flow (ml/min) and mean velocity (cm/s) over time, per frame and averaged
 * over each beat, from an HDF5 result or a frames CSV (dopflow analyze
 * --frames); epochs shaded and labelled when opt->epochs is set.
 * Errors: as plot_sonogram; DOP_ERR_FORMAT also for a CSV without the
 * columns time_s, vmean_cm_s, flow_ml_min. */
dop_status plot_flow(const char *input, const char *out, const plot_options *opt, dop_error *err);

/* The study comparison from OUTDIR/conditions.csv (dopflow study; OUTDIR may
 * also be the CSV itself): one panel per artery, flow by epoch for each
 * condition (mean +/- SE), '*' where p_adjusted < 0.05 ('**' < 0.01,
 * '***' < 0.001). Errors: as plot_flow. */
/* One frame of a colour-flow CSV (dopflow analyze --format clarius
 * --color-csv): echo power in grey, the velocity (or phase) of the flow
 * pixels in red/blue over it, beam line across and depth down.
 * Errors: as plot_sonogram; DOP_ERR_FORMAT for a CSV without the columns. */
dop_status plot_color(const char *csv_path, const char *out, const plot_options *opt, dop_error *err);

dop_status plot_study(const char *outdir, const char *out, const plot_options *opt, dop_error *err);

/* True when a failure concerned the figure file rather than the input (for
 * the exit code: "cannot write output" rather than "input unreadable"). The
 * plot_* functions start messages about the output with "OUT: ". */
int plot_error_is_output(const char *out, const dop_error *err);

/* ------------------------------------------------------------------------
 * Internals shared by the files of tools/plot/ (not for the commands).
 * ---------------------------------------------------------------------- */

/* Colour-map-0 indices set by plot_figure_begin (PLplot's cmap0). */
enum {
    PLOT_COL_BG = 0,       /* white */
    PLOT_COL_FG = 1,       /* near-black: axes, text */
    PLOT_COL_GRID = 2,     /* light grey */
    PLOT_COL_RAW = 3,      /* light blue-grey: per-frame curves */
    PLOT_COL_SHADE = 4,    /* translucent grey: excluded frames (flow) */
    PLOT_COL_EPOCH = 5,    /* translucent blue: epochs, alternating with 6 */
    PLOT_COL_EPOCH2 = 6,
    PLOT_COL_LABEL_BG = 7, /* translucent white behind labels drawn over data */
    PLOT_COL_SERIES = 8    /* 8.. : Okabe-Ito colours for series (PLOT_N_SERIES of them) */
};
#define PLOT_N_SERIES 7

typedef struct plot_figure {
    struct dop_atomic_file *file;
    char out[1024];            /* final path, for messages */
    int stream;                /* PLplot stream of this figure */
    int prev_stream;
    int errcode;               /* set by PLplot's plabort */
    char errmsg[1024];
    int width, height;         /* page, px or pt */
    double page_w_mm, page_h_mm;
    double char_mm;            /* character height after scaling, mm */
    double mm_per_px;          /* page millimetres per pixel (point) */
} plot_figure;

/* Check the extension, create the temporary output beside `out`, start a
 * PLplot stream on it with a white page of width x height, the shared cmap0
 * colours and text scaled to the page. Errors: DOP_ERR_INVALID_ARG (unknown
 * extension, size), DOP_ERR_IO (OUT: cannot create), DOP_ERR_FORMAT (the
 * PLplot cairo driver is missing). */
dop_status plot_figure_begin(plot_figure *fig, const char *out, int width, int height, dop_error *err);

/* Finish the page, close the stream and rename the figure into place;
 * on failure the temporary file is removed. Errors: DOP_ERR_IO ("OUT: write
 * failed", or a drawing operation PLplot aborted, with its message). */
dop_status plot_figure_end(plot_figure *fig, dop_error *err);

/* Close the stream and remove the temporary file. */
void plot_figure_abort(plot_figure *fig);

/* The options of one figure: opt_in (NULL: the defaults) into *opt, with
 * what every figure checks first: the output's format from its extension,
 * and --to after --from when both are given. Errors: DOP_ERR_INVALID_ARG. */
dop_status plot_options_check(const plot_options *opt_in, const char *out, plot_options *opt, dop_error *err);

/* Validate a requested size against the figure's default. */
dop_status plot_check_size(const plot_options *opt, int def_w, int def_h, int *w, int *h, dop_error *err);

/* Set the text height, pixels (points); updates fig->char_mm. */
void plot_set_text_px(plot_figure *fig, double px);

/* Set the viewport in millimetres from the page's edges (left, right,
 * bottom, top margins). */
void plot_viewport_mm(const plot_figure *fig, double left, double right, double bottom, double top);

/* One entry of a legend row (plot_key_row). */
typedef enum plot_key_kind { PLOT_KEY_LINE, PLOT_KEY_BOX, PLOT_KEY_SYMBOL, PLOT_KEY_TEXT /* no sample */ } plot_key_kind;
typedef struct plot_key {
    plot_key_kind kind;
    int colour;                /* cmap0 index of the line, box or symbol */
    double width;              /* line width (PLOT_KEY_LINE) */
    int style;                 /* line style, 1 = solid */
    const char *symbol;        /* UTF-8 glyph (PLOT_KEY_SYMBOL; also drawn on a line when not NULL) */
    int swatch;                /* cmap0 index of a small background behind the sample, -1 = none
                                  (white lines over a dark display need one) */
    const char *text;
} plot_key;

/* Draw a legend row with its right end at x_right_mm and its centre line at
 * y_mm (page millimetres from the bottom-left corner); returns the row's
 * width, mm. The viewport and window are restored afterwards. */
double plot_key_row(const plot_figure *fig, const plot_key *keys, int n, double x_right_mm, double y_mm);

/* Width of a legend row, mm. */
double plot_key_row_width(const plot_figure *fig, const plot_key *keys, int n);

/* The header above the plots: the title at the left and the legend right-
 * aligned beside it, wrapped onto further rows when it does not fit in
 * width_mm (plot_header_rows says how many; plot_header_height_mm how much
 * room they take above the plot). The title is escaped for PLplot here. */
#define PLOT_HEADER_MAX_ROWS 4
int plot_header_rows(const plot_figure *fig, const char *title, const plot_key *keys, int n, double width_mm);
double plot_header_height_mm(const plot_figure *fig, int rows);
void plot_header(const plot_figure *fig, const char *title, const plot_key *keys, int n, int rows, double left_mm,
                 double right_mm, double plot_top_mm);

/* Width of text (PLplot escapes allowed) at the current size, mm (estimated). */
double plot_text_width_mm(const plot_figure *fig, const char *text);

/* Set cmap0 colour `index` from 0xRRGGBB and alpha. */
void plot_set_colour(int index, unsigned rgb, double alpha);

/* Draw the polyline (x[i], y[i]) skipping non-finite points (gaps). */
void plot_line_gapped(size_t n, const double *x, const double *y);

/* Reduce a time series to what `cols` pixel columns over [x0, x1] can show:
 * per column, the minimum and the maximum in time order (a gap, NAN, where a
 * column has no finite value). Writes at most 2*cols points into ox, oy and
 * returns their number. Series shorter than 2*cols are copied unchanged. */
size_t plot_decimate_minmax(size_t n, const double *x, const double *y, double x0, double x1, size_t cols,
                            double *ox, double *oy);

/* Tick spacing giving about `target` ticks over span (1, 2, 2.5 or 5 x 10^k). */
double plot_nice_step(double span, int target);

/* Copy text for PLplot, doubling its escape character '#' (file names). */
void plot_escape_text(const char *in, char *out, size_t size);

/* Displacement (character heights, for plmtex "l") of a y-axis label that
 * clears the tick labels lo..hi every step. */
double plot_ylabel_disp(const plot_figure *fig, double lo, double hi, double step);

/* Base name of a path (pointer into path). */
const char *plot_basename(const char *path);

#endif
