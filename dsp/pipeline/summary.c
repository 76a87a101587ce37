/* Epochs and epoch summaries (see summary.h for what each column means). */
#include "dopflow/summary.h"
#include "dopflow/result_schema.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

dop_status dop_epochs_parse(const char *spec, double offset_s, dop_epoch **out, size_t *count, dop_error *err)
{
    *out = NULL;
    *count = 0;
    if (!spec || !*spec) return dop_error_set(err, DOP_ERR_INVALID_ARG, "epoch spec is empty");
    size_t capacity = 1;
    for (const char *p = spec; *p; p++) capacity += *p == ',';
    dop_epoch *epochs = calloc(capacity, sizeof *epochs);
    if (!epochs) return dop_error_set(err, DOP_ERR_NOMEM, "out of memory parsing epochs");
    size_t n = 0;
    const char *item = spec;
    while (item) {
        const char *comma = strchr(item, ',');
        size_t len = comma ? (size_t)(comma - item) : strlen(item);
        char text[256];
        if (len == 0 || len >= sizeof text) {
            free(epochs);
            return dop_error_set(err, DOP_ERR_INVALID_ARG, "epoch %zu: empty or too long item in \"%s\"", n + 1, spec);
        }
        memcpy(text, item, len);
        text[len] = '\0';
        char original[256];
        memcpy(original, text, len + 1);
        char *first = strchr(text, ':');
        char *second = first ? strchr(first + 1, ':') : NULL;
        if (!first || !second || strchr(second + 1, ':')) {
            free(epochs);
            return dop_error_set(err, DOP_ERR_INVALID_ARG, "epoch \"%s\": expected label:start:end", text);
        }
        *first = *second = '\0';
        size_t label_len = strlen(text);
        int label_ok = label_len > 0 && label_len < DOP_EPOCH_LABEL_MAX;
        for (const char *c = text; *c && label_ok; c++)
            label_ok = isalnum((unsigned char)*c) || *c == '_' || *c == '-' || *c == '.';
        if (!label_ok) {
            free(epochs);
            return dop_error_set(err, DOP_ERR_INVALID_ARG,
                                 "epoch label \"%s\": use 1-63 characters of letters, digits, _ . -", text);
        }
        double bounds[2];
        const char *fields[2] = {first + 1, second + 1};
        for (int b = 0; b < 2; b++) {
            char *end = NULL;
            errno = 0;
            bounds[b] = strtod(fields[b], &end);
            if (errno || end == fields[b] || *end || !isfinite(bounds[b])) {
                free(epochs);
                return dop_error_set(err, DOP_ERR_INVALID_ARG, "epoch \"%s\": \"%s\" is not a number of seconds",
                                     original, fields[b]);
            }
        }
        if (!(bounds[0] < bounds[1])) {
            free(epochs);
            return dop_error_set(err, DOP_ERR_INVALID_ARG, "epoch \"%s\": start %g s is not before end %g s",
                                 original, bounds[0], bounds[1]);
        }
        /* 0:1e-20 + onset 10 s is an empty span, 1e308 + onset not finite */
        const double start_s = bounds[0] + offset_s, end_s = bounds[1] + offset_s;
        if (!(isfinite(start_s) && isfinite(end_s) && start_s < end_s)) {
            free(epochs);
            return dop_error_set(err, DOP_ERR_INVALID_ARG, "epoch \"%s\": shifted by %g s it spans %.17g to %.17g s: empty or not finite",
                                 original, offset_s, start_s, end_s);
        }
        for (size_t i = 0; i < n; i++)
            if (strcmp(epochs[i].label, text) == 0) {
                free(epochs);
                return dop_error_set(err, DOP_ERR_INVALID_ARG, "epoch label \"%s\" appears twice", text);
            }
        snprintf(epochs[n].label, sizeof epochs[n].label, "%s", text);
        epochs[n].start_s = start_s;
        epochs[n].end_s = end_s;
        n++;
        item = comma ? comma + 1 : NULL;
    }
    *out = epochs;
    *count = n;
    return DOP_OK;
}

const char *dop_summary_csv_header(void)
{
    return dop_result_csv_header(DOP_RESULT_SUMMARY);
}

/* %.6g keeps CSVs compact and exact enough; NAN is an empty field. */
static void put_number(FILE *out, double value)
{
    if (isfinite(value)) fprintf(out, ",%.6g", value);
    else fputc(',', out);
}

/* The row in the schema's CSV column order, each value read at its
 * schema offset in the record by its type. */
void dop_summary_csv_row(FILE *out, const dop_summary *s)
{
    const dop_result_table *t = dop_result_schema(DOP_RESULT_SUMMARY);
    const char *record = (const char *)s;
    for (size_t i = 0; i < t->csv_count; i++) {
        const dop_result_column *c = &t->columns[t->csv_order[i]];
        const void *field = record + c->offset;
        switch (c->type) {
        case DOP_VALUE_TEXT: fprintf(out, "%s%s", i ? "," : "", (const char *)field); break;
        case DOP_VALUE_INDEX: fprintf(out, ",%lld", (long long)*(const int64_t *)field); break;
        case DOP_VALUE_INT: fprintf(out, ",%d", *(const int *)field); break;
        default: put_number(out, *(const double *)field); break;
        }
    }
}

