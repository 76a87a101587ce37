/* The simulator object: ties the waveform, the spectral blood synthesis and
 * the impairments together, block by block, and keeps the truth.
 *
 * Timing: synthesis segment i is centred on sample i H (H = block). The
 * blood PSD of segment i is that of the velocity profile at t_i = i H / fs,
 * and output sample n = i H + m (0 <= m < H) mixes segments i and i + 1 with
 * weights 1 - a(m) and a(m) = sin^2(pi (m + 1/2) / 2H) (their squared
 * windows). Since the blood power is the same in every segment, the
 * power-weighted mean frequency at sample n is the same mix of the
 * segments' means: the truth is that interpolation of the block-centre
 * values, averaged over each 10 ms step.
 *
 * Scatterer model (model = SCATTERERS): the blood comes from
 * dsp/sim/sim_scatterers.c instead, block by block in motion steps; the
 * spectral object is idle (the FFT of silence), massage moves a tissue
 * layer (sim_tissue.c) and the clutter phasors, noise and dropouts are the
 * impairments' as in the spectral model.
 * Its truth is the velocity field itself (sim_womersley.c): the spatial
 * mean and centreline velocity of the profile that moves the scatterers in
 * each motion step, never a Doppler-spectrum formula of the estimator. */
#include "sim_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct dop_sim {
    dop_sim_config cfg;
    int64_t length;
    size_t hop;
    double ratio;                 /* mean / centreline velocity of the profile */
    double area_cm2;
    sim_waveform wave;
    sim_spectrum spec;
    sim_impairments imp;
    sim_scatterers *scat;         /* scatterer model, else NULL */
    sim_tissue tissue;            /* scatterer model: massage tissue layer */
    size_t step;                  /* samples per truth value: hop, or the motion step */
    double *step_centre;          /* scatterer model: centreline velocity per motion step */
    gsl_rng *rng[SIM_RNG_COUNT];
    gsl_rng *rng_start[SIM_RNG_COUNT]; /* states after create, for reset */
    double *block_mean;           /* spatial-mean velocity at segment centres, n_blocks + 2 */
    int64_t n_blocks;
    double *mix;                  /* a(m), H values */
    dop_sim_truth_row *rows;
    size_t n_rows;
    dop_sim_beat *beats;
    size_t n_beats;
    double peak_velocity;
    /* streaming state */
    int64_t next_block;           /* output block to synthesise next */
    float complex *buf;           /* H samples of the current block */
    float *gain;
    size_t buf_len, buf_pos;
};

static void free_sim(dop_sim *sim)
{
    sim_impairments_free(&sim->imp);
    sim_tissue_free(&sim->tissue);
    if (sim->scat) sim_scatterers_free(sim->scat);
    free(sim->scat);
    free(sim->step_centre);
    sim_spectrum_free(&sim->spec);
    sim_waveform_free(&sim->wave);
    for (int i = 0; i < SIM_RNG_COUNT; i++) {
        if (sim->rng[i]) gsl_rng_free(sim->rng[i]);
        if (sim->rng_start[i]) gsl_rng_free(sim->rng_start[i]);
    }
    free(sim->block_mean);
    free(sim->mix);
    free(sim->rows);
    free(sim->beats);
    free(sim->buf);
    free(sim->gain);
    free(sim);
}

/* Velocity at sample n: the overlap-add mix of the two segments covering it. */
static inline double sample_velocity(const dop_sim *sim, int64_t n)
{
    if (sim->scat) return sim->block_mean[n / (int64_t)sim->step];
    int64_t i = n / (int64_t)sim->hop;
    double a = sim->mix[n % (int64_t)sim->hop];
    return (1.0 - a) * sim->block_mean[i] + a * sim->block_mean[i + 1];
}

