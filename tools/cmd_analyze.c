/* dopflow analyze: one recording -> spectrum, envelopes, beats, flow. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "dopflow/color_job.h"
#include "plot/plot.h"

static void usage(FILE *out)
{
    fputs("Usage: dopflow analyze INPUT [OPTIONS]\n"
          "Analyse one Doppler recording (any format libsndfile reads; stereo = I/Q,\n"
          "mono = non-directional; '-' = raw samples on standard input; slow-time IQ\n"
          "from research scanners as native HDF5, USTB UFF or MATLAB .mat) into velocity\n"
          "envelopes, heart beats and volumetric flow.\n\n"
          "Outputs (each optional; '-' = standard output; without any, the summary is\n"
          "printed):\n"
          "  --summary FILE.csv   one row per epoch (or for the whole span)\n"
          "  --frames FILE.csv    one row per spectral frame (with '-': streamed as computed)\n"
          "  --beats FILE.csv     one row per cardiac cycle\n"
          "  --h5 FILE.h5         spectrogram, axes, traces, beats and every parameter\n"
          "  --plots              also draw figures beside the outputs: FILE.sonogram.png and\n"
          "                       FILE.flow.png next to --h5 FILE.h5, or FILE.flow.png next\n"
          "                       to --frames FILE.csv\n"
          "Colour flow (ensembles of a colour-Doppler frame: --format clarius):\n"
          "  --color-csv FILE     one row per pixel: frame, line, depth_sample, phase_rad,\n"
          "                       velocity_cm_s (along the beam unless --angle), power_db,\n"
          "                       clutter_db, correlation; needs --prf and --f0 for velocity\n"
          "  --ensemble N         shots per beam line (default 12)\n"
          "  --regression-order P polynomial-regression wall filter order (default 1)\n"
          "  --plots              also draw FILE.color.png beside --color-csv FILE.csv\n"
          "Span:\n"
          "  --start S --end S    analyse only [S, E) seconds of the recording\n"
          "  --epochs SPEC        label:start:end,... in seconds (e.g. pre:0:10,post:20:30)\n"
          "Review (a reviewer's edits replayed; format in the README):\n"
          "  --review FILE        apply this review file (default: INPUT.review.json if it\n"
          "                       exists, e.g. rec.review.json beside rec.wav)\n"
          "  --no-review          apply no review file\n",
          out);
    cli_analysis_options_help(out);
    fputs("\n" CLI_EXIT_CODES_HELP, out);
}

/* FIGURE_SOURCE minus its extension + suffix, e.g. rec.h5 -> rec.sonogram.png. */
static char *figure_path(const char *source, const char *suffix)
{
    const char *slash = strrchr(source, '/'), *dot = strrchr(source, '.');
    size_t stem = (dot && (!slash || dot > slash)) ? (size_t)(dot - source) : strlen(source);
    size_t len = stem + strlen(suffix) + 1;
    char *path = malloc(len);
    if (path) snprintf(path, len, "%.*s%s", (int)stem, source, suffix);
    return path;
}

/* --plots: the sonogram (from HDF5 only) and the flow figure. */
static int draw_figures(const char *source, int have_h5)
{
    const char *suffixes[] = {".sonogram.png", ".flow.png"};
    for (int i = have_h5 ? 0 : 1; i < 2; i++) {
        char *out = figure_path(source, suffixes[i]);
        if (!out) return cli_fail("analyze", DOP_ERR_NOMEM, NULL);
        dop_error err;
        dop_error_clear(&err);
        dop_status status = i == 0 ? plot_sonogram(source, out, NULL, &err) : plot_flow(source, out, NULL, &err);
        free(out);
        if (status != DOP_OK) {
            cli_fail("analyze", status, &err);
            return CLI_EXIT_OUTPUT;
        }
    }
    return CLI_EXIT_OK;
}

/* What the review did, and one line per edit that matched nothing. */
static void print_review(const dop_job_report *report)
{
    if (!report->review_used[0]) return;
    const char *line = report->review_unmatched_text;
    while (*line) {
        const char *end = strchr(line, '\n');
        int len = end ? (int)(end - line) : (int)strlen(line);
        fprintf(stderr, "dopflow analyze: warning: %.*s\n", len, line);
        line += len + (end != NULL);
    }
    fprintf(stderr, "dopflow analyze: review %s applied (%s): %lld edit(s), %lld beat(s) rejected, %lld restored, "
                    "%lld added, %.2f s excluded, %lld edit(s) unmatched\n", report->review_used,
            report->reviewed ? "marked reviewed" : "not yet marked reviewed", (long long)report->review_edits,
            (long long)report->review_rejected_beats, (long long)report->review_restored_beats,
            (long long)report->review_added_beats, report->review_excluded_s, (long long)report->review_unmatched);
}

