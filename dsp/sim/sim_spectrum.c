/* Simulator stage 2: velocity distribution -> Doppler power spectrum ->
 * shaped complex Gaussian noise.
 *
 * Model (Mo & Cobbold, "A stochastic model of the backscattered Doppler
 * ultrasound from blood", IEEE Trans Biomed Eng 1986;33:20-27, and "A
 * unified approach to modeling the backscattered Doppler ultrasound from
 * blood", IEEE TBME 1992;39:450-461): the Doppler signal from many small
 * scatterers is a zero-mean complex Gaussian process whose power spectral
 * density is set by the distribution of scatterer velocities in the sample
 * volume. With uniform insonation of the lumen the power at frequency
 * f = 2 f0 v cos(angle) / c is proportional to the cross-section area moving
 * at velocity v (Evans & McDicken, Doppler Ultrasound, 2000, ch. 11).
 *
 * Area over velocity for u(r) = u_c (1 - (r/R)^n): the fraction of the area
 * moving faster than x u_c is (1 - x)^(2/n), so the cumulative area is
 * F(x) = 1 - (1 - x)^(2/n): uniform on [0, u_c] for n = 2, density
 * proportional to (1 - x)^(2/n - 1) in general, mean u_c n / (n + 2). We cut
 * the area into SIM_CELLS equal parts and give each its exact conditional
 * mean velocity, so the cells' average is the spatial mean exactly.
 *
 * Intrinsic (transit-time / aperture) broadening: each cell is spread by a
 * Gaussian of sigma = rel x |f| (+ abs in quadrature), which keeps the mean
 * (Newhouse, Furgason, Johnson & Wolf, IEEE Trans Sonics Ultrason
 * 1980;27:50-59, for the velocity-proportional bandwidth).
 *
 * Synthesis (spectral method after Kerr & Hunt, "A method for computer
 * simulation of ultrasound Doppler color flow images", Ultrasound Med Biol
 * 1992;18:861-872; also Mo & Cobbold 1992): every hop H samples, draw M = 2H
 * complex Gaussian coefficients with variance P S_k (S = PSD at the segment's
 * centre time, sum 1), inverse FFT, weight by the sine window
 * w(m) = sin(pi (m + 1/2) / M) and overlap-add. Because w^2 of neighbouring
 * segments sums to 1, the output power is P at every sample and the PSD at
 * each instant is the w^2-weighted mix of the two segments' PSDs: the
 * velocity truth is interpolated the same way. The window of 2H samples
 * adds the finite-observation-time broadening of its own spectrum.
 * Frequencies beyond +/- fs/2 wrap around: aliasing happens by itself. */
#include "sim_internal.h"

#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

dop_status sim_spectrum_init(sim_spectrum *s, const dop_sim_config *cfg, dop_error *err)
{
    memset(s, 0, sizeof *s);
    s->hop = cfg->block;
    s->size = 2 * cfg->block;
    s->fs_hz = cfg->fs_hz;
    /* Written out, not dop_doppler_cm_s_per_hz: the truth must not share a mistake with the estimator. */
    s->hz_per_cm_s = 2.0 * cfg->f0_hz * cos(cfg->angle_deg * M_PI / 180.0) / cfg->c_m_s / 100.0;
    s->rel_sigma = cfg->broadening_percent / 100.0;
    s->abs_sigma_hz = cfg->broadening_hz;

    /* Equal-area cells: on cell j (cumulative area p in [j/Q, (j+1)/Q]),
     * x(p) = 1 - (1 - p)^(n/2), mean = 1 - Q [(1-p0)^a - (1-p1)^a] / a with a = n/2 + 1. */
    double n = cfg->profile == DOP_SIM_PROFILE_POWER_LAW ? cfg->profile_n : 2.0;
    for (int j = 0; j < SIM_CELLS; j++) {
        if (cfg->profile == DOP_SIM_PROFILE_PLUG) {
            s->cell[j] = 1.0;
            continue;
        }
        double a = n / 2.0 + 1.0;
        double p0 = (double)j / SIM_CELLS, p1 = (double)(j + 1) / SIM_CELLS;
        s->cell[j] = 1.0 - SIM_CELLS * (pow(1.0 - p0, a) - pow(1.0 - p1, a)) / a;
    }

    size_t m = s->size;
    s->window = malloc(m * sizeof *s->window);
    s->psd = calloc(m, sizeof *s->psd);
    s->lf_shape = calloc(m, sizeof *s->lf_shape);
    s->tmp = calloc(m, sizeof *s->tmp);
    s->ola = calloc(m, sizeof *s->ola);
    s->bins = fftwf_malloc(m * sizeof *s->bins);
    s->seg = fftwf_malloc(m * sizeof *s->seg);
    if (!s->window || !s->psd || !s->lf_shape || !s->tmp || !s->ola || !s->bins || !s->seg) {
        sim_spectrum_free(s);
        return dop_error_set(err, DOP_ERR_NOMEM, "out of memory (spectral synthesis, %zu bins)", m);
    }
    for (size_t i = 0; i < m; i++) s->window[i] = (float)sin(M_PI * ((double)i + 0.5) / (double)m);
    /* FFTW_ESTIMATE: a deterministic plan, so the same spec gives the same bytes. */
    s->plan = fftwf_plan_dft_1d((int)m, s->bins, s->seg, FFTW_BACKWARD, FFTW_ESTIMATE);
    if (!s->plan) {
        sim_spectrum_free(s);
        return dop_error_set(err, DOP_ERR_FFT, "FFTW could not plan a %zu-point transform", m);
    }

    /* Low-frequency massage thumps: Gaussian PSD centred on 0 Hz. */
    double df = cfg->fs_hz / (double)m;
    double sig = cfg->artifact.bandwidth_hz / df;
    if (sig < 0.5) {
        s->lf_shape[0] = 1.0;
    } else {
        double sum = 0.0;
        long half = (long)ceil(4.0 * sig);
        if (half > (long)m / 2 - 1) half = (long)m / 2 - 1;
        for (long k = -half; k <= half; k++) {
            double g = exp(-0.5 * (double)k * (double)k / (sig * sig));
            s->lf_shape[(size_t)((k + (long)m) % (long)m)] += g;
            sum += g;
        }
        for (size_t i = 0; i < m; i++) s->lf_shape[i] /= sum;
    }
    return DOP_OK;
}

