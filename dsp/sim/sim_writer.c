/* Simulator output: the recording (stereo WAV, left I, right Q; or slow-time
 * IQ of one or more gates in HDF5, UFF, MATLAB or raw form: see sim_sink.h),
 * its acquisition sidecar, and the truth files. Two passes
 * over the deterministic generator (peak, then scaled samples) keep memory
 * constant for any duration. Every file is written to a temporary name and
 * renamed into place only when all of them are complete. */
#include "sim_internal.h"
#include "sim/sink/sim_sink.h"

#include "dopflow/acquisition.h"
#include "dopflow/atomic_file.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define CHUNK 4096

enum { OUT_WAV = 0, OUT_TRUTH_CSV, OUT_BEATS_CSV, OUT_TRUTH_JSON, OUT_COUNT };

static char *with_suffix(const char *stem, size_t len, const char *suffix)
{
    size_t n = strlen(suffix);
    char *s = malloc(len + n + 1);
    if (!s) return NULL;
    memcpy(s, stem, len);
    memcpy(s + len, suffix, n + 1);
    return s;
}

/* The extension of a path (".h5"), or "" when it has none. */
static const char *extension_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *dot = strrchr(path, '.');
    return dot && (!slash || dot > slash) && dot != path ? dot : "";
}

/* "dir/name.wav" -> stem "dir/name" (the extension, known to be a sink's, is dropped). */
static size_t stem_length(const char *path) { return strlen(path) - strlen(extension_of(path)); }

static double power_dbfs(double power, double scale)
{
    return power > 0.0 ? 10.0 * log10(power * scale * scale) : -INFINITY;
}

static json_t *number_or_null(double x) { return isfinite(x) ? json_real(x) : json_null(); }

