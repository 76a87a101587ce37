/* Synthetic Doppler signals for tests (see signal_gen.h). */
#include "signal_gen.h"

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <sndfile.h>
#include <stdlib.h>
#include <string.h>

void sg_add_tone(float complex *x, size_t n, double fs, double f_hz, double amp)
{
    for (size_t t = 0; t < n; t++) {
        double phase = 2.0 * M_PI * fmod(f_hz * (double)t / fs, 1.0);
        x[t] += (float)(amp * cos(phase)) + (float)(amp * sin(phase)) * I;
    }
}

void sg_add_band(float complex *x, size_t n, double fs, double f_lo, double f_hi, double power, int count,
                 unsigned long seed)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, seed);
    double amp = sqrt(power / count);
    for (int k = 0; k < count; k++) {
        double f = f_lo + (f_hi - f_lo) * (k + 0.5) / count;
        double phi = 2.0 * M_PI * gsl_rng_uniform(rng);
        for (size_t t = 0; t < n; t++) {
            double phase = 2.0 * M_PI * fmod(f * (double)t / fs, 1.0) + phi;
            x[t] += (float)(amp * cos(phase)) + (float)(amp * sin(phase)) * I;
        }
    }
    gsl_rng_free(rng);
}

void sg_add_noise(float complex *x, size_t n, double power, unsigned long seed)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, seed);
    double sigma = sqrt(power / 2.0);
    for (size_t t = 0; t < n; t++)
        x[t] += (float)gsl_ran_gaussian_ziggurat(rng, sigma) + (float)gsl_ran_gaussian_ziggurat(rng, sigma) * I;
    gsl_rng_free(rng);
}

/* Centreline Doppler frequency: a half-sine systole (first 35% of the
 * cycle) on a constant diastolic level. */
static double pulse_shape(double t, double period, double onset, double fpeak, double fdia)
{
    double phase = fmod(t - onset, period);
    if (phase < 0) phase += period;
    double systole = 0.35 * period;
    return phase < systole ? fdia + (fpeak - fdia) * sin(M_PI * phase / systole) : fdia;
}

double sg_add_pulsatile(float complex *x, size_t n, double fs, double fpeak_hz, double fdia_hz, double hr_bpm,
                        double onset_s, double power, int count, unsigned long seed)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, seed);
    double *u = malloc(count * sizeof *u), *phi = malloc(count * sizeof *phi);
    for (int k = 0; k < count; k++) {
        u[k] = (k + gsl_rng_uniform(rng)) / count; /* stratified: area-uniform velocities */
        phi[k] = 2.0 * M_PI * gsl_rng_uniform(rng);
    }
    double amp = sqrt(power / count), period = 60.0 / hr_bpm, sum_fmax = 0.0;
    for (size_t t = 0; t < n; t++) {
        double fmax = pulse_shape((double)t / fs, period, onset_s, fpeak_hz, fdia_hz);
        sum_fmax += fmax;
        float re = 0.0f, im = 0.0f;
        for (int k = 0; k < count; k++) {
            phi[k] += 2.0 * M_PI * u[k] * fmax / fs;
            if (phi[k] > M_PI) phi[k] -= 2.0 * M_PI;
            re += (float)(amp * cos(phi[k]));
            im += (float)(amp * sin(phi[k]));
        }
        x[t] += re + im * I;
    }
    free(u);
    free(phi);
    gsl_rng_free(rng);
    return 0.5 * sum_fmax / (double)n;
}

int sg_write_wav(const char *path, const float complex *x, size_t n, double fs, const dop_acquisition *acq)
{
    SF_INFO info;
    memset(&info, 0, sizeof info);
    info.samplerate = (int)fs;
    info.channels = 2;
    info.format = SF_FORMAT_WAV | SF_FORMAT_FLOAT;
    SNDFILE *file = sf_open(path, SFM_WRITE, &info);
    if (!file) return -1;
    float *interleaved = malloc(2 * n * sizeof *interleaved);
    for (size_t t = 0; t < n; t++) {
        interleaved[2 * t] = crealf(x[t]);
        interleaved[2 * t + 1] = cimagf(x[t]);
    }
    sf_count_t written = sf_writef_float(file, interleaved, (sf_count_t)n);
    free(interleaved);
    sf_close(file);
    if (written != (sf_count_t)n) return -1;
    if (acq) {
        char *sidecar = dop_sidecar_path_for(path);
        dop_status status = dop_sidecar_write(sidecar, acq, NULL);
        free(sidecar);
        if (status != DOP_OK) return -1;
    }
    return 0;
}

dop_acquisition sg_test_acquisition(void)
{
    dop_acquisition acq = dop_acquisition_unset();
    acq.f0_hz = 4e6;
    acq.angle_deg = 60.0;
    acq.c_m_s = 1540.0;
    acq.diameter_mm = 4.0;
    acq.channels = DOP_CHANNELS_IQ;
    return acq;
}

double sg_write_flow_recording(const char *path, double seconds)
{
    const double fs = 12500.0;
    const size_t n = (size_t)(seconds * fs);
    float complex *x = calloc(n, sizeof *x);
    if (!x) return -1.0;
    double fmean = sg_add_pulsatile(x, n, fs, 2600.0, 300.0, 70.0, 0.2, 1e-3, 48, 5);
    sg_add_noise(x, n, 1e-3 / 30.0, 6);
    const dop_acquisition acq = sg_test_acquisition();
    int rc = sg_write_wav(path, x, n, fs, &acq);
    free(x);
    if (rc != 0) return -1.0;
    return fmean * 100.0 * acq.c_m_s / (2.0 * acq.f0_hz * cos(acq.angle_deg * M_PI / 180.0));
}

char *sg_temp_dir(void)
{
    char *dir = strdup("/tmp/dopflow-test-XXXXXX");
    if (!mkdtemp(dir)) {
        free(dir);
        return NULL;
    }
    return dir;
}
