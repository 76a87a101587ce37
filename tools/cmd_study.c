/* dopflow study: a manifest of recordings -> per-recording summaries and
 * the study's comparison (conditions, ANOVA, report). Thin: options into a
 * dop_study_config, dop_study_run() / dop_study_merge(), exit code. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "plot/plot.h"

#define STUDY_FIGURE "study.png" /* --plots: written into OUTDIR, linked from report.md */
#include "dopflow/study.h"

static void usage(FILE *out)
{
    fputs("Usage: dopflow study MANIFEST.csv -o OUTDIR [OPTIONS]\n"
          "       dopflow study merge -o OUTDIR [--plots] SHARD_DIR...\n"
          "Analyse every recording of a study manifest (in parallel) and compare conditions\n"
          "and epochs over subjects.\n\n"
          "Manifest: CSV with a header; required columns subject, condition, file (relative\n"
          "paths resolve against the manifest's folder); optional artery (groups results),\n"
          "onset_s (event time in the recording, s) and f0_hz, angle_deg, diameter_mm,\n"
          "c_m_s, channels (override the recording's sidecar JSON; command-line options\n"
          "override both). Other columns are ignored.\n\n"
          "Options:\n"
          "  -o, --output DIR        output folder (created when missing; required)\n"
          "  -j, --jobs N            analyse N recordings at a time in worker processes\n"
          "                          (default 1); outputs are identical for any N\n"
          "  --epochs SPEC           label:start:end,... seconds relative to each row's\n"
          "                          onset_s (from the recording's start without one), e.g.\n"
          "                          pre:-10:0,t5:2.5:7.5,t10:7.5:12.5,t20:17.5:22.5;\n"
          "                          default: one epoch 'all', the whole recording\n"
          "  --reference-epoch LABEL epoch the others are compared with (default: the\n"
          "                          first of --epochs)\n"
          "  --resume                skip recordings whose result for the same input bytes\n"
          "                          (sidecar and review file), parameters, metadata and\n"
          "                          epochs is in OUTDIR/.results; continue an interrupted run\n"
          "  --shard K/N             analyse only manifest rows i (from 0) with i % N == K-1;\n"
          "                          combine the N shard folders with `dopflow study merge`\n"
          "  --no-review             apply no review file (by default each recording's\n"
          "                          REC.review.json is applied; report.md lists per\n"
          "                          recording what the review excluded and which\n"
          "                          recordings are not yet marked reviewed)\n"
          "  --plots                 also draw OUTDIR/study.png (flow by epoch per condition,\n"
          "                          mean +/- SE, significance marks); report.md embeds it\n"
          "  -h, --help              this text\n\n"
          "Outputs in OUTDIR: recordings.csv (recording x epoch), conditions.csv (artery x\n"
          "condition x epoch: n, mean/SD/SEM of mean velocity and flow over subjects, flow\n"
          "change from the reference epoch, paired t-test p and Holm-adjusted p),\n"
          "anova.csv (repeated-measures ANOVA of flow across epochs, Greenhouse-Geisser\n"
          "corrected), report.md, failures.csv; .results/ and .study/ for --resume and merge.\n"
          "report.md shows the command without -o, -j, --resume and --shard (they do not\n"
          "change results), so single runs, resumed runs and merged shards match byte for byte.\n"
          "A progress bar is drawn on standard error when it is a terminal. SIGINT/SIGTERM\n"
          "stop cleanly: finished recordings are kept and --resume continues.\n"
          "A file named 'merge' must be given as ./merge.\n",
          out);
    cli_analysis_options_help(out);
    fputs("\n" CLI_EXIT_CODES_HELP, out);
}

/* ---- progress bar (stderr, only on a terminal) ---- */

typedef struct progress_bar {
    double last;
    int drawn;
} progress_bar;