static json_t *truth_json(const dop_sim *sim, const dop_sim_config *c, const dop_sim_write_report *rep,
                          const char *spec_json, dop_error *err, dop_status *st)
{
    json_t *root = json_object();
    dop_sim_powers pw = dop_sim_get_powers(sim);
    json_object_set_new(root, "generator", json_string("dopflow simulate"));
    json_object_set_new(root, "model",
                        json_string(c->model == DOP_SIM_MODEL_SCATTERERS
                                        ? "point scatterers carried by the velocity field (Womersley 1955 or a power-law "
                                          "profile) through a Gaussian-beam, gated sample volume: the Doppler signal is "
                                          "the sum of their echoes"
                                        : "spectral synthesis of the Doppler signal from blood (Mo & Cobbold 1992; Kerr & Hunt "
                                          "1992): complex Gaussian noise shaped by the cross-section area over velocity"));
    json_object_set_new(root, "seed", json_integer((json_int_t)c->seed));
    json_object_set_new(root, "sample_rate_hz", json_real(c->fs_hz));
    json_object_set_new(root, "gates", json_integer(c->gates));
    json_object_set_new(root, "samples", json_integer(rep->samples));
    json_object_set_new(root, "duration_s", json_real((double)rep->samples / c->fs_hz));
    json_object_set_new(root, "f0_hz", json_real(c->f0_hz));
    json_object_set_new(root, "angle_deg", json_real(c->angle_deg));
    json_object_set_new(root, "c_m_s", json_real(c->c_m_s));
    json_object_set_new(root, "diameter_mm", json_real(c->diameter_mm));
    static const char *const profiles[] = {"parabolic", "power_law", "plug", "womersley"};
    json_object_set_new(root, "profile", json_string(profiles[c->profile]));
    json_object_set_new(root, "profile_mean_ratio", number_or_null(dop_sim_profile_mean_ratio(c)));
    if (c->model == DOP_SIM_MODEL_SCATTERERS) {
        static const char *const volumes[] = {"vessel", "centre", "off_centre"};
        json_t *sc = json_object();
        json_object_set_new(sc, "sample_volume", json_string(volumes[c->scat.volume]));
        json_object_set_new(sc, "count", json_integer((json_int_t)c->scat.count));
        json_object_set_new(sc, "viscosity_mpa_s", json_real(c->scat.viscosity_mpa_s));
        json_object_set_new(sc, "density_kg_m3", json_real(c->scat.density_kg_m3));
        json_object_set_new(sc, "harmonics", json_integer((json_int_t)c->scat.harmonics));
        json_object_set_new(root, "scatterers", sc);
    }
    json_object_set_new(root, "nyquist_cm_s", json_real(rep->nyquist_cm_s));
    json_object_set_new(root, "peak_centreline_velocity_cm_s", json_real(rep->peak_velocity_cm_s));
    json_object_set_new(root, "onset_s", c->has_event ? json_real(c->onset_s) : json_null());

    json_t *scaling = json_object();
    json_object_set_new(scaling, "note", json_string("sample = scale x simulated value; powers are mean |I + jQ|^2 re full "
                                                     "scale (I, Q in [-1, 1]); SNR = blood power / noise power over the "
                                                     "full band fs"));
    json_object_set_new(scaling, "scale", json_real(rep->scale));
    json_object_set_new(scaling, "peak_before_scaling", json_real(rep->peak));
    json_object_set_new(scaling, "headroom_db", json_real(c->headroom_db));
    json_object_set_new(scaling, "saturation_db", json_real(c->saturation_db));
    json_object_set_new(scaling, "clipped_samples", json_integer(rep->clipped));
    json_object_set_new(scaling, "blood_power_dbfs", number_or_null(power_dbfs(pw.blood, rep->scale)));
    json_object_set_new(scaling, "clutter_power_dbfs", number_or_null(power_dbfs(pw.clutter, rep->scale)));
    json_object_set_new(scaling, "noise_power_dbfs", number_or_null(power_dbfs(pw.noise, rep->scale)));
    json_object_set_new(scaling, "clutter_db", number_or_null(pw.clutter > 0.0 ? c->clutter_db : NAN));
    json_object_set_new(scaling, "snr_db", number_or_null(pw.noise > 0.0 ? c->snr_db : NAN));
    json_object_set_new(root, "scaling", scaling);

    json_t *art = json_object();
    json_object_set_new(art, "type", json_string(dop_sim_artifact_name(c->artifacts ? c->artifact.type : DOP_SIM_ARTIFACT_NONE)));
    if (c->artifacts && c->artifact.type != DOP_SIM_ARTIFACT_NONE) {
        json_object_set_new(art, "start_s", json_real(c->artifact.start_s));
        json_object_set_new(art, "end_s", json_real(fmin(c->artifact.end_s, c->duration_s)));
        json_object_set_new(art, "level_db", json_real(c->artifact.level_db));
    }
    json_object_set_new(root, "artifact", art);
    json_t *drops = json_array();
    for (size_t i = 0; i < c->n_dropouts; i++) {
        json_t *d = json_object();
        json_object_set_new(d, "start_s", json_real(c->dropouts[i].start_s));
        json_object_set_new(d, "duration_s", json_real(c->dropouts[i].duration_s));
        json_array_append_new(drops, d);
    }
    json_object_set_new(root, "dropouts", drops);

    json_t *epochs = json_array();
    dop_epoch all = {"all", 0.0, c->duration_s};
    size_t n_epochs = c->n_epochs ? c->n_epochs : 1;
    for (size_t i = 0; i < n_epochs; i++) {
        const dop_epoch *e = c->n_epochs ? &c->epochs[i] : &all;
        dop_sim_epoch_result r;
        *st = dop_sim_epoch_truth(sim, e->label, e->start_s, e->end_s, &r, err);
        if (*st != DOP_OK) {
            json_decref(epochs);
            json_decref(root);
            return NULL;
        }
        json_t *o = json_object();
        json_object_set_new(o, "label", json_string(r.label));
        json_object_set_new(o, "start_s", json_real(r.start_s));
        json_object_set_new(o, "end_s", json_real(r.end_s));
        json_object_set_new(o, "mean_velocity_cm_s", json_real(r.mean_velocity_cm_s));
        json_object_set_new(o, "centreline_velocity_cm_s", json_real(r.tamax_cm_s));
        json_object_set_new(o, "tamax_cm_s", json_real(r.tamax_cm_s));
        json_object_set_new(o, "flow_ml_min", json_real(r.flow_ml_min));
        json_object_set_new(o, "heart_rate_bpm", json_real(r.heart_rate_bpm));
        json_object_set_new(o, "beats_heart_rate_bpm", number_or_null(r.beats_heart_rate_bpm));
        json_object_set_new(o, "n_beats", json_integer(r.n_beats));
        json_array_append_new(epochs, o);
    }
    json_object_set_new(root, "epochs", epochs);
    if (spec_json) {
        json_t *spec = json_loads(spec_json, 0, NULL);
        if (spec) json_object_set_new(root, "spec", spec);
    }
    *st = DOP_OK;
    return root;
}

