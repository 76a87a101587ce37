/* The result schema (see include/dopflow/result_schema.h): every result
 * column's CSV name, HDF5 name, unit and type, typed once. */
#include "dopflow/result_schema.h"

#include <stdio.h>
#include <string.h>
#include <threads.h>

#include "dopflow/records.h"
#include "dopflow/summary.h"

#define FIELD(record, name) offsetof(record, name)
#define NONE DOP_RESULT_NO_FIELD

/* The HDF5 root: the spectrogram (rows = frames of the spectral estimate,
 * columns = velocity bins) and its two axes. */
static const dop_result_column spectra_columns[DOP_SPECTRA_COLUMNS] = {
    [DOP_SPECTRA_SPECTROGRAM] = {NULL, "spectrogram", "dB", DOP_VALUE_FLOAT32, NONE},
    [DOP_SPECTRA_TIME] = {NULL, "time_s", "s", DOP_VALUE_FLOAT64, NONE},
    [DOP_SPECTRA_VELOCITY] = {NULL, "velocity_cm_s", "cm/s", DOP_VALUE_FLOAT32, NONE},
};

#define F(name) FIELD(dop_frame, name)
static const dop_result_column frame_columns[DOP_FRAME_COLUMNS] = {
    [DOP_FRAME_INDEX] = {NULL, "index", "", DOP_VALUE_INDEX, F(index)},
    [DOP_FRAME_TIME] = {"time_s", "time_s", "s", DOP_VALUE_FLOAT64, F(time_s)},
    [DOP_FRAME_VMAX] = {"vmax_cm_s", "vmax_cm_s", "cm/s", DOP_VALUE_FLOAT64, F(vmax_cm_s)},
    [DOP_FRAME_VMAX_FORWARD] = {"vmax_forward_cm_s", "vmax_forward_cm_s", "cm/s", DOP_VALUE_FLOAT64,
                                F(vmax_forward_cm_s)},
    [DOP_FRAME_VMAX_REVERSE] = {"vmax_reverse_cm_s", "vmax_reverse_cm_s", "cm/s", DOP_VALUE_FLOAT64,
                                F(vmax_reverse_cm_s)},
    [DOP_FRAME_VMEAN] = {"vmean_cm_s", "vmean_cm_s", "cm/s", DOP_VALUE_FLOAT64, F(vmean_cm_s)},
    [DOP_FRAME_DIAMETER] = {"diameter_mm", "diameter_mm", "mm", DOP_VALUE_FLOAT64, F(diameter_mm)},
    [DOP_FRAME_FLOW] = {"flow_ml_min", "flow_ml_min", "ml/min", DOP_VALUE_FLOAT64, F(flow_ml_min)},
    [DOP_FRAME_SHEAR_RATE] = {"shear_rate_s", "shear_rate_s", "1/s", DOP_VALUE_FLOAT64, F(shear_rate_s)},
    [DOP_FRAME_NOISE] = {"noise_db", "noise_db", "dB", DOP_VALUE_FLOAT64, F(noise_db)},
    [DOP_FRAME_SNR] = {"snr_db", "snr_db", "dB", DOP_VALUE_FLOAT64, F(snr_db)},
    [DOP_FRAME_FLAGS] = {"quality", "flags", "", DOP_VALUE_FLAGS, F(flags)},
    [DOP_FRAME_BEAT] = {"beat", "beat_index", "", DOP_VALUE_INDEX, F(beat_index)},
};
#undef F
static const unsigned char frame_csv_order[] = {
    DOP_FRAME_TIME,         DOP_FRAME_VMAX,     DOP_FRAME_VMEAN,      DOP_FRAME_FLOW,
    DOP_FRAME_FLAGS,        DOP_FRAME_VMAX_FORWARD, DOP_FRAME_VMAX_REVERSE, DOP_FRAME_DIAMETER,
    DOP_FRAME_SHEAR_RATE,   DOP_FRAME_SNR,      DOP_FRAME_NOISE,      DOP_FRAME_BEAT,
};

