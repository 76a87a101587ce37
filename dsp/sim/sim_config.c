/* Simulator configuration: defaults, built-in waveforms, artifact presets
 * and the range checks shared by the spec parser and dop_sim_create. */
#include "sim_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* SplitMix64 (Steele, Lea & Flood, OOPSLA 2014): decorrelated seeds for
 * the per-component Mersenne Twister streams. */
static uint64_t splitmix64(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

gsl_rng *sim_rng_new(uint64_t seed, unsigned stream)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    if (!r) return NULL;
    uint64_t s = splitmix64(splitmix64(seed) ^ (0xD1B54A32D192ED03ull * (stream + 1)));
    gsl_rng_set(r, (unsigned long)(s & 0xFFFFFFFFul) | 1ul);
    return r;
}

/* Waveform templates, in beat phase. Shapes follow the textbook peripheral
 * patterns (Evans & McDicken, Doppler Ultrasound, 2nd ed., Wiley 2000,
 * ch. 10): at rest a high-resistance triphasic signal whose peak is about 6
 * times its mean (pulsatility index about 5-8 in the brachial and femoral
 * arteries), with exercise hyperaemia a low-resistance signal with forward
 * flow throughout diastole (peak about twice the mean, PI about 1.5). */
static const dop_sim_waveform builtin_waveforms[] = {
    {"triphasic", 0.0, 4,
     {{1.00, 0.00, 0.12, 0.30},     /* systolic forward peak ~110 ms after onset at 65 bpm */
      {-0.20, 0.26, 0.32, 0.40},    /* early-diastolic reverse flow */
      {0.20, 0.38, 0.46, 0.62},     /* late-diastolic forward wave */
      {0.05, 0.55, 0.70, 1.00}}},   /* slow diastolic trickle */
    {"exercise", 0.40, 2,
     {{1.00, 0.00, 0.12, 0.34},     /* broad systole */
      {0.30, 0.20, 0.38, 1.00}}},   /* diastolic run-off, decaying to the baseline */
    {"constant", 1.0, 0, {{0, 0, 0, 0}}},
};

dop_status dop_sim_waveform_builtin(const char *name, dop_sim_waveform *out, dop_error *err)
{
    for (size_t i = 0; i < sizeof builtin_waveforms / sizeof builtin_waveforms[0]; i++)
        if (name && strcmp(name, builtin_waveforms[i].name) == 0) {
            *out = builtin_waveforms[i];
            return DOP_OK;
        }
    return dop_error_set(err, DOP_ERR_INVALID_ARG, "unknown waveform \"%s\" (expected triphasic, exercise or constant)",
                         name ? name : "(null)");
}

double dop_sim_waveform_mean(const dop_sim_waveform *w)
{
    /* A sin^2 rise and cos^2 fall each average to half their amplitude. */
    double mean = w->baseline;
    for (size_t i = 0; i < w->n_bumps; i++) mean += w->bumps[i].amplitude * (w->bumps[i].end - w->bumps[i].start) / 2.0;
    return mean;
}

dop_sim_artifact dop_sim_artifact_default(dop_sim_artifact_type type)
{
    dop_sim_artifact a = {type, 0.0, INFINITY, 0.0, 1.0, 500.0, 30.0, 5.0};
    switch (type) {
    case DOP_SIM_ARTIFACT_EFFLEURAGE: /* long gliding strokes, light pressure */
        a.level_db = 6.0; a.rate_hz = 0.5; a.duration_ms = 700.0; a.bandwidth_hz = 25.0; a.motion_mm_s = 4.0;
        break;
    case DOP_SIM_ARTIFACT_PETRISSAGE: /* kneading: deeper, faster, moves the probe more */
        a.level_db = 15.0; a.rate_hz = 1.0; a.duration_ms = 500.0; a.bandwidth_hz = 50.0; a.motion_mm_s = 10.0;
        break;
    case DOP_SIM_ARTIFACT_TAPOTEMENT: /* percussion with the hand edges, 4-8 taps per second */
        a.level_db = 15.0; a.rate_hz = 6.0; a.duration_ms = 30.0; a.bandwidth_hz = 0.0; a.motion_mm_s = 5.0;
        break;
    default:
        a.start_s = 0.0;
        a.end_s = 0.0;
        break;
    }
    return a;
}

const char *dop_sim_artifact_name(dop_sim_artifact_type type)
{
    switch (type) {
    case DOP_SIM_ARTIFACT_EFFLEURAGE: return "effleurage";
    case DOP_SIM_ARTIFACT_PETRISSAGE: return "petrissage";
    case DOP_SIM_ARTIFACT_TAPOTEMENT: return "tapotement";
    default: return "none";
    }
}

