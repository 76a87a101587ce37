/* dopflow review: analyse a recording (or each recording of a manifest)
 * and serve the review page on 127.0.0.1 until interrupted. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "review/review_server.h"

static void usage(FILE *out)
{
    fputs("Usage: dopflow review INPUT [OPTIONS] [--port N]\n"
          "Review a recording in the browser: the sonogram with envelopes, the beats (accepted,\n"
          "rejected automatically with the reason, rejected by review), flow and mean velocity\n"
          "per beat and the summary. Reject or restore beats, add onsets, exclude spans, mark\n"
          "the recording reviewed; saving writes INPUT.review.json (the edits as data, replayed\n"
          "by analyze and study) and reanalyses. INPUT is a recording or a study manifest\n"
          "(.csv: its recordings one by one).\n\n"
          "Prints one line with the page's URL (127.0.0.1 only, with a random token) and serves\n"
          "until Ctrl-C.\n\n"
          "Options:\n"
          "  --port N             port (default: a free one)\n"
          "  --epochs SPEC        label:start:end,... seconds (relative to a manifest row's\n"
          "                       onset_s), as for analyze and study\n",
          out);
    cli_analysis_options_help(out);
    fputs("\n" CLI_EXIT_CODES_HELP, out);
}

static int is_manifest(const char *path)
{
    size_t n = strlen(path);
    return n > 4 && strcasecmp(path + n - 4, ".csv") == 0;
}

int cmd_review(int argc, char **argv)
{
    enum { OPT_PORT = 1, OPT_EPOCHS, OPT_HELP };
    static const struct option options[] = {
        {"port", required_argument, 0, OPT_PORT}, {"epochs", required_argument, 0, OPT_EPOCHS},
        {"help", no_argument, 0, OPT_HELP}, CLI_ANALYSIS_LONGOPTS, {0, 0, 0, 0}};
    rm_model model;
    memset(&model, 0, sizeof model);
    model.job = dop_job_default();
    double port = 0.0;
    int opt;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (opt) {
        case OPT_PORT:
            if (cli_parse_double("review", "--port", optarg, &port) != 0) return CLI_EXIT_USAGE;
            if (port != floor(port) || port < 0 || port > 65535) {
                fprintf(stderr, "dopflow review: --port expects 0 to 65535, got '%s'\n", optarg);
                return CLI_EXIT_USAGE;
            }
            break;
        case OPT_EPOCHS: model.epochs_spec = optarg; break;
        case 'h':
        case OPT_HELP: usage(stdout); return CLI_EXIT_OK;
        case '?':
            fprintf(stderr, "dopflow review: unknown or incomplete option '%s' (see --help)\n", argv[optind - 1]);
            return CLI_EXIT_USAGE;
        default:
            if (opt >= CLI_ANALYSIS_OPT_BASE && opt < CLI_ANALYSIS_OPT_END) {
                if (cli_analysis_option("review", opt, optarg, &model.job) != 0) return CLI_EXIT_USAGE;
                break;
            }
            return CLI_EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "dopflow review: expected one INPUT (see --help)\n");
        return CLI_EXIT_USAGE;
    }
    const char *input = argv[optind];
    dop_error err;
    dop_error_clear(&err);
    if (model.epochs_spec) { /* check the spec now rather than per recording */
        dop_epoch *epochs = NULL;
        size_t n = 0;
        dop_status st = dop_epochs_parse(model.epochs_spec, 0.0, &epochs, &n, &err);
        free(epochs);
        if (st != DOP_OK) return cli_fail("review", st, &err);
    }
    cli_install_stop_handlers();
    model.job.stop = &cli_stop_requested;
    dop_status st = rm_model_open(&model, input, is_manifest(input), &err);
    if (st != DOP_OK) {
        rm_model_close(&model);
        return cli_fail("review", st, &err);
    }
    /* The first recording is analysed before the URL is given; a single
     * recording that cannot be analysed (a bad review file, say) is an error. */
    st = rm_analyse(&model, 0, &err);
    if (st != DOP_OK && model.n_recs == 1) {
        rm_model_close(&model);
        return cli_fail("review", st, &err);
    }
    review_server *server = NULL;
    if ((st = review_server_start(&model, (unsigned)port, &server, &err)) != DOP_OK) {
        rm_model_close(&model);
        return cli_fail("review", st, &err);
    }
    printf("http://127.0.0.1:%u/?t=%s\n", review_server_port(server), review_server_token(server));
    fflush(stdout);
    fprintf(stderr, "dopflow review: %s analysed in %.2f s; serving on 127.0.0.1 only until Ctrl-C\n",
            model.recs[0].path, model.recs[0].analyse_s);
    while (!cli_stop_requested) {
        struct timespec nap = {0, 100000000};
        nanosleep(&nap, NULL);
    }
    review_server_stop(server);
    rm_model_close(&model);
    return CLI_EXIT_OK;
}
