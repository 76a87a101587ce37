/* The measurements of one cardiac cycle (see beat_measure.h). */
#include "dopflow/beat_measure.h"

#include <math.h>

dop_beat_sums dop_beat_sums_empty(void)
{
    dop_beat_sums s = {.clean = {.psv_cm_s = -INFINITY}, .all = {.psv_cm_s = -INFINITY}};
    return s;
}

static void frame_sums_add(dop_frame_sums *s, const dop_frame *f)
{
    if (f->vmax_cm_s > s->psv_cm_s) s->psv_cm_s = f->vmax_cm_s;
    s->vmax += f->vmax_cm_s;
    s->vmean += f->vmean_cm_s;
    s->flow += f->flow_ml_min;
    s->shear += f->shear_rate_s;
    s->frames++;
}

void dop_beat_sums_add(dop_beat_sums *s, const dop_frame *f)
{
    frame_sums_add(&s->all, f);
    if (!(f->flags & DOP_FRAME_ARTIFACT_MASK)) frame_sums_add(&s->clean, f);
    s->hiding += (f->flags & DOP_FRAME_HIDING_MASK) != 0;
}

void dop_beat_set_indices(dop_beat *beat, const dop_beat_sums *s, double edv_cm_s)
{
    const dop_frame_sums *use = s->clean.frames > 0 ? &s->clean : &s->all;
    const double m = (double)use->frames, psv = use->psv_cm_s;
    beat->edv_cm_s = edv_cm_s;
    beat->psv_cm_s = psv;
    beat->tamax_cm_s = use->vmax / m;
    beat->tamean_cm_s = use->vmean / m;
    beat->flow_ml_min = use->flow / m;
    beat->shear_rate_s = use->shear / m;
    beat->pi = beat->tamax_cm_s != 0.0 ? (psv - edv_cm_s) / beat->tamax_cm_s : NAN;
    beat->ri = psv != 0.0 ? (psv - edv_cm_s) / psv : NAN;
    beat->artifact_fraction = (double)s->hiding / (double)s->all.frames;
}

void dop_beat_clear_indices(dop_beat *beat)
{
    beat->heart_rate_bpm = beat->psv_cm_s = beat->edv_cm_s = beat->tamax_cm_s = beat->tamean_cm_s = NAN;
    beat->pi = beat->ri = beat->flow_ml_min = beat->shear_rate_s = NAN;
}

void dop_frame_bridge(dop_frame *f, const dop_frame *a, const dop_frame *c, double t)
{
#define LERP(field) f->field = a->field + t * (c->field - a->field)
    LERP(vmax_cm_s);
    LERP(vmax_forward_cm_s);
    LERP(vmax_reverse_cm_s);
    LERP(vmean_cm_s);
    LERP(flow_ml_min);
    LERP(shear_rate_s);
#undef LERP
    f->flags |= DOP_FRAME_BRIDGED;
}
