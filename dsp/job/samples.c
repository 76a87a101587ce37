/* Analysis of samples held in memory, results as CSV text (see samples.h).
 * The pure part is the analysis (analysis.c); this file only sets options
 * by name and collects the rows the command line would write. */
#include "dopflow/samples.h"
#include "dopflow/analysis.h"
#include "dopflow/reader.h"
#include "dopflow/result_csv.h"
#include "dopflow/summary.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct dop_options {
    dop_analysis_config cfg;
    char *epochs; /* NULL: one epoch "all" over the samples */
};

struct dop_result {
    char *csv[3]; /* frames, beats, summary */
    double nyquist_cm_s;
};

struct dop_samples {
    float complex *data;
    size_t pulses;
    long gates;
    double rate_hz;
    dop_channels channels;
};

dop_status dop_options_create(dop_options **out, dop_error *err)
{
    *out = NULL;
    dop_options *o = calloc(1, sizeof *o);
    if (!o) return dop_error_set(err, DOP_ERR_NOMEM, "out of memory");
    o->cfg = dop_analysis_config_default();
    o->cfg.acq.channels = DOP_CHANNELS_IQ;
    *out = o;
    return DOP_OK;
}

void dop_options_destroy(dop_options *o)
{
    if (!o) return;
    free(o->epochs);
    free(o);
}

/* "wall-hz" and "wall_hz" alike: lower case, '-' as '_'. */
static void canonical_name(const char *name, char *buf, size_t size)
{
    size_t i = 0;
    for (; name[i] && i + 1 < size; i++) buf[i] = name[i] == '-' ? '_' : (char)tolower((unsigned char)name[i]);
    buf[i] = '\0';
}

static dop_status parse_number(const char *name, const char *value, double *out, dop_error *err)
{
    char *end = NULL;
    errno = 0;
    double x = strtod(value, &end);
    if (errno != 0 || end == value || *end != '\0' || !isfinite(x))
        return dop_error_set(err, DOP_ERR_INVALID_ARG, "%s: expected a finite number, got '%s'", name, value);
    *out = x;
    return DOP_OK;
}

static dop_status parse_choice(const char *name, const char *value, const char *const *choices, int n, int *out,
                               dop_error *err)
{
    for (int i = 0; i < n; i++)
        if (strcmp(value, choices[i]) == 0) {
            *out = i;
            return DOP_OK;
        }
    return dop_error_set(err, DOP_ERR_INVALID_ARG, "%s: unknown value '%s'", name, value);
}

/* A number option: its canonical names and the field it sets. */
typedef struct number_option {
    const char *name, *alias;
    size_t offset; /* into dop_analysis_config, a double */
} number_option;

#define NUMBER(name, alias, field) {name, alias, offsetof(dop_analysis_config, field)}
static const number_option number_options[] = {
    NUMBER("fs_hz", "rate", fs_hz),
    NUMBER("f0_hz", "f0", acq.f0_hz),
    NUMBER("angle_deg", "angle", acq.angle_deg),
    NUMBER("c_m_s", "c", acq.c_m_s),
    NUMBER("diameter_mm", "diameter", acq.diameter_mm),
    NUMBER("wall_hz", NULL, wall.cutoff_hz),
    NUMBER("window_ms", NULL, spectrum.window_ms),
    NUMBER("hop_ms", NULL, spectrum.hop_ms),
    NUMBER("threshold_db", NULL, envelope.threshold_db),
    NUMBER("baseline_shift_cm_s", "baseline_shift", baseline_shift_cm_s),
};