void sim_spectrum_free(sim_spectrum *s)
{
    if (s->plan) fftwf_destroy_plan(s->plan);
    fftwf_free(s->bins);
    fftwf_free(s->seg);
    free(s->window);
    free(s->psd);
    free(s->lf_shape);
    free(s->tmp);
    free(s->ola);
    memset(s, 0, sizeof *s);
}

void sim_spectrum_reset(sim_spectrum *s) { memset(s->ola, 0, s->size * sizeof *s->ola); }

static inline size_t wrap(long k, long m)
{
    long r = k % m;
    return (size_t)(r < 0 ? r + m : r);
}

void sim_spectrum_psd(sim_spectrum *s, double uc_cm_s)
{
    long m = (long)s->size;
    double df = s->fs_hz / (double)m;
    const double mass = 1.0 / SIM_CELLS;
    memset(s->psd, 0, (size_t)m * sizeof *s->psd);
    for (int j = 0; j < SIM_CELLS; j++) {
        double f = s->hz_per_cm_s * s->cell[j] * uc_cm_s;
        double mu = f / df;
        double sigma = sqrt(s->rel_sigma * s->rel_sigma * f * f + s->abs_sigma_hz * s->abs_sigma_hz) / df;
        if (sigma < 0.7) {
            /* Narrower than a bin: share between the two nearest bins so
             * that the first moment is kept exactly. */
            double k0 = floor(mu);
            double frac = mu - k0;
            s->psd[wrap((long)k0, m)] += mass * (1.0 - frac);
            s->psd[wrap((long)k0 + 1, m)] += mass * frac;
            continue;
        }
        /* Sampled Gaussian, normalised; for sigma >= 0.7 bin its first
         * moment differs from mu by less than 1e-4 bin (Poisson summation). */
        long lo = (long)ceil(mu - 4.0 * sigma), hi = (long)floor(mu + 4.0 * sigma);
        if (hi - lo + 1 > m) {
            lo = (long)floor(mu) - m / 2 + 1;
            hi = lo + m - 1;
        }
        double inv = 1.0 / (sigma * sigma), sum = 0.0;
        for (long k = lo; k <= hi; k++) {
            double g = exp(-0.5 * ((double)k - mu) * ((double)k - mu) * inv);
            s->tmp[k - lo] = g;
            sum += g;
        }
        double scale = mass / sum;
        for (long k = lo; k <= hi; k++) s->psd[wrap(k, m)] += scale * s->tmp[k - lo];
    }
}

void sim_spectrum_segment(sim_spectrum *s, double pb, gsl_rng *rb, double pa, gsl_rng *ra, float complex *out)
{
    size_t m = s->size, h = s->hop;
    for (size_t k = 0; k < m; k++) {
        double re = 0.0, im = 0.0;
        if (rb) {
            /* E|X_k|^2 = pb S_k: real and imaginary parts each pb S_k / 2. */
            double a = sqrt(0.5 * pb * s->psd[k]);
            re += a * gsl_ran_gaussian_ziggurat(rb, 1.0);
            im += a * gsl_ran_gaussian_ziggurat(rb, 1.0);
        }
        if (ra) {
            double a = sqrt(0.5 * pa * s->lf_shape[k]);
            re += a * gsl_ran_gaussian_ziggurat(ra, 1.0);
            im += a * gsl_ran_gaussian_ziggurat(ra, 1.0);
        }
        s->bins[k] = (float)re + I * (float)im;
    }
    /* Backward transform, unnormalised: x(n) = sum_k X_k e^{+j 2 pi k n / M},
     * so bin k < M/2 is the positive frequency k fs / M and E|x(n)|^2 = sum E|X_k|^2. */
    fftwf_execute(s->plan);
    for (size_t i = 0; i < m; i++) s->ola[i] += s->window[i] * s->seg[i];
    memcpy(out, s->ola, h * sizeof *out);
    memmove(s->ola, s->ola + h, h * sizeof *s->ola);
    memset(s->ola + h, 0, h * sizeof *s->ola);
}
