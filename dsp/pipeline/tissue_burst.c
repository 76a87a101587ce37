/* Stage 4c: bursts of tissue motion under the probe (see tissue_burst.h). */
#include "dopflow/tissue_burst.h"

#include <math.h>
#include <stdlib.h>

#define BAND_HZ 500.0   /* the low band ends here: tissue at up to ~15 cm/s (5 MHz, 60 degrees) */
#define RISE 10.0       /* both sides at least this many times their typical power */
#define SIDE_RATIO 0.01 /* the weaker side at least this share of the stronger (20 dB) */
#define HOLD 2          /* frames flagged after a burst's */

struct dop_tissue_burst {
    dop_tissue_burst_config cfg;
    size_t lo, hi;        /* band: bins lo..hi from 0 Hz on each side; hi < lo: none */
    double mu;            /* tracker step once settled: 1 / frame rate */
    long frames;          /* frames seen */
    int hold;             /* frames still to flag */
    double level[2];      /* typical power (running median) of the forward and reverse low band */
};

dop_tissue_burst_config dop_tissue_burst_config_default(void)
{
    dop_tissue_burst_config cfg = {.bins = 0, .bin_hz = 0.0, .frame_rate_hz = 0.0, .stop_bins = 0};
    return cfg;
}

dop_status dop_tissue_burst_create(const dop_tissue_burst_config *cfg, dop_tissue_burst **out, dop_error *err)
{
    *out = NULL;
    if (cfg->bins < 4 || !(cfg->bin_hz > 0.0) || !(cfg->frame_rate_hz > 0.0))
        return dop_error_set(err, DOP_ERR_INVALID_ARG, "tissue bursts: need bins, bin width and frame rate");
    dop_tissue_burst *t = calloc(1, sizeof *t);
    if (!t) return dop_error_set(err, DOP_ERR_NOMEM, "tissue bursts: out of memory");
    t->cfg = *cfg;
    t->lo = cfg->stop_bins > 1 ? cfg->stop_bins : 1;
    t->hi = (size_t)floor(BAND_HZ / cfg->bin_hz);
    if (t->hi > cfg->bins / 2 - 1) t->hi = cfg->bins / 2 - 1;
    t->mu = 1.0 / cfg->frame_rate_hz;
    *out = t;
    return DOP_OK;
}

/* Power of bins lo..hi from 0 Hz on the side dir (+1 forward, -1 reverse). */
static double band_power(const dop_tissue_burst *t, const float *psd, int dir)
{
    const size_t centre = t->cfg.bins / 2;
    double sum = 0.0;
    for (size_t j = t->lo; j <= t->hi; j++) sum += psd[dir > 0 ? centre + j : centre - j];
    return sum;
}

/* How many times p is above the typical power *level; then *level moves
 * one Robbins-Monro step towards p (a factor 1 + step up or down; step
 * large at first, then 1 / frame rate, as in beat_evidence.c). */
static double rise_of(const dop_tissue_burst *t, double *level, double p)
{
    const double rise = *level > 0.0 ? p / *level : 0.0;
    const double step = fmax(t->mu, 1.0 / (double)(t->frames + 1));
    *level *= p > *level ? 1.0 + step : 1.0 / (1.0 + step);
    return rise;
}

int dop_tissue_burst_push(dop_tissue_burst *t, const float *psd)
{
    if (t->hi < t->lo) return 0;
    const double forward = band_power(t, psd, +1), reverse = band_power(t, psd, -1);
    if (t->frames == 0) {
        /* The typical powers start at the first frame with power on both
         * sides (digital silence before it is skipped: a level of 0 would
         * never move). */
        if (!(forward > 0.0 && reverse > 0.0)) return 0;
        t->level[0] = forward;
        t->level[1] = reverse;
    }
    const double rise_forward = rise_of(t, &t->level[0], forward), rise_reverse = rise_of(t, &t->level[1], reverse);
    t->frames++;
    const int burst = rise_forward >= RISE && rise_reverse >= RISE &&
                      fmin(forward, reverse) >= SIDE_RATIO * fmax(forward, reverse);
    if (burst) t->hold = HOLD + 1;
    if (t->hold == 0) return 0;
    t->hold--;
    return 1;
}

void dop_tissue_burst_destroy(dop_tissue_burst *t) { free(t); }