dop_sim_config dop_sim_config_default(void)
{
    dop_sim_config c;
    memset(&c, 0, sizeof c); /* every field not named below is 0 */
    c = (dop_sim_config){
        /* the recording: seed, 10 s at 12.5 kHz, 16-bit PCM, one gate */
        .seed = 1, .duration_s = 10.0, .fs_hz = 12500.0, .format = DOP_SIM_FORMAT_PCM16, .gates = 1, .block = 128,
        /* the acquisition: 5 MHz at 60 degrees, 1540 m/s, a 4 mm vessel */
        .f0_hz = 5e6, .angle_deg = 60.0, .c_m_s = 1540.0, .diameter_mm = 4.0,
        /* the flow: parabolic, the spectral model (scatterer settings ready) */
        .profile = DOP_SIM_PROFILE_PARABOLIC, .profile_n = 2.0, .model = DOP_SIM_MODEL_SPECTRAL,
        .scat = dop_sim_scatterers_default(),
        /* the change after an onset (none by default) and its time constants, s */
        .has_event = 0, .onset_s = 0.0, .tau_s = 5.0, .tau_shape_s = 5.0, .tau_hr_s = 3.0,
        /* heart-rate variability, %, and respiration, Hz */
        .hrv_percent = 3.0, .rsa_percent = 2.0, .respiration_hz = 0.25,
        /* the signal: spectral broadening, clutter (NAN: the model's default), wall and tissue motion */
        .broadening_percent = 4.0, .broadening_hz = 0.0, .clutter_db = NAN,
        .wall_velocity_mm_s = 3.0, .wall_fraction = 0.3, .tissue_motion_mm = 0.2,
        .snr_db = NAN, .artifact = dop_sim_artifact_default(DOP_SIM_ARTIFACT_NONE),
        .headroom_db = 1.0, .saturation_db = 0.0,
        .blood = 1, .clutter = 1, .noise = 1, .artifacts = 1,
    };
    /* At rest: the triphasic waveform at 10 cm/s and 65 bpm, before and after. */
    dop_sim_waveform_builtin("triphasic", &c.rest.waveform, NULL);
    c.rest.mean_velocity_cm_s = 10.0;
    c.rest.heart_rate_bpm = 65.0;
    c.after = c.rest;
    return c;
}

dop_sim_scatterers dop_sim_scatterers_default(void)
{
    /* Blood: viscosity 3.5 mPa s and density 1060 kg/m^3 (Evans & McDicken
     * 2000, ch. 2); 2000 scatterers keep several hundred in the sample
     * volume (Gaussian speckle) at a few seconds per minute of signal. */
    dop_sim_scatterers s = {DOP_SIM_VOLUME_VESSEL, 2000, NAN, NAN, NAN, 3.5, 1060.0, 16, NAN};
    return s;
}

double dop_sim_profile_mean_ratio(const dop_sim_config *cfg)
{
    switch (cfg->profile) {
    case DOP_SIM_PROFILE_WOMERSLEY: return NAN;
    case DOP_SIM_PROFILE_PLUG: return 1.0;
    case DOP_SIM_PROFILE_POWER_LAW: return cfg->profile_n / (cfg->profile_n + 2.0);
    default: return 0.5;
    }
}

double dop_sim_nyquist_cm_s(const dop_sim_config *cfg)
{
    /* Written out, not dop_doppler_cm_s_per_hz: the truth must not share a mistake with the estimator. */
    return cfg->c_m_s * cfg->fs_hz / (4.0 * cfg->f0_hz * cos(cfg->angle_deg * M_PI / 180.0)) * 100.0;
}

static int in_range(double x, double lo, double hi) { return isfinite(x) && x >= lo && x <= hi; }

