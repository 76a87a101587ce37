/* dopflow simulate: write simulated Doppler recordings with known truth. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "dopflow/acquisition.h"
#include "dopflow/simulate.h"

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: dopflow simulate SPEC.json -o OUT.wav|OUT.h5|OUT.uff|OUT.mat|OUT.iq\n"
            "                        [--seed N] [--gates G] [--quiet]\n"
            "       dopflow simulate COHORT.json -o FOLDER [--quiet]\n\n"
            "Write a simulated quadrature Doppler recording whose true velocities, flow\n"
            "and beats are known (spectral model of the Doppler signal from blood, or with\n"
            "\"model\": \"scatterers\" point scatterers moving with a Womersley or power-law\n"
            "profile through a sample volume; optional wall clutter, noise, massage\n"
            "artifacts, dropouts and clipping).\n\n"
            "A recording spec gives:\n"
            "  OUT.wav         stereo WAV, left = I, right = Q (positive f = toward probe)\n"
            "  or slow-time IQ at PRF = sample_rate_hz (layouts in the README), G gates:\n"
            "  OUT.h5          native HDF5: /iq (N, 2) or (N, G, 2), attributes prf_hz, f0_hz,\n"
            "                  angle_deg, c_m_s, diameter_mm\n"
            "  OUT.uff         USTB UFF beamformed_data (frames = pulses, pixels = gates)\n"
            "  OUT.mat         MATLAB v7.3: complex iq (N x G), prf_hz and the acquisition\n"
            "  OUT.iq          raw interleaved little-endian I/Q (int16 or float32 by\n"
            "                  sample_format), gates inside each pulse\n"
            "  OUT.json        acquisition sidecar (f0_hz, angle_deg, c_m_s, diameter_mm)\n"
            "  OUT.truth.csv   per 10 ms: time_s, mean_velocity_cm_s, centreline_velocity_cm_s,\n"
            "                  flow_ml_min, diameter_mm, heart_rate_bpm\n"
            "  OUT.beats.csv   true beat onsets: beat, start_s, end_s\n"
            "  OUT.truth.json  per-epoch truth, output scaling, component powers\n"
            "A cohort spec (\"kind\": \"cohort\") writes every recording of the design into\n"
            "FOLDER (created if missing) with manifest.csv (subject,condition,artery,file,\n"
            "onset_s), truth.csv (true values per recording and epoch), subjects.csv,\n"
            "epochs.txt (the epochs relative to onset, for dopflow study) and each\n"
            "recording's resolved spec (NAME.spec.json).\n\n"
            "The same spec and seed give byte-identical files (.mat: the same samples, but\n"
            "libmatio stamps HDF5 object times). Spec format: datasets/README.md.\n"
            "A SPEC that does not exist as given (datasets/examples/brachial_rest.json) is\n"
            "looked up in the installed data folder (share/dopflow, or $DOPFLOW_DATA_DIR).\n\n"
            "Options:\n"
            "  -o, --output PATH   output WAV (recording) or folder (cohort); required\n"
            "      --seed N        override the spec's seed (recording specs)\n"
            "      --gates G       gates per pulse (IQ outputs), overriding the spec's \"gates\";\n"
            "                      each gate sees the same flow with its own speckle and noise\n"
            "  -q, --quiet         no progress line\n"
            "  -h, --help          this text\n\n"
            "Exit codes: 0 success; 2 usage error; 3 spec missing, unreadable or invalid\n"
            "  (the message names the key); 6 cannot write output; 7 internal (memory, FFT);\n"
            "  130 interrupted.\n");
}

static int progress_line(size_t index, size_t total, const char *file, void *user)
{
    (void)user;
    if (cli_stop_requested) return 1;
    fprintf(stderr, "\rdopflow simulate: recording %zu of %zu (%s)\033[K", index + 1, total, file);
    if (index + 1 == total) fputc('\n', stderr);
    return 0;
}

static int stop_check(size_t index, size_t total, const char *file, void *user)
{
    (void)index, (void)total, (void)file, (void)user;
    return cli_stop_requested ? 1 : 0;
}

/* Output errors of the writer are DOP_ERR_IO; map them to "cannot write
 * output" rather than "input unreadable". */
static int fail_output(dop_status st, const dop_error *err)
{
    int code = cli_fail("simulate", st, err);
    return st == DOP_ERR_IO ? CLI_EXIT_OUTPUT : code;
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, len = 0;
    char *s = malloc(cap);
    while (s) {
        size_t n = fread(s + len, 1, cap - len - 1, f);
        len += n;
        if (n == 0) break;
        if (cap - len < 2) {
            char *t = realloc(s, cap * 2);
            if (!t) {
                free(s);
                s = NULL;
                break;
            }
            s = t;
            cap *= 2;
        }
    }
    fclose(f);
    if (s) s[len] = '\0';
    return s;
}