/* --format clarius: a colour-flow frame (color_job.h). */
static int run_color(const dop_job *job, dop_color_job *color, int plots)
{
    if (job->input.format != DOP_INPUT_CLARIUS) {
        fprintf(stderr, "dopflow analyze: --color-csv reads colour-flow ensembles: give --format clarius\n");
        return CLI_EXIT_USAGE;
    }
    if (plots && (!color->csv_path || strcmp(color->csv_path, "-") == 0)) {
        fprintf(stderr, "dopflow analyze: --plots needs --color-csv FILE to draw from\n");
        return CLI_EXIT_USAGE;
    }
    if (job->summary_path || job->frames_path || job->beats_path || job->h5_path) {
        fprintf(stderr, "dopflow analyze: colour-flow ensembles give --color-csv only (no spectra, frames or beats)\n");
        return CLI_EXIT_USAGE;
    }
    color->path = job->input.path;
    color->prf_hz = job->input.raw_rate_hz;
    dop_acquisition_overlay(&color->acq, &job->overrides);
    cli_install_stop_handlers();
    color->stop = &cli_stop_requested;
    dop_error err;
    dop_error_clear(&err);
    dop_color_report rep;
    dop_status status = dop_color_job_run(color, &rep, &err);
    if (status != DOP_OK) return cli_fail("analyze", status, &err);
    fprintf(stderr, "dopflow analyze: %s: %zu frame(s) of %zu beam lines x %zu depth samples x %zu shots; strongest "
                    "filtered power %.1f dB\n", color->path, rep.input.frames, rep.input.beam_lines, rep.input.samples,
            rep.input.ensemble, rep.max_power_db);
    fprintf(stderr, "dopflow analyze: flow pixels (within %g dB of it, correlation >= %g): %zu, median phase %.3f rad",
            color->flow_db, color->min_correlation, rep.flow_pixels, rep.flow_median_phase_rad);
    if (isfinite(rep.flow_median_velocity_cm_s))
        fprintf(stderr, " = %.2f cm/s at %g degrees (Nyquist %.2f cm/s)\n", rep.flow_median_velocity_cm_s,
                color->acq.angle_deg, rep.nyquist_cm_s);
    else
        fputs(" (velocity needs --prf and --f0)\n", stderr);
    if (!plots) return CLI_EXIT_OK;
    char *figure = figure_path(color->csv_path, ".color.png");
    if (!figure) return cli_fail("analyze", DOP_ERR_NOMEM, NULL);
    status = plot_color(color->csv_path, figure, NULL, &err);
    free(figure);
    if (status != DOP_OK) {
        cli_fail("analyze", status, &err);
        return CLI_EXIT_OUTPUT;
    }
    return CLI_EXIT_OK;
}

/* What the command line asked for. */
typedef struct analyze_request {
    dop_job job;
    dop_color_job color;
    const char *epoch_spec; /* --epochs, NULL = the whole span */
    int plots;
} analyze_request;

/* --ensemble N (>= 2) or --regression-order P (>= -1), whole numbers up to 1024. */
static int parse_color_number(int is_ensemble, const char *arg, dop_color_job *color)
{
    double number = 0.0;
    if (cli_parse_double("analyze", is_ensemble ? "--ensemble" : "--regression-order", arg, &number) != 0) return -1;
    if (number != floor(number) || number < (is_ensemble ? 2 : -1) || number > 1024) {
        fprintf(stderr, "dopflow analyze: %s expects a whole number, got '%s'\n",
                is_ensemble ? "--ensemble (>= 2)" : "--regression-order (>= -1)", arg);
        return -1;
    }
    if (is_ensemble) color->ensemble = (size_t)number;
    else color->wall_order = (int)number;
    return 0;
}

/* The options and the one INPUT into req. Returns 1 to go on, 0 when done
 * (--help, or a usage error) with the exit code in *code. */