/* Spectral model: spatial mean at the segment centres and the mixing weights. */
static dop_status block_values_spectral(dop_sim *sim, dop_error *err)
{
    const dop_sim_config *c = &sim->cfg;
    size_t h = sim->hop;
    sim->n_blocks = (sim->length + (int64_t)h - 1) / (int64_t)h;
    sim->block_mean = malloc((size_t)(sim->n_blocks + 2) * sizeof *sim->block_mean);
    sim->mix = malloc(h * sizeof *sim->mix);
    if (!sim->block_mean || !sim->mix) return dop_error_set(err, DOP_ERR_NOMEM, "out of memory (truth)");
    for (size_t m = 0; m < h; m++) {
        double s = sin(M_PI * ((double)m + 0.5) / (2.0 * (double)h));
        sim->mix[m] = s * s;
    }
    size_t hint = 0;
    sim->peak_velocity = 0.0;
    for (int64_t i = 0; i < sim->n_blocks + 2; i++) {
        sim->block_mean[i] = sim_waveform_mean_velocity(&sim->wave, (double)i * (double)h / c->fs_hz, &hint, NULL);
        if (i <= sim->n_blocks && fabs(sim->block_mean[i]) / sim->ratio > sim->peak_velocity)
            sim->peak_velocity = fabs(sim->block_mean[i]) / sim->ratio;
    }
    return DOP_OK;
}

/* Scatterer model: spatial mean and centreline velocity of the field in
 * each motion step (the values that move the scatterers). */
static dop_status block_values_scatterers(dop_sim *sim, dop_error *err)
{
    size_t b = sim->step;
    sim->n_blocks = (sim->length + (int64_t)b - 1) / (int64_t)b;
    sim->block_mean = malloc((size_t)sim->n_blocks * sizeof *sim->block_mean);
    sim->step_centre = malloc((size_t)sim->n_blocks * sizeof *sim->step_centre);
    if (!sim->block_mean || !sim->step_centre) return dop_error_set(err, DOP_ERR_NOMEM, "out of memory (truth)");
    size_t hint = 0;
    sim->peak_velocity = 0.0;
    for (int64_t j = 0; j < sim->n_blocks; j++) {
        double t = ((double)j + 0.5) * (double)b / sim->cfg.fs_hz;
        sim->block_mean[j] = sim_field_profile(&sim->scat->field, t, &hint, NULL, &sim->step_centre[j]);
        if (fabs(sim->step_centre[j]) > sim->peak_velocity) sim->peak_velocity = fabs(sim->step_centre[j]);
    }
    sim->scat->field.cached_beat = SIZE_MAX;
    return DOP_OK;
}

static dop_status truth_rows(dop_sim *sim, dop_error *err)
{
    const dop_sim_config *c = &sim->cfg;
    int64_t fs = (int64_t)c->fs_hz;
    sim->n_rows = (size_t)((sim->length - 1) * 100 / fs + 1);
    sim->rows = calloc(sim->n_rows, sizeof *sim->rows);
    /* Rows: sample n belongs to step floor(n / (fs x 10 ms)) = n 100 / fs. */
    double *sum_v = calloc(sim->n_rows, sizeof *sum_v), *sum_hr = calloc(sim->n_rows, sizeof *sum_hr);
    double *sum_c = calloc(sim->n_rows, sizeof *sum_c);
    int64_t *count = calloc(sim->n_rows, sizeof *count);
    if (!sim->rows || !sum_v || !sum_hr || !sum_c || !count) {
        free(sum_v);
        free(sum_hr);
        free(sum_c);
        free(count);
        return dop_error_set(err, DOP_ERR_NOMEM, "out of memory (truth)");
    }
    size_t hint = 0;
    for (int64_t n = 0; n < sim->length; n++) {
        size_t r = (size_t)(n * 100 / fs);
        double t = (double)n / c->fs_hz;
        hint = sim_waveform_beat_at(&sim->wave, t, hint);
        sum_v[r] += sample_velocity(sim, n);
        if (sim->scat) sum_c[r] += sim->step_centre[n / (int64_t)sim->step];
        sum_hr[r] += 60.0 / sim->wave.beats[hint].rr_s;
        count[r]++;
    }
    for (size_t r = 0; r < sim->n_rows; r++) {
        dop_sim_truth_row *row = &sim->rows[r];
        double v = count[r] ? sum_v[r] / (double)count[r] : 0.0;
        row->time_s = ((double)r + 0.5) * DOP_SIM_TRUTH_STEP_S;
        row->mean_velocity_cm_s = v;
        row->centreline_velocity_cm_s = sim->scat ? (count[r] ? sum_c[r] / (double)count[r] : 0.0) : v / sim->ratio;
        row->flow_ml_min = v * sim->area_cm2 * 60.0;
        row->diameter_mm = c->diameter_mm;
        row->heart_rate_bpm = count[r] ? sum_hr[r] / (double)count[r] : 0.0;
    }
    free(sum_v);
    free(sum_hr);
    free(sum_c);
    free(count);
    return DOP_OK;
}