int cmd_simulate(int argc, char **argv)
{
    static const struct option options[] = {
        {"output", required_argument, 0, 'o'}, {"seed", required_argument, 0, 's'},
        {"quiet", no_argument, 0, 'q'},        {"help", no_argument, 0, 'h'},
        {"gates", required_argument, 0, 'g'},
        {0, 0, 0, 0},
    };
    const char *output = NULL, *seed_text = NULL, *gates_text = NULL;
    int quiet = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:qh", options, NULL)) != -1) {
        switch (c) {
        case 'o': output = optarg; break;
        case 's': seed_text = optarg; break;
        case 'g': gates_text = optarg; break;
        case 'q': quiet = 1; break;
        case 'h': usage(stdout); return CLI_EXIT_OK;
        default: usage(stderr); return CLI_EXIT_USAGE;
        }
    }
    if (optind != argc - 1 || !output) {
        fprintf(stderr, "dopflow simulate: give one SPEC.json and -o OUTPUT (see dopflow simulate --help)\n");
        return CLI_EXIT_USAGE;
    }
    char spec_buf[4096];
    const char *spec_path = cli_data_file(argv[optind], spec_buf, sizeof spec_buf);
    unsigned long long seed = 0;
    if (seed_text) {
        char *end = NULL;
        errno = 0;
        seed = strtoull(seed_text, &end, 10);
        if (errno || !end || *end || seed_text[0] == '-' || seed_text[0] == '\0') {
            fprintf(stderr, "dopflow simulate: --seed expects a whole number >= 0, got '%s'\n", seed_text);
            return CLI_EXIT_USAGE;
        }
    }
    cli_install_stop_handlers();
    dop_error err;
    dop_error_clear(&err);
    dop_sim_spec_kind kind;
    dop_status st = dop_sim_spec_kind_of(spec_path, &kind, &err);
    if (st != DOP_OK) return cli_fail("simulate", st, &err);

    if (kind == DOP_SIM_SPEC_COHORT) {
        if (seed_text || gates_text) {
            fprintf(stderr, "dopflow simulate: --seed and --gates apply to recording specs; a cohort has its own\n");
            return CLI_EXIT_USAGE;
        }
        dop_sim_cohort *cohort = NULL;
        if ((st = dop_sim_cohort_load(spec_path, &cohort, &err)) != DOP_OK) return cli_fail("simulate", st, &err);
        int tty = !quiet && isatty(fileno(stderr));
        st = dop_sim_cohort_write(cohort, output, tty ? progress_line : stop_check, NULL, &err);
        size_t n = dop_sim_cohort_count(cohort);
        dop_sim_cohort_destroy(cohort);
        if (st != DOP_OK) {
            if (tty) fputc('\n', stderr);
            return fail_output(st, &err);
        }
        if (!quiet) fprintf(stderr, "dopflow simulate: %zu recordings and manifest.csv in %s\n", n, output);
        return CLI_EXIT_OK;
    }

    /* The sidecar OUT.json must not overwrite the spec (spec.json -o spec.h5). */
    char *sidecar = dop_sidecar_path_for(output);
    char *spec_real = realpath(spec_path, NULL), *sidecar_real = sidecar ? realpath(sidecar, NULL) : NULL;
    int clash = spec_real && sidecar_real && strcmp(spec_real, sidecar_real) == 0;
    free(spec_real);
    free(sidecar_real);
    if (clash) {
        fprintf(stderr, "dopflow simulate: the sidecar %s would overwrite the spec: name the output differently\n",
                sidecar);
        free(sidecar);
        return CLI_EXIT_USAGE;
    }
    free(sidecar);
    dop_sim_config cfg;
    if ((st = dop_sim_spec_load(spec_path, &cfg, &err)) != DOP_OK) return cli_fail("simulate", st, &err);
    if (seed_text) cfg.seed = (uint64_t)seed;
    if (gates_text) {
        double gates = 0.0;
        if (cli_parse_double("simulate", "--gates", gates_text, &gates) != 0) return CLI_EXIT_USAGE;
        if (gates != floor(gates) || gates < 1 || gates > 256) {
            fprintf(stderr, "dopflow simulate: --gates expects a whole number in [1, 256], got '%s'\n", gates_text);
            return CLI_EXIT_USAGE;
        }
        cfg.gates = (long)gates;
    }
    char *spec_text = read_text(spec_path);
    dop_sim_write_report rep;
    st = dop_sim_write(&cfg, output, spec_text, &rep, &err);
    free(spec_text);
    if (st != DOP_OK) return fail_output(st, &err);
    if (!quiet)
        fprintf(stderr, "dopflow simulate: %s: %.2f s at %.0f Hz, peak velocity %.1f cm/s (Nyquist %.1f cm/s)%s\n", output,
                (double)rep.samples / cfg.fs_hz, cfg.fs_hz, rep.peak_velocity_cm_s, rep.nyquist_cm_s,
                rep.clipped ? ", clipped samples" : "");
    return CLI_EXIT_OK;
}
