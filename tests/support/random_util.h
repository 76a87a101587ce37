/* Reproducible random numbers for the unit tests (xorshift64; the same
 * sequence on every machine), and the periodogram of noise built from them. */
#ifndef DOPFLOW_TEST_RANDOM_UTIL_H
#define DOPFLOW_TEST_RANDOM_UTIL_H

#include <stdint.h>

/* Start the sequence again from `seed` (not 0). */
void ru_seed(uint64_t seed);

/* Uniform in (0, 1). */
double ru_uniform(void);

/* One bin of the periodogram of complex Gaussian noise (or speckle) of
 * mean power `mean`: exponentially distributed. */
float ru_speckle(float mean);

#endif
