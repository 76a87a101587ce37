/* dopflow plot: figures of analysis and study results (PNG, SVG or PDF by
 * the output's extension). The figures themselves are in tools/plot/ so
 * that `analyze --plots` and `study --plots` can draw them too. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "plot/plot.h"

static const char *const CMD = "plot";

static void usage(FILE *out)
{
    fputs("Usage: dopflow plot KIND INPUT -o FIGURE [OPTIONS]   (dopflow plot KIND --help)\n\n"
          "Draw a figure of analysis results. The format follows FIGURE's extension:\n"
          ".png (raster, size in pixels), .svg or .pdf (vector, size in points).\n\n"
          "Kinds:\n"
          "  sonogram INPUT.h5          spectral display with the Vmax and Vmean envelopes,\n"
          "                             beat onsets and artifact frames (analyze --h5)\n"
          "  flow FRAMES.csv|INPUT.h5   flow and mean velocity over time, per frame and\n"
          "                             averaged over each beat; epochs shaded\n"
          "  study OUTDIR               flow by epoch per condition and artery, mean +/- SE,\n"
          "                             '*' where p_adjusted < 0.05 (OUTDIR/conditions.csv)\n"
          "  color COLOR.csv            a colour-flow frame: echo power in grey, flow velocity\n"
          "                             in red/blue (analyze --format clarius --color-csv)\n\n"
          "Common options:\n"
          "  -o, --output FIGURE  the figure to write (required); written atomically\n"
          "      --width N        figure width, px (PNG) or pt (SVG/PDF)\n"
          "      --height N       figure height\n"
          "      --title TEXT     title (default: the input's file name)\n"
          "  -h, --help           this help\n\n" CLI_EXIT_CODES_HELP,
          out);
}

static void usage_kind(FILE *out, const char *kind)
{
    if (strcmp(kind, "sonogram") == 0) {
        fputs("Usage: dopflow plot sonogram INPUT.h5 -o FIGURE [--from S] [--to S]\n"
              "                [--width PX] [--height PX] [--colormap viridis|grey|hot] [--range-db DB]\n"
              "                [--velocity LO:HI|full]\n\n"
              "The spectrogram of an HDF5 result (dopflow analyze --h5): time in s, velocity\n"
              "in cm/s (positive = toward the probe, up; zero dashed), power in dB with a\n"
              "colour bar from the 99.5th percentile down by --range-db. Drawn over it: the\n"
              "maximum (Vmax) and mean (Vmean) velocity envelopes, beat onsets (ticks at the\n"
              "top; orange = rejected beat), artifact frames (veiled, red strip at the\n"
              "bottom) and frames of rejected beats (lighter veil, orange strip). Long\n"
              "recordings are reduced to one column per pixel by taking the maximum; when a\n"
              "beat is narrower than about 10 pixels the envelopes become an overview: the\n"
              "peak and lowest Vmax (2nd/98th percentile over 3 beats) and the mean Vmean.\n\n"
              "Options:\n"
              "  -o, --output FIGURE  .png, .svg or .pdf (required)\n"
              "      --from S         start of the excerpt, s from file start (default: start)\n"
              "      --to S           end of the excerpt, s (default: end)\n"
              "      --width PX       default 1200\n"
              "      --height PX      default 560\n"
              "      --colormap NAME  viridis (default), grey (scanner look) or hot\n"
              "      --range-db DB    dynamic range shown below the 99.5th percentile, dB\n"
              "                       (default: 55 dB, cut at the median noise floor so that\n"
              "                       the background reads dark)\n"
              "      --velocity LO:HI velocity window, cm/s, or 'full' for the whole Nyquist\n"
              "                       range (default: what the envelopes reach, plus 15%)\n"
              "      --title TEXT     title (default: the input's file name)\n"
              "  -h, --help           this help\n\n" CLI_EXIT_CODES_HELP,
              out);
    } else if (strcmp(kind, "flow") == 0) {
        fputs("Usage: dopflow plot flow FRAMES.csv|INPUT.h5 -o FIGURE [--epochs SPEC]\n"
              "                [--from S] [--to S] [--width PX] [--height PX]\n\n"
              "Two panels over a shared time axis: volumetric flow (ml/min) and mean\n"
              "velocity (cm/s). The per-frame curve is drawn light, the beat-averaged curve\n"
              "(one level per beat, the mean over the beat) dark over it. From an HDF5 result\n"
              "the beat averages are the analysis' own (/beats, rejected beats left out);\n"
              "from a frames CSV (dopflow analyze --frames) they are the mean over the\n"
              "frames of each `beat`, artifact frames and rejected beats left out. Frames\n"
              "excluded as artifacts are shaded grey. Without a diameter the flow panel\n"
              "says so and only velocity is drawn.\n\n"
              "Options:\n"
              "  -o, --output FIGURE  .png, .svg or .pdf (required)\n"
              "      --epochs SPEC    label:start:end,... (s) shaded and labelled\n"
              "      --from S --to S  time span shown, s (default: all)\n"
              "      --width PX       default 1200\n"
              "      --height PX      default 700\n"
              "      --title TEXT     title (default: the input's file name)\n"
              "  -h, --help           this help\n\n" CLI_EXIT_CODES_HELP,
              out);
    } else if (strcmp(kind, "color") == 0) {
        fputs("Usage: dopflow plot color COLOR.csv -o FIGURE [--width PX] [--height PX]\n\n"
              "A colour-flow frame as a scanner shows it (dopflow analyze --format clarius\n"
              "--color-csv): beam line across, depth sample down; the echo power before\n"
              "the wall filter (clutter_db) in grey over 60 dB, and over it the velocity\n"
              "along the beam (cm/s; the lag-one phase in rad when the CSV has no velocity),\n"
              "red toward the probe and blue away, of the pixels whose filtered power is\n"
              "within 20 dB of the strongest and whose lag-one correlation is >= 0.5.\n"
              "Frame 0 of the CSV is drawn.\n\n"
              "Options:\n"
              "  -o, --output FIGURE  .png, .svg or .pdf (required)\n"
              "      --width PX       default 900\n"
              "      --height PX      default 720\n"
              "      --title TEXT     title (default: the input's file name)\n"
              "  -h, --help           this help\n\n" CLI_EXIT_CODES_HELP,
              out);
    } else {
        fputs("Usage: dopflow plot study OUTDIR -o FIGURE [--width PX] [--height PX]\n\n"
              "The study comparison from OUTDIR/conditions.csv (dopflow study): one panel\n"
              "per artery, flow (ml/min) by epoch with one line per condition, mean +/- SE\n"
              "(standard error) error bars, and '*' above the epochs whose change from\n"
              "baseline has p_adjusted < 0.05 ('**' < 0.01, '***' < 0.001). OUTDIR may also\n"
              "be the conditions.csv itself. Needed columns: artery, condition, epoch,\n"
              "flow_ml_min_mean, and flow_ml_min_sem (or flow_ml_min_sd and n); p_adjusted\n"
              "is optional.\n\n"
              "Options:\n"
              "  -o, --output FIGURE  .png, .svg or .pdf (required)\n"
              "      --width PX       default: 560 per panel + 240\n"
              "      --height PX      default 560\n"
              "      --title TEXT     title (default: the study folder's name)\n"
              "  -h, --help           this help\n\n" CLI_EXIT_CODES_HELP,
              out);
    }
}

static int parse_size(const char *option, const char *text, int *out)
{
    char *end = NULL;
    errno = 0;
    long value = strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || value < PLOT_MIN_SIZE || value > PLOT_MAX_SIZE) {
        fprintf(stderr, "dopflow %s: %s expects a whole number from %d to %d, got '%s'\n", CMD, option,
                PLOT_MIN_SIZE, PLOT_MAX_SIZE, text);
        return -1;
    }
    *out = (int)value;
    return 0;
}

/* --velocity LO:HI (cm/s) or "full" (the whole Nyquist range). */
static int parse_velocity(const char *text, plot_options *opt)
{
    if (strcmp(text, "full") == 0) {
        opt->vel_lo_cm_s = -INFINITY;
        opt->vel_hi_cm_s = INFINITY;
        return 0;
    }
    char *end = NULL;
    errno = 0;
    double lo = strtod(text, &end);
    if (errno == 0 && end != text && *end == ':') {
        const char *second = end + 1;
        double hi = strtod(second, &end);
        if (errno == 0 && end != second && *end == '\0' && isfinite(lo) && isfinite(hi) && hi > lo) {
            opt->vel_lo_cm_s = lo;
            opt->vel_hi_cm_s = hi;
            return 0;
        }
    }
    fprintf(stderr, "dopflow %s: --velocity expects LO:HI in cm/s with LO < HI (e.g. -30:120) or 'full', got '%s'\n",
            CMD, text);
    return -1;
}

