/* Shared command-line pieces: exit codes, error lines, analysis options. */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

volatile sig_atomic_t cli_stop_requested = 0;

static void on_stop_signal(int sig)
{
    (void)sig;
    cli_stop_requested = 1;
}

void cli_install_stop_handlers(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

int cli_exit_code(dop_status status)
{
    switch (status) {
    case DOP_OK: return CLI_EXIT_OK;
    case DOP_ERR_INVALID_ARG: return CLI_EXIT_USAGE;
    case DOP_ERR_IO:
    case DOP_ERR_FORMAT:
    case DOP_ERR_NO_DATA: return CLI_EXIT_INPUT;
    case DOP_ERR_METADATA: return CLI_EXIT_METADATA;
    case DOP_ERR_ALIASING: return CLI_EXIT_ALIASING;
    case DOP_ERR_INTERRUPTED: return CLI_EXIT_INTERRUPTED;
    default: return CLI_EXIT_INTERNAL;
    }
}

/* How to give each library parameter on the command line. Library messages
 * name parameters by their config names (f0_hz), never flags; the command
 * line adds the flag. A name that is also an ordinary word (format) is
 * matched in its "name =" form only. */
static const struct {
    const char *param;
    const char *flag;
} param_flags[] = {
    {"f0_hz", "--f0 HZ"},
    {"angle_deg", "--angle DEG"},
    {"c_m_s", "--c M_S"},
    {"prf_hz", "--prf HZ"},
    {"raw_rate_hz", "--rate HZ"},
    {"raw_format", "--raw-format s16|f32"},
    {"rate_variable", "--prf-var NAME"},
    {"variable =", "--variable NAME"},
    {"format =", "--format NAME"},
    {"channels =", "--channels iq|qi|mono|left|right"},
    {"gate_first", "--gate A:B"},
    {"gate_last", "--gate A:B"},
    {"vmean_method", "--vmean intensity|half-max|kasai"},
    {"baseline_shift_cm_s", "--baseline-shift CM_S"},
    {"start_s", "--start S"},
    {"end_s", "--end S"},
    {"dop_color_job_run", "--color-csv FILE"},
};

static int is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* 1 if name occurs in text as a whole word. */
static int names_param(const char *text, const char *name)
{
    const size_t len = strlen(name);
    for (const char *at = strstr(text, name); at; at = strstr(at + 1, name))
        if ((at == text || !is_name_char(at[-1])) && !is_name_char(at[len])) return 1;
    return 0;
}

void cli_flag_advice(const char *message, char *out, size_t size)
{
    size_t used = 0;
    out[0] = '\0';
    const size_t count = sizeof param_flags / sizeof param_flags[0];
    for (size_t i = 0; i < count && used < size; i++) {
        if (!names_param(message, param_flags[i].param) || strstr(out, param_flags[i].flag)) continue;
        int n = snprintf(out + used, size - used, "%s%s", used ? ", " : "; on the command line: ", param_flags[i].flag);
        if (n > 0) used += (size_t)n;
    }
}

int cli_fail(const char *cmd, dop_status status, const dop_error *err)
{
    const char *detail = (err && err->message[0]) ? err->message : dop_strerror(status);
    char advice[256];
    cli_flag_advice(detail, advice, sizeof advice);
    fprintf(stderr, "dopflow %s: %s%s\n", cmd, detail, advice);
    return cli_exit_code(status);
}

int cli_parse_double(const char *cmd, const char *option, const char *text, double *out)
{
    char *end = NULL;
    errno = 0;
    double value = strtod(text, &end);
    if (errno != 0 || end == text || *end != '\0' || !isfinite(value)) {
        fprintf(stderr, "dopflow %s: %s expects a number, got '%s'\n", cmd, option, text);
        return -1;
    }
    *out = value;
    return 0;
}

static int parse_choice(const char *cmd, const char *option, const char *value, const char *const *names,
                        int count, int *out)
{
    for (int i = 0; i < count; i++)
        if (strcmp(value, names[i]) == 0) {
            *out = i;
            return 0;
        }
    fprintf(stderr, "dopflow %s: %s: unknown value '%s' (expected:", cmd, option, value);
    for (int i = 0; i < count; i++) fprintf(stderr, " %s", names[i]);
    fprintf(stderr, ")\n");
    return -1;
}

int cli_analysis_option(const char *cmd, int option, const char *value, dop_job *job)
{
    static const char *const windows[] = {"hann", "hamming", "blackman", "gaussian"};
    static const char *const vmax_methods[] = {"mgm", "percentile", "threshold", "knee"};
    static const char *const vmean_methods[] = {"intensity", "half-max", "kasai"};
    static const char *const unwrap_modes[] = {"auto", "off", "on"};
    static const char *const raw_formats[] = {"none", "s16", "f32"};
    dop_analysis_config *cfg = &job->analysis;
    double number = 0.0;
    int choice = 0;
    switch (option) {
    case CLI_OPT_F0: return cli_parse_double(cmd, "--f0", value, &job->overrides.f0_hz);
    case CLI_OPT_ANGLE: return cli_parse_double(cmd, "--angle", value, &job->overrides.angle_deg);
    case CLI_OPT_C: return cli_parse_double(cmd, "--c", value, &job->overrides.c_m_s);
    case CLI_OPT_DIAMETER: return cli_parse_double(cmd, "--diameter", value, &job->overrides.diameter_mm);
    case CLI_OPT_DIAMETER_CSV: job->diameter_csv = value; return 0;
    case CLI_OPT_META: job->meta_path = value; return 0;
    case CLI_OPT_CHANNELS:
        job->overrides.channels = dop_channels_parse(value);
        job->input.channels = job->overrides.channels;
        if (job->overrides.channels == DOP_CHANNELS_UNSET) {
            fprintf(stderr, "dopflow %s: --channels: expected iq, qi, mono, left or right, got '%s'\n", cmd, value);
            return -1;
        }
        return 0;
    case CLI_OPT_WALL_HZ: return cli_parse_double(cmd, "--wall-hz", value, &cfg->wall.cutoff_hz);
    case CLI_OPT_WALL_ORDER:
        if (cli_parse_double(cmd, "--wall-order", value, &number) != 0) return -1;
        cfg->wall.order = (int)number;
        return 0;
    case CLI_OPT_WINDOW:
        if (parse_choice(cmd, "--window", value, windows, 4, &choice) != 0) return -1;
        cfg->spectrum.window = (dop_window)choice;
        return 0;
    case CLI_OPT_WINDOW_MS: return cli_parse_double(cmd, "--window-ms", value, &cfg->spectrum.window_ms);
    case CLI_OPT_HOP_MS: return cli_parse_double(cmd, "--hop-ms", value, &cfg->spectrum.hop_ms);
    case CLI_OPT_FFT:
        if (cli_parse_double(cmd, "--fft", value, &number) != 0) return -1;
        if (number < 0 || number > (1 << 20)) {
            fprintf(stderr, "dopflow %s: --fft must be between 0 and 1048576, got %s\n", cmd, value);
            return -1;
        }
        cfg->spectrum.fft_size = (size_t)number;
        return 0;
    case CLI_OPT_VMAX:
        if (parse_choice(cmd, "--vmax", value, vmax_methods, 4, &choice) != 0) return -1;
        cfg->envelope.method = (dop_fmax_method)choice;
        return 0;
    case CLI_OPT_PERCENTILE:
        if (cli_parse_double(cmd, "--percentile", value, &number) != 0) return -1;
        cfg->envelope.percentile = number > 1.0 ? number / 100.0 : number;
        return 0;
    case CLI_OPT_THRESHOLD_DB: return cli_parse_double(cmd, "--threshold-db", value, &cfg->envelope.threshold_db);
    case CLI_OPT_VMEAN:
        if (parse_choice(cmd, "--vmean", value, vmean_methods, 3, &choice) != 0) return -1;
        cfg->vmean_method = (dop_vmean_method)choice;
        return 0;
    case CLI_OPT_RAW_FORMAT:
        if (parse_choice(cmd, "--raw-format", value, raw_formats, 3, &choice) != 0) return -1;
        job->input.raw_format = (dop_raw_format)choice;
        return 0;
    case CLI_OPT_RATE: return cli_parse_double(cmd, "--rate/--prf", value, &job->input.raw_rate_hz);
    case CLI_OPT_FORMAT:
        choice = dop_input_format_parse(value);
        if (choice < 0) {
            fprintf(stderr, "dopflow %s: --format: unknown value '%s' (expected: auto audio iq-h5 uff mat clarius)\n",
                    cmd, value);
            return -1;
        }
        job->input.format = (dop_input_format)choice;
        return 0;
    case CLI_OPT_GATE: return cli_parse_gate_range(cmd, value, &job->input.gate_first, &job->input.gate_last);
    case CLI_OPT_VARIABLE: job->input.variable = value; return 0;
    case CLI_OPT_PRF_VAR: job->input.rate_variable = value; return 0;
    case CLI_OPT_BASELINE_SHIFT: return cli_parse_double(cmd, "--baseline-shift", value, &cfg->baseline_shift_cm_s);
    case CLI_OPT_UNWRAP:
        if (parse_choice(cmd, "--unwrap", value, unwrap_modes, 3, &choice) != 0) return -1;
        cfg->unwrap = (dop_unwrap_mode)choice;
        return 0;
    default:
        fprintf(stderr, "dopflow %s: internal error: unknown analysis option %d\n", cmd, option);
        return -1;
    }
}

int cli_parse_gate_range(const char *cmd, const char *text, long *first, long *last)
{
    char *end = NULL;
    errno = 0;
    long a = strtol(text, &end, 10), b;
    int ok = errno == 0 && end != text && a >= 0;
    if (ok && *end == ':') {
        const char *second = end + 1;
        b = strtol(second, &end, 10);
        ok = errno == 0 && end != second && *end == '\0' && b >= a;
    } else {
        b = a;
        ok = ok && *end == '\0';
    }
    if (!ok) {
        fprintf(stderr, "dopflow %s: --gate expects A:B or A, gate numbers from 0 with A <= B, got '%s'\n", cmd, text);
        return -1;
    }
    *first = a;
    *last = b;
    return 0;
}

void cli_analysis_options_help(FILE *out)
{
    fputs("Acquisition (override the sidecar INPUT.json or --meta FILE):\n"
          "  --f0 HZ              transmit frequency, Hz\n"
          "  --angle DEG          insonation angle between beam and vessel axis, degrees\n"
          "  --c M_S              speed of sound, m/s (default 1540)\n"
          "  --diameter MM        vessel diameter, mm (needed for flow)\n"
          "  --diameter-csv FILE  diameter over time: columns time_s,diameter_mm (interpolated)\n"
          "  --channels iq|qi|mono|left|right  stereo I/Q (left=I), swapped, or\n"
          "                       non-directional mono (mono = left: channel 1; right:\n"
          "                       channel 2). Default: mono file = mono; stereo = iq when\n"
          "                       the channels form a quadrature pair, else left (a note\n"
          "                       says so; --channels iq forces I/Q)\n"
          "  --meta FILE          JSON sidecar with f0_hz, angle_deg, c_m_s, diameter_mm, channels\n"
          "  --raw-format s16|f32 --rate HZ  raw interleaved samples (required for INPUT '-')\n"
          "Slow-time IQ (pulsed-wave Doppler from research scanners; layouts in the README):\n"
          "  --format auto|audio|iq-h5|uff|mat|clarius  input format (default auto: by\n"
          "                       content; clarius: colour-flow ensembles, see --color-csv)\n"
          "  --gate A:B           gates (depth samples) averaged as the sample volume, from 0,\n"
          "                       inclusive (default: all)\n"
          "  --prf HZ             pulse repetition frequency (overrides the file's; = --rate)\n"
          "  --variable NAME      MAT: the IQ variable; UFF: the beamformed_data group\n"
          "  --prf-var NAME       MAT: scalar variable holding the PRF, Hz\n"
          "Aliasing:\n"
          "  --baseline-shift CM_S  move the zero line: the velocity range becomes\n"
          "                       [-Vn + S, Vn + S) (Vn = Nyquist velocity; default 0)\n"
          "  --unwrap auto|on|off  unwrap bands that alias past the Nyquist velocity (flagged\n"
          "                       'unwrapped' in the frames); auto = on for IQ files\n"
          "Signal chain:\n"
          "  --wall-hz HZ         wall-filter cutoff, Hz (default 50; 0 disables)\n"
          "  --wall-order N       Butterworth order (default 4)\n"
          "  --window hann|hamming|blackman|gaussian  (default hann)\n"
          "  --window-ms MS       analysis window, ms (default 20)\n"
          "  --hop-ms MS          frame step, ms (default 10)\n"
          "  --fft N              FFT size >= window samples (default next power of 2)\n"
          "  --vmax mgm|percentile|threshold|knee  maximum-velocity method (default mgm: the half-power\n"
          "                       point of the falling edge; knee: the MGM knee alone)\n"
          "  --percentile P       for --vmax percentile (default 0.95)\n"
          "  --threshold-db DB    for --vmax threshold (default 6)\n"
          "  --vmean intensity|half-max|kasai  mean velocity: intensity-weighted spectral mean\n"
          "                       (default; spatial mean under uniform insonation), vmax/2\n"
          "                       (parabolic profile) or the lag-one autocorrelation phase\n"
          "                       (Kasai 1985)\n",
          out);
}

/* The installed data folder: DOPFLOW_DATA_DIR, else DOPFLOW_DATA_RELDIR (from
 * CMake: "../share/dopflow") beside the folder of the running binary, found
 * through /proc/self/exe, so that an installed dopflow works from any folder
 * and wherever its prefix was moved. "" when neither can be found. */
static void data_dir(char *buf, size_t size)
{
    const char *env = getenv("DOPFLOW_DATA_DIR");
    buf[0] = '\0';
    if (env && env[0]) {
        snprintf(buf, size, "%s", env);
        return;
    }
#ifdef DOPFLOW_DATA_RELDIR
    char exe[3072];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash) return;
    *slash = '\0';
    snprintf(buf, size, "%s/%s", exe, DOPFLOW_DATA_RELDIR);
#endif
}