void sim_scale_pcm16(const float complex *x, size_t n, double scale, int16_t *out, int64_t *clipped)
{
    for (size_t i = 0; i < n; i++) {
        double v[2] = {crealf(x[i]) * scale, cimagf(x[i]) * scale};
        for (int c = 0; c < 2; c++) {
            if (v[c] > 1.0 || v[c] < -1.0) {
                (*clipped)++;
                v[c] = v[c] > 0.0 ? 1.0 : -1.0;
            }
            out[2 * i + (size_t)c] = (int16_t)lrint(v[c] * 32767.0);
        }
    }
}

void sim_scale_float(const float complex *x, size_t n, double scale, int clip, float *out, int64_t *clipped)
{
    for (size_t i = 0; i < n; i++) {
        double v[2] = {crealf(x[i]) * scale, cimagf(x[i]) * scale};
        for (int c = 0; c < 2; c++) {
            if (clip && (v[c] > 1.0 || v[c] < -1.0)) {
                (*clipped)++;
                v[c] = v[c] > 0.0 ? 1.0 : -1.0;
            }
            out[2 * i + (size_t)c] = (float)v[c];
        }
    }
}

size_t sim_scale(const sim_sink_params *p, const float complex *x, size_t n, void *out, int64_t *clipped)
{
    if (p->float_samples) {
        sim_scale_float(x, n, p->scale, p->clip, out, clipped);
        return sizeof(float);
    }
    sim_scale_pcm16(x, n, p->scale, out, clipped);
    return sizeof(int16_t);
}

static const sim_sink_ops *const sinks[] = {&sim_sink_wav, &sim_sink_iq_h5, &sim_sink_uff, &sim_sink_mat, &sim_sink_raw};

const sim_sink_ops *sim_sink_for_path(const char *path)
{
    const char *ext = extension_of(path);
    size_t len = strlen(ext);
    if (len < 2) return NULL;
    for (size_t i = 0; i < sizeof sinks / sizeof sinks[0]; i++) {
        for (const char *e = sinks[i]->extensions; *e;) {
            size_t n = strcspn(e, " ");
            if (n == len && strncasecmp(e, ext, n) == 0) return sinks[i];
            e += n;
            while (*e == ' ') e++;
        }
    }
    return NULL;
}

/* G generators in step: gate g is realisation g of the same spec. */
typedef struct gate_set {
    dop_sim **sims;
    long n;
    float complex *one;  /* CHUNK samples of one gate */
    float complex *all;  /* CHUNK pulses x n gates, pulse-major */
} gate_set;

static void gate_set_free(gate_set *g)
{
    for (long i = 0; g->sims && i < g->n; i++) dop_sim_destroy(g->sims[i]);
    free(g->sims);
    free(g->one);
    free(g->all);
}

