/* Simulator stage 3: what a real recording adds to the blood signal.
 *
 * Clutter: echoes from stationary tissue and from the pulsating vessel
 * walls, 20-40 dB (up to 60-100 dB at the walls themselves) above the blood
 * signal (Evans & McDicken, Doppler Ultrasound, 2000, ch. 7; Bjaerum, Torp &
 * Kristoffersen, IEEE TUFFC 2002;49:204-216). Each is a phasor whose phase is
 * 4 pi f0 cos(angle) d(t) / c for an axial displacement d(t) toward the
 * probe, so its Doppler shift is 2 f0 cos(angle) d'(t) / c:
 *  - tissue: breathing moves it by `tissue_motion_mm` at the respiration rate
 *    (a fraction of a Hz: a line at 0 Hz);
 *  - near and far wall: radial distension in systole, sin^2 over 40 % of the
 *    beat, peak wall velocity `wall_velocity_mm_s` (a few mm/s: |f| < ~25 Hz
 *    at 4-8 MHz), the two walls moving in opposite directions.
 * The clutter power is calibrated over the recording to the requested
 * clutter-to-blood ratio (the tissue and wall phasors beat against each
 * other, so their amplitudes alone do not fix it).
 *
 * Noise: complex white Gaussian, total power P_blood / 10^(SNR/10) over the
 * whole band fs (SNR defined as blood power over noise power, both over the
 * full band).
 *
 * Massage (probe held on the skin while a therapist works near it):
 *  - effleurage / petrissage strokes move tissue and probe: the clutter
 *    phasors get the probe displacement (peak velocity `motion_mm_s`), and a
 *    low-frequency Gaussian-spectrum component (rms bandwidth
 *    `bandwidth_hz`, power `level_db` re blood, sin^2 envelope per stroke)
 *    stands for the tissue deformation under the hand: the "thumps";
 *  - tapotement: short broadband bursts (the impacts, 20-40 ms, several per
 *    second) of white noise at `level_db` re blood, plus a probe jolt.
 * Dropouts (probe lift-off): blood, clutter and artifacts fade out over
 * 2 ms; the receiver noise stays. */
#include "sim_internal.h"

#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DROPOUT_RAMP_S 0.002
#define BURST_RAMP_S 0.003

static double db_to_power(double db) { return pow(10.0, db / 10.0); }

/* Last stroke starting at or before t (strokes are sorted, non-overlapping). */
static const sim_burst *stroke_at(const sim_impairments *imp, double t)
{
    if (imp->n_strokes == 0 || imp->strokes[0].start_s > t) return NULL;
    size_t lo = 0, hi = imp->n_strokes;
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (imp->strokes[mid].start_s <= t) lo = mid;
        else hi = mid;
    }
    const sim_burst *b = &imp->strokes[lo];
    return t < b->start_s + b->duration_s ? b : NULL;
}

const sim_burst *sim_impairments_stroke_at(const sim_impairments *imp, double t) { return stroke_at(imp, t); }

/* sin^2 stroke envelope in [0, 1] at t (0 outside strokes). */
static double stroke_envelope(const sim_impairments *imp, double t)
{
    const sim_burst *b = stroke_at(imp, t);
    if (!b) return 0.0;
    double s = sin(M_PI * (t - b->start_s) / b->duration_s);
    return s * s;
}

/* Probe displacement toward the vessel during a stroke, m: A sin^2 over the
 * stroke with A = v_peak dur / pi (peak velocity v_peak). */
static double probe_displacement(const sim_impairments *imp, double t)
{
    const sim_burst *b = stroke_at(imp, t);
    if (!b) return 0.0;
    double s = sin(M_PI * (t - b->start_s) / b->duration_s);
    return imp->art.motion_mm_s * 1e-3 * b->duration_s / M_PI * s * s;
}

double sim_impairments_common_displacement(const sim_impairments *imp, double t)
{
    return imp->resp_m * sin(2.0 * M_PI * imp->resp_hz * t + imp->resp_phase) + probe_displacement(imp, t);
}

static void clutter_phases(sim_impairments *imp, double t, double ph[3])
{
    double common = sim_impairments_common_displacement(imp, t);
    double wall = imp->wall_scale * sim_wall_shape(imp->wave, t, &imp->wall_hint);
    ph[0] = imp->ph_tissue + imp->alpha * common;
    ph[1] = imp->ph_near + imp->alpha * (common + wall);
    ph[2] = imp->ph_far + imp->alpha * (common - wall);
}