const char *cli_data_file(const char *path, char *buf, size_t size)
{
    if (path[0] == '/' || access(path, F_OK) == 0) return path;
    char dir[4096];
    data_dir(dir, sizeof dir);
    if (!dir[0]) return path;
    int n = snprintf(buf, size, "%s/%s", dir, path);
    if (n < 0 || (size_t)n >= size || access(buf, F_OK) != 0) return path;
    return buf;
}

void cli_input_notes(const char *cmd, const char *path, const dop_quadrature_result *q, const dop_reader_info *info)
{
    if (q && q->checked && !q->is_quadrature)
        fprintf(stderr, "dopflow %s: note: %s: stereo but not a quadrature (I/Q) pair (channel ratio %.1f dB, "
                        "asymmetry %.2f): analysed as mono (left channel); --channels iq forces I/Q\n",
                cmd, path, q->channel_ratio_db, q->asymmetry);
    if (info && info->frames >= 0 && info->frames_promised > info->frames) {
        int64_t missing = info->frames_promised - info->frames;
        fprintf(stderr, "dopflow %s: warning: %s: truncated: the header promises %lld samples (%.3f s), the file "
                        "holds %lld (%.3f s): %lld samples (%.3f s) missing; analysed as far as it goes\n",
                cmd, path, (long long)info->frames_promised, (double)info->frames_promised / info->rate_hz,
                (long long)info->frames, info->duration_s, (long long)missing, (double)missing / info->rate_hz);
    }
}
