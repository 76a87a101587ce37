/* dopflow simulate: write simulated Doppler recordings with known truth. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "dopflow/simulate.h"

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: dopflow simulate SPEC.json -o OUT.wav [--seed N] [--quiet]\n"
            "       dopflow simulate COHORT.json -o FOLDER [--quiet]\n\n"
            "Write a simulated quadrature Doppler recording whose true velocities, flow\n"
            "and beats are known (spectral model of the Doppler signal from blood, with\n"
            "optional wall clutter, noise, massage artifacts, dropouts and clipping).\n\n"
            "A recording spec gives:\n"
            "  OUT.wav         stereo WAV, left = I, right = Q (positive f = toward probe)\n"
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
            "The same spec and seed give byte-identical files. Spec format: datasets/README.md.\n\n"
            "Options:\n"
            "  -o, --output PATH   output WAV (recording) or folder (cohort); required\n"
            "      --seed N        override the spec's seed (recording specs)\n"
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
        {0, 0, 0, 0},
    };
    const char *output = NULL, *seed_text = NULL;
    int quiet = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:qh", options, NULL)) != -1) {
        switch (c) {
        case 'o': output = optarg; break;
        case 's': seed_text = optarg; break;
        case 'q': quiet = 1; break;
        case 'h': usage(stdout); return CLI_EXIT_OK;
        default: usage(stderr); return CLI_EXIT_USAGE;
        }
    }
    if (optind != argc - 1 || !output) {
        fprintf(stderr, "dopflow simulate: give one SPEC.json and -o OUTPUT (see dopflow simulate --help)\n");
        return CLI_EXIT_USAGE;
    }
    const char *spec_path = argv[optind];
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
        if (seed_text) {
            fprintf(stderr, "dopflow simulate: --seed applies to recording specs; a cohort has its own \"seed\"\n");
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

    dop_sim_config cfg;
    if ((st = dop_sim_spec_load(spec_path, &cfg, &err)) != DOP_OK) return cli_fail("simulate", st, &err);
    if (seed_text) cfg.seed = (uint64_t)seed;
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