/* pi is Gosling's (PSV - EDV) / TAMAX; pi_tamean, (PSV - EDV) / TAMEAN, is
 * computed by the CSV writer. */
#define B(name) FIELD(dop_beat, name)
static const dop_result_column beat_columns[DOP_BEAT_COLUMNS] = {
    [DOP_BEAT_INDEX] = {"beat", "index", "", DOP_VALUE_INDEX, B(index)},
    [DOP_BEAT_START] = {"start_s", "start_s", "s", DOP_VALUE_FLOAT64, B(start_s)},
    [DOP_BEAT_END] = {"end_s", "end_s", "s", DOP_VALUE_FLOAT64, B(end_s)},
    [DOP_BEAT_HEART_RATE] = {"heart_rate_bpm", "heart_rate_bpm", "bpm", DOP_VALUE_FLOAT64, B(heart_rate_bpm)},
    [DOP_BEAT_PSV] = {"psv_cm_s", "psv_cm_s", "cm/s", DOP_VALUE_FLOAT64, B(psv_cm_s)},
    [DOP_BEAT_EDV] = {"edv_cm_s", "edv_cm_s", "cm/s", DOP_VALUE_FLOAT64, B(edv_cm_s)},
    [DOP_BEAT_TAMAX] = {"tamax_cm_s", "tamax_cm_s", "cm/s", DOP_VALUE_FLOAT64, B(tamax_cm_s)},
    [DOP_BEAT_TAMEAN] = {"tamean_cm_s", "tamean_cm_s", "cm/s", DOP_VALUE_FLOAT64, B(tamean_cm_s)},
    [DOP_BEAT_PI] = {"pi", "pi", "", DOP_VALUE_FLOAT64, B(pi)},
    [DOP_BEAT_PI_TAMEAN] = {"pi_tamean", NULL, "", DOP_VALUE_FLOAT64, NONE},
    [DOP_BEAT_RI] = {"ri", "ri", "", DOP_VALUE_FLOAT64, B(ri)},
    [DOP_BEAT_FLOW] = {"flow_ml_min", "flow_ml_min", "ml/min", DOP_VALUE_FLOAT64, B(flow_ml_min)},
    [DOP_BEAT_SHEAR_RATE] = {"shear_rate_s", "shear_rate_s", "1/s", DOP_VALUE_FLOAT64, B(shear_rate_s)},
    [DOP_BEAT_ARTIFACT_FRACTION] = {"artifact_fraction", "artifact_fraction", "", DOP_VALUE_FLOAT64,
                                    B(artifact_fraction)},
    [DOP_BEAT_REJECTED] = {"rejected", "rejected", "", DOP_VALUE_INT, B(rejected)},
    [DOP_BEAT_SQI] = {"sqi", "sqi", "", DOP_VALUE_FLOAT64, B(sqi)},
    [DOP_BEAT_REJECT_REASON] = {"reject_reason", "reject_reason", "", DOP_VALUE_INT, B(reject_reason)},
    [DOP_BEAT_INCOMPLETE] = {"incomplete", "incomplete", "", DOP_VALUE_INT, B(incomplete)},
};
#undef B
static const unsigned char beat_csv_order[] = {
    DOP_BEAT_INDEX, DOP_BEAT_START, DOP_BEAT_END, DOP_BEAT_HEART_RATE, DOP_BEAT_PSV, DOP_BEAT_EDV,
    DOP_BEAT_TAMAX, DOP_BEAT_TAMEAN, DOP_BEAT_PI, DOP_BEAT_PI_TAMEAN, DOP_BEAT_RI, DOP_BEAT_FLOW,
    DOP_BEAT_SHEAR_RATE, DOP_BEAT_ARTIFACT_FRACTION, DOP_BEAT_REJECTED, DOP_BEAT_SQI, DOP_BEAT_REJECT_REASON,
    DOP_BEAT_INCOMPLETE,
};

