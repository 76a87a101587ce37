/* Simulator stage 1: heart beats and the spatial-mean velocity waveform.
 *
 * Beat schedule: RR_k = 60 / HR(s_k) x (1 + hrv z_k + rsa sin(2 pi f_resp s_k
 * + phi)), z_k standard normal (clipped at 3 SD): white beat-to-beat jitter
 * plus respiratory sinus arrhythmia (Task Force of the ESC and NASPE, Heart
 * rate variability, Circulation 1996;93:1043-1065, for typical magnitudes).
 *
 * Each beat is the mean-velocity template stretched to its RR and scaled
 * to the level L(t): u_mean(t) = L(t) S(t, phase), S the template (mean 1
 * over a beat) of the state, after the event a flow-weighted blend of the
 * rest and after templates. At the event, L, the blend and the
 * heart rate follow first-order kinetics 1 - exp(-(t - onset)/tau), the
 * mono-exponential description of exercise hyperaemia onset (e.g.
 * Shoemaker, Hughson et al., J Appl Physiol 1994;77:2664; Saunders,
 * Pyke & Tschakovsky, J Appl Physiol 2005;98:1286). */
#include "sim_internal.h"

#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static double approach(double t, double onset, double tau)
{
    if (t < onset) return 0.0;
    if (tau <= 0.0) return 1.0;
    return -expm1(-(t - onset) / tau);
}

static double heart_rate_at(const dop_sim_config *c, double t)
{
    if (!c->has_event) return c->rest.heart_rate_bpm;
    return c->rest.heart_rate_bpm + (c->after.heart_rate_bpm - c->rest.heart_rate_bpm) * approach(t, c->onset_s, c->tau_hr_s);
}

dop_status sim_waveform_init(sim_waveform *w, const dop_sim_config *cfg, dop_error *err)
{
    memset(w, 0, sizeof *w);
    w->cfg = *cfg;
    w->mean_rest = dop_sim_waveform_mean(&cfg->rest.waveform);
    w->mean_after = dop_sim_waveform_mean(&cfg->after.waveform);
    gsl_rng *rng = sim_rng_new(cfg->seed, SIM_RNG_BEATS);
    if (!rng) return dop_error_set(err, DOP_ERR_NOMEM, "out of memory (random generator)");

    /* Beats cover [-RR, duration + margin]: the first starts at a random
     * phase before t = 0, so that recordings do not begin on an onset. */
    double rr_max = 60.0 / 20.0 * 1.5;
    size_t cap = (size_t)((cfg->duration_s + 4.0 * rr_max) / (60.0 / 250.0 * 0.5)) + 16;
    w->beats = malloc(cap * sizeof *w->beats);
    if (!w->beats) {
        gsl_rng_free(rng);
        return dop_error_set(err, DOP_ERR_NOMEM, "out of memory (beat schedule)");
    }
    double rsa_phase = 2.0 * M_PI * gsl_rng_uniform(rng);
    double t = -gsl_rng_uniform(rng) * 60.0 / cfg->rest.heart_rate_bpm;
    double end = cfg->duration_s + 2.0 * rr_max;
    size_t n = 0;
    while (t < end && n < cap) {
        double z = gsl_ran_gaussian_ziggurat(rng, 1.0);
        if (z > 3.0) z = 3.0;
        if (z < -3.0) z = -3.0;
        double factor = 1.0 + cfg->hrv_percent / 100.0 * z +
                        cfg->rsa_percent / 100.0 * sin(2.0 * M_PI * cfg->respiration_hz * t + rsa_phase);
        if (factor < 0.5) factor = 0.5;
        double rr = 60.0 / heart_rate_at(cfg, t) * factor;
        w->beats[n].start_s = t;
        w->beats[n].rr_s = rr;
        n++;
        t += rr;
    }
    w->n_beats = n;
    gsl_rng_free(rng);
    return DOP_OK;
}

void sim_waveform_free(sim_waveform *w)
{
    free(w->beats);
    w->beats = NULL;
    w->n_beats = 0;
}

size_t sim_waveform_beat_at(const sim_waveform *w, double t, size_t hint)
{
    size_t k = hint < w->n_beats ? hint : 0;
    if (w->beats[k].start_s > t) {
        /* Out of order: binary search. */
        size_t lo = 0, hi = w->n_beats;
        while (hi - lo > 1) {
            size_t mid = (lo + hi) / 2;
            if (w->beats[mid].start_s <= t) lo = mid;
            else hi = mid;
        }
        return lo;
    }
    while (k + 1 < w->n_beats && w->beats[k + 1].start_s <= t) k++;
    return k;
}