static dop_status gate_set_create(const dop_sim_config *cfg, gate_set *g, dop_error *err)
{
    memset(g, 0, sizeof *g);
    g->n = cfg->gates;
    g->sims = calloc((size_t)g->n, sizeof *g->sims);
    g->one = malloc(CHUNK * sizeof *g->one);
    g->all = malloc((size_t)CHUNK * (size_t)g->n * sizeof *g->all);
    if (!g->sims || !g->one || !g->all) return dop_error_set(err, DOP_ERR_NOMEM, "out of memory (simulator gates)");
    for (long i = 0; i < g->n; i++) {
        dop_sim_config c = *cfg;
        c.realisation = (unsigned)i;
        dop_status st = dop_sim_create(&c, &g->sims[i], err);
        if (st != DOP_OK) return st;
    }
    return DOP_OK;
}

/* Next CHUNK pulses of every gate into g->all; *got pulses, 0 at the end. */
static void gate_set_generate(gate_set *g, size_t *got)
{
    if (g->n == 1) {
        dop_sim_generate(g->sims[0], g->all, CHUNK, got);
        return;
    }
    for (long i = 0; i < g->n; i++) {
        dop_sim_generate(g->sims[i], g->one, CHUNK, got);
        for (size_t p = 0; p < *got; p++) g->all[p * (size_t)g->n + (size_t)i] = g->one[p];
    }
}

static void gate_set_reset(gate_set *g)
{
    for (long i = 0; i < g->n; i++) dop_sim_reset(g->sims[i]);
}

/* The files of one recording, each written to a temporary name and renamed
 * into place only when all of them are complete. */
typedef struct output_set {
    char *paths[OUT_COUNT];
    dop_atomic_file *files[OUT_COUNT];
    int committed[OUT_COUNT];
    char *sidecar;
} output_set;

/* Names beside the recording: NAME.truth.csv, NAME.beats.csv, NAME.truth.json and the sidecar. */
static dop_status output_set_name(output_set *o, const char *wav_path, dop_error *err)
{
    memset(o, 0, sizeof *o);
    o->sidecar = dop_sidecar_path_for(wav_path);
    size_t stem = stem_length(wav_path);
    o->paths[OUT_WAV] = strdup(wav_path);
    o->paths[OUT_TRUTH_CSV] = with_suffix(wav_path, stem, ".truth.csv");
    o->paths[OUT_BEATS_CSV] = with_suffix(wav_path, stem, ".beats.csv");
    o->paths[OUT_TRUTH_JSON] = with_suffix(wav_path, stem, ".truth.json");
    int missing = !o->sidecar;
    for (int i = 0; i < OUT_COUNT; i++) missing |= !o->paths[i];
    return missing ? dop_error_set(err, DOP_ERR_NOMEM, "out of memory writing %s", wav_path) : DOP_OK;
}

static dop_status output_set_open(output_set *o, dop_error *err)
{
    for (int i = 0; i < OUT_COUNT; i++) {
        dop_status st = dop_atomic_open(o->paths[i], &o->files[i], err);
        if (st != DOP_OK) return st;
    }
    return DOP_OK;
}

static dop_status output_set_commit(output_set *o, dop_error *err)
{
    for (int i = 0; i < OUT_COUNT; i++) {
        dop_atomic_file *f = o->files[i];
        o->files[i] = NULL;
        dop_status st = dop_atomic_commit(f, err);
        if (st != DOP_OK) return st;
        o->committed[i] = 1;
    }
    return DOP_OK;
}

/* After a failure: temporary files removed, files already renamed into place unlinked. */
static void output_set_abort(output_set *o)
{
    for (int i = 0; i < OUT_COUNT; i++) {
        dop_atomic_abort(o->files[i]);
        o->files[i] = NULL;
        if (o->committed[i]) unlink(o->paths[i]);
    }
}