#define S(name) FIELD(dop_summary, name)
static const dop_result_column summary_columns[DOP_SUMMARY_COLUMNS] = {
    [DOP_SUMMARY_EPOCH] = {"epoch", NULL, "", DOP_VALUE_TEXT, S(epoch)},
    [DOP_SUMMARY_START] = {"start_s", NULL, "s", DOP_VALUE_FLOAT64, S(start_s)},
    [DOP_SUMMARY_END] = {"end_s", NULL, "s", DOP_VALUE_FLOAT64, S(end_s)},
    [DOP_SUMMARY_MEAN_VELOCITY] = {"mean_velocity_cm_s", NULL, "cm/s", DOP_VALUE_FLOAT64, S(mean_velocity_cm_s)},
    [DOP_SUMMARY_TAMAX] = {"tamax_cm_s", NULL, "cm/s", DOP_VALUE_FLOAT64, S(tamax_cm_s)},
    [DOP_SUMMARY_FLOW] = {"flow_ml_min", NULL, "ml/min", DOP_VALUE_FLOAT64, S(flow_ml_min)},
    [DOP_SUMMARY_HEART_RATE] = {"heart_rate_bpm", NULL, "bpm", DOP_VALUE_FLOAT64, S(heart_rate_bpm)},
    [DOP_SUMMARY_N_BEATS] = {"n_beats", NULL, "", DOP_VALUE_INDEX, S(n_beats)},
    [DOP_SUMMARY_PI] = {"pi", NULL, "", DOP_VALUE_FLOAT64, S(pi)},
    [DOP_SUMMARY_RI] = {"ri", NULL, "", DOP_VALUE_FLOAT64, S(ri)},
    [DOP_SUMMARY_REJECTED_FRACTION] = {"rejected_fraction", NULL, "", DOP_VALUE_FLOAT64, S(rejected_fraction)},
    [DOP_SUMMARY_SHEAR_RATE] = {"shear_rate_s", NULL, "1/s", DOP_VALUE_FLOAT64, S(shear_rate_s)},
    [DOP_SUMMARY_BRIDGED_FRACTION] = {"bridged_fraction", NULL, "", DOP_VALUE_FLOAT64, S(bridged_fraction)},
    [DOP_SUMMARY_ANALYSED] = {"analysed_s", NULL, "s", DOP_VALUE_FLOAT64, S(analysed_s)},
    [DOP_SUMMARY_DIRECTIONAL] = {"directional", NULL, "", DOP_VALUE_INT, S(directional)},
    [DOP_SUMMARY_PULSATILE] = {"pulsatile", NULL, "", DOP_VALUE_INT, S(pulsatile)},
    [DOP_SUMMARY_MEAN_SQI] = {"mean_sqi", NULL, "", DOP_VALUE_FLOAT64, S(mean_sqi)},
    [DOP_SUMMARY_N_BEATS_REJECTED] = {"n_beats_rejected", NULL, "", DOP_VALUE_INDEX, S(n_beats_rejected)},
};
#undef S
static const unsigned char summary_csv_order[] = {
    DOP_SUMMARY_EPOCH, DOP_SUMMARY_START, DOP_SUMMARY_END, DOP_SUMMARY_MEAN_VELOCITY, DOP_SUMMARY_TAMAX,
    DOP_SUMMARY_FLOW, DOP_SUMMARY_HEART_RATE, DOP_SUMMARY_N_BEATS, DOP_SUMMARY_PI, DOP_SUMMARY_RI,
    DOP_SUMMARY_REJECTED_FRACTION, DOP_SUMMARY_SHEAR_RATE, DOP_SUMMARY_BRIDGED_FRACTION, DOP_SUMMARY_ANALYSED,
    DOP_SUMMARY_DIRECTIONAL, DOP_SUMMARY_PULSATILE, DOP_SUMMARY_MEAN_SQI, DOP_SUMMARY_N_BEATS_REJECTED,
};