static dop_status check_waveform(const dop_sim_waveform *w, const char *key, dop_error *err)
{
    if (w->n_bumps > DOP_SIM_MAX_BUMPS)
        return dop_error_set(err, DOP_ERR_INVALID_ARG, "%s: at most %d bumps", key, DOP_SIM_MAX_BUMPS);
    if (!in_range(w->baseline, -100.0, 100.0))
        return dop_error_set(err, DOP_ERR_INVALID_ARG, "%s.baseline = %g must be in [-100, 100]", key, w->baseline);
    for (size_t i = 0; i < w->n_bumps; i++) {
        const dop_sim_bump *b = &w->bumps[i];
        if (!in_range(b->amplitude, -100.0, 100.0))
            return dop_error_set(err, DOP_ERR_INVALID_ARG, "%s.bumps[%zu]: amplitude %g must be in [-100, 100]", key, i,
                                 b->amplitude);
        if (!(in_range(b->start, 0.0, 1.0) && in_range(b->peak, 0.0, 1.0) && in_range(b->end, 0.0, 1.0) &&
              b->start <= b->peak && b->peak <= b->end && b->start < b->end))
            return dop_error_set(err, DOP_ERR_INVALID_ARG,
                                 "%s.bumps[%zu]: need 0 <= start <= peak <= end <= 1 and start < end (got %g, %g, %g)", key,
                                 i, b->start, b->peak, b->end);
    }
    double mean = dop_sim_waveform_mean(w);
    if (!(mean > 1e-3))
        return dop_error_set(err, DOP_ERR_INVALID_ARG,
                             "%s: the waveform's average over a beat is %g; it must be positive so that it can be scaled "
                             "to the mean velocity (give a negative mean velocity for net reverse flow)",
                             key, mean);
    return DOP_OK;
}

static dop_status check_state(const dop_sim_state *s, const char *key, dop_error *err)
{
    char wkey[64];
    snprintf(wkey, sizeof wkey, "%s.waveform", key);
    dop_status st = check_waveform(&s->waveform, wkey, err);
    if (st != DOP_OK) return st;
    if (!in_range(s->mean_velocity_cm_s, -500.0, 500.0))
        return dop_error_set(err, DOP_ERR_INVALID_ARG, "%s.mean_velocity_cm_s = %g must be in [-500, 500] cm/s", key,
                             s->mean_velocity_cm_s);
    if (!in_range(s->heart_rate_bpm, 20.0, 250.0))
        return dop_error_set(err, DOP_ERR_INVALID_ARG, "%s.heart_rate_bpm = %g must be in [20, 250] bpm", key,
                             s->heart_rate_bpm);
    return DOP_OK;
}

static dop_status check_scatterers(const dop_sim_config *c, dop_error *err)
{
#define BAD(...) return dop_error_set(err, DOP_ERR_INVALID_ARG, __VA_ARGS__)
    const dop_sim_scatterers *s = &c->scat;
    if (s->volume != DOP_SIM_VOLUME_VESSEL && s->volume != DOP_SIM_VOLUME_CENTRE && s->volume != DOP_SIM_VOLUME_OFF_CENTRE)
        BAD("scatterers.sample_volume is not vessel, centre or off_centre");
    if (s->count < 100 || s->count > 200000) BAD("scatterers.count = %zu must be in [100, 200000]", s->count);
    if (!isnan(s->beam_width_mm) && !in_range(s->beam_width_mm, 1e-3, 50.0))
        BAD("scatterers.beam_width_mm = %g must be in (0, 50] mm", s->beam_width_mm);
    if (!isnan(s->gate_mm) && !in_range(s->gate_mm, 1e-3, 100.0))
        BAD("scatterers.gate_mm = %g must be in (0, 100] mm", s->gate_mm);
    if (!isnan(s->offset_mm) && !in_range(s->offset_mm, 0.0, c->diameter_mm / 2.0 * 0.999))
        BAD("scatterers.offset_mm = %g must be in [0, %g) mm (the vessel radius)", s->offset_mm, c->diameter_mm / 2.0);
    if (!isnan(s->offset_mm) && s->volume != DOP_SIM_VOLUME_OFF_CENTRE)
        BAD("scatterers.offset_mm applies only to \"sample_volume\": \"off_centre\"");
    if (!in_range(s->viscosity_mpa_s, 1.0, 20.0))
        BAD("scatterers.viscosity_mpa_s = %g must be in [1, 20] mPa s", s->viscosity_mpa_s);
    if (!in_range(s->density_kg_m3, 900.0, 1200.0))
        BAD("scatterers.density_kg_m3 = %g must be in [900, 1200] kg/m^3", s->density_kg_m3);
    if (s->harmonics < 1 || s->harmonics > 64) BAD("scatterers.harmonics = %zu must be in [1, 64]", s->harmonics);
    if (!isnan(s->massage_velocity_mm_s) && !in_range(s->massage_velocity_mm_s, 0.0, 500.0))
        BAD("scatterers.massage_velocity_mm_s = %g must be in [0, 500] mm/s", s->massage_velocity_mm_s);
    return DOP_OK;
#undef BAD
}