static double monotonic_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void clock_text(char *out, size_t cap, double s)
{
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(out, cap, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(out, cap, "%ld:%02ld", t / 60, t % 60);
}

static void on_progress(const dop_study_progress *p, void *user)
{
    progress_bar *bar = user;
    double now = monotonic_s();
    if (p->done < p->total && bar->drawn && now - bar->last < 0.1) return;
    bar->last = now;
    bar->drawn = 1;
    enum { WIDTH = 30 };
    size_t fill = p->total ? p->done * WIDTH / p->total : WIDTH;
    char cells[WIDTH + 1];
    for (size_t i = 0; i < WIDTH; i++) cells[i] = i < fill ? '#' : '.';
    cells[WIDTH] = '\0';
    char elapsed[32], left[32] = "?";
    clock_text(elapsed, sizeof elapsed, p->elapsed_s);
    /* Reused results cost nothing: estimate from the analysed ones. */
    size_t worked = p->done - p->reused;
    if (worked > 0) clock_text(left, sizeof left, p->elapsed_s / (double)worked * (double)(p->total - p->done));
    fprintf(stderr, "\r[%s] %zu/%zu done, %zu failed, %s elapsed, ~%s left ", cells, p->done, p->total, p->failed,
            elapsed, left);
    fflush(stderr);
}

/* ---- the command text stored in report.md ---- */

static int append(char **buf, size_t *len, size_t *cap, const char *s)
{
    size_t n = strlen(s);
    if (*len + n + 1 > *cap) {
        size_t c = *cap ? *cap : 256;
        while (c < *len + n + 1) c *= 2;
        char *b = realloc(*buf, c);
        if (!b) return -1;
        *buf = b;
        *cap = c;
    }
    memcpy(*buf + *len, s, n + 1);
    *len += n;
    return 0;
}

/* Append " WORD", single-quoted for the shell when needed. */
static int append_word(char **buf, size_t *len, size_t *cap, const char *word)
{
    int plain = *word != '\0';
    for (const char *c = word; *c; c++)
        if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_./:,=+-@%", *c)) plain = 0;
    if (append(buf, len, cap, " ") != 0) return -1;
    if (plain) return append(buf, len, cap, word);
    if (append(buf, len, cap, "'") != 0) return -1;
    for (const char *c = word; *c; c++) {
        char one[2] = {*c, '\0'};
        if (append(buf, len, cap, *c == '\'' ? "'\\''" : one) != 0) return -1;
    }
    return append(buf, len, cap, "'");
}

static int parse_shard(const char *text, unsigned *k, unsigned *n)
{
    char *end;
    unsigned long a = strtoul(text, &end, 10);
    if (end == text || *end != '/') return -1;
    const char *rest = end + 1;
    unsigned long b = strtoul(rest, &end, 10);
    if (end == rest || *end || a < 1 || b < 1 || a > b || b > 1000000) return -1;
    *k = (unsigned)a;
    *n = (unsigned)b;
    return 0;
}

static int finish(const char *cmd, dop_status status, const dop_error *err, const dop_study_summary *sum,
                  const char *out_dir)
{
    if (status == DOP_ERR_INTERRUPTED) {
        fprintf(stderr, "dopflow %s: %s\n", cmd, err->message[0] ? err->message : dop_strerror(status));
        return CLI_EXIT_INTERRUPTED;
    }
    if (status != DOP_OK) return cli_fail(cmd, status, err);
    if (sum->failed) {
        fprintf(stderr, "dopflow %s: %zu of %zu recordings could not be analysed (see %s/failures.csv)\n", cmd,
                sum->failed, sum->selected, out_dir);
        return CLI_EXIT_PARTIAL;
    }
    return CLI_EXIT_OK;
}

/* --plots: the study figure beside the outputs (report.md links it). */
static int write_study_figure(const char *cmd, const char *out_dir, int code)
{
    if (code != CLI_EXIT_OK && code != CLI_EXIT_PARTIAL) return code;
    size_t len = strlen(out_dir) + sizeof "/" STUDY_FIGURE;
    char *path = malloc(len);
    if (!path) return cli_fail(cmd, DOP_ERR_NOMEM, NULL);
    snprintf(path, len, "%s/%s", out_dir, STUDY_FIGURE);
    dop_error err;
    dop_error_clear(&err);
    dop_status status = plot_study(out_dir, path, NULL, &err);
    free(path);
    if (status != DOP_OK) {
        cli_fail(cmd, status, &err);
        return CLI_EXIT_OUTPUT;
    }
    return code;
}

static int cmd_study_merge(int argc, char **argv)
{
    enum { OPT_MERGE_PLOTS = 1 };
    static const struct option options[] = {
        {"output", required_argument, 0, 'o'}, {"plots", no_argument, 0, OPT_MERGE_PLOTS},
        {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *out_dir = NULL;
    int plots = 0;
    int opt;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "o:h", options, NULL)) != -1) {
        switch (opt) {
        case 'o': out_dir = optarg; break;
        case OPT_MERGE_PLOTS: plots = 1; break;
        case 'h': usage(stdout); return CLI_EXIT_OK;
        default:
            fprintf(stderr, "dopflow study merge: unknown or incomplete option '%s' (see --help)\n",
                    argv[optind - 1]);
            return CLI_EXIT_USAGE;
        }
    }
    if (!out_dir || optind >= argc) {
        fprintf(stderr, "dopflow study merge: expected -o OUTDIR and the shard folders (see --help)\n");
        return CLI_EXIT_USAGE;
    }
    dop_error err;
    dop_error_clear(&err);
    dop_study_summary sum;
    dop_status status = dop_study_merge(out_dir, (const char *const *)(argv + optind), (size_t)(argc - optind),
                                        plots ? STUDY_FIGURE : NULL, &sum, &err);
    int code = finish("study merge", status, &err, &sum, out_dir);
    return plots ? write_study_figure("study merge", out_dir, code) : code;
}

