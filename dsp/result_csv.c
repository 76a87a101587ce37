/* CSV writers for frames and beats (output adapter, no signal processing). */
#include "dopflow/result_csv.h"

#include <math.h>
#include <string.h>

static void put(FILE *out, double value, const char *format)
{
    fputc(',', out);
    if (isfinite(value)) fprintf(out, format, value);
}

const char *dop_frame_csv_header(void)
{
    return "time_s,vmax_cm_s,vmean_cm_s,flow_ml_min,quality,vmax_forward_cm_s,vmax_reverse_cm_s,diameter_mm,"
           "shear_rate_s,snr_db,noise_db,beat";
}

void dop_frame_quality_text(unsigned flags, char *buf, size_t size)
{
    static const char *const names[] = {"burst", "saturated", "dropout", "no_signal",
                                        "near_nyquist", "rejected_beat", "bridged"};
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

void dop_frame_csv_row(FILE *out, const dop_frame *f)
{
    char quality[128];
    dop_frame_quality_text(f->flags, quality, sizeof quality);
    fprintf(out, "%.4f", f->time_s);
    put(out, f->vmax_cm_s, "%.3f");
    put(out, f->vmean_cm_s, "%.3f");
    put(out, f->flow_ml_min, "%.3f");
    fprintf(out, ",%s", quality);
    put(out, f->vmax_forward_cm_s, "%.3f");
    put(out, f->vmax_reverse_cm_s, "%.3f");
    put(out, f->diameter_mm, "%.4f");
    put(out, f->shear_rate_s, "%.3f");
    put(out, f->snr_db, "%.2f");
    put(out, f->noise_db, "%.2f");
    if (f->beat_index >= 0) fprintf(out, ",%lld", (long long)f->beat_index);
    else fputc(',', out);
}

const char *dop_beat_csv_header(void)
{
    return "beat,start_s,end_s,heart_rate_bpm,psv_cm_s,edv_cm_s,tamax_cm_s,tamean_cm_s,pi,pi_tamean,ri,"
           "flow_ml_min,shear_rate_s,artifact_fraction,rejected";
}

void dop_beat_csv_row(FILE *out, const dop_beat *b)
{
    fprintf(out, "%lld", (long long)b->index);
    put(out, b->start_s, "%.4f");
    put(out, b->end_s, "%.4f");
    put(out, b->heart_rate_bpm, "%.2f");
    put(out, b->psv_cm_s, "%.3f");
    put(out, b->edv_cm_s, "%.3f");
    put(out, b->tamax_cm_s, "%.3f");
    put(out, b->tamean_cm_s, "%.3f");
    put(out, b->pi, "%.4f");
    put(out, b->tamean_cm_s != 0.0 ? (b->psv_cm_s - b->edv_cm_s) / b->tamean_cm_s : NAN, "%.4f");
    put(out, b->ri, "%.4f");
    put(out, b->flow_ml_min, "%.3f");
    put(out, b->shear_rate_s, "%.3f");
    put(out, b->artifact_fraction, "%.3f");
    fprintf(out, ",%d", b->rejected);
}
