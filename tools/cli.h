/* dopflow command line: shared pieces of the subcommands. The programs are
 * thin: parse options into config structs, call the library, map the
 * status to an exit code and say what went wrong in one line on stderr. */
#ifndef DOPFLOW_TOOLS_CLI_H
#define DOPFLOW_TOOLS_CLI_H

#include <getopt.h>
#include <signal.h>
#include <stdio.h>

#include "dopflow/dopflow.h"

/* Exit codes (documented in README and every --help). */
enum {
    CLI_EXIT_OK = 0,
    CLI_EXIT_PARTIAL = 1,     /* study: some recordings failed (see failures.csv) */
    CLI_EXIT_USAGE = 2,       /* bad command line or option value */
    CLI_EXIT_INPUT = 3,       /* input missing, unreadable or in an unusable format */
    CLI_EXIT_METADATA = 4,    /* acquisition metadata missing or non-physical; bad sidecar or review file */
    CLI_EXIT_ALIASING = 5,    /* sample rate too low for the velocities implied */
    CLI_EXIT_OUTPUT = 6,      /* an output could not be written */
    CLI_EXIT_INTERNAL = 7,    /* out of memory, FFT or HDF5 failure */
    CLI_EXIT_INTERRUPTED = 130
};

/* Text for --help of every command. */
#define CLI_EXIT_CODES_HELP \
    "Exit codes: 0 success; 1 some recordings failed (study); 2 usage error;\n" \
    "  3 input missing/unreadable/unusable; 4 bad or missing metadata or review file;\n" \
    "  5 sample rate too low (aliasing); 6 cannot write output;\n" \
    "  7 internal (memory, FFT, HDF5); 130 interrupted.\n"

int cli_exit_code(dop_status status);

/* Print "dopflow CMD: message" on stderr (message from err if set, else
 * dop_strerror), followed by the flags of the parameters the message names
 * (cli_flag_advice). Returns the exit code for status. */
int cli_fail(const char *cmd, dop_status status, const dop_error *err);

/* "; on the command line: --f0 HZ, ..." for the library parameters that
 * message names (f0_hz, ...), or "" if it names none. cli_fail adds it. */
void cli_flag_advice(const char *message, char *out, size_t size);

/* The lines about the input that the user must see, on stderr, prefixed
 * "dopflow CMD: ": a stereo file found not to be I/Q and read as mono
 * (quadrature checked and failed), and a truncated WAV (info->frames_promised
 * > info->frames). Either pointer may be NULL; prints nothing otherwise. */
void cli_input_notes(const char *cmd, const char *path, const dop_quadrature_result *q, const dop_reader_info *info);

/* Parse a finite double; 0 on success, -1 with a message on stderr. */
int cli_parse_double(const char *cmd, const char *option, const char *text, double *out);

/* Analysis options shared by `analyze` and `study`. Add CLI_ANALYSIS_LONGOPTS
 * to a getopt_long table; pass every option index >= CLI_ANALYSIS_OPT_BASE to
 * cli_analysis_option(). */
enum {
    CLI_ANALYSIS_OPT_BASE = 1000,
    CLI_OPT_F0 = CLI_ANALYSIS_OPT_BASE, CLI_OPT_ANGLE, CLI_OPT_C, CLI_OPT_DIAMETER,
    CLI_OPT_DIAMETER_CSV, CLI_OPT_CHANNELS, CLI_OPT_META, CLI_OPT_WALL_HZ, CLI_OPT_WALL_ORDER,
    CLI_OPT_WINDOW, CLI_OPT_WINDOW_MS, CLI_OPT_HOP_MS, CLI_OPT_FFT, CLI_OPT_VMAX, CLI_OPT_PERCENTILE,
    CLI_OPT_THRESHOLD_DB, CLI_OPT_VMEAN, CLI_OPT_RAW_FORMAT, CLI_OPT_RATE,
    CLI_OPT_FORMAT, CLI_OPT_GATE, CLI_OPT_VARIABLE, CLI_OPT_PRF_VAR, CLI_OPT_BASELINE_SHIFT, CLI_OPT_UNWRAP,
    CLI_ANALYSIS_OPT_END
};
#define CLI_ANALYSIS_LONGOPTS \
    {"f0", required_argument, 0, CLI_OPT_F0}, {"angle", required_argument, 0, CLI_OPT_ANGLE}, \
    {"c", required_argument, 0, CLI_OPT_C}, {"diameter", required_argument, 0, CLI_OPT_DIAMETER}, \
    {"diameter-csv", required_argument, 0, CLI_OPT_DIAMETER_CSV}, \
    {"channels", required_argument, 0, CLI_OPT_CHANNELS}, {"meta", required_argument, 0, CLI_OPT_META}, \
    {"wall-hz", required_argument, 0, CLI_OPT_WALL_HZ}, {"wall-order", required_argument, 0, CLI_OPT_WALL_ORDER}, \
    {"window", required_argument, 0, CLI_OPT_WINDOW}, {"window-ms", required_argument, 0, CLI_OPT_WINDOW_MS}, \
    {"hop-ms", required_argument, 0, CLI_OPT_HOP_MS}, {"fft", required_argument, 0, CLI_OPT_FFT}, \
    {"vmax", required_argument, 0, CLI_OPT_VMAX}, {"percentile", required_argument, 0, CLI_OPT_PERCENTILE}, \
    {"threshold-db", required_argument, 0, CLI_OPT_THRESHOLD_DB}, {"vmean", required_argument, 0, CLI_OPT_VMEAN}, \
    {"raw-format", required_argument, 0, CLI_OPT_RAW_FORMAT}, {"rate", required_argument, 0, CLI_OPT_RATE}, \
    {"prf", required_argument, 0, CLI_OPT_RATE}, {"format", required_argument, 0, CLI_OPT_FORMAT}, \
    {"gate", required_argument, 0, CLI_OPT_GATE}, {"variable", required_argument, 0, CLI_OPT_VARIABLE}, \
    {"prf-var", required_argument, 0, CLI_OPT_PRF_VAR}, \
    {"baseline-shift", required_argument, 0, CLI_OPT_BASELINE_SHIFT}, {"unwrap", required_argument, 0, CLI_OPT_UNWRAP}

/* Apply one analysis option to job; 0 on success, -1 after printing an error. */
int cli_analysis_option(const char *cmd, int option, const char *value, dop_job *job);

/* "A:B" (or "A") -> gate range, 0-based inclusive; 0 on success, -1 after
 * printing an error. */
int cli_parse_gate_range(const char *cmd, const char *text, long *first, long *last);

/* The --help text of the analysis options. */
void cli_analysis_options_help(FILE *out);

/* SIGINT/SIGTERM set this flag (installed by cli_install_stop_handlers). */
extern volatile sig_atomic_t cli_stop_requested;
void cli_install_stop_handlers(void);

/* A data file named as in the source tree (datasets/examples/X.json): path
 * itself when it exists (or is absolute), else the same relative path in the
 * installed data folder (share/dopflow beside the binary's bin/, or
 * $DOPFLOW_DATA_DIR) when it is there, written into buf; else path. */
const char *cli_data_file(const char *path, char *buf, size_t size);

/* Subcommands: argv[0] is the subcommand name. */
int cmd_analyze(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_study(int argc, char **argv);
int cmd_simulate(int argc, char **argv);
int cmd_plot(int argc, char **argv);
int cmd_review(int argc, char **argv);

#endif
