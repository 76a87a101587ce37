/* dopflow info: describe a recording (format, rate, channels, duration) and
 * the acquisition metadata of its sidecar, with the velocity scale those
 * imply. Reads the header; a stereo audio file whose mapping was not chosen
 * also has its first 10 s decoded to check that it is a quadrature pair
 * (quadrature_check.h), and a WAV file's data chunk size is compared with the
 * bytes present (truncation). */
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "dopflow/clarius_raw.h"

static const char *const CMD = "info";

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: dopflow info FILE [OPTIONS]\n"
            "Describe a recording: format, sample rate, channels in the file and how they\n"
            "map to I/Q, frames, duration, sample type, the acquisition metadata of its\n"
            "sidecar (FILE with extension .json, or --meta) and, when f0 and angle are\n"
            "known, the velocity scale (cm/s per Hz) and the Nyquist velocity\n"
            "c fs / (4 f0 cos angle).\n\n"
            "Options:\n"
            "  --channels iq|qi|mono|left|right  channel mapping (default: 1 channel = mono;\n"
            "                         2 = iq when they form a quadrature pair, else left)\n"
            "  --raw-format s16|f32   FILE (or - for standard input) is raw interleaved\n"
            "                         little-endian samples; needs --rate\n"
            "  --rate HZ              sample rate of raw input, Hz\n"
            "  --format auto|audio|iq-h5|uff|mat|clarius  input format (default: by content;\n"
            "                         clarius: raw colour-flow ensembles, see --ensemble)\n"
            "  --ensemble N           clarius: shots per beam line (default 12)\n"
            "  --gate A:B             gates to describe (IQ files; default all)\n"
            "  --prf HZ               pulse repetition frequency (IQ files without one)\n"
            "  --variable NAME        MAT: the IQ variable; UFF: the beamformed_data group\n"
            "  --prf-var NAME         MAT: the scalar variable holding the PRF, Hz\n"
            "  --meta FILE            read acquisition metadata from this JSON sidecar\n"
            "  --json                 machine-readable output\n"
            "  -h, --help             this help\n\n" CLI_EXIT_CODES_HELP);
}

typedef struct info_options {
    dop_reader_config input;
    size_t ensemble;      /* clarius: shots per beam line */
    const char *meta_path;
    int json;
} info_options;

/* 0: go on; otherwise the exit code to return (help or usage error). */
static int parse_options(int argc, char **argv, info_options *opt, int *done)
{
    enum { OPT_CHANNELS = 1, OPT_RAW_FORMAT, OPT_RATE, OPT_META, OPT_JSON, OPT_FORMAT, OPT_GATE, OPT_VARIABLE,
           OPT_PRF_VAR, OPT_ENSEMBLE };
    static const struct option longopts[] = {
        {"format", required_argument, 0, OPT_FORMAT},     {"gate", required_argument, 0, OPT_GATE},
        {"prf", required_argument, 0, OPT_RATE},          {"variable", required_argument, 0, OPT_VARIABLE},
        {"prf-var", required_argument, 0, OPT_PRF_VAR},   {"ensemble", required_argument, 0, OPT_ENSEMBLE},
        {"channels", required_argument, 0, OPT_CHANNELS}, {"raw-format", required_argument, 0, OPT_RAW_FORMAT},
        {"rate", required_argument, 0, OPT_RATE},         {"meta", required_argument, 0, OPT_META},
        {"json", no_argument, 0, OPT_JSON},               {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    *done = 0;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'h':
            usage(stdout);
            *done = 1;
            return CLI_EXIT_OK;
        case OPT_CHANNELS:
            opt->input.channels = dop_channels_parse(optarg);
            if (opt->input.channels == DOP_CHANNELS_UNSET) {
                fprintf(stderr, "dopflow %s: --channels must be iq, qi, mono, left or right, not '%s'\n", CMD, optarg);
                return CLI_EXIT_USAGE;
            }
            break;
        case OPT_RAW_FORMAT:
            if (strcmp(optarg, "s16") == 0) opt->input.raw_format = DOP_RAW_S16;
            else if (strcmp(optarg, "f32") == 0) opt->input.raw_format = DOP_RAW_F32;
            else {
                fprintf(stderr, "dopflow %s: --raw-format must be s16 or f32, not '%s'\n", CMD, optarg);
                return CLI_EXIT_USAGE;
            }
            break;
        case OPT_RATE:
            if (cli_parse_double(CMD, "--rate", optarg, &opt->input.raw_rate_hz) != 0) return CLI_EXIT_USAGE;
            break;
        case OPT_META: opt->meta_path = optarg; break;
        case OPT_FORMAT: {
            int format = dop_input_format_parse(optarg);
            if (format < 0) {
                fprintf(stderr, "dopflow %s: --format must be auto, audio, iq-h5, uff or mat, not '%s'\n", CMD, optarg);
                return CLI_EXIT_USAGE;
            }
            opt->input.format = (dop_input_format)format;
            break;
        }
        case OPT_GATE:
            if (cli_parse_gate_range(CMD, optarg, &opt->input.gate_first, &opt->input.gate_last) != 0)
                return CLI_EXIT_USAGE;
            break;
        case OPT_VARIABLE: opt->input.variable = optarg; break;
        case OPT_PRF_VAR: opt->input.rate_variable = optarg; break;
        case OPT_ENSEMBLE: {
            double shots = 0.0;
            if (cli_parse_double(CMD, "--ensemble", optarg, &shots) != 0) return CLI_EXIT_USAGE;
            if (shots != floor(shots) || shots < 1 || shots > 65536) {
                fprintf(stderr, "dopflow %s: --ensemble expects a whole number of shots, got '%s'\n", CMD, optarg);
                return CLI_EXIT_USAGE;
            }
            opt->ensemble = (size_t)shots;
            break;
        }
        case OPT_JSON: opt->json = 1; break;
        default:
            fprintf(stderr, "dopflow %s: unknown or incomplete option '%s' (see dopflow info --help)\n", CMD,
                    argv[optind - 1]);
            return CLI_EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "dopflow %s: %s (see dopflow info --help)\n", CMD,
                optind >= argc ? "give one recording" : "give exactly one recording");
        return CLI_EXIT_USAGE;
    }
    opt->input.path = argv[optind];
    return CLI_EXIT_OK;
}

