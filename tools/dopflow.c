/* dopflow: one command, several subcommands. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

typedef struct subcommand {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} subcommand;

static const subcommand subcommands[] = {
    {"analyze", cmd_analyze, "spectrum, velocity envelopes, beats and flow of one recording"},
    {"info", cmd_info, "describe a recording: format, rate, channels, duration, metadata"},
    {"study", cmd_study, "analyse a manifest of recordings in parallel; compare conditions and epochs"},
    {"simulate", cmd_simulate, "write simulated Doppler recordings (or a whole cohort) with known truth"},
    {"plot", cmd_plot, "figures: sonogram with envelopes, flow over time, study comparison"},
    {"review", cmd_review, "review beats in the browser; edits saved as REC.review.json"},
};

static void usage(FILE *out)
{
    fprintf(out, "dopflow %s: Doppler ultrasound blood-flow analysis\n\n"
                 "Usage: dopflow COMMAND [OPTIONS]   (dopflow COMMAND --help for details)\n\nCommands:\n",
            dop_version());
    for (size_t i = 0; i < sizeof subcommands / sizeof subcommands[0]; i++)
        fprintf(out, "  %-10s %s\n", subcommands[i].name, subcommands[i].summary);
    fprintf(out, "\n" CLI_EXIT_CODES_HELP);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return CLI_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("dopflow %s\n", dop_version());
        return CLI_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof subcommands / sizeof subcommands[0]; i++)
        if (strcmp(argv[1], subcommands[i].name) == 0) return subcommands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "dopflow: unknown command '%s' (see dopflow --help)\n", argv[1]);
    return CLI_EXIT_USAGE;
}