static void output_set_free(output_set *o)
{
    for (int i = 0; i < OUT_COUNT; i++) free(o->paths[i]);
    free(o->sidecar);
}

/* The sink for the path's extension, checked against the number of gates. */
static dop_status choose_sink(const dop_sim_config *cfg, const char *wav_path, const sim_sink_ops **out, dop_error *err)
{
    const sim_sink_ops *sink = sim_sink_for_path(wav_path);
    if (!sink)
        return dop_error_set(err, DOP_ERR_INVALID_ARG,
                             "%s: unknown output type '%s': give .wav (audio), .h5 (native HDF5 IQ), .uff (USTB), "
                             ".mat (MATLAB) or .iq (raw)", wav_path, extension_of(wav_path));
    if (cfg->gates > 1 && !sink->multi_gate)
        return dop_error_set(err, DOP_ERR_INVALID_ARG, "%s: a %s file holds one gate; %ld gates need .h5, .uff or .mat",
                             wav_path, sink->name, cfg->gates);
    *out = sink;
    return DOP_OK;
}

/* Pass 1: the peak of I and Q over every gate sets the scale (headroom below
 * full scale, or saturation above it). */
static void measure_scale(gate_set *gates, const dop_sim_config *c, dop_sim_write_report *rep)
{
    double peak = 0.0;
    size_t got;
    const size_t per_pulse = (size_t)gates->n;
    do {
        gate_set_generate(gates, &got);
        for (size_t i = 0; i < got * per_pulse; i++) {
            double a = fabs(crealf(gates->all[i])), b = fabs(cimagf(gates->all[i]));
            if (a > peak) peak = a;
            if (b > peak) peak = b;
        }
    } while (got > 0);
    rep->samples = dop_sim_length(gates->sims[0]);
    rep->peak = peak;
    double target = c->saturation_db > 0.0 ? pow(10.0, c->saturation_db / 20.0) : pow(10.0, -c->headroom_db / 20.0);
    rep->scale = peak > 0.0 ? target / peak : 1.0;
    rep->peak_velocity_cm_s = dop_sim_peak_velocity_cm_s(gates->sims[0]);
    rep->nyquist_cm_s = dop_sim_nyquist_cm_s(c);
}

/* Pass 2: the samples, scaled, through the sink into the temporary file. */
static dop_status write_samples(const sim_sink_ops *sink, gate_set *gates, const dop_sim_config *c,
                                dop_atomic_file *file, const char *wav_path, dop_sim_write_report *rep, dop_error *err)
{
    dop_atomic_release_stream(file);
    sim_sink_params params = {
        .prf_hz = c->fs_hz, .pulses = rep->samples, .gates = gates->n, .f0_hz = c->f0_hz, .angle_deg = c->angle_deg,
        .c_m_s = c->c_m_s, .diameter_mm = c->diameter_mm, .float_samples = c->format == DOP_SIM_FORMAT_FLOAT,
        .scale = rep->scale, .clip = c->saturation_db > 0.0,
    };
    void *state = NULL;
    dop_status st = sink->open(dop_atomic_temp_path(file), wav_path, &params, &state, err);
    if (st == DOP_OK) {
        gate_set_reset(gates);
        size_t got;
        for (;;) {
            gate_set_generate(gates, &got);
            if (got == 0) break;
            if ((st = sink->write(state, gates->all, got, &rep->clipped, err)) != DOP_OK) break;
        }
    }
    if (st != DOP_OK) {
        if (state) sink->abort(state);
        return st;
    }
    return sink->finish(state, err);
}

