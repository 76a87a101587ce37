/* Stage 4b: maximum frequency at the half-power point of the falling edge
 * (see max_frequency.h for the method and references).
 *
 * Parameters: the margin inside the knee and the search range are one
 * main-lobe width each (2 x the window's half-power half-width, rounded
 * up: 2 bins for Hann), from the window, not fitted. The plateau window
 * (half the band, at least 2 bins) and the tail (2 bins) were the best of
 * 2-3 values each on the accuracy sweep of both simulator models, seed 11
 * only; the speckle thresholds (2 deviations for a higher window, 5 for a
 * single-bin peak) follow from the exponential statistics of one
 * periodogram bin (a flat plateau picks a higher window or a peak in few
 * frames). Checked on seeds 12, 13 and 14 of both models, which took no
 * part in the choice (README, Accuracy). */
#include "dopflow/max_frequency.h"

#include <math.h>

#define MIN_PLATEAU_BINS 2
#define SPECKLE_SIGMAS 2.0 /* a window further in is higher when it exceeds 2 standard deviations */
#define PEAK_SIGMAS 5.0    /* a single bin is a peak when it exceeds 5 (exponential: 0.25 % of bins) */

dop_max_frequency_config dop_max_frequency_config_default(void)
{
    dop_max_frequency_config cfg = {.hwhm_bins = 0.72, .tail_bins = 2};
    return cfg;
}

/* sums[j] with the stop band's compensated power. */
static double sum_at(const dop_max_frequency_side *s, size_t j)
{
    return s->sums[j] + (j >= s->restore_from ? s->restore_power : 0.0);
}

/* Mean noise-subtracted power of the window of max(2, b/2) bins ending at
 * bin b (b >= 1; the window stops at bin 1). */
static double plateau_at(const dop_max_frequency_side *s, size_t b)
{
    size_t m = b / 2 > MIN_PLATEAU_BINS ? b / 2 : MIN_PLATEAU_BINS;
    size_t a = b >= m ? b - m + 1 : 1;
    return (sum_at(s, b) - sum_at(s, a - 1)) / (double)(b - a + 1) - s->noise;
}

double dop_max_frequency_edge(const dop_max_frequency_config *cfg, const dop_max_frequency_side *s)
{
    const size_t knee = s->knee;
    if (knee < 2 || knee > s->count) return (double)knee;
    size_t lobe = (size_t)ceil(2.0 * cfg->hwhm_bins);
    if (lobe < 1) lobe = 1;
    const size_t last = knee > lobe ? knee - lobe : 1;
    const size_t first = last > lobe ? last - lobe : 1;
    /* The plateau: the window at `last`, unless one further in stands
     * above it by more than the speckle of an m-bin mean (exponential bins:
     * a standard deviation of level / sqrt(m)) allows; choosing the highest
     * window always would bias a flat plateau upward. */
    double level = plateau_at(s, last), best = level;
    for (size_t j = first; j < last; j++) {
        double l = plateau_at(s, j);
        if (l > best) best = l;
    }
    const size_t m_last = last / 2 > MIN_PLATEAU_BINS ? last / 2 : MIN_PLATEAU_BINS;
    if (!(level > 0.0) || best > level * (1.0 + SPECKLE_SIGMAS / sqrt((double)m_last))) level = best;
    size_t b = last;
    while (b > 1 && plateau_at(s, b) < 0.5 * level) b--;
    /* A narrow peak (a tone, plug flow) has no plateau: a single bin up to
     * the knee standing PEAK_SIGMAS speckle deviations (its own level)
     * above the plateau is the level, and its edge starts there. */
    for (size_t j = first; j < knee; j++) {
        double v = sum_at(s, j) - sum_at(s, j - 1) - s->noise;
        if (v > (1.0 + PEAK_SIGMAS) * (level > 0.0 ? level : 0.0) && v > 0.0) level = v, b = j;
    }
    if (!(level > 0.0)) return (double)knee;
    const size_t e = knee + cfg->tail_bins < s->count ? knee + cfg->tail_bins : s->count;
    double area = sum_at(s, e) - sum_at(s, b) - s->noise * (double)(e - b);
    if (area < 0.0) area = 0.0;
    double f = (double)b + 0.5 + area / level;
    if (f > (double)e + 0.5) f = (double)e + 0.5;
    /* The window's main lobe: f = f0/2 + sqrt(f0^2/4 + h^2) inverted. */
    const double h = cfg->hwhm_bins;
    return f > h ? f - h * h / f : 0.0;
}