static const char *mapping_text(const dop_reader_info *info)
{
    switch (info->channels) {
    case DOP_CHANNELS_IQ: return "iq (I = left, Q = right)";
    case DOP_CHANNELS_QI: return "qi (Q = left, I = right)";
    case DOP_CHANNELS_MONO: return info->file_channels != 2 ? "mono (real signal; non-directional)"
                                   : info->mono_channel == 1 ? "mono (right channel only; non-directional)"
                                                             : "mono (left channel only; non-directional)";
    default: return "unset";
    }
}

typedef struct derived {
    double cm_s_per_hz;   /* Doppler scale, cm/s per Hz of shift; NAN if f0/angle unknown */
    double nyquist_cm_s;  /* velocity at fs/2 = c fs / (4 f0 cos angle), cm/s */
} derived;

static derived derive(const dop_acquisition *acq, double fs_hz)
{
    derived d = {NAN, NAN};
    if (!isnan(acq->f0_hz) && !isnan(acq->angle_deg) && !isnan(acq->c_m_s)) {
        d.cm_s_per_hz = dop_doppler_cm_s_per_hz(acq->f0_hz, acq->angle_deg, acq->c_m_s);
        /* |f| <= fs/2 both for I/Q (-fs/2..fs/2) and for a real channel (0..fs/2). */
        d.nyquist_cm_s = d.cm_s_per_hz * fs_hz / 2.0;
    }
    return d;
}

#define KEY_WIDTH 20

