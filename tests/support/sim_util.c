/* Test helpers of the simulator tests (see sim_util.h). */
#include "sim_util.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <cmocka.h>

#include <fftw3.h>
#include <math.h>
#include <stdlib.h>

float complex *sim_util_generate(const dop_sim_config *c, size_t *n)
{
    dop_sim *sim = NULL;
    dop_error err;
    if (dop_sim_create(c, &sim, &err) != DOP_OK) fail_msg("create: %s", err.message);
    *n = (size_t)dop_sim_length(sim);
    float complex *x = malloc(*n * sizeof *x);
    assert_non_null(x);
    size_t got = 0;
    dop_sim_generate(sim, x, *n, &got);
    assert_int_equal(got, *n);
    dop_sim_destroy(sim);
    return x;
}

double *sim_util_welch(const float complex *x, size_t n, size_t nfft)
{
    double *psd = calloc(nfft, sizeof *psd);
    fftwf_complex *in = fftwf_malloc(nfft * sizeof *in), *out = fftwf_malloc(nfft * sizeof *out);
    fftwf_plan plan = fftwf_plan_dft_1d((int)nfft, in, out, FFTW_FORWARD, FFTW_ESTIMATE);
    for (size_t start = 0; start + nfft <= n; start += nfft / 2) {
        for (size_t i = 0; i < nfft; i++) {
            double w = 0.5 - 0.5 * cos(2.0 * M_PI * (double)i / (double)nfft);
            in[i] = (float)w * x[start + i];
        }
        fftwf_execute(plan);
        for (size_t k = 0; k < nfft; k++)
            psd[k] += (double)crealf(out[k]) * crealf(out[k]) + (double)cimagf(out[k]) * cimagf(out[k]);
    }
    fftwf_destroy_plan(plan);
    fftwf_free(in);
    fftwf_free(out);
    return psd;
}

double sim_util_bin_hz(size_t k, size_t nfft, double fs)
{
    return (k < nfft / 2 ? (double)k : (double)k - (double)nfft) * fs / (double)nfft;
}

void sim_util_check_pieces(const dop_sim_config *c, const float complex *whole, size_t n)
{
    dop_sim *sim = NULL;
    assert_int_equal(dop_sim_create(c, &sim, NULL), DOP_OK);
    float complex *parts = malloc((n ? n : 1) * sizeof *parts);
    assert_non_null(parts);
    for (int pass = 0; pass < 2; pass++) {
        static const size_t sizes[] = {1, 7, 333, 128, 4096, 3};
        size_t done = 0, got, i = 0;
        do {
            size_t want = sizes[i++ % 6];
            if (want > n - done) want = n - done;
            dop_sim_generate(sim, parts + done, want, &got);
            done += got;
        } while (got > 0 && done < n);
        assert_int_equal(done, n);
        assert_memory_equal(whole, parts, n * sizeof *parts);
        dop_sim_generate(sim, parts, 1, &got);
        assert_int_equal(got, 0); /* exhausted at the recording's length */
        dop_sim_reset(sim);
    }
    dop_sim_destroy(sim);
    free(parts);
}
