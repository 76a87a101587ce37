/* Stage 3b: aliasing (see alias.h). Per frame: occupancy of each bin (a
 * 5-bin moving average of the PSD above OCCUPIED_RATIO x noise), the
 * crossing test at the baseline cut, and, for a crossing band, the new cut
 * in the middle of the longest circular run of empty bins outside the wall
 * gap. Everything works in whole bins. */
#include "dopflow/alias.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define OCCUPIED_RATIO 4.0  /* 6 dB over the noise level: the 5-bin mean of noise alone
                               (exponential bins, about 3 independent) exceeds it with p < 1e-3 */
#define SMOOTH_HALF 2       /* moving average over 2 x 2 + 1 bins */
#define EDGE_RUN_BINS 3     /* crossing test: occupied bins on each side of the cut */
#define MIN_RUN_BINS 3      /* an empty stretch must be this wide to hold a cut */

struct dop_alias {
    dop_alias_config cfg;
    long base_lo;           /* baseline range start, bins from 0 Hz (in [-bins, 0]) */
    long lo;                /* last frame's range start, bins */
    long gap_bins;          /* bins with |k| <= gap_bins are the wall gap */
    float *ext;             /* 2 x bins */
    unsigned char *occupied;/* bins */
};

dop_alias_config dop_alias_config_default(void)
{
    dop_alias_config cfg = {.bins = 0, .bin_hz = 0.0, .shift_hz = 0.0, .unwrap = 0, .gap_hz = 0.0};
    return cfg;
}

dop_status dop_alias_create(const dop_alias_config *cfg, dop_alias **out, dop_error *err)
{
    *out = NULL;
    if (cfg->bins < 8 || cfg->bins % 2 || !(cfg->bin_hz > 0.0))
        return dop_error_set(err, DOP_ERR_INVALID_ARG, "aliasing: need an even number of bins >= 8");
    const double nyquist_hz = cfg->bin_hz * (double)cfg->bins / 2.0;
    if (!isfinite(cfg->shift_hz) || fabs(cfg->shift_hz) > 0.9 * nyquist_hz)
        return dop_error_set(err, DOP_ERR_INVALID_ARG,
                             "baseline shift %g Hz is beyond 90%% of the Nyquist frequency %g Hz", cfg->shift_hz,
                             nyquist_hz);
    dop_alias *a = calloc(1, sizeof *a);
    if (!a) return dop_error_set(err, DOP_ERR_NOMEM, "aliasing: out of memory");
    a->cfg = *cfg;
    a->ext = malloc(2 * cfg->bins * sizeof *a->ext);
    a->occupied = malloc(cfg->bins);
    if (!a->ext || !a->occupied) {
        dop_alias_destroy(a);
        return dop_error_set(err, DOP_ERR_NOMEM, "aliasing: out of memory");
    }
    const long half = (long)cfg->bins / 2;
    a->base_lo = -half + lround(cfg->shift_hz / cfg->bin_hz);
    a->lo = a->base_lo;
    a->gap_bins = (long)ceil(cfg->gap_hz / cfg->bin_hz);
    *out = a;
    return DOP_OK;
}

size_t dop_alias_bins(const dop_alias *a) { return 2 * a->cfg.bins; }

void dop_alias_extend_gain(const dop_alias *a, const double *gain, double *ext)
{
    const size_t m = a->cfg.bins;
    for (size_t k = 0; k < 2 * m; k++) ext[k] = gain[(k + m / 2) % m];
}

/* Bin offset from 0 Hz of physical bin k, in [-bins/2, bins/2). */
static long offset_of(const dop_alias *a, size_t k) { return (long)k - (long)a->cfg.bins / 2; }

/* Physical bin of offset j (any integer: taken modulo bins). */
static size_t bin_of(const dop_alias *a, long j)
{
    const long m = (long)a->cfg.bins;
    return (size_t)(((j + m / 2) % m + m) % m);
}