/* Output failures (folder missing, not writable, disk full) are "cannot
 * write output" (6); everything else follows the status. */
static int fail(dop_status status, const char *out, const dop_error *err)
{
    int code = cli_fail(CMD, status, err);
    if (status == DOP_ERR_IO && plot_error_is_output(out, err)) return CLI_EXIT_OUTPUT;
    return code;
}

int cmd_plot(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    const char *kind = argv[1];
    if (strcmp(kind, "--help") == 0 || strcmp(kind, "-h") == 0 || strcmp(kind, "help") == 0) {
        usage(stdout);
        return CLI_EXIT_OK;
    }
    if (strcmp(kind, "sonogram") != 0 && strcmp(kind, "flow") != 0 && strcmp(kind, "study") != 0 &&
        strcmp(kind, "color") != 0) {
        fprintf(stderr, "dopflow %s: unknown figure '%s' (expected sonogram, flow, study or color; see dopflow plot "
                        "--help)\n", CMD, kind);
        return CLI_EXIT_USAGE;
    }
    enum { OPT_WIDTH = 1, OPT_HEIGHT, OPT_FROM, OPT_TO, OPT_EPOCHS, OPT_COLORMAP, OPT_RANGE_DB, OPT_TITLE, OPT_VELOCITY };
    static const struct option longopts[] = {
        {"output", required_argument, 0, 'o'},         {"width", required_argument, 0, OPT_WIDTH},
        {"height", required_argument, 0, OPT_HEIGHT},  {"from", required_argument, 0, OPT_FROM},
        {"to", required_argument, 0, OPT_TO},          {"epochs", required_argument, 0, OPT_EPOCHS},
        {"colormap", required_argument, 0, OPT_COLORMAP}, {"range-db", required_argument, 0, OPT_RANGE_DB},
        {"title", required_argument, 0, OPT_TITLE},    {"velocity", required_argument, 0, OPT_VELOCITY},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    plot_options opt = plot_options_default();
    const char *out = NULL;
    int velocity_given = 0;
    int sub_argc = argc - 1;
    char **sub_argv = argv + 1;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(sub_argc, sub_argv, "o:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'h': usage_kind(stdout, kind); return CLI_EXIT_OK;
        case 'o': out = optarg; break;
        case OPT_WIDTH:
            if (parse_size("--width", optarg, &opt.width_px) != 0) return CLI_EXIT_USAGE;
            break;
        case OPT_HEIGHT:
            if (parse_size("--height", optarg, &opt.height_px) != 0) return CLI_EXIT_USAGE;
            break;
        case OPT_FROM:
            if (cli_parse_double(CMD, "--from", optarg, &opt.from_s) != 0) return CLI_EXIT_USAGE;
            break;
        case OPT_TO:
            if (cli_parse_double(CMD, "--to", optarg, &opt.to_s) != 0) return CLI_EXIT_USAGE;
            break;
        case OPT_EPOCHS: opt.epochs = optarg; break;
        case OPT_COLORMAP:
            if (plot_colormap_parse(optarg, &opt.colormap) != 0) {
                fprintf(stderr, "dopflow %s: --colormap must be viridis, grey or hot, not '%s'\n", CMD, optarg);
                return CLI_EXIT_USAGE;
            }
            break;
        case OPT_RANGE_DB:
            if (cli_parse_double(CMD, "--range-db", optarg, &opt.range_db) != 0) return CLI_EXIT_USAGE;
            break;
        case OPT_TITLE: opt.title = optarg; break;
        case OPT_VELOCITY:
            if (parse_velocity(optarg, &opt) != 0) return CLI_EXIT_USAGE;
            velocity_given = 1;
            break;
        default:
            fprintf(stderr, "dopflow %s: unknown or incomplete option '%s' (see dopflow plot %s --help)\n", CMD,
                    sub_argv[optind - 1], kind);
            return CLI_EXIT_USAGE;
        }
    }
    if (optind != sub_argc - 1) {
        fprintf(stderr, "dopflow %s: %s (see dopflow plot %s --help)\n", CMD,
                optind >= sub_argc ? "give one input" : "give exactly one input", kind);
        return CLI_EXIT_USAGE;
    }
    const char *input = sub_argv[optind];
    if (!out) {
        fprintf(stderr, "dopflow %s: give the figure to write with -o FIGURE.png|.svg|.pdf\n", CMD);
        return CLI_EXIT_USAGE;
    }
    if (plot_format_for_path(out) == PLOT_FORMAT_UNKNOWN) {
        fprintf(stderr, "dopflow %s: %s: unknown figure format: the name must end in .png, .svg or .pdf\n", CMD, out);
        return CLI_EXIT_USAGE;
    }
    if (strcmp(kind, "sonogram") != 0 && (!isnan(opt.range_db) || opt.colormap != PLOT_CMAP_VIRIDIS || velocity_given)) {
        fprintf(stderr, "dopflow %s: --colormap, --range-db and --velocity apply to the sonogram only\n", CMD);
        return CLI_EXIT_USAGE;
    }
    if (strcmp(kind, "flow") != 0 && opt.epochs) {
        fprintf(stderr, "dopflow %s: --epochs applies to the flow figure only\n", CMD);
        return CLI_EXIT_USAGE;
    }

    dop_error err;
    dop_error_clear(&err);
    dop_status status;
    if (strcmp(kind, "sonogram") == 0) status = plot_sonogram(input, out, &opt, &err);
    else if (strcmp(kind, "flow") == 0) status = plot_flow(input, out, &opt, &err);
    else if (strcmp(kind, "color") == 0) status = plot_color(input, out, &opt, &err);
    else status = plot_study(input, out, &opt, &err);
    if (status != DOP_OK) return fail(status, out, &err);
    return CLI_EXIT_OK;
}