dop_status dop_sim_config_validate(const dop_sim_config *c, dop_error *err)
{
#define BAD(...) return dop_error_set(err, DOP_ERR_INVALID_ARG, __VA_ARGS__)
    if (!in_range(c->duration_s, 1e-3, 3600.0)) BAD("duration_s = %g must be in (0, 3600] s", c->duration_s);
    if (!in_range(c->fs_hz, 1000.0, 192000.0) || c->fs_hz != floor(c->fs_hz))
        BAD("sample_rate_hz = %g must be a whole number of Hz in [1000, 192000]", c->fs_hz);
    if (c->format != DOP_SIM_FORMAT_PCM16 && c->format != DOP_SIM_FORMAT_FLOAT) BAD("sample_format is not pcm16 or float");
    if (c->gates < 1 || c->gates > 256) BAD("gates = %ld must be a whole number in [1, 256]", c->gates);
    if (!in_range(c->f0_hz, 1e5, 100e6)) BAD("acquisition.f0_hz = %g must be in [0.1, 100] MHz", c->f0_hz);
    if (!in_range(c->angle_deg, 0.0, 85.0)) BAD("acquisition.angle_deg = %g must be in [0, 85] degrees", c->angle_deg);
    if (!in_range(c->c_m_s, 1000.0, 2500.0)) BAD("acquisition.c_m_s = %g must be in [1000, 2500] m/s", c->c_m_s);
    if (!(isfinite(c->diameter_mm) && c->diameter_mm > 0.0 && c->diameter_mm <= 100.0))
        BAD("vessel.diameter_mm = %g must be in (0, 100] mm", c->diameter_mm);
    if (c->model != DOP_SIM_MODEL_SPECTRAL && c->model != DOP_SIM_MODEL_SCATTERERS)
        BAD("model is not spectral or scatterers");
    if (c->profile != DOP_SIM_PROFILE_PARABOLIC && c->profile != DOP_SIM_PROFILE_POWER_LAW &&
        c->profile != DOP_SIM_PROFILE_PLUG && c->profile != DOP_SIM_PROFILE_WOMERSLEY)
        BAD("vessel.profile is not parabolic, power_law, plug or womersley");
    if (c->profile == DOP_SIM_PROFILE_WOMERSLEY && c->model != DOP_SIM_MODEL_SCATTERERS)
        BAD("vessel.profile = womersley needs \"model\": \"scatterers\"");
    if (c->model == DOP_SIM_MODEL_SCATTERERS) {
        dop_status sst = check_scatterers(c, err);
        if (sst != DOP_OK) return sst;
    }
    if (c->profile == DOP_SIM_PROFILE_POWER_LAW && !in_range(c->profile_n, 2.0, 50.0))
        BAD("vessel.profile_n = %g must be in [2, 50]", c->profile_n);
    dop_status st = check_state(&c->rest, "flow", err);
    if (st != DOP_OK) return st;
    if (c->has_event) {
        if (!in_range(c->onset_s, 0.0, c->duration_s)) BAD("event.onset_s = %g must be in [0, duration_s]", c->onset_s);
        st = check_state(&c->after, "event", err);
        if (st != DOP_OK) return st;
        if (!in_range(c->tau_s, 0.0, 600.0)) BAD("event.tau_s = %g must be in [0, 600] s", c->tau_s);
        if (!in_range(c->tau_shape_s, 0.0, 600.0)) BAD("event.tau_shape_s = %g must be in [0, 600] s", c->tau_shape_s);
        if (!in_range(c->tau_hr_s, 0.0, 600.0)) BAD("event.tau_hr_s = %g must be in [0, 600] s", c->tau_hr_s);
    }
    if (!in_range(c->hrv_percent, 0.0, 20.0)) BAD("heart.hrv_percent = %g must be in [0, 20]", c->hrv_percent);
    if (!in_range(c->rsa_percent, 0.0, 20.0)) BAD("heart.rsa_percent = %g must be in [0, 20]", c->rsa_percent);
    if (!in_range(c->respiration_hz, 0.05, 2.0)) BAD("heart.respiration_hz = %g must be in [0.05, 2] Hz", c->respiration_hz);
    if (c->block < 32 || c->block > 4096 || (c->block & (c->block - 1)) != 0)
        BAD("synthesis.block = %zu must be a power of two in [32, 4096] samples", c->block);
    if (!in_range(c->broadening_percent, 0.0, 30.0))
        BAD("synthesis.broadening_percent = %g must be in [0, 30]", c->broadening_percent);
    if (!in_range(c->broadening_hz, 0.0, c->fs_hz / 8.0))
        BAD("synthesis.broadening_hz = %g must be in [0, fs/8]", c->broadening_hz);
    if (!isnan(c->clutter_db) && !in_range(c->clutter_db, -40.0, 80.0))
        BAD("clutter.level_db = %g must be in [-40, 80] dB", c->clutter_db);
    if (!in_range(c->wall_velocity_mm_s, 0.0, 50.0))
        BAD("clutter.wall_velocity_mm_s = %g must be in [0, 50] mm/s", c->wall_velocity_mm_s);
    if (!in_range(c->wall_fraction, 0.0, 1.0)) BAD("clutter.wall_fraction = %g must be in [0, 1]", c->wall_fraction);
    if (!in_range(c->tissue_motion_mm, 0.0, 10.0))
        BAD("clutter.tissue_motion_mm = %g must be in [0, 10] mm", c->tissue_motion_mm);
    if (!isnan(c->snr_db) && !in_range(c->snr_db, -30.0, 100.0)) BAD("noise.snr_db = %g must be in [-30, 100] dB", c->snr_db);
    const dop_sim_artifact *a = &c->artifact;
    if (a->type != DOP_SIM_ARTIFACT_NONE) {
        if (a->type != DOP_SIM_ARTIFACT_EFFLEURAGE && a->type != DOP_SIM_ARTIFACT_PETRISSAGE &&
            a->type != DOP_SIM_ARTIFACT_TAPOTEMENT)
            BAD("artifact.type is not none, effleurage, petrissage or tapotement");
        if (!(isfinite(a->start_s) && a->start_s >= 0.0) || !(a->end_s > a->start_s))
            BAD("artifact: need 0 <= start_s < end_s (got %g, %g)", a->start_s, a->end_s);
        if (!in_range(a->level_db, -40.0, 60.0)) BAD("artifact.level_db = %g must be in [-40, 60] dB", a->level_db);
        if (!in_range(a->rate_hz, 0.05, 20.0)) BAD("artifact.rate_hz = %g must be in [0.05, 20] Hz", a->rate_hz);
        if (!in_range(a->duration_ms, 5.0, 5000.0)) BAD("artifact.duration_ms = %g must be in [5, 5000] ms", a->duration_ms);
        if (a->duration_ms * 1e-3 * 1.33 * a->rate_hz > 1.2 && a->type == DOP_SIM_ARTIFACT_TAPOTEMENT)
            BAD("artifact: taps of %g ms at %g per second would overlap", a->duration_ms, a->rate_hz);
        if (!in_range(a->bandwidth_hz, 0.0, c->fs_hz / 4.0))
            BAD("artifact.bandwidth_hz = %g must be in [0, fs/4]", a->bandwidth_hz);
        if (!in_range(a->motion_mm_s, 0.0, 100.0)) BAD("artifact.motion_mm_s = %g must be in [0, 100] mm/s", a->motion_mm_s);
    }
    if (c->n_dropouts > DOP_SIM_MAX_DROPOUTS) BAD("dropouts: at most %d", DOP_SIM_MAX_DROPOUTS);
    for (size_t i = 0; i < c->n_dropouts; i++)
        if (!in_range(c->dropouts[i].start_s, 0.0, c->duration_s) || !in_range(c->dropouts[i].duration_s, 1e-3, c->duration_s))
            BAD("dropouts[%zu]: start_s = %g must lie in the recording and duration_s = %g in (0, duration_s]", i,
                c->dropouts[i].start_s, c->dropouts[i].duration_s);
    if (!in_range(c->headroom_db, 0.0, 60.0)) BAD("output.headroom_db = %g must be in [0, 60] dB", c->headroom_db);
    if (!in_range(c->saturation_db, 0.0, 40.0)) BAD("output.saturation_db = %g must be in [0, 40] dB", c->saturation_db);
    if (c->n_epochs > DOP_SIM_MAX_EPOCHS) BAD("epochs: at most %d", DOP_SIM_MAX_EPOCHS);
    for (size_t i = 0; i < c->n_epochs; i++) {
        const dop_epoch *e = &c->epochs[i];
        if (e->label[0] == '\0') BAD("epochs[%zu]: empty label", i);
        if (!(isfinite(e->start_s) && isfinite(e->end_s) && e->start_s >= 0.0 && e->end_s <= c->duration_s + 1e-9 &&
              e->start_s < e->end_s))
            BAD("epochs[%zu] \"%s\": [%g, %g) must be a non-empty span inside the recording [0, %g] s", i, e->label,
                e->start_s, e->end_s, c->duration_s);
        for (size_t j = 0; j < i; j++)
            if (strcmp(c->epochs[j].label, e->label) == 0) BAD("epochs: duplicate label \"%s\"", e->label);
    }
    return DOP_OK;
#undef BAD
}