/* The options that are not a plain double; 1 if name was one of them. */
static int set_special(dop_analysis_config *cfg, const char *name, const char *value, dop_status *status,
                       dop_error *err)
{
    static const char *const windows[] = {"hann", "hamming", "blackman", "gaussian"};
    static const char *const vmax_methods[] = {"mgm", "percentile", "threshold", "knee"};
    static const char *const vmean_methods[] = {"intensity", "half-max", "kasai"};
    static const char *const unwrap_modes[] = {"auto", "off", "on"};
    double number = 0.0;
    int choice = 0;
    if (strcmp(name, "channels") == 0) {
        dop_channels ch = dop_channels_parse(value);
        if (ch == DOP_CHANNELS_UNSET)
            *status = dop_error_set(err, DOP_ERR_INVALID_ARG, "channels: expected iq, qi or mono, got '%s'", value);
        else
            cfg->acq.channels = ch;
    } else if (strcmp(name, "gates") == 0 || strcmp(name, "wall_order") == 0 || strcmp(name, "fft") == 0) {
        *status = parse_number(name, value, &number, err);
        if (*status != DOP_OK) return 1;
        if (number < 0 || number > (1 << 20) || number != floor(number))
            *status = dop_error_set(err, DOP_ERR_INVALID_ARG, "%s: expected a whole number 0..1048576, got '%s'",
                                    name, value);
        else if (name[0] == 'g')
            cfg->gates = (long)number;
        else if (name[0] == 'w')
            cfg->wall.order = (int)number;
        else
            cfg->spectrum.fft_size = (size_t)number;
    } else if (strcmp(name, "percentile") == 0) {
        *status = parse_number(name, value, &number, err);
        if (*status == DOP_OK) cfg->envelope.percentile = number > 1.0 ? number / 100.0 : number;
    } else if (strcmp(name, "window") == 0) {
        if ((*status = parse_choice(name, value, windows, 4, &choice, err)) == DOP_OK) cfg->spectrum.window = (dop_window)choice;
    } else if (strcmp(name, "vmax") == 0) {
        if ((*status = parse_choice(name, value, vmax_methods, 4, &choice, err)) == DOP_OK)
            cfg->envelope.method = (dop_fmax_method)choice;
    } else if (strcmp(name, "vmean") == 0) {
        if ((*status = parse_choice(name, value, vmean_methods, 3, &choice, err)) == DOP_OK)
            cfg->vmean_method = (dop_vmean_method)choice;
    } else if (strcmp(name, "unwrap") == 0) {
        if ((*status = parse_choice(name, value, unwrap_modes, 3, &choice, err)) == DOP_OK) cfg->unwrap = (dop_unwrap_mode)choice;
    } else {
        return 0;
    }
    return 1;
}

dop_status dop_options_set(dop_options *o, const char *name_in, const char *value, dop_error *err)
{
    if (!o || !name_in || !value) return dop_error_set(err, DOP_ERR_INVALID_ARG, "option name and value are required");
    char name[64];
    canonical_name(name_in, name, sizeof name);
    for (size_t i = 0; i < sizeof number_options / sizeof number_options[0]; i++) {
        const number_option *n = &number_options[i];
        if (strcmp(name, n->name) == 0 || (n->alias && strcmp(name, n->alias) == 0))
            return parse_number(n->name, value, (double *)((char *)&o->cfg + n->offset), err);
    }
    if (strcmp(name, "epochs") == 0) {
        dop_epoch *epochs = NULL;
        size_t count = 0;
        dop_status status = dop_epochs_parse(value, 0.0, &epochs, &count, err); /* checked now, parsed again at run */
        free(epochs);
        if (status != DOP_OK) return status;
        char *copy = strdup(value);
        if (!copy) return dop_error_set(err, DOP_ERR_NOMEM, "out of memory");
        free(o->epochs);
        o->epochs = copy;
        return DOP_OK;
    }
    dop_status status = DOP_OK;
    if (set_special(&o->cfg, name, value, &status, err)) return status;
    return dop_error_set(err, DOP_ERR_INVALID_ARG, "unknown option '%s'", name_in);
}

/* The CSV tables, written as the command line writes its files. */
typedef struct collector {
    FILE *table[3];
    char *text[3];
    size_t size[3];
    dop_summary_acc *acc;
    long long frames;
} collector;

static int collect_frame(const dop_frame *f, void *user)
{
    collector *c = user;
    dop_summary_acc_add_frame(c->acc, f);
    c->frames++;
    dop_frame_csv_row(c->table[0], f);
    fputc('\n', c->table[0]);
    return 0;
}

