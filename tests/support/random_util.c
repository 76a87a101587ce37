/* Reproducible random numbers for the unit tests (see random_util.h). */
#include "random_util.h"

#include <math.h>

static uint64_t state = 0x9E3779B97F4A7C15ull;

void ru_seed(uint64_t seed) { state = seed ? seed : 0x9E3779B97F4A7C15ull; }

double ru_uniform(void)
{
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return ((double)(state >> 11) + 0.5) / 9007199254740992.0; /* 2^53 */
}

float ru_speckle(float mean) { return (float)(-log(ru_uniform())) * mean; }