static void find_occupied(dop_alias *a, const float *psd, double noise)
{
    const size_t m = a->cfg.bins;
    const double threshold = OCCUPIED_RATIO * noise * (2 * SMOOTH_HALF + 1);
    double sum = 0.0;
    for (long j = -SMOOTH_HALF; j <= SMOOTH_HALF; j++) sum += psd[(size_t)((j + (long)m) % (long)m)];
    for (size_t k = 0; k < m; k++) {
        a->occupied[k] = sum > threshold;
        sum += psd[(k + SMOOTH_HALF + 1) % m] - psd[(k + m - SMOOTH_HALF) % m];
    }
    for (long j = -a->gap_bins; j <= a->gap_bins; j++) a->occupied[bin_of(a, j)] = 2; /* the wall gap */
}

/* Whether a band crosses the cut at offset `cut`: runs of at least
 * EDGE_RUN_BINS occupied bins on both sides, touching the cut. (Noise alone
 * does this with probability ~ (1e-3)^2 per frame; a wrapped band always
 * does, its power being continuous across the edge.) */
static int crosses(const dop_alias *a, long cut)
{
    for (long j = 1; j <= EDGE_RUN_BINS; j++)
        if (a->occupied[bin_of(a, cut - j)] != 1 || a->occupied[bin_of(a, cut + j - 1)] != 1) return 0;
    return 1;
}

/* Middle (offset from 0 Hz) of the longest circular run of empty bins, or
 * LONG_MIN when none is MIN_RUN_BINS wide. Runs end at occupied bins and at
 * the wall gap; the walk starts at 0 Hz, which is always in the gap. */
static long widest_gap_middle(const dop_alias *a)
{
    const long m = (long)a->cfg.bins;
    long best_len = 0, best_start = 0, run = 0, start = 0;
    for (long j = 1; j <= m; j++) {
        if (a->occupied[bin_of(a, j)] == 0) {
            if (run++ == 0) start = j;
            if (run > best_len) best_len = run, best_start = start;
        } else {
            run = 0;
        }
    }
    if (best_len < MIN_RUN_BINS) return -m - 1;
    long middle = best_start + best_len / 2; /* in (0, m] */
    return middle >= m / 2 ? middle - m : middle;
}

void dop_alias_push(dop_alias *a, const float *psd, double noise, dop_alias_frame *out)
{
    const long m = (long)a->cfg.bins;
    a->lo = a->base_lo;
    int moved = 0;
    if (a->cfg.unwrap) {
        find_occupied(a, psd, noise);
        if (crosses(a, a->base_lo)) {
            long cut = widest_gap_middle(a);
            if (cut >= -m) {
                /* The range [lo, lo + m) that has the cut as an edge and 0 Hz inside. */
                a->lo = cut <= 0 ? cut : cut - m;
                moved = a->lo != a->base_lo;
            }
        }
    }
    const float fill = (float)noise;
    for (long k = 0; k < 2 * m; k++) a->ext[k] = fill;
    for (size_t k = 0; k < (size_t)m; k++) {
        long j = offset_of(a, k);
        if (j < a->lo) j += m;
        else if (j >= a->lo + m) j -= m;
        a->ext[j + m] = psd[k];
    }
    out->psd = a->ext;
    out->lo_hz = (double)a->lo * a->cfg.bin_hz;
    out->unwrapped = moved;
}

double dop_alias_map_hz(const dop_alias *a, double f_hz)
{
    const double fs = a->cfg.bin_hz * (double)a->cfg.bins, lo = (double)a->lo * a->cfg.bin_hz;
    if (f_hz < lo) return f_hz + fs;
    if (f_hz >= lo + fs) return f_hz - fs;
    return f_hz;
}

void dop_alias_reset(dop_alias *a) { a->lo = a->base_lo; }

void dop_alias_destroy(dop_alias *a)
{
    if (!a) return;
    free(a->ext);
    free(a->occupied);
    free(a);
}