static dop_status compute_truth(dop_sim *sim, dop_error *err)
{
    const dop_sim_config *c = &sim->cfg;
    dop_status st = sim->scat ? block_values_scatterers(sim, err) : block_values_spectral(sim, err);
    if (st != DOP_OK || (st = truth_rows(sim, err)) != DOP_OK) return st;

    /* Beats whose onset lies in the recording. */
    sim->beats = malloc((sim->wave.n_beats + 1) * sizeof *sim->beats);
    if (!sim->beats) return dop_error_set(err, DOP_ERR_NOMEM, "out of memory (beats)");
    for (size_t k = 0; k < sim->wave.n_beats; k++) {
        const sim_beat *b = &sim->wave.beats[k];
        if (b->start_s < 0.0 || b->start_s >= c->duration_s) continue;
        dop_sim_beat *o = &sim->beats[sim->n_beats];
        o->index = (int64_t)sim->n_beats;
        o->start_s = b->start_s;
        o->end_s = b->start_s + b->rr_s;
        sim->n_beats++;
    }
    return DOP_OK;
}

dop_status dop_sim_create(const dop_sim_config *cfg, dop_sim **out, dop_error *err)
{
    *out = NULL;
    dop_status st = dop_sim_config_validate(cfg, err);
    if (st != DOP_OK) return st;
    dop_sim *sim = calloc(1, sizeof *sim);
    if (!sim) return dop_error_set(err, DOP_ERR_NOMEM, "out of memory (simulator)");
    sim->cfg = *cfg;
    sim->hop = cfg->block;
    sim->length = (int64_t)llround(cfg->duration_s * cfg->fs_hz);
    if (sim->length < 1) sim->length = 1;
    sim->ratio = dop_sim_profile_mean_ratio(cfg);
    /* Written out, not dop_flow_ml_min: the truth must not share a mistake with the estimator. */
    sim->area_cm2 = M_PI * (cfg->diameter_mm / 20.0) * (cfg->diameter_mm / 20.0);
    for (int i = 0; i < SIM_RNG_COUNT; i++) {
        /* Gates (realisations) share the beats, artifacts and clutter and
         * differ in speckle and noise; realisation 0 keeps the streams of a
         * single recording. */
        unsigned own = i == SIM_RNG_BLOOD || i == SIM_RNG_NOISE ? cfg->realisation * SIM_RNG_COUNT : 0;
        sim->rng[i] = sim_rng_new(cfg->seed, (unsigned)i + own);
        if (!sim->rng[i]) {
            free_sim(sim);
            return dop_error_set(err, DOP_ERR_NOMEM, "out of memory (random generators)");
        }
    }
    sim->buf = malloc(sim->hop * sizeof *sim->buf);
    sim->gain = malloc(sim->hop * sizeof *sim->gain);
    if (!sim->buf || !sim->gain) {
        free_sim(sim);
        return dop_error_set(err, DOP_ERR_NOMEM, "out of memory (simulator buffers)");
    }
    sim->step = sim->hop;
    if (cfg->model == DOP_SIM_MODEL_SCATTERERS) {
        sim->scat = calloc(1, sizeof *sim->scat);
        if (!sim->scat) {
            free_sim(sim);
            return dop_error_set(err, DOP_ERR_NOMEM, "out of memory (scatterers)");
        }
        sim->step = sim_scatterers_step(cfg);
    }
    if ((st = sim_waveform_init(&sim->wave, &sim->cfg, err)) != DOP_OK ||
        (sim->scat && (st = sim_scatterers_init(sim->scat, &sim->cfg, &sim->wave, err)) != DOP_OK) ||
        (st = sim_spectrum_init(&sim->spec, &sim->cfg, err)) != DOP_OK ||
        (st = sim_impairments_init(&sim->imp, &sim->cfg, &sim->wave, sim->rng[SIM_RNG_ARTIFACT],
                                   sim->rng[SIM_RNG_CLUTTER], err)) != DOP_OK ||
        (sim->scat && (st = sim_tissue_init(&sim->tissue, &sim->cfg, sim->scat, &sim->imp, sim->rng[SIM_RNG_ARTIFACT],
                                            err)) != DOP_OK) ||
        (st = compute_truth(sim, err)) != DOP_OK) {
        free_sim(sim);
        return st;
    }
    for (int i = 0; i < SIM_RNG_COUNT; i++) {
        sim->rng_start[i] = gsl_rng_clone(sim->rng[i]);
        if (!sim->rng_start[i]) {
            free_sim(sim);
            return dop_error_set(err, DOP_ERR_NOMEM, "out of memory (random generators)");
        }
    }
    dop_sim_reset(sim);
    *out = sim;
    return DOP_OK;
}