/* The study's per-condition statistics of the summaries' mean velocity and
 * flow across subjects (sem = sd / sqrt(n)); p from paired tests against the
 * reference epoch, p_adjusted by Holm's method. */
static const dop_result_column condition_columns[DOP_CONDITION_COLUMNS] = {
    [DOP_CONDITION_ARTERY] = {"artery", NULL, "", DOP_VALUE_TEXT, NONE},
    [DOP_CONDITION_CONDITION] = {"condition", NULL, "", DOP_VALUE_TEXT, NONE},
    [DOP_CONDITION_EPOCH] = {"epoch", NULL, "", DOP_VALUE_TEXT, NONE},
    [DOP_CONDITION_N] = {"n", NULL, "", DOP_VALUE_INDEX, NONE},
    [DOP_CONDITION_VELOCITY_MEAN] = {"mean_velocity_cm_s_mean", NULL, "cm/s", DOP_VALUE_FLOAT64, NONE},
    [DOP_CONDITION_VELOCITY_SD] = {"mean_velocity_cm_s_sd", NULL, "cm/s", DOP_VALUE_FLOAT64, NONE},
    [DOP_CONDITION_VELOCITY_SEM] = {"mean_velocity_cm_s_sem", NULL, "cm/s", DOP_VALUE_FLOAT64, NONE},
    [DOP_CONDITION_FLOW_MEAN] = {"flow_ml_min_mean", NULL, "ml/min", DOP_VALUE_FLOAT64, NONE},
    [DOP_CONDITION_FLOW_SD] = {"flow_ml_min_sd", NULL, "ml/min", DOP_VALUE_FLOAT64, NONE},
    [DOP_CONDITION_FLOW_SEM] = {"flow_ml_min_sem", NULL, "ml/min", DOP_VALUE_FLOAT64, NONE},
    [DOP_CONDITION_N_FLOW] = {"n_flow", NULL, "", DOP_VALUE_INDEX, NONE},
    [DOP_CONDITION_FLOW_CHANGE] = {"flow_change_pct", NULL, "%", DOP_VALUE_FLOAT64, NONE},
    [DOP_CONDITION_N_PAIRED] = {"n_paired", NULL, "", DOP_VALUE_INDEX, NONE},
    [DOP_CONDITION_P_VALUE] = {"p_value", NULL, "", DOP_VALUE_FLOAT64, NONE},
    [DOP_CONDITION_P_ADJUSTED] = {"p_adjusted", NULL, "", DOP_VALUE_FLOAT64, NONE},
};
static const unsigned char condition_csv_order[] = {
    DOP_CONDITION_ARTERY, DOP_CONDITION_CONDITION, DOP_CONDITION_EPOCH, DOP_CONDITION_N,
    DOP_CONDITION_VELOCITY_MEAN, DOP_CONDITION_VELOCITY_SD, DOP_CONDITION_VELOCITY_SEM, DOP_CONDITION_FLOW_MEAN,
    DOP_CONDITION_FLOW_SD, DOP_CONDITION_FLOW_SEM, DOP_CONDITION_N_FLOW, DOP_CONDITION_FLOW_CHANGE,
    DOP_CONDITION_N_PAIRED, DOP_CONDITION_P_VALUE, DOP_CONDITION_P_ADJUSTED,
};

/* The study's one-way repeated-measures ANOVA of flow across the epochs of
 * each artery x condition: n subjects, k epochs, F with its degrees of
 * freedom, p, and the Greenhouse-Geisser epsilon with its corrected p. */
