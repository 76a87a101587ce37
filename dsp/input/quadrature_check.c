/* Is a stereo recording a quadrature pair? (see include/dopflow/quadrature_check.h)
 *
 * Thresholds, from the synthetic cases of tests/input/test_quadrature_check.c, the
 * simulated examples (dopflow simulate datasets/examples/X.json, sidecar
 * removed) and the real recordings of ../shared/data/real (first 10 s):
 *   case                                              ratio dB   asymmetry A
 *   synthetic pulsatile I/Q, SNR 15 dB                    0.01      0.945
 *   the same, SNR -5 dB                                   0.07      0.830
 *   the same plus reverse flow (bidirectional)            0.01      0.761
 *   simulated brachial_rest (triphasic, clutter 30 dB)    0.3       0.84
 *     the same at SNR 5 / 0 / -5 / -10 dB                 0.3       0.62 / 0.45 / 0.44 / 0.32
 *   simulated femoral_exercise / tapotement               1.1 / 1.2 0.84 / 0.32
 *   real cardiac_cw_iq_100k.wav (true I/Q)                0.2       0.29
 *   right = 0.1 x left, 5 samples late (synthetic)       20.0       0.126
 *   real postdive recordings (8, copied channel)      5.2 - 52.5    0.003 - 0.035
 *     (the one at 5.2 dB is caught by A = 0.022 alone)
 * The spec's power-weighted A (sum |P(f) - P(-f)| / sum (P(f) + P(-f)))
 * gave 0.01 for the simulated brachial_rest: its wall clutter, 30 dB above
 * the blood and nearly symmetric, decides alone; hence the mean per pair.
 * A real signal gives a Hermitian spectrum, A = 0 apart from the estimate's
 * noise and the copy's leakage (a copy c x(t - d) adds at most 2c/(1+c^2)
 * to A: 0.2 for c = 0.1); true Doppler flow puts most of its power on one
 * side, A about 0.3 or more even when flow reverses or the noise is 10 dB
 * above the flow. The limits (10 dB, A < 0.1) sit between the two with a
 * margin of about 3 on both sides of A.
 * Not detected: a copy of comparable power (ratio < 10 dB) delayed by a
 * large fraction of a Doppler period: such a pair is nearly a Hilbert pair
 * and reads as one-sided flow. */
#include "dopflow/quadrature_check.h"

#include <fftw3.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CHECK_SAMPLES (1u << 21) /* at most 16 MiB of complex floats, whatever the rate */

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Welch averaged power spectrum of z[0..n) into p[0..N) (FFT bin order),
 * Hann window, hop N/2; returns the number of segments. */
static size_t welch(const float complex *z, size_t n, fftwf_complex *buf, fftwf_plan plan, const float *window,
                    double *p)
{
    const size_t N = DOP_QUADRATURE_CHECK_NFFT;
    size_t segments = 0;
    memset(p, 0, N * sizeof *p);
    for (size_t start = 0; start + N <= n; start += N / 2, segments++) {
        /* <complex.h> comes first: fftwf_complex is float complex. */
        for (size_t i = 0; i < N; i++) buf[i] = z[start + i] * window[i];
        fftwf_execute(plan);
        for (size_t k = 0; k < N; k++) {
            double re = crealf(buf[k]), im = cimagf(buf[k]);
            p[k] += re * re + im * im;
        }
    }
    return segments;
}

/* A over the signal bins of p (see the header): the mean over the signal
 * pairs of |P(f) - P(-f)| / (P(f) + P(-f)). Each pair counts once rather
 * than by its power: wall clutter 30 dB above the blood signal (nearly
 * symmetric, a few bins around 0 Hz) would otherwise decide alone. */
static double asymmetry(const double *p, double *scratch, size_t *pairs)
{
    const size_t N = DOP_QUADRATURE_CHECK_NFFT;
    memcpy(scratch, p, N * sizeof *p);
    qsort(scratch, N, sizeof *scratch, compare_double);
    const double threshold = 0.5 * (scratch[N / 2 - 1] + scratch[N / 2]) * pow(10.0, 6.0 / 10.0);
    double sum = 0.0;
    *pairs = 0;
    for (size_t k = 1; k < N / 2; k++) {
        double pos = p[k], neg = p[N - k];
        if (pos <= threshold && neg <= threshold) continue;
        sum += fabs(pos - neg) / (pos + neg);
        ++*pairs;
    }
    return *pairs > 0 ? sum / (double)*pairs : 0.0;
}