static void print_value(const char *key, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void print_value(const char *key, const char *fmt, ...)
{
    char label[64];
    snprintf(label, sizeof label, "%s:", key);
    printf("%-*s ", KEY_WIDTH, label);
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
}

/* A metadata value and where it came from (sidecar over file over default). */
static void print_meta_number(const char *key, double value, double sidecar_value, double file_value, const char *unit)
{
    if (isnan(value)) print_value(key, "unknown");
    else print_value(key, "%.10g %s%s", value, unit,
                     !isnan(sidecar_value) ? "" : !isnan(file_value) ? " (from the file)" : " (default)");
}

static void print_text(const info_options *opt, const dop_reader_info *info, const dop_quadrature_result *q,
                       const dop_acquisition *acq, const dop_acquisition *sidecar, const char *sidecar_used,
                       const derived *d)
{
    print_value("file", "%s", strcmp(opt->input.path, "-") == 0 ? "standard input" : opt->input.path);
    print_value("format", "%s", info->format);
    const int iq_file = info->kind != DOP_INPUT_AUDIO;
    if (iq_file) {
        print_value("layout", "%s", info->layout);
        print_value("gates", "%ld in the file; %ld to %ld selected (averaged as the sample volume)", info->file_gates,
                    info->gate_first, info->gate_first + info->gates - 1);
    }
    print_value(iq_file ? "PRF" : "sample rate", "%g Hz", info->rate_hz);
    if (iq_file) {
        print_value("samples", "complex (I, Q) per pulse and gate");
    } else {
        print_value("channels in file", "%d", info->file_channels);
        print_value("mapping", "%s", mapping_text(info));
    }
    if (q->checked)
        print_value("quadrature", "%s (channel ratio %.1f dB, asymmetry %.2f)%s", q->is_quadrature ? "yes" : "no",
                    q->channel_ratio_db, q->asymmetry,
                    q->is_quadrature ? "" : ": analysed as mono (left channel); --channels iq forces I/Q");
    if (info->frames >= 0) {
        print_value(iq_file ? "pulses" : "frames", "%lld", (long long)info->frames);
        if (info->frames_promised > info->frames)
            print_value("truncated", "header promises %lld frames (%.3f s): %lld (%.3f s) missing",
                        (long long)info->frames_promised, (double)info->frames_promised / info->rate_hz,
                        (long long)(info->frames_promised - info->frames),
                        (double)(info->frames_promised - info->frames) / info->rate_hz);
        print_value("duration", "%.3f s", info->duration_s);
    } else {
        print_value("frames", "unknown (stream)");
        print_value("duration", "unknown (stream)");
    }
    print_value("float samples", "%s", info->is_float ? "yes" : "no (integer, scaled to full scale 1.0)");
    print_value("sidecar", "%s", sidecar_used[0] ? sidecar_used : "none");
    const dop_acquisition *in_file = &info->file_acq;
    print_meta_number("f0", acq->f0_hz, sidecar->f0_hz, in_file->f0_hz, "Hz");
    print_meta_number("angle", acq->angle_deg, sidecar->angle_deg, in_file->angle_deg, "deg");
    print_meta_number("speed of sound", acq->c_m_s, sidecar->c_m_s, in_file->c_m_s, "m/s");
    print_meta_number("diameter", acq->diameter_mm, sidecar->diameter_mm, in_file->diameter_mm, "mm");
    print_value("sidecar channels", "%s", sidecar->channels == DOP_CHANNELS_UNSET ? "unset" : dop_channels_name(sidecar->channels));
    if (isnan(d->cm_s_per_hz)) {
        print_value("velocity scale", "unknown (needs f0 and angle)");
        print_value("nyquist velocity", "unknown (needs f0 and angle)");
    } else {
        print_value("velocity scale", "%.6g cm/s per Hz", d->cm_s_per_hz);
        print_value("nyquist velocity", "%.4g cm/s%s", d->nyquist_cm_s,
                    info->channels == DOP_CHANNELS_MONO ? " (either direction: mono)" : " (each direction)");
    }
}

/* JSON number or null for unknown (NAN). */
static json_t *json_number_or_null(double value) { return isnan(value) ? json_null() : json_real(value); }

static int print_json(const info_options *opt, const dop_reader_info *info, const dop_quadrature_result *q,
                      const dop_acquisition *acq, const dop_acquisition *sidecar, const char *sidecar_used,
                      const derived *d)
{
    json_t *meta = json_pack("{s:o, s:o, s:o, s:o, s:o}",
                             "f0_hz", json_number_or_null(acq->f0_hz),
                             "angle_deg", json_number_or_null(acq->angle_deg),
                             "c_m_s", json_number_or_null(acq->c_m_s),
                             "diameter_mm", json_number_or_null(acq->diameter_mm),
                             "channels", sidecar->channels == DOP_CHANNELS_UNSET
                                             ? json_null() : json_string(dop_channels_name(sidecar->channels)));
    json_t *root = json_pack("{s:s, s:s, s:f, s:i, s:s, s:o, s:o, s:b, s:o, s:o, s:o, s:o}",
                             "file", opt->input.path,
                             "format", info->format,
                             "sample_rate_hz", info->rate_hz,
                             "file_channels", info->file_channels,
                             "channels", dop_channels_name(info->channels),
                             "frames", info->frames >= 0 ? json_integer(info->frames) : json_null(),
                             "duration_s", json_number_or_null(info->duration_s),
                             "is_float", info->is_float,
                             "sidecar", sidecar_used[0] ? json_string(sidecar_used) : json_null(),
                             "metadata", meta ? meta : json_null(),
                             "cm_s_per_hz", json_number_or_null(d->cm_s_per_hz),
                             "nyquist_cm_s", json_number_or_null(d->nyquist_cm_s));
    if (!root) return -1;
    json_object_set_new(root, "input_format", json_string(dop_input_format_name(info->kind)));
    json_object_set_new(root, "layout", json_string(info->layout));
    json_object_set_new(root, "gates", json_integer(info->gates));
    json_object_set_new(root, "file_gates", json_integer(info->file_gates));
    json_object_set_new(root, "gate_first", json_integer(info->gate_first));
    /* Only when they say something, so that other files' output is unchanged. */
    if (q->checked)
        json_object_set_new(root, "quadrature", json_pack("{s:b, s:o, s:f}", "is_quadrature", q->is_quadrature,
                                                          "channel_ratio_db", json_number_or_null(isinf(q->channel_ratio_db)
                                                                                ? NAN : q->channel_ratio_db),
                                                          "asymmetry", q->asymmetry));
    if (info->frames_promised > info->frames && info->frames >= 0)
        json_object_set_new(root, "frames_promised", json_integer(info->frames_promised));
    int rc = json_dumpf(root, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(10) | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (rc != 0) return -1;
    putchar('\n');
    return 0;
}

/* --format clarius: the header of a colour-flow ensemble file. */
static int describe_clarius(const info_options *opt)
{
    dop_clarius_raw_config cfg = dop_clarius_raw_config_default();
    cfg.path = opt->input.path;
    cfg.ensemble = opt->ensemble;
    dop_clarius_raw *raw = NULL;
    dop_error err;
    dop_error_clear(&err);
    dop_status status = dop_clarius_raw_open(&cfg, &raw, &err);
    if (status != DOP_OK) return cli_fail(CMD, status, &err);
    const dop_clarius_raw_info *info = dop_clarius_raw_get_info(raw);
    if (opt->json) {
        json_t *root = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I}", "file", opt->input.path, "input_format",
                                 "clarius", "frames", (json_int_t)info->frames, "beam_lines", (json_int_t)info->beam_lines,
                                 "depth_samples", (json_int_t)info->samples, "ensemble", (json_int_t)info->ensemble,
                                 "header_lines", (json_int_t)info->lines, "file_bytes", (json_int_t)info->file_bytes);
        if (root) json_dumpf(root, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER), putchar('\n');
        json_decref(root);
    } else {
        print_value("file", "%s", opt->input.path);
        print_value("format", "Clarius raw IQ (colour-flow ensembles), id %u", (unsigned)info->id);
        print_value("frames", "%zu", info->frames);
        print_value("layout", "%zu beam lines x %zu depth samples x %zu shots, int16 I/Q", info->beam_lines,
                    info->samples, info->ensemble);
        print_value("analysis", "dopflow analyze FILE --format clarius --prf HZ --f0 HZ --color-csv OUT.csv");
    }
    dop_clarius_raw_close(raw);
    return CLI_EXIT_OK;
}