static int collect_beat(const dop_beat *b, void *user)
{
    collector *c = user;
    dop_summary_acc_add_beat(c->acc, b);
    dop_beat_csv_row(c->table[1], b);
    fputc('\n', c->table[1]);
    return 0;
}

static dop_status open_tables(collector *c, dop_error *err)
{
    for (int t = 0; t < 3; t++)
        if (!(c->table[t] = open_memstream(&c->text[t], &c->size[t])))
            return dop_error_set(err, DOP_ERR_NOMEM, "out of memory");
    fprintf(c->table[0], "%s\n", dop_frame_csv_header());
    fprintf(c->table[1], "%s\n", dop_beat_csv_header());
    fprintf(c->table[2], "%s\n", dop_summary_csv_header());
    return DOP_OK;
}

static void close_tables(collector *c)
{
    for (int t = 0; t < 3; t++)
        if (c->table[t]) fclose(c->table[t]);
}

/* The epochs of the options, or one epoch "all" over [0, duration_s). */
static dop_status make_epochs(const dop_options *o, double duration_s, dop_epoch **epochs, size_t *n, dop_error *err)
{
    if (o->epochs) return dop_epochs_parse(o->epochs, 0.0, epochs, n, err);
    *epochs = calloc(1, sizeof **epochs);
    if (!*epochs) return dop_error_set(err, DOP_ERR_NOMEM, "out of memory");
    snprintf((*epochs)->label, sizeof (*epochs)->label, "all");
    (*epochs)->start_s = 0.0;
    (*epochs)->end_s = duration_s;
    *n = 1;
    return DOP_OK;
}

/* Summary rows of the epochs, into the summary table. */
static dop_status write_summaries(collector *c, size_t n_epochs, int directional, dop_error *err)
{
    dop_summary *rows = calloc(n_epochs, sizeof *rows);
    if (!rows) return dop_error_set(err, DOP_ERR_NOMEM, "out of memory");
    dop_summary_acc_result(c->acc, rows);
    for (size_t i = 0; i < n_epochs; i++) {
        rows[i].directional = directional;
        dop_summary_csv_row(c->table[2], &rows[i]);
        fputc('\n', c->table[2]);
    }
    free(rows);
    return DOP_OK;
}

dop_status dop_analyze_samples(const dop_options *o, const float complex *x, size_t n_pulses, dop_result **out,
                               dop_error *err)
{
    *out = NULL;
    if (!o || (!x && n_pulses > 0)) return dop_error_set(err, DOP_ERR_INVALID_ARG, "options and samples are required");
    if (!(o->cfg.fs_hz > 0.0)) return dop_error_set(err, DOP_ERR_INVALID_ARG, "fs_hz must be set and positive");
    collector c;
    memset(&c, 0, sizeof c);
    dop_analysis *analysis = NULL;
    dop_epoch *epochs = NULL;
    size_t n_epochs = 0;
    dop_result *r = NULL;
    dop_analysis_config cfg = o->cfg;
    if (cfg.unwrap == DOP_UNWRAP_AUTO) cfg.unwrap = DOP_UNWRAP_OFF; /* as for audio input */
    dop_analysis_output callbacks = {NULL, collect_frame, collect_beat, &c};
    dop_status status = dop_analysis_create(&cfg, &callbacks, &analysis, err);
    if (status != DOP_OK) goto done;
    if ((status = make_epochs(o, (double)n_pulses / cfg.fs_hz, &epochs, &n_epochs, err)) != DOP_OK) goto done;
    if ((status = dop_summary_acc_create(epochs, n_epochs, dop_analysis_frame_period_s(analysis), &c.acc, err)) != DOP_OK)
        goto done;
    if ((status = open_tables(&c, err)) != DOP_OK) goto done;
    if ((status = dop_analysis_push(analysis, x, n_pulses, err)) != DOP_OK) goto done;
    if ((status = dop_analysis_flush(analysis, err)) != DOP_OK) goto done;
    if (c.frames == 0) {
        status = dop_error_set(err, DOP_ERR_NO_DATA, "too few samples: not one complete %g ms analysis window",
                               cfg.spectrum.window_ms);
        goto done;
    }
    if ((status = write_summaries(&c, n_epochs, cfg.acq.channels != DOP_CHANNELS_MONO, err)) != DOP_OK) goto done;
    if (!(r = calloc(1, sizeof *r))) {
        status = dop_error_set(err, DOP_ERR_NOMEM, "out of memory");
        goto done;
    }
    close_tables(&c);
    memset(c.table, 0, sizeof c.table);
    for (int t = 0; t < 3; t++) {
        r->csv[t] = c.text[t];
        c.text[t] = NULL;
    }
    r->nyquist_cm_s = dop_analysis_nyquist_cm_s(analysis);
    *out = r;
done:
    close_tables(&c);
    for (int t = 0; t < 3; t++) free(c.text[t]);
    dop_summary_acc_destroy(c.acc);
    dop_analysis_destroy(analysis);
    free(epochs);
    return status;
}