dop_status sim_impairments_init(sim_impairments *imp, const dop_sim_config *cfg, const sim_waveform *wave,
                                gsl_rng *rng_artifact, gsl_rng *rng_clutter, dop_error *err)
{
    memset(imp, 0, sizeof *imp);
    imp->wave = wave;
    imp->fs_hz = cfg->fs_hz;
    imp->alpha = 4.0 * M_PI * cfg->f0_hz * cos(cfg->angle_deg * M_PI / 180.0) / cfg->c_m_s;
    imp->drops = wave->cfg.dropouts;
    imp->n_drops = wave->cfg.n_dropouts;

    /* Random phases are drawn whether or not clutter is on, so the stream
     * position never depends on the switches. */
    imp->ph_tissue = 2.0 * M_PI * gsl_rng_uniform(rng_clutter);
    imp->ph_near = 2.0 * M_PI * gsl_rng_uniform(rng_clutter);
    imp->ph_far = 2.0 * M_PI * gsl_rng_uniform(rng_clutter);
    imp->resp_phase = 2.0 * M_PI * gsl_rng_uniform(rng_clutter);
    imp->resp_m = cfg->tissue_motion_mm * 1e-3;
    imp->resp_hz = cfg->respiration_hz;
    /* Peak of d/dt [S sin^2(pi (phase - start) / width)] is S pi / (width RR). */
    imp->wall_scale = cfg->wall_velocity_mm_s * 1e-3 * (60.0 / cfg->rest.heart_rate_bpm) * SIM_WALL_WIDTH / M_PI;

    if (cfg->noise && !isnan(cfg->snr_db)) imp->noise_sigma = sqrt(0.5 / db_to_power(cfg->snr_db));

    imp->art = cfg->artifact;
    if (cfg->artifacts && cfg->artifact.type != DOP_SIM_ARTIFACT_NONE) {
        const dop_sim_artifact *a = &cfg->artifact;
        double end = a->end_s < cfg->duration_s ? a->end_s : cfg->duration_s;
        double period = 1.0 / a->rate_hz;
        double spread = a->type == DOP_SIM_ARTIFACT_TAPOTEMENT ? 1.0 / 3.0 : 0.15; /* taps 20-40 ms for 30 ms */
        size_t cap = (size_t)((end - a->start_s) / (period * 0.8)) + 4;
        imp->strokes = malloc(cap * sizeof *imp->strokes);
        if (!imp->strokes) return dop_error_set(err, DOP_ERR_NOMEM, "out of memory (artifact schedule)");
        double t = a->start_s + gsl_rng_uniform(rng_artifact) * period * 0.25;
        while (t < end && imp->n_strokes < cap) {
            double dur = a->duration_ms * 1e-3 * (1.0 + spread * (2.0 * gsl_rng_uniform(rng_artifact) - 1.0));
            if (dur > 0.9 * period) dur = 0.9 * period;
            imp->strokes[imp->n_strokes].start_s = t;
            imp->strokes[imp->n_strokes].duration_s = dur;
            imp->n_strokes++;
            double next = t + period * (1.0 + 0.15 * (2.0 * gsl_rng_uniform(rng_artifact) - 1.0));
            t = next > t + dur ? next : t + dur;
        }
        imp->stroke_power = db_to_power(a->level_db);
    } else {
        imp->art.type = DOP_SIM_ARTIFACT_NONE;
        imp->art.motion_mm_s = 0.0;
    }

    if (cfg->clutter && !isnan(cfg->clutter_db)) {
        double pc = db_to_power(cfg->clutter_db);
        imp->clutter_on = 1;
        imp->amp_tissue = sqrt((1.0 - cfg->wall_fraction) * pc);
        imp->amp_near = sqrt(0.6 * cfg->wall_fraction * pc);
        imp->amp_far = sqrt(0.4 * cfg->wall_fraction * pc);
        int64_t samples = (int64_t)llround(cfg->duration_s * cfg->fs_hz);
        double measured = sim_impairments_clutter_power(imp, samples, cfg->block);
        if (!(measured > 0.0)) {
            sim_impairments_free(imp);
            return dop_error_set(err, DOP_ERR_NOMEM, "out of memory (clutter calibration)");
        }
        double g = sqrt(pc / measured);
        imp->amp_tissue *= g;
        imp->amp_near *= g;
        imp->amp_far *= g;
    }
    return DOP_OK;
}

void sim_impairments_free(sim_impairments *imp)
{
    free(imp->strokes);
    imp->strokes = NULL;
    imp->n_strokes = 0;
}

double sim_impairments_lf_power(const sim_impairments *imp, double t)
{
    if (imp->art.type != DOP_SIM_ARTIFACT_EFFLEURAGE && imp->art.type != DOP_SIM_ARTIFACT_PETRISSAGE) return 0.0;
    return imp->stroke_power * stroke_envelope(imp, t);
}

