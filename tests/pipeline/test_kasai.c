/* The lag-one autocorrelation mean frequency (dsp/pipeline/kasai.c,
 * Kasai et al. 1985) from a power spectrum: on a zero-padded random
 * sequence it equals arg sum x[n+1] x*[n] computed in time (Wiener-Khinchin);
 * a tone between bins reads its own frequency; an all-zero spectrum reads 0;
 * bad sizes are refused. */
#include <complex.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "dopflow/kasai.h"

static void test_kasai_tone_and_identity(void **state)
{
    (void)state;
    enum { M = 64, L = 40 };
    const double fs = 1000.0;
    dop_kasai *k = NULL;
    dop_error err;
    assert_int_equal(dop_kasai_create(M, fs, &k, &err), DOP_OK);
    /* A random complex sequence, zero-padded: arg sum P_k e^{j 2 pi f_k/fs}
     * equals arg sum x[n+1] x*[n] (Wiener-Khinchin). */
    float complex x[M] = {0};
    unsigned long seed = 12345;
    for (int n = 0; n < L; n++) {
        seed = seed * 6364136223846793005ul + 1442695040888963407ul;
        double a = (double)(seed >> 33) / 2147483648.0 - 0.5;
        seed = seed * 6364136223846793005ul + 1442695040888963407ul;
        double b = (double)(seed >> 33) / 2147483648.0 - 0.5;
        x[n] = (float)(a + 0.3 * cos(0.9 * n)) + I * (float)(b + 0.3 * sin(0.9 * n));
    }
    double complex r1 = 0;
    for (int n = 0; n + 1 < L; n++) r1 += x[n + 1] * conj(x[n]);
    float psd[M];
    for (int kk = 0; kk < M; kk++) { /* fft-shifted: bin kk is at (kk - M/2) fs / M */
        double complex X = 0;
        for (int n = 0; n < M; n++) X += x[n] * cexp(-2.0 * I * M_PI * (kk - M / 2) * n / M);
        psd[kk] = (float)(creal(X) * creal(X) + cimag(X) * cimag(X));
    }
    double expected = carg(r1) / (2 * M_PI) * fs;
    assert_float_equal(dop_kasai_mean_hz(k, psd), expected, 1e-3 * fs / M);
    /* A pure tone between bins reads its own frequency, not the bin's. */
    const double f = 123.4;
    for (int n = 0; n < M; n++) x[n] = n < L ? cexpf((float)(2 * M_PI * f * n / fs) * I) : 0;
    for (int kk = 0; kk < M; kk++) {
        double complex X = 0;
        for (int n = 0; n < M; n++) X += x[n] * cexp(-2.0 * I * M_PI * (kk - M / 2) * n / M);
        psd[kk] = (float)(creal(X) * creal(X) + cimag(X) * cimag(X));
    }
    assert_float_equal(dop_kasai_mean_hz(k, psd), f, 0.01);
    dop_kasai_destroy(k);
}

static void test_kasai_zero_and_errors(void **state)
{
    (void)state;
    dop_kasai *k = NULL;
    dop_error err;
    assert_int_equal(dop_kasai_create(64, 1000.0, &k, &err), DOP_OK);
    float psd[64] = {0};
    assert_float_equal(dop_kasai_mean_hz(k, psd), 0.0, 0.0);
    dop_kasai_destroy(k);
    k = NULL;
    assert_int_equal(dop_kasai_create(63, 1000.0, &k, &err), DOP_ERR_INVALID_ARG);
    assert_int_equal(dop_kasai_create(6, 1000.0, &k, &err), DOP_ERR_INVALID_ARG);
    assert_int_equal(dop_kasai_create(64, 0.0, &k, &err), DOP_ERR_INVALID_ARG);
    assert_null(k);
    dop_kasai_destroy(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kasai_tone_and_identity),
        cmocka_unit_test(test_kasai_zero_and_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