const char *dop_result_csv(const dop_result *r, const char *table)
{
    static const char *const names[] = {"frames", "beats", "summary"};
    if (!r || !table) return NULL;
    for (int t = 0; t < 3; t++)
        if (strcmp(table, names[t]) == 0) return r->csv[t];
    return NULL;
}

double dop_result_nyquist_cm_s(const dop_result *r) { return r ? r->nyquist_cm_s : NAN; }

void dop_result_destroy(dop_result *r)
{
    if (!r) return;
    for (int t = 0; t < 3; t++) free(r->csv[t]);
    free(r);
}

/* Grow s->data to hold at least `pulses` pulses. */
static dop_status reserve(dop_samples *s, size_t *capacity, size_t pulses, dop_error *err)
{
    if (pulses <= *capacity) return DOP_OK;
    size_t grown = *capacity ? *capacity * 2 : 65536;
    while (grown < pulses) grown *= 2;
    float complex *data = realloc(s->data, grown * (size_t)s->gates * sizeof *data);
    if (!data) return dop_error_set(err, DOP_ERR_NOMEM, "out of memory");
    s->data = data;
    *capacity = grown;
    return DOP_OK;
}

dop_status dop_samples_read(const char *path, dop_samples **out, dop_error *err)
{
    enum { BLOCK = 32768 };
    *out = NULL;
    dop_reader *reader = NULL;
    dop_reader_config rc = dop_reader_config_default();
    rc.path = path;
    dop_samples *s = calloc(1, sizeof *s);
    if (!s) return dop_error_set(err, DOP_ERR_NOMEM, "out of memory");
    dop_status status = dop_reader_open(&rc, &reader, err);
    if (status != DOP_OK) goto done;
    const dop_reader_info *info = dop_reader_get_info(reader);
    s->gates = info->gates;
    s->rate_hz = info->rate_hz;
    s->channels = info->channels;
    size_t capacity = 0;
    for (;;) {
        if ((status = reserve(s, &capacity, s->pulses + BLOCK, err)) != DOP_OK) goto done;
        size_t got = 0;
        status = dop_reader_read(reader, s->data + s->pulses * (size_t)s->gates, BLOCK, &got, err);
        if (status != DOP_OK || got == 0) break;
        s->pulses += got;
    }
done:
    dop_reader_close(reader);
    if (status != DOP_OK) {
        dop_samples_destroy(s);
        return status;
    }
    *out = s;
    return DOP_OK;
}

const float complex *dop_samples_data(const dop_samples *s) { return s ? s->data : NULL; }
size_t dop_samples_pulses(const dop_samples *s) { return s ? s->pulses : 0; }
long dop_samples_gates(const dop_samples *s) { return s ? s->gates : 0; }
double dop_samples_rate_hz(const dop_samples *s) { return s ? s->rate_hz : NAN; }
const char *dop_samples_channels(const dop_samples *s) { return s ? dop_channels_name(s->channels) : NULL; }

void dop_samples_destroy(dop_samples *s)
{
    if (!s) return;
    free(s->data);
    free(s);
}