/* Truth per 10 ms step (NAME.truth.csv) and the beats (NAME.beats.csv). */
static void write_truth_tables(const dop_sim *sim, FILE *truth, FILE *beats_csv)
{
    size_t n_rows, n_beats;
    const dop_sim_truth_row *rows = dop_sim_truth(sim, &n_rows);
    fprintf(truth, "time_s,mean_velocity_cm_s,centreline_velocity_cm_s,flow_ml_min,diameter_mm,heart_rate_bpm\n");
    for (size_t i = 0; i < n_rows; i++)
        fprintf(truth, "%.3f,%.6f,%.6f,%.6f,%.4f,%.4f\n", rows[i].time_s, rows[i].mean_velocity_cm_s,
                rows[i].centreline_velocity_cm_s, rows[i].flow_ml_min, rows[i].diameter_mm, rows[i].heart_rate_bpm);
    const dop_sim_beat *beats = dop_sim_beats(sim, &n_beats);
    fprintf(beats_csv, "beat,start_s,end_s\n");
    for (size_t i = 0; i < n_beats; i++)
        fprintf(beats_csv, "%lld,%.6f,%.6f\n", (long long)beats[i].index, beats[i].start_s, beats[i].end_s);
}

/* NAME.truth.json: the model, the report and the spec (truth_json). */
static dop_status write_truth_file(const dop_sim *sim, const dop_sim_config *c, const dop_sim_write_report *rep,
                                   const char *spec_json, FILE *f, const char *path, dop_error *err)
{
    dop_status st = DOP_OK;
    json_t *truth = truth_json(sim, c, rep, spec_json, err, &st);
    if (!truth) return st;
    if (json_dumpf(truth, f, JSON_INDENT(2) | JSON_REAL_PRECISION(10)) != 0)
        st = dop_error_set(err, DOP_ERR_IO, "%s: write failed", path);
    else
        fputc('\n', f);
    json_decref(truth);
    return st;
}

/* The acquisition sidecar: what a reader needs to analyse the recording. */
static dop_status write_sidecar(const dop_sim_config *c, const char *sidecar, dop_error *err)
{
    dop_acquisition acq = dop_acquisition_unset();
    acq.f0_hz = c->f0_hz;
    acq.angle_deg = c->angle_deg;
    acq.c_m_s = c->c_m_s;
    acq.diameter_mm = c->diameter_mm;
    acq.channels = DOP_CHANNELS_IQ;
    return dop_sidecar_write(sidecar, &acq, err);
}

dop_status dop_sim_write(const dop_sim_config *cfg, const char *wav_path, const char *spec_json,
                         dop_sim_write_report *report, dop_error *err)
{
    dop_sim_write_report rep;
    memset(&rep, 0, sizeof rep);
    const sim_sink_ops *sink = NULL;
    dop_status st = choose_sink(cfg, wav_path, &sink, err);
    if (st != DOP_OK) return st;
    gate_set gates;
    if ((st = gate_set_create(cfg, &gates, err)) != DOP_OK) {
        gate_set_free(&gates);
        return st;
    }
    output_set out;
    if ((st = output_set_name(&out, wav_path, err)) == DOP_OK) {
        measure_scale(&gates, cfg, &rep);
        const dop_sim *sim = gates.sims[0];
        if ((st = output_set_open(&out, err)) == DOP_OK &&
            (st = write_samples(sink, &gates, cfg, out.files[OUT_WAV], wav_path, &rep, err)) == DOP_OK) {
            write_truth_tables(sim, dop_atomic_stream(out.files[OUT_TRUTH_CSV]),
                               dop_atomic_stream(out.files[OUT_BEATS_CSV]));
            st = write_truth_file(sim, cfg, &rep, spec_json, dop_atomic_stream(out.files[OUT_TRUTH_JSON]),
                                  out.paths[OUT_TRUTH_JSON], err);
        }
        if (st == DOP_OK && (st = output_set_commit(&out, err)) == DOP_OK) st = write_sidecar(cfg, out.sidecar, err);
    }
    if (st != DOP_OK) output_set_abort(&out);
    else if (report) *report = rep;
    output_set_free(&out);
    gate_set_free(&gates);
    return st;
}