int64_t dop_sim_length(const dop_sim *sim) { return sim->length; }

/* Segment i: PSD at t_i, its blood and low-frequency artifact coefficients. */
static void synthesise_segment(dop_sim *sim, int64_t i, float complex *out)
{
    const dop_sim_config *c = &sim->cfg;
    double t = (double)i * (double)sim->hop / c->fs_hz;
    gsl_rng *rb = c->blood && !sim->scat ? sim->rng[SIM_RNG_BLOOD] : NULL;
    double pa = sim_impairments_lf_power(&sim->imp, t);
    gsl_rng *ra = !sim->scat && (sim->imp.art.type == DOP_SIM_ARTIFACT_EFFLEURAGE ||
                                 sim->imp.art.type == DOP_SIM_ARTIFACT_PETRISSAGE)
                      ? sim->rng[SIM_RNG_ARTIFACT]
                      : NULL;
    if (rb) sim_spectrum_psd(&sim->spec, sim->block_mean[i] / sim->ratio);
    sim_spectrum_segment(&sim->spec, 1.0, rb, pa, ra, out);
}

void dop_sim_reset(dop_sim *sim)
{
    for (int i = 0; i < SIM_RNG_COUNT; i++) gsl_rng_memcpy(sim->rng[i], sim->rng_start[i]);
    sim->imp.wall_hint = 0;
    sim_spectrum_reset(&sim->spec);
    if (sim->scat) {
        sim_scatterers_reset(sim->scat, sim->rng[SIM_RNG_BLOOD]);
        sim_tissue_reset(&sim->tissue);
    }
    /* Prime: segment 0 covers samples [-H, H); its first half is discarded. */
    synthesise_segment(sim, 0, sim->buf);
    sim->next_block = 0;
    sim->buf_len = sim->buf_pos = 0;
}

static void synthesise_block(dop_sim *sim)
{
    int64_t b = sim->next_block++;
    int64_t n0 = b * (int64_t)sim->hop;
    size_t n = (size_t)(sim->length - n0 < (int64_t)sim->hop ? sim->length - n0 : (int64_t)sim->hop);
    float complex *x = sim->buf;
    synthesise_segment(sim, b + 1, x);
    if (sim->scat) {
        /* Scatterer model: massage moves the tissue layer instead of adding noise bursts. */
        if (sim->cfg.blood) sim_scatterers_add(sim->scat, n0, n, sim->rng[SIM_RNG_BLOOD], x);
        sim_tissue_add(&sim->tissue, n0, n, x);
        /* Breathing and probe motion move the blood and the tissue layer
         * relative to the probe as they move the clutter phasors. */
        for (size_t i = 0; i < n; i++) {
            double d = sim_impairments_common_displacement(&sim->imp, (double)(n0 + (int64_t)i) / sim->cfg.fs_hz);
            x[i] *= (float complex)cexp(I * sim->imp.alpha * d);
        }
    }
    sim_impairments_gain(&sim->imp, n0, n, sim->gain);
    for (size_t i = 0; i < n; i++) x[i] *= sim->gain[i];
    sim_impairments_clutter(&sim->imp, n0, n, sim->gain, x);
    if (!sim->scat) sim_impairments_bursts(&sim->imp, n0, n, sim->rng[SIM_RNG_ARTIFACT], sim->gain, x);
    sim_impairments_noise(&sim->imp, n, sim->rng[SIM_RNG_NOISE], x);
    sim->buf_len = n;
    sim->buf_pos = 0;
}