dop_status dop_quadrature_measure(const float complex *z, size_t n, double fs_hz, dop_quadrature_result *out,
                                  dop_error *err)
{
    const size_t N = DOP_QUADRATURE_CHECK_NFFT;
    memset(out, 0, sizeof *out);
    out->is_quadrature = 1;
    out->channel_ratio_db = NAN;
    out->asymmetry = NAN;
    out->analysed_s = fs_hz > 0.0 ? (double)n / fs_hz : NAN;
    double power_l = 0.0, power_r = 0.0;
    for (size_t i = 0; i < n; i++) {
        power_l += (double)crealf(z[i]) * crealf(z[i]);
        power_r += (double)cimagf(z[i]) * cimagf(z[i]);
    }
    if (n < N || (power_l == 0.0 && power_r == 0.0)) return DOP_OK;

    dop_status status = DOP_OK;
    fftwf_complex *buf = fftwf_malloc(N * sizeof *buf);
    float *window = malloc(N * sizeof *window);
    double *p = malloc(2 * N * sizeof *p);
    fftwf_plan plan = buf ? fftwf_plan_dft_1d((int)N, buf, buf, FFTW_FORWARD, FFTW_ESTIMATE) : NULL;
    if (!buf || !window || !p || !plan) {
        status = dop_error_set(err, DOP_ERR_NOMEM, "quadrature check: out of memory");
        goto done;
    }
    for (size_t i = 0; i < N; i++) window[i] = (float)(0.5 - 0.5 * cos(2.0 * M_PI * (double)i / (double)N));
    welch(z, n, buf, plan, window, p);
    out->checked = 1;
    out->channel_ratio_db = power_l == 0.0 || power_r == 0.0 ? INFINITY : fabs(10.0 * log10(power_l / power_r));
    size_t pairs = 0;
    out->asymmetry = asymmetry(p, p + N, &pairs);
    out->is_quadrature = !(out->channel_ratio_db > DOP_QUADRATURE_MAX_RATIO_DB) &&
                         !(out->asymmetry < DOP_QUADRATURE_MIN_ASYMMETRY);
done:
    if (plan) fftwf_destroy_plan(plan);
    fftwf_free(buf);
    free(window);
    free(p);
    return status;
}

dop_status dop_quadrature_resolve(dop_reader_config *cfg, dop_quadrature_result *out, dop_error *err)
{
    memset(out, 0, sizeof *out);
    out->is_quadrature = 1;
    out->channel_ratio_db = out->asymmetry = out->analysed_s = NAN;
    if (cfg->channels != DOP_CHANNELS_UNSET || !cfg->path || strcmp(cfg->path, "-") == 0) return DOP_OK;
    /* A file the reader cannot open or read is left to the analysis, which
     * reports it exactly as it would without the check. */
    dop_reader *reader = NULL;
    dop_error ignored;
    if (dop_reader_open(cfg, &reader, &ignored) != DOP_OK) return DOP_OK;
    const dop_reader_info *info = dop_reader_get_info(reader);
    dop_status status = DOP_OK;
    if (info->kind == DOP_INPUT_AUDIO && info->file_channels == 2 && info->channels == DOP_CHANNELS_IQ) {
        double limit = DOP_QUADRATURE_CHECK_SECONDS * info->rate_hz;
        size_t want = limit < (double)MAX_CHECK_SAMPLES ? (size_t)limit : MAX_CHECK_SAMPLES;
        float complex *z = malloc(want * sizeof *z);
        size_t got = 0;
        if (!z) {
            status = dop_error_set(err, DOP_ERR_NOMEM, "%s: out of memory", cfg->path);
        } else {
            dop_reader_read(reader, z, want, &got, &ignored); /* an error: measure what came before it */
            status = dop_quadrature_measure(z, got, info->rate_hz, out, err);
            if (status == DOP_OK && !out->is_quadrature) cfg->channels = DOP_CHANNELS_LEFT;
        }
        free(z);
    }
    dop_reader_close(reader);
    return status;
}