/* Clutter over one block: phases are exact at the block ends and advance
 * linearly in between by a per-sample rotation (one sin/cos per block and
 * component instead of one per sample). */
void sim_impairments_clutter(sim_impairments *imp, int64_t n0, size_t n, const float *gain, float complex *out)
{
    if (!imp->clutter_on || n == 0) return;
    double p0[3], p1[3];
    clutter_phases(imp, (double)n0 / imp->fs_hz, p0);
    clutter_phases(imp, (double)(n0 + (int64_t)n) / imp->fs_hz, p1);
    const double amp[3] = {imp->amp_tissue, imp->amp_near, imp->amp_far};
    double complex z[3], r[3];
    for (int c = 0; c < 3; c++) {
        z[c] = amp[c] * cexp(I * p0[c]);
        r[c] = cexp(I * (p1[c] - p0[c]) / (double)n);
    }
    for (size_t i = 0; i < n; i++) {
        double complex sum = z[0] + z[1] + z[2];
        out[i] += (float complex)(gain ? gain[i] * sum : sum);
        z[0] *= r[0];
        z[1] *= r[1];
        z[2] *= r[2];
    }
}

double sim_impairments_clutter_power(sim_impairments *imp, int64_t samples, size_t block)
{
    float complex *buf = malloc(block * sizeof *buf);
    if (!buf) return -1.0;
    double sum = 0.0;
    for (int64_t n0 = 0; n0 < samples; n0 += (int64_t)block) {
        size_t n = (size_t)(samples - n0 < (int64_t)block ? samples - n0 : (int64_t)block);
        memset(buf, 0, n * sizeof *buf);
        sim_impairments_clutter(imp, n0, n, NULL, buf);
        for (size_t i = 0; i < n; i++) sum += (double)crealf(buf[i]) * crealf(buf[i]) + (double)cimagf(buf[i]) * cimagf(buf[i]);
    }
    free(buf);
    imp->wall_hint = 0;
    return samples > 0 ? sum / (double)samples : 0.0;
}

void sim_impairments_bursts(const sim_impairments *imp, int64_t n0, size_t n, gsl_rng *rng, const float *gain,
                            float complex *out)
{
    if (imp->art.type != DOP_SIM_ARTIFACT_TAPOTEMENT || imp->n_strokes == 0) return;
    double amp = sqrt(0.5 * imp->stroke_power);
    for (size_t i = 0; i < n; i++) {
        double t = (double)(n0 + (int64_t)i) / imp->fs_hz;
        const sim_burst *b = stroke_at(imp, t);
        if (!b) continue;
        /* Tukey envelope: cosine ramps of 3 ms (or a quarter of the burst). */
        double x = t - b->start_s, ramp = b->duration_s / 4.0 < BURST_RAMP_S ? b->duration_s / 4.0 : BURST_RAMP_S;
        double e = 1.0;
        if (x < ramp) e = 0.5 * (1.0 - cos(M_PI * x / ramp));
        else if (b->duration_s - x < ramp) e = 0.5 * (1.0 - cos(M_PI * (b->duration_s - x) / ramp));
        double a = amp * e * (gain ? gain[i] : 1.0);
        double re = gsl_ran_gaussian_ziggurat(rng, 1.0), im = gsl_ran_gaussian_ziggurat(rng, 1.0);
        out[i] += (float complex)(a * re + I * a * im);
    }
}

void sim_impairments_noise(const sim_impairments *imp, size_t n, gsl_rng *rng, float complex *out)
{
    if (imp->noise_sigma <= 0.0) return;
    double s = imp->noise_sigma;
    for (size_t i = 0; i < n; i++) {
        double re = gsl_ran_gaussian_ziggurat(rng, s), im = gsl_ran_gaussian_ziggurat(rng, s);
        out[i] += (float complex)(re + I * im);
    }
}

void sim_impairments_gain(const sim_impairments *imp, int64_t n0, size_t n, float *gain)
{
    for (size_t i = 0; i < n; i++) gain[i] = 1.0f;
    for (size_t d = 0; d < imp->n_drops; d++) {
        double a = imp->drops[d].start_s, b = a + imp->drops[d].duration_s;
        double t0 = (double)n0 / imp->fs_hz, t1 = (double)(n0 + (int64_t)n) / imp->fs_hz;
        if (t1 < a - DROPOUT_RAMP_S || t0 > b + DROPOUT_RAMP_S) continue;
        for (size_t i = 0; i < n; i++) {
            double t = (double)(n0 + (int64_t)i) / imp->fs_hz, g;
            if (t < a) g = (a - t) / DROPOUT_RAMP_S;
            else if (t <= b) g = 0.0;
            else g = (t - b) / DROPOUT_RAMP_S;
            if (g < 1.0) gain[i] *= (float)g;
        }
    }
}