void dop_sim_generate(dop_sim *sim, float complex *out, size_t capacity, size_t *count)
{
    size_t done = 0;
    while (done < capacity) {
        if (sim->buf_pos == sim->buf_len) {
            if (sim->next_block * (int64_t)sim->hop >= sim->length) break;
            synthesise_block(sim);
        }
        size_t k = sim->buf_len - sim->buf_pos;
        if (k > capacity - done) k = capacity - done;
        memcpy(out + done, sim->buf + sim->buf_pos, k * sizeof *out);
        sim->buf_pos += k;
        done += k;
    }
    *count = done;
}

const dop_sim_truth_row *dop_sim_truth(const dop_sim *sim, size_t *count)
{
    *count = sim->n_rows;
    return sim->rows;
}

const dop_sim_beat *dop_sim_beats(const dop_sim *sim, size_t *count)
{
    *count = sim->n_beats;
    return sim->beats;
}

double dop_sim_peak_velocity_cm_s(const dop_sim *sim) { return sim->peak_velocity; }

dop_sim_powers dop_sim_get_powers(const dop_sim *sim)
{
    const dop_sim_config *c = &sim->cfg;
    dop_sim_powers p = {0.0, 0.0, 0.0};
    if (c->blood) p.blood = 1.0;
    if (c->clutter && !isnan(c->clutter_db)) p.clutter = pow(10.0, c->clutter_db / 10.0);
    if (c->noise && !isnan(c->snr_db)) p.noise = pow(10.0, -c->snr_db / 10.0);
    return p;
}

dop_status dop_sim_epoch_truth(const dop_sim *sim, const char *label, double start_s, double end_s,
                               dop_sim_epoch_result *out, dop_error *err)
{
    memset(out, 0, sizeof *out);
    const dop_sim_config *c = &sim->cfg;
    int64_t n0 = (int64_t)ceil(start_s * c->fs_hz - 1e-6), n1 = (int64_t)ceil(end_s * c->fs_hz - 1e-6);
    if (n0 < 0) n0 = 0;
    if (n1 > sim->length) n1 = sim->length;
    if (!(start_s < end_s) || n1 <= n0)
        return dop_error_set(err, DOP_ERR_INVALID_ARG, "epoch \"%s\" [%g, %g) s does not overlap the recording [0, %g) s",
                             label ? label : "", start_s, end_s, (double)sim->length / c->fs_hz);
    snprintf(out->label, sizeof out->label, "%s", label ? label : "");
    out->start_s = start_s;
    out->end_s = end_s;
    double sum_v = 0.0, sum_hr = 0.0, sum_c = 0.0;
    size_t hint = 0;
    for (int64_t n = n0; n < n1; n++) {
        hint = sim_waveform_beat_at(&sim->wave, (double)n / c->fs_hz, hint);
        sum_v += sample_velocity(sim, n);
        if (sim->scat) sum_c += sim->step_centre[n / (int64_t)sim->step];
        sum_hr += 60.0 / sim->wave.beats[hint].rr_s;
    }
    double v = sum_v / (double)(n1 - n0);
    out->mean_velocity_cm_s = v;
    out->tamax_cm_s = sim->scat ? sum_c / (double)(n1 - n0) : v / sim->ratio;
    out->flow_ml_min = v * sim->area_cm2 * 60.0;
    out->heart_rate_bpm = sum_hr / (double)(n1 - n0);
    double rr = 0.0;
    for (size_t k = 0; k < sim->n_beats; k++)
        if (sim->beats[k].start_s >= start_s && sim->beats[k].start_s < end_s) {
            rr += sim->beats[k].end_s - sim->beats[k].start_s;
            out->n_beats++;
        }
    out->beats_heart_rate_bpm = out->n_beats ? 60.0 / (rr / (double)out->n_beats) : NAN;
    return DOP_OK;
}

void dop_sim_destroy(dop_sim *sim)
{
    if (sim) free_sim(sim);
}
