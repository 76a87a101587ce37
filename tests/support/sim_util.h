/* Test helpers of the simulator tests: whole recordings in memory and
 * their averaged spectra. */
#ifndef DOPFLOW_TESTS_SIM_UTIL_H
#define DOPFLOW_TESTS_SIM_UTIL_H

#include <complex.h>
#include <stddef.h>

#include "dopflow/simulate.h"

/* The whole recording of c (malloc'd; *n samples); fails the test on error. */
float complex *sim_util_generate(const dop_sim_config *c, size_t *n);

/* The recording of c generated in pieces of 1, 7, 333, 128, 4096, 3, ...
 * samples equals `whole` (n samples) bit for bit and then ends; the same
 * again after a reset (block-size invariance, determinism, reset). */
void sim_util_check_pieces(const dop_sim_config *c, const float complex *whole, size_t n);

/* Welch PSD (Hann, 50 % overlap) of x in nfft bins, natural FFT order
 * (calloc'd; unnormalised sum of periodograms). */
double *sim_util_welch(const float complex *x, size_t n, size_t nfft);

/* Frequency of bin k of an nfft-point FFT at fs, Hz (negative above nfft/2). */
double sim_util_bin_hz(size_t k, size_t nfft, double fs);

#endif
