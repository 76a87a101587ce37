/* The lag-one autocorrelation mean-frequency estimator (see kasai.h).
 * The phase factors e^{j 2 pi f_k / fs} of the fft-shifted bins are
 * tabulated at create; a frame costs one pass of two multiply-adds a bin. */
#include "dopflow/kasai.h"

#include <math.h>
#include <stdlib.h>

struct dop_kasai {
    size_t bins;
    double fs_hz;
    double *cos_k, *sin_k;  /* cos and sin of 2 pi (k - bins/2) / bins */
};

dop_status dop_kasai_create(size_t bins, double fs_hz, dop_kasai **out, dop_error *err)
{
    *out = NULL;
    if (bins < 8 || bins % 2 || !(fs_hz > 0.0))
        return dop_error_set(err, DOP_ERR_INVALID_ARG, "kasai: need an even number of bins >= 8 and a positive rate");
    dop_kasai *k = calloc(1, sizeof *k);
    if (!k) return dop_error_set(err, DOP_ERR_NOMEM, "kasai: out of memory");
    k->bins = bins;
    k->fs_hz = fs_hz;
    k->cos_k = malloc(bins * sizeof *k->cos_k);
    k->sin_k = malloc(bins * sizeof *k->sin_k);
    if (!k->cos_k || !k->sin_k) {
        dop_kasai_destroy(k);
        return dop_error_set(err, DOP_ERR_NOMEM, "kasai: out of memory");
    }
    for (size_t i = 0; i < bins; i++) {
        double phase = 2.0 * M_PI * ((double)i - (double)(bins / 2)) / (double)bins;
        k->cos_k[i] = cos(phase);
        k->sin_k[i] = sin(phase);
    }
    *out = k;
    return DOP_OK;
}

double dop_kasai_mean_hz(const dop_kasai *k, const float *psd)
{
    double re = 0.0, im = 0.0;
    for (size_t i = 0; i < k->bins; i++) {
        re += psd[i] * k->cos_k[i];
        im += psd[i] * k->sin_k[i];
    }
    if (re == 0.0 && im == 0.0) return 0.0;
    double f = atan2(im, re) / (2.0 * M_PI) * k->fs_hz;
    return f >= k->fs_hz / 2.0 ? f - k->fs_hz : f; /* atan2 = +pi belongs to -fs/2 */
}

void dop_kasai_destroy(dop_kasai *k)
{
    if (!k) return;
    free(k->cos_k);
    free(k->sin_k);
    free(k);
}