int cmd_info(int argc, char **argv)
{
    info_options opt = {.input = dop_reader_config_default(), .ensemble = 12};
    int done = 0;
    int code = parse_options(argc, argv, &opt, &done);
    if (code != CLI_EXIT_OK || done) return code;
    if (opt.input.format == DOP_INPUT_CLARIUS) return describe_clarius(&opt);

    dop_error err;
    dop_error_clear(&err);
    /* The sidecar layer (--meta or FILE.json); the command line adds only --channels, set on opt.input. */
    dop_acquisition_layers meta;
    dop_status status = dop_acquisition_resolve(opt.input.path, opt.meta_path, NULL, NULL, &meta, &err);
    if (status != DOP_OK) return cli_fail(CMD, status, &err);
    if (opt.input.channels == DOP_CHANNELS_UNSET) opt.input.channels = meta.layered.channels;
    dop_quadrature_result q;
    status = dop_quadrature_resolve(&opt.input, &q, &err);
    if (status != DOP_OK) return cli_fail(CMD, status, &err);

    dop_reader *reader = NULL;
    status = dop_reader_open(&opt.input, &reader, &err);
    if (status != DOP_OK) return cli_fail(CMD, status, &err);
    const dop_reader_info *info = dop_reader_get_info(reader);
    /* Precedence: defaults < the file's own (IQ formats) < sidecar < command line (only --channels here). */
    dop_acquisition acq = dop_acquisition_defaults();
    dop_acquisition_overlay(&acq, &info->file_acq);
    dop_acquisition_overlay(&acq, &meta.layered);
    derived d = derive(&acq, info->rate_hz);

    code = CLI_EXIT_OK;
    if (opt.json) {
        if (print_json(&opt, info, &q, &acq, &meta.sidecar, meta.sidecar_path, &d) != 0)
            code = cli_fail(CMD, dop_error_set(&err, DOP_ERR_NOMEM, "cannot build the JSON output"), &err);
    } else {
        print_text(&opt, info, &q, &acq, &meta.sidecar, meta.sidecar_path, &d);
    }
    cli_input_notes(CMD, strcmp(opt.input.path, "-") == 0 ? "standard input" : opt.input.path, NULL, info);
    dop_reader_close(reader);
    if (code == CLI_EXIT_OK && (fflush(stdout) != 0 || ferror(stdout)))
        code = cli_fail(CMD, dop_error_set(&err, DOP_ERR_IO, "standard output: write failed"), &err);
    return code;
}
