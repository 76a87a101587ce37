/* Stage 4b: evidence of the cardiac cycle from the power spectrum (see
 * beat_evidence.h). */
#include "dopflow/beat_evidence.h"

#include <math.h>
#include <stdlib.h>

/* Below this a bin's level counts as empty (the wall-filter stop band of a
 * float spectrum): its ratio is taken as 1. */
#define LEVEL_MIN 1e-30f

struct dop_beat_evidence {
    dop_beat_evidence_config cfg;
    float mu;                 /* quantile tracker step once settled: 1 / frame rate */
    long frames;              /* frames seen */
    float *level;             /* typical power of each bin */
    float *last;              /* sqrt(max(P / level, 1)) of the previous frame */
    int started;
};

dop_beat_evidence_config dop_beat_evidence_config_default(void)
{
    dop_beat_evidence_config cfg = {.bins = 0, .frame_rate_hz = 0.0};
    return cfg;
}

dop_status dop_beat_evidence_create(const dop_beat_evidence_config *cfg, dop_beat_evidence **out, dop_error *err)
{
    *out = NULL;
    if (cfg->bins == 0 || !(cfg->frame_rate_hz > 0.0))
        return dop_error_set(err, DOP_ERR_INVALID_ARG, "beat evidence: need bins > 0 and frame rate > 0");
    dop_beat_evidence *e = calloc(1, sizeof *e);
    if (e) {
        e->level = malloc(cfg->bins * sizeof *e->level);
        e->last = malloc(cfg->bins * sizeof *e->last);
    }
    if (!e || !e->level || !e->last) {
        dop_beat_evidence_destroy(e);
        return dop_error_set(err, DOP_ERR_NOMEM, "beat evidence: out of memory");
    }
    e->cfg = *cfg;
    e->mu = (float)(1.0 / cfg->frame_rate_hz);
    dop_beat_evidence_reset(e);
    *out = e;
    return DOP_OK;
}

void dop_beat_evidence_reset(dop_beat_evidence *e)
{
    e->started = 0;
    e->frames = 0;
}

dop_beat_evidence_frame dop_beat_evidence_push(dop_beat_evidence *e, const float *psd)
{
    const size_t bins = e->cfg.bins;
    dop_beat_evidence_frame out = {0.0, 0.0};
    if (!e->started) {
        for (size_t k = 0; k < bins; k++) {
            e->level[k] = psd[k] > LEVEL_MIN ? psd[k] : LEVEL_MIN;
            e->last[k] = 1.0f;
        }
        e->started = 1;
        return out;
    }
    /* Robbins-Monro step: large at first, so that the levels settle in a
     * fraction of a second from the first frame's, then 1 / frame rate. */
    e->frames++;
    const float step = fmaxf(e->mu, 1.0f / (float)(e->frames + 1));
    const float up = 1.0f + step, down = 1.0f / up;
    double excess = 0.0, flux = 0.0, total = 0.0;
    for (size_t k = 0; k < bins; k++) {
        const float level = e->level[k], p = psd[k];
        total += (double)level;
        const float ratio = p > level ? sqrtf(p / level) : 1.0f;
        if (p > level) excess += (double)(p - level);
        if (ratio > e->last[k]) flux += (double)(ratio - e->last[k]);
        e->last[k] = ratio;
        float next = p > level ? level * up : level * down;
        e->level[k] = next > LEVEL_MIN ? next : LEVEL_MIN;
    }
    out.excess_power = total > 0.0 ? excess / total : 0.0;
    out.flux = flux;
    return out;
}

void dop_beat_evidence_destroy(dop_beat_evidence *e)
{
    if (!e) return;
    free(e->level);
    free(e->last);
    free(e);
}