static int parse_options(int argc, char **argv, analyze_request *req, int *code)
{
    enum { OPT_SUMMARY = 1, OPT_FRAMES, OPT_BEATS, OPT_H5, OPT_START, OPT_END, OPT_EPOCHS, OPT_PLOTS, OPT_HELP,
           OPT_COLOR_CSV, OPT_ENSEMBLE, OPT_REGRESSION, OPT_REVIEW, OPT_NO_REVIEW };
    static const struct option options[] = {
        {"summary", required_argument, 0, OPT_SUMMARY}, {"frames", required_argument, 0, OPT_FRAMES},
        {"beats", required_argument, 0, OPT_BEATS}, {"h5", required_argument, 0, OPT_H5},
        {"start", required_argument, 0, OPT_START}, {"end", required_argument, 0, OPT_END},
        {"epochs", required_argument, 0, OPT_EPOCHS}, {"plots", no_argument, 0, OPT_PLOTS},
        {"help", no_argument, 0, OPT_HELP}, {"color-csv", required_argument, 0, OPT_COLOR_CSV},
        {"ensemble", required_argument, 0, OPT_ENSEMBLE}, {"regression-order", required_argument, 0, OPT_REGRESSION},
        {"review", required_argument, 0, OPT_REVIEW}, {"no-review", no_argument, 0, OPT_NO_REVIEW},
        CLI_ANALYSIS_LONGOPTS, {0, 0, 0, 0}};
    dop_job *job = &req->job;
    int opt, bad = 0;
    *code = CLI_EXIT_USAGE;
    optind = 1;
    opterr = 0;
    while (!bad && (opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (opt) {
        case OPT_SUMMARY: job->summary_path = optarg; break;
        case OPT_FRAMES: job->frames_path = optarg; break;
        case OPT_BEATS: job->beats_path = optarg; break;
        case OPT_H5: job->h5_path = optarg; break;
        case OPT_START: bad = cli_parse_double("analyze", "--start", optarg, &job->start_s) != 0; break;
        case OPT_END: bad = cli_parse_double("analyze", "--end", optarg, &job->end_s) != 0; break;
        case OPT_EPOCHS: req->epoch_spec = optarg; break;
        case OPT_PLOTS: req->plots = 1; break;
        case OPT_REVIEW: job->review_path = optarg; break;
        case OPT_NO_REVIEW: job->no_review = 1; break;
        case OPT_COLOR_CSV: req->color.csv_path = optarg; break;
        case OPT_ENSEMBLE:
        case OPT_REGRESSION: bad = parse_color_number(opt == OPT_ENSEMBLE, optarg, &req->color) != 0; break;
        case 'h':
        case OPT_HELP:
            usage(stdout);
            *code = CLI_EXIT_OK;
            return 0;
        case '?':
            fprintf(stderr, "dopflow analyze: unknown or incomplete option '%s' (see --help)\n", argv[optind - 1]);
            return 0;
        default:
            if (opt < CLI_ANALYSIS_OPT_BASE || opt >= CLI_ANALYSIS_OPT_END) return 0;
            bad = cli_analysis_option("analyze", opt, optarg, job) != 0;
            break;
        }
    }
    if (bad) return 0;
    if (optind != argc - 1) {
        fprintf(stderr, "dopflow analyze: expected one INPUT (see --help)\n");
        return 0;
    }
    job->input.path = argv[optind];
    if (job->review_path && job->no_review) {
        fprintf(stderr, "dopflow analyze: --review and --no-review exclude each other\n");
        return 0;
    }
    return 1;
}

/* After a successful run: the input's layout, the review, and a note for
 * everything a reader of the outputs should know. */
static void print_notes(const dop_job *job, const dop_job_report *report, const dop_summary *rows, size_t n_rows)
{
    if (report->input.kind != DOP_INPUT_AUDIO)
        fprintf(stderr, "dopflow analyze: %s: %s, PRF %g Hz, gates %ld to %ld of %ld averaged; Nyquist velocity "
                        "%.4g cm/s%s\n", job->input.path, report->input.layout, report->fs_hz, report->input.gate_first,
                report->input.gate_first + report->input.gates - 1, report->input.file_gates, report->nyquist_cm_s,
                job->analysis.baseline_shift_cm_s != 0.0 ? " (before the baseline shift)" : "");
    print_review(report);
    if (report->unwrapped_frames > 0)
        fprintf(stderr, "dopflow analyze: note: %lld frames aliased past the Nyquist velocity %.4g cm/s and were "
                        "unwrapped (quality 'unwrapped' in the frames)\n", report->unwrapped_frames,
                report->nyquist_cm_s);
    if (report->spectral_line_frames > 0)
        fprintf(stderr, "dopflow analyze: note: %s: a stationary spectral line (hum or interference) was left out "
                        "of the estimates in %lld of %lld frames\n", job->input.path, report->spectral_line_frames,
                (long long)report->frames);
    if (report->frames > 0 && report->not_pulsatile_frames * 2 > report->frames)
        fprintf(stderr, "dopflow analyze: note: %s: no pulsatile flow in %lld of %lld frames (no periodic cardiac "
                        "evidence there: periodicity below z %g, seen in one feature only, or not confirmed by the next "
                        "estimate; highest z "
                        "%.2f; or no signal above the noise): no beats there (pulsatile = 0)\n", job->input.path,
                report->not_pulsatile_frames,
                (long long)report->frames, job->analysis.beats.z_min, report->best_periodicity);
    if (report->non_directional)
        fprintf(stderr, "dopflow analyze: note: %s is non-directional (mono): analysed one-sided, all flow "
                        "counted as forward (directional = 0 in the summary)\n", job->input.path);
    for (size_t i = 0; i < n_rows; i++)
        if (rows[i].analysed_s <= 0.0)
            fprintf(stderr, "dopflow analyze: warning: epoch '%s' (%g to %g s) lies outside the analysed "
                            "recording: its row is empty\n", rows[i].epoch, rows[i].start_s, rows[i].end_s);
}

/* The spectral analysis (dop_job_run): summary rows per epoch, notes, figures. */
static int run_spectral(analyze_request *req, const char *figure_source)
{
    dop_job *job = &req->job;
    dop_error err;
    dop_error_clear(&err);
    dop_epoch *epochs = NULL;
    size_t n_epochs = 0;
    if (req->epoch_spec) {
        dop_status status = dop_epochs_parse(req->epoch_spec, 0.0, &epochs, &n_epochs, &err);
        if (status != DOP_OK) return cli_fail("analyze", status, &err);
        job->epochs = epochs;
        job->n_epochs = n_epochs;
    }
    cli_install_stop_handlers();
    job->stop = &cli_stop_requested;
    dop_summary *rows = calloc(n_epochs ? n_epochs : 1, sizeof *rows);
    if (!rows) {
        free(epochs);
        return cli_fail("analyze", DOP_ERR_NOMEM, NULL);
    }
    dop_job_report report;
    dop_status status = dop_job_run(job, rows, &report, &err);
    int code = CLI_EXIT_OK;
    if (status != DOP_OK) {
        code = cli_fail("analyze", status, &err);
    } else {
        cli_input_notes("analyze", job->input.path, &report.quadrature, &report.input); /* issue 14b */
        print_notes(job, &report, rows, n_epochs ? n_epochs : 1);
        if (req->plots) code = draw_figures(figure_source, job->h5_path != NULL);
        if (isnan(report.acq.diameter_mm) && !job->diameter_csv)
            fprintf(stderr, "dopflow analyze: note: no vessel diameter (--diameter or diameter_mm): flow columns "
                            "are empty\n");
    }
    free(rows);
    free(epochs);
    return code;
}

int cmd_analyze(int argc, char **argv)
{
    analyze_request req = {dop_job_default(), dop_color_job_default(), NULL, 0};
    int code;
    if (!parse_options(argc, argv, &req, &code)) return code;
    dop_job *job = &req.job;
    if (job->input.format == DOP_INPUT_CLARIUS || req.color.csv_path) return run_color(job, &req.color, req.plots);
    const char *figure_source = job->h5_path ? job->h5_path
                                : (job->frames_path && strcmp(job->frames_path, "-") != 0) ? job->frames_path : NULL;
    if (req.plots && !figure_source) {
        fprintf(stderr, "dopflow analyze: --plots needs --h5 FILE or --frames FILE to draw from\n");
        return CLI_EXIT_USAGE;
    }
    if (!job->summary_path && !job->frames_path && !job->beats_path && !job->h5_path) job->summary_path = "-";
    job->frames_stream = job->frames_path && strcmp(job->frames_path, "-") == 0;
    return run_spectral(&req, figure_source);
}