typedef struct epoch_acc {
    int64_t frames, excluded, bridged, included;
    double sum_vmean, sum_vmax, sum_flow, sum_shear;
    int64_t beats, rejected_beats, not_pulsatile;
    double sum_duration, sum_pi, sum_ri, sum_sqi;
} epoch_acc;

struct dop_summary_acc {
    dop_epoch *epochs;
    size_t count;
    double frame_period_s;
    epoch_acc *acc;
};

dop_status dop_summary_acc_create(const dop_epoch *epochs, size_t count, double frame_period_s,
                                  dop_summary_acc **out, dop_error *err)
{
    *out = NULL;
    dop_summary_acc *a = calloc(1, sizeof *a);
    if (a) {
        a->epochs = malloc((count ? count : 1) * sizeof *a->epochs);
        a->acc = calloc(count ? count : 1, sizeof *a->acc);
    }
    if (!a || !a->epochs || !a->acc) {
        dop_summary_acc_destroy(a);
        return dop_error_set(err, DOP_ERR_NOMEM, "summary: out of memory");
    }
    memcpy(a->epochs, epochs, count * sizeof *epochs);
    a->count = count;
    a->frame_period_s = frame_period_s;
    *out = a;
    return DOP_OK;
}

void dop_summary_acc_add_frame(dop_summary_acc *a, const dop_frame *f)
{
    /* Artifact frames are left out even where bridged (beat_measure.h). */
    int excluded = (f->flags & (DOP_FRAME_REJECTED_BEAT | DOP_FRAME_EXCLUDED | DOP_FRAME_ARTIFACT_MASK)) != 0;
    for (size_t i = 0; i < a->count; i++) {
        if (f->time_s < a->epochs[i].start_s || f->time_s >= a->epochs[i].end_s) continue;
        epoch_acc *e = &a->acc[i];
        e->frames++;
        if (f->flags & DOP_FRAME_NOT_PULSATILE) e->not_pulsatile++;
        if (f->flags & DOP_FRAME_BRIDGED) e->bridged++;
        if (excluded) {
            e->excluded++;
            continue;
        }
        e->included++;
        e->sum_vmean += f->vmean_cm_s;
        e->sum_vmax += f->vmax_cm_s;
        e->sum_flow += f->flow_ml_min;
        e->sum_shear += f->shear_rate_s;
    }
}

void dop_summary_acc_add_beat(dop_summary_acc *a, const dop_beat *b)
{
    for (size_t i = 0; i < a->count; i++) {
        if (b->incomplete || b->start_s < a->epochs[i].start_s || b->start_s >= a->epochs[i].end_s) continue;
        epoch_acc *e = &a->acc[i];
        if (b->rejected) {
            e->rejected_beats++;
            continue;
        }
        e->beats++;
        e->sum_sqi += b->sqi;
        e->sum_duration += b->end_s - b->start_s;
        e->sum_pi += b->pi;
        e->sum_ri += b->ri;
    }
}

void dop_summary_acc_result(const dop_summary_acc *a, dop_summary *out)
{
    for (size_t i = 0; i < a->count; i++) {
        const epoch_acc *e = &a->acc[i];
        dop_summary *s = &out[i];
        memset(s, 0, sizeof *s);
        snprintf(s->epoch, sizeof s->epoch, "%s", a->epochs[i].label);
        s->start_s = a->epochs[i].start_s;
        s->end_s = a->epochs[i].end_s;
        double n = (double)e->included;
        s->mean_velocity_cm_s = e->included ? e->sum_vmean / n : NAN;
        s->tamax_cm_s = e->included ? e->sum_vmax / n : NAN;
        s->flow_ml_min = e->included ? e->sum_flow / n : NAN;
        s->shear_rate_s = e->included ? e->sum_shear / n : NAN;
        s->n_beats = e->beats;
        s->n_beats_rejected = e->rejected_beats;
        s->heart_rate_bpm = e->beats ? 60.0 / (e->sum_duration / (double)e->beats) : NAN;
        s->pi = e->beats ? e->sum_pi / (double)e->beats : NAN;
        s->ri = e->beats ? e->sum_ri / (double)e->beats : NAN;
        s->rejected_fraction = e->frames ? (double)e->excluded / (double)e->frames : NAN;
        s->bridged_fraction = e->frames ? (double)e->bridged / (double)e->frames : NAN;
        s->analysed_s = (double)e->frames * a->frame_period_s;
        s->pulsatile = e->frames > 0 && 2 * e->not_pulsatile <= e->frames;
        s->mean_sqi = e->beats ? e->sum_sqi / (double)e->beats : NAN;
        s->n_beats_rejected = e->rejected_beats;
    }
}

void dop_summary_acc_reset(dop_summary_acc *a) { memset(a->acc, 0, (a->count ? a->count : 1) * sizeof *a->acc); }

void dop_summary_acc_destroy(dop_summary_acc *a)
{
    if (!a) return;
    free(a->epochs);
    free(a->acc);
    free(a);
}
