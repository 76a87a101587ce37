/* CSV writers for frames and beats (output adapter, no signal processing).
 * The columns are those of the result schema, in its csv_order (the header
 * comes from there; the rows below follow the same order).
 * A row is assembled in a buffer with dop_fmt_fixed (the same text as the
 * printf format named beside each field, several times faster) and written
 * with one fwrite. */
#include "dopflow/result_csv.h"
#include "dopflow/result_schema.h"

#include <math.h>
#include <string.h>

#include "core/fmt.h"

/* ",value" with printf("%.<prec>f"), or "," for NAN / infinity. */
static char *put(char *p, double value, int prec)
{
    *p++ = ',';
    if (isfinite(value)) p += dop_fmt_fixed(p, value, prec);
    return p;
}

const char *dop_frame_csv_header(void)
{
    return dop_result_csv_header(DOP_RESULT_FRAMES);
}

void dop_frame_quality_text(unsigned flags, char *buf, size_t size)
{
    static const char *const names[] = {"burst", "saturated", "dropout", "no_signal",
                                        "near_nyquist", "rejected_beat", "bridged", "unwrapped",
                                        "excluded", "not_pulsatile", "tissue_burst"};
    buf[0] = '\0';
    size_t used = 0;
    for (unsigned bit = 0; bit < sizeof names / sizeof names[0]; bit++) {
        if (!(flags & (1u << bit))) continue;
        int n = snprintf(buf + used, size - used, "%s%s", used ? "+" : "", names[bit]);
        if (n < 0 || (size_t)n >= size - used) break;
        used += (size_t)n;
    }
    if (used == 0) snprintf(buf, size, "ok");
}

/* ",value" of `value`, reusing the text written for `same` at same_text
 * (same_len bytes, comma included) when the two are the same double. */
static char *put_again(char *p, double value, int prec, double same, const char *same_text, size_t same_len)
{
    if (memcmp(&value, &same, sizeof value) == 0) {
        memmove(p, same_text, same_len);
        return p + same_len;
    }
    return put(p, value, prec);
}

void dop_frame_csv_row(FILE *out, const dop_frame *f)
{
    char row[16 * DOP_FMT_MAX + 128];
    char *p = row;
    p += dop_fmt_fixed(p, f->time_s, 4);         /* %.4f */
    char *vmax_text = p;
    p = put(p, f->vmax_cm_s, 3);                 /* %.3f */
    const size_t vmax_len = (size_t)(p - vmax_text);
    p = put(p, f->vmean_cm_s, 3);
    p = put(p, f->flow_ml_min, 3);
    *p++ = ',';
    if (f->flags == 0) {
        memcpy(p, "ok", 2);
        p += 2;
    } else {
        dop_frame_quality_text(f->flags, p, 128);
        p += strlen(p);
    }
    /* vmax is one of the two side maxima: its text is already written. */
    p = put_again(p, f->vmax_forward_cm_s, 3, f->vmax_cm_s, vmax_text, vmax_len);
    p = put_again(p, f->vmax_reverse_cm_s, 3, f->vmax_cm_s, vmax_text, vmax_len);
    p = put(p, f->diameter_mm, 4);
    p = put(p, f->shear_rate_s, 3);
    p = put(p, f->snr_db, 2);
    p = put(p, f->noise_db, 2);
    *p++ = ',';
    if (f->beat_index >= 0) p += dop_fmt_int(p, (long long)f->beat_index); /* %lld */
    fwrite(row, 1, (size_t)(p - row), out);
}

const char *dop_beat_csv_header(void)
{
    return dop_result_csv_header(DOP_RESULT_BEATS);
}

void dop_beat_csv_row(FILE *out, const dop_beat *b) { dop_beat_csv_row_reason(out, b, NULL); }

void dop_beat_csv_row_reason(FILE *out, const dop_beat *b, const char *reason_text)
{
    char row[18 * DOP_FMT_MAX];
    char *p = row;
    p += dop_fmt_int(p, (long long)b->index);
    p = put(p, b->start_s, 4);
    p = put(p, b->end_s, 4);
    p = put(p, b->heart_rate_bpm, 2);
    p = put(p, b->psv_cm_s, 3);
    p = put(p, b->edv_cm_s, 3);
    p = put(p, b->tamax_cm_s, 3);
    p = put(p, b->tamean_cm_s, 3);
    p = put(p, b->pi, 4);
    p = put(p, b->tamean_cm_s != 0.0 ? (b->psv_cm_s - b->edv_cm_s) / b->tamean_cm_s : NAN, 4);
    p = put(p, b->ri, 4);
    p = put(p, b->flow_ml_min, 3);
    p = put(p, b->shear_rate_s, 3);
    p = put(p, b->artifact_fraction, 3);
    *p++ = ',';
    p += dop_fmt_int(p, b->rejected);
    p = put(p, b->sqi, 3);
    *p++ = ',';
    if (reason_text && *reason_text) { /* free text (a reviewer's): quoted, quotes doubled */
        fwrite(row, 1, (size_t)(p - row), out);
        fputc('"', out);
        for (const char *c = reason_text; *c; c++) {
            if (*c == '"') fputc('"', out);
            fputc(*c, out);
        }
        fputc('"', out);
        fprintf(out, ",%d", b->incomplete != 0);
        return;
    }
    const char *reason = dop_beat_reason_name(b->reject_reason);
    size_t reason_len = strlen(reason);
    memcpy(p, reason, reason_len);
    p += reason_len;
    *p++ = ',';
    *p++ = b->incomplete ? '1' : '0';
    fwrite(row, 1, (size_t)(p - row), out);
}