int cmd_study(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "merge") == 0) return cmd_study_merge(argc - 1, argv + 1);
    enum { OPT_EPOCHS = 1, OPT_REFERENCE, OPT_RESUME, OPT_SHARD, OPT_PLOTS, OPT_NO_REVIEW };
    static const struct option options[] = {
        {"output", required_argument, 0, 'o'}, {"jobs", required_argument, 0, 'j'},
        {"epochs", required_argument, 0, OPT_EPOCHS}, {"reference-epoch", required_argument, 0, OPT_REFERENCE},
        {"resume", no_argument, 0, OPT_RESUME}, {"shard", required_argument, 0, OPT_SHARD},
        {"plots", no_argument, 0, OPT_PLOTS}, {"no-review", no_argument, 0, OPT_NO_REVIEW},
        {"help", no_argument, 0, 'h'}, CLI_ANALYSIS_LONGOPTS, {0, 0, 0, 0}};
    dop_study_config cfg = dop_study_config_default();
    char *command = NULL;
    size_t len = 0, cap = 0;
    int code = CLI_EXIT_USAGE;
    int opt, index;
    optind = 1;
    opterr = 0;
    /* The options that change results, in the order given: the report's
     * command line (run-control options are left out, see --help). */
    char *opts_text = NULL;
    size_t opts_len = 0, opts_cap = 0;
    if (append(&opts_text, &opts_len, &opts_cap, "") != 0) return cli_fail("study", DOP_ERR_NOMEM, NULL);
    while ((opt = getopt_long(argc, argv, "o:j:h", options, &index)) != -1) {
        int records = 0;
        switch (opt) {
        case 'o': cfg.out_dir = optarg; break;
        case 'j': {
            char *end;
            long j = strtol(optarg, &end, 10);
            if (end == optarg || *end || j < 1 || j > 1024) {
                fprintf(stderr, "dopflow study: -j '%s': expected a number of workers from 1 to 1024\n", optarg);
                goto done;
            }
            cfg.jobs = (unsigned)j;
            break;
        }
        case OPT_EPOCHS: cfg.epochs_spec = optarg; records = 1; break;
        case OPT_REFERENCE: cfg.reference_epoch = optarg; records = 1; break;
        case OPT_RESUME: cfg.resume = 1; break;
        case OPT_PLOTS: cfg.report_figure = STUDY_FIGURE; break;
        case OPT_NO_REVIEW: cfg.job.no_review = 1; records = 1; break;
        case OPT_SHARD:
            if (parse_shard(optarg, &cfg.shard_index, &cfg.shard_count) != 0) {
                fprintf(stderr, "dopflow study: --shard '%s': expected K/N with 1 <= K <= N\n", optarg);
                goto done;
            }
            break;
        case 'h': usage(stdout); code = CLI_EXIT_OK; goto done;
        case '?':
            fprintf(stderr, "dopflow study: unknown or incomplete option '%s' (see --help)\n", argv[optind - 1]);
            goto done;
        default:
            if (opt >= CLI_ANALYSIS_OPT_BASE && opt < CLI_ANALYSIS_OPT_END) {
                if (cli_analysis_option("study", opt, optarg, &cfg.job) != 0) goto done;
                records = 1;
                break;
            }
            goto done;
        }
        if (records) {
            char name[80];
            snprintf(name, sizeof name, "--%s", options[index].name);
            if (append_word(&opts_text, &opts_len, &opts_cap, name) != 0 ||
                append_word(&opts_text, &opts_len, &opts_cap, optarg) != 0) {
                code = cli_fail("study", DOP_ERR_NOMEM, NULL);
                goto done;
            }
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "dopflow study: expected one MANIFEST.csv (see --help)\n");
        goto done;
    }
    if (!cfg.out_dir) {
        fprintf(stderr, "dopflow study: -o OUTDIR is required (see --help)\n");
        goto done;
    }
    cfg.manifest_path = argv[optind];
    if (append(&command, &len, &cap, "dopflow study") != 0 ||
        append_word(&command, &len, &cap, cfg.manifest_path) != 0 ||
        append(&command, &len, &cap, opts_text) != 0) {
        code = cli_fail("study", DOP_ERR_NOMEM, NULL);
        goto done;
    }
    cfg.command = command;

    progress_bar bar = {0, 0};
    if (isatty(2)) {
        cfg.progress = on_progress;
        cfg.progress_user = &bar;
    }
    cli_install_stop_handlers();
    cfg.stop = &cli_stop_requested;
    dop_error err;
    dop_error_clear(&err);
    dop_study_summary sum;
    dop_status status = dop_study_run(&cfg, &sum, &err);
    if (bar.drawn) fputc('\n', stderr);
    code = finish("study", status, &err, &sum, cfg.out_dir);
    if (cfg.report_figure) code = write_study_figure("study", cfg.out_dir, code);
done:
    free(opts_text);
    free(command);
    return code;
}