double sim_template_eval(const dop_sim_waveform *tp, double phase)
{
    double v = tp->baseline;
    for (size_t i = 0; i < tp->n_bumps; i++) {
        const dop_sim_bump *b = &tp->bumps[i];
        if (phase < b->start || phase > b->end) continue;
        double s;
        if (phase <= b->peak) {
            s = b->peak > b->start ? sin(0.5 * M_PI * (phase - b->start) / (b->peak - b->start)) : 1.0;
        } else {
            s = cos(0.5 * M_PI * (phase - b->peak) / (b->end - b->peak));
        }
        v += b->amplitude * s * s;
    }
    return v;
}

/* The beat k at time t (s) and the phase within it, in [0, 1): after the
 * last scheduled beat (never inside the recording) the phase stays below 1.
 * hint: the beat found last (or NULL), updated. */
static double clamped_phase(const sim_waveform *w, double t, size_t *hint, size_t *beat)
{
    size_t k = sim_waveform_beat_at(w, t, hint ? *hint : 0);
    if (hint) *hint = k;
    *beat = k;
    double phase = (t - w->beats[k].start_s) / w->beats[k].rr_s;
    if (phase < 0.0) phase = 0.0;
    if (phase >= 1.0) phase = 1.0 - 1e-12;
    return phase;
}

double sim_waveform_mean_velocity(const sim_waveform *w, double t, size_t *hint, double *phase_out)
{
    const dop_sim_config *c = &w->cfg;
    size_t k;
    double phase = clamped_phase(w, t, hint, &k);
    if (phase_out) *phase_out = phase;
    double shape_rest = sim_template_eval(&c->rest.waveform, phase) / w->mean_rest;
    if (!c->has_event || t < c->onset_s) return c->rest.mean_velocity_cm_s * shape_rest;
    double v0 = c->rest.mean_velocity_cm_s, v1 = c->after.mean_velocity_cm_s;
    double level = v0 + (v1 - v0) * approach(t, c->onset_s, c->tau_s);
    /* The shape is the mix of the two states' waveforms weighted by the flow
     * each carries, so that with tau_shape = tau the velocity is exactly
     * (1 - b) u_rest(phase) + b u_after(phase): no transient overshoot of
     * the systolic peak beyond either state's own. */
    double b = approach(t, c->onset_s, c->tau_shape_s);
    double wr = (1.0 - b) * fabs(v0), wa = b * fabs(v1);
    if (wr + wa <= 0.0) wr = 1.0 - b, wa = b;
    double shape_after = sim_template_eval(&c->after.waveform, phase) / w->mean_after;
    return level * (wr * shape_rest + wa * shape_after) / (wr + wa);
}

double sim_wall_shape(const sim_waveform *w, double t, size_t *hint)
{
    size_t k = sim_waveform_beat_at(w, t, hint ? *hint : 0);
    if (hint) *hint = k;
    double phase = (t - w->beats[k].start_s) / w->beats[k].rr_s;
    double x = (phase - SIM_WALL_START) / SIM_WALL_WIDTH;
    if (x <= 0.0 || x >= 1.0) return 0.0;
    double s = sin(M_PI * x);
    return s * s;
}

void sim_waveform_mix(const sim_waveform *w, double t, size_t *hint, sim_mix *out)
{
    /* The same kinetics as sim_waveform_mean_velocity, factored as
     * w_rest S_rest(phase) + w_after S_after(phase) (algebraically equal;
     * kept apart so that the spectral model's arithmetic, hence its output,
     * stays bit for bit as it was). */
    const dop_sim_config *c = &w->cfg;
    size_t k;
    double phase = clamped_phase(w, t, hint, &k);
    out->beat = k;
    out->phase = phase;
    out->rr_s = w->beats[k].rr_s;
    if (!c->has_event || t < c->onset_s) {
        out->w_rest = c->rest.mean_velocity_cm_s;
        out->w_after = 0.0;
        return;
    }
    double v0 = c->rest.mean_velocity_cm_s, v1 = c->after.mean_velocity_cm_s;
    double level = v0 + (v1 - v0) * approach(t, c->onset_s, c->tau_s);
    double b = approach(t, c->onset_s, c->tau_shape_s);
    double wr = (1.0 - b) * fabs(v0), wa = b * fabs(v1);
    if (wr + wa <= 0.0) wr = 1.0 - b, wa = b;
    out->w_rest = level * wr / (wr + wa);
    out->w_after = level * wa / (wr + wa);
}