static const dop_result_column anova_columns[DOP_ANOVA_COLUMNS] = {
    [DOP_ANOVA_ARTERY] = {"artery", NULL, "", DOP_VALUE_TEXT, NONE},
    [DOP_ANOVA_CONDITION] = {"condition", NULL, "", DOP_VALUE_TEXT, NONE},
    [DOP_ANOVA_N] = {"n", NULL, "", DOP_VALUE_INDEX, NONE},
    [DOP_ANOVA_K] = {"k", NULL, "", DOP_VALUE_INDEX, NONE},
    [DOP_ANOVA_F] = {"F", NULL, "", DOP_VALUE_FLOAT64, NONE},
    [DOP_ANOVA_DF_EFFECT] = {"df_effect", NULL, "", DOP_VALUE_FLOAT64, NONE},
    [DOP_ANOVA_DF_ERROR] = {"df_error", NULL, "", DOP_VALUE_FLOAT64, NONE},
    [DOP_ANOVA_P] = {"p", NULL, "", DOP_VALUE_FLOAT64, NONE},
    [DOP_ANOVA_GG_EPSILON] = {"gg_epsilon", NULL, "", DOP_VALUE_FLOAT64, NONE},
    [DOP_ANOVA_P_GG] = {"p_gg", NULL, "", DOP_VALUE_FLOAT64, NONE},
};
static const unsigned char anova_csv_order[] = {
    DOP_ANOVA_ARTERY, DOP_ANOVA_CONDITION, DOP_ANOVA_N, DOP_ANOVA_K, DOP_ANOVA_F,
    DOP_ANOVA_DF_EFFECT, DOP_ANOVA_DF_ERROR, DOP_ANOVA_P, DOP_ANOVA_GG_EPSILON, DOP_ANOVA_P_GG,
};

#define TABLE(group, columns, order) {group, columns, sizeof columns / sizeof columns[0], order, sizeof order}
static const dop_result_table tables[DOP_RESULT_KINDS] = {
    [DOP_RESULT_SPECTRA] = {"/", spectra_columns, DOP_SPECTRA_COLUMNS, NULL, 0},
    [DOP_RESULT_FRAMES] = TABLE("/frames", frame_columns, frame_csv_order),
    [DOP_RESULT_BEATS] = TABLE("/beats", beat_columns, beat_csv_order),
    [DOP_RESULT_SUMMARY] = TABLE(NULL, summary_columns, summary_csv_order),
    [DOP_RESULT_CONDITIONS] = TABLE(NULL, condition_columns, condition_csv_order),
    [DOP_RESULT_ANOVA] = TABLE(NULL, anova_columns, anova_csv_order),
};

const dop_result_table *dop_result_schema(dop_result_kind kind)
{
    return (int)kind >= 0 && kind < DOP_RESULT_KINDS ? &tables[kind] : NULL;
}

const dop_result_column *dop_result_column_of(dop_result_kind kind, int column)
{
    const dop_result_table *t = dop_result_schema(kind);
    return t && column >= 0 && (size_t)column < t->count ? &t->columns[column] : NULL;
}

/* The CSV header lines, joined once (the longest is about 300 bytes). */
static char csv_headers[DOP_RESULT_KINDS][1024];
static once_flag csv_headers_once = ONCE_FLAG_INIT;

static void join_csv_headers(void)
{
    for (int k = 0; k < DOP_RESULT_KINDS; k++) {
        size_t used = 0;
        for (size_t i = 0; i < tables[k].csv_count; i++) {
            const char *name = tables[k].columns[tables[k].csv_order[i]].csv_name;
            int n = snprintf(csv_headers[k] + used, sizeof csv_headers[k] - used, "%s%s", i ? "," : "", name);
            if (n > 0) used += (size_t)n;
        }
    }
}

const char *dop_result_csv_header(dop_result_kind kind)
{
    if ((int)kind < 0 || kind >= DOP_RESULT_KINDS) return "";
    call_once(&csv_headers_once, join_csv_headers);
    return csv_headers[kind];
}

const char *dop_result_h5_path(dop_result_kind kind, int column, char *buf, size_t size)
{
    const dop_result_column *c = dop_result_column_of(kind, column);
    const char *group = dop_result_schema(kind) ? dop_result_schema(kind)->h5_group : NULL;
    if (!c || !c->h5_name || !group) snprintf(buf, size, "%s", "");
    else snprintf(buf, size, "%s/%s", strcmp(group, "/") == 0 ? "" : group, c->h5_name);
    return buf;
}
