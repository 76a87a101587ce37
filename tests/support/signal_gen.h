/* Synthetic Doppler signals for the unit tests, generated in code so that
 * every expected value follows from the construction. */
#ifndef DOPFLOW_TEST_SIGNAL_GEN_H
#define DOPFLOW_TEST_SIGNAL_GEN_H

#include <complex.h>
#include <stddef.h>

#include "dopflow/acquisition.h"

/* x[t] += amp exp(j 2 pi f t / fs): a scatterer at constant velocity. */
void sg_add_tone(float complex *x, size_t n, double fs, double f_hz, double amp);

/* x += sum of `count` unit-spaced random-phase tones filling [f_lo, f_hi]
 * evenly, total power `power`: a flat ("parabolic profile") spectrum. */
void sg_add_band(float complex *x, size_t n, double fs, double f_lo, double f_hi, double power, int count,
                 unsigned long seed);

/* x += complex white Gaussian noise of total power `power` (I and Q each power/2). */
void sg_add_noise(float complex *x, size_t n, double power, unsigned long seed);

/* Pulsatile parabolic flow: `count` laminae with fixed fractions u_k in
 * (0, 1] of the centreline Doppler frequency fmax(t) = fpeak * shape(phase)
 * (a systolic half-sine on a diastolic floor, period 60/hr_bpm); each lamina's
 * phase integrates its frequency. Power `power`. Beat onsets are at
 * k * 60/hr_bpm + onset_s. Returns the true time-average mean frequency
 * (= mean of fmax/2) over the signal. */
double sg_add_pulsatile(float complex *x, size_t n, double fs, double fpeak_hz, double fdia_hz, double hr_bpm,
                        double onset_s, double power, int count, unsigned long seed);

/* Write a stereo float WAV (I left, Q right) and, when acq is not NULL, its
 * JSON sidecar. Returns 0 on success. */
int sg_write_wav(const char *path, const float complex *x, size_t n, double fs, const dop_acquisition *acq);

/* The acquisition of the standard test recordings: 4 MHz, 60 degrees,
 * 1540 m/s, 4 mm, I/Q. */
dop_acquisition sg_test_acquisition(void);

/* The standard test recording: pulsatile parabolic flow at 70 bpm (peak
 * 2600 Hz, diastole 300 Hz, power 1e-3), SNR 15 dB, 12.5 kHz, with its
 * sidecar (4 MHz, 60 degrees, 1540 m/s, 4 mm, iq). Returns the true
 * time-average mean velocity in cm/s, or a negative value on failure. */
double sg_write_flow_recording(const char *path, double seconds);

/* A fresh temporary folder (caller frees the string). */
char *sg_temp_dir(void);

#endif
