/* dopflow: the result schema, the one home of every result column's name,
 * unit, HDF5 path and type.
 *
 * The CSV writers (result_csv.h, summary.h), the HDF5 writer (h5_writer.h)
 * and every reader of results (the plots, the study) take the names from
 * here, so a column is renamed in one place. A table's columns are in the
 * order of its HDF5 datasets (the order they are created in, which the file's
 * bytes depend on); csv_order gives the order of the CSV columns. */
#ifndef DOPFLOW_RESULT_SCHEMA_H
#define DOPFLOW_RESULT_SCHEMA_H

#include "dopflow/export.h"

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* How a value is stored: the HDF5 dataset type, and what a CSV field holds. */
typedef enum dop_value_type {
    DOP_VALUE_FLOAT64, /* double; HDF5 float64; CSV decimal, empty for NAN */
    DOP_VALUE_FLOAT32, /* float; HDF5 float32 (spectra) */
    DOP_VALUE_INDEX,   /* int64_t count or index; HDF5 float64 (exact below 2^53); CSV integer */
    DOP_VALUE_FLAGS,   /* uint32_t bit set; HDF5 uint32; CSV the flag names joined by '+' */
    DOP_VALUE_INT,     /* int (boolean, enumeration); HDF5 int32; CSV integer or the value's name */
    DOP_VALUE_TEXT     /* text (labels); CSV only */
} dop_value_type;

/* A record field that is not stored in the record (a column computed by the writer). */
#define DOP_RESULT_NO_FIELD ((size_t)-1)

typedef struct dop_result_column {
    const char *csv_name;  /* header name in the CSV; NULL: not in the CSV */
    const char *h5_name;   /* dataset name in the table's HDF5 group; NULL: not in the HDF5 file */
    const char *unit;      /* "s", "cm/s", "ml/min", "1/s", "dB", "bpm", "mm", "%"; "" when
                              dimensionless, a count or text */
    dop_value_type type;
    size_t offset;         /* offset of the value in the table's record (dop_frame, dop_beat,
                              dop_summary), or DOP_RESULT_NO_FIELD */
} dop_result_column;

typedef enum dop_result_kind {
    DOP_RESULT_SPECTRA,    /* HDF5 root: the spectrogram and its axes */
    DOP_RESULT_FRAMES,     /* one row per analysis frame: --frames CSV, HDF5 /frames */
    DOP_RESULT_BEATS,      /* one row per beat: --beats CSV, HDF5 /beats */
    DOP_RESULT_SUMMARY,    /* one row per epoch: --summary CSV (and the study's recordings.csv) */
    DOP_RESULT_CONDITIONS, /* the study's conditions.csv: one row per artery, condition, epoch */
    DOP_RESULT_ANOVA,      /* the study's anova.csv: one row per artery, condition */
    DOP_RESULT_KINDS
} dop_result_kind;

typedef struct dop_result_table {
    const char *h5_group;            /* "/frames"; "/" for the root; NULL: not in the HDF5 file */
    const dop_result_column *columns;
    size_t count;                    /* columns */
    const unsigned char *csv_order;  /* CSV columns as indices into columns */
    size_t csv_count;                /* CSV columns (0: no CSV form) */
} dop_result_table;

/* Column indices of each table (the order of its HDF5 datasets). */
enum {
    DOP_SPECTRA_SPECTROGRAM, DOP_SPECTRA_TIME, DOP_SPECTRA_VELOCITY, DOP_SPECTRA_COLUMNS
};
enum {
    DOP_FRAME_INDEX, DOP_FRAME_TIME, DOP_FRAME_VMAX, DOP_FRAME_VMAX_FORWARD, DOP_FRAME_VMAX_REVERSE,
    DOP_FRAME_VMEAN, DOP_FRAME_DIAMETER, DOP_FRAME_FLOW, DOP_FRAME_SHEAR_RATE, DOP_FRAME_NOISE, DOP_FRAME_SNR,
    DOP_FRAME_FLAGS, DOP_FRAME_BEAT, DOP_FRAME_COLUMNS
};
enum {
    DOP_BEAT_INDEX, DOP_BEAT_START, DOP_BEAT_END, DOP_BEAT_HEART_RATE, DOP_BEAT_PSV, DOP_BEAT_EDV,
    DOP_BEAT_TAMAX, DOP_BEAT_TAMEAN, DOP_BEAT_PI, DOP_BEAT_PI_TAMEAN, DOP_BEAT_RI, DOP_BEAT_FLOW,
    DOP_BEAT_SHEAR_RATE, DOP_BEAT_ARTIFACT_FRACTION, DOP_BEAT_REJECTED, DOP_BEAT_SQI, DOP_BEAT_REJECT_REASON,
    DOP_BEAT_INCOMPLETE, DOP_BEAT_COLUMNS
};
enum {
    DOP_SUMMARY_EPOCH, DOP_SUMMARY_START, DOP_SUMMARY_END, DOP_SUMMARY_MEAN_VELOCITY, DOP_SUMMARY_TAMAX,
    DOP_SUMMARY_FLOW, DOP_SUMMARY_HEART_RATE, DOP_SUMMARY_N_BEATS, DOP_SUMMARY_PI, DOP_SUMMARY_RI,
    DOP_SUMMARY_REJECTED_FRACTION, DOP_SUMMARY_SHEAR_RATE, DOP_SUMMARY_BRIDGED_FRACTION, DOP_SUMMARY_ANALYSED,
    DOP_SUMMARY_DIRECTIONAL, DOP_SUMMARY_PULSATILE, DOP_SUMMARY_MEAN_SQI, DOP_SUMMARY_N_BEATS_REJECTED,
    DOP_SUMMARY_COLUMNS
};
enum {
    DOP_CONDITION_ARTERY, DOP_CONDITION_CONDITION, DOP_CONDITION_EPOCH, DOP_CONDITION_N,
    DOP_CONDITION_VELOCITY_MEAN, DOP_CONDITION_VELOCITY_SD, DOP_CONDITION_VELOCITY_SEM, DOP_CONDITION_FLOW_MEAN,
    DOP_CONDITION_FLOW_SD, DOP_CONDITION_FLOW_SEM, DOP_CONDITION_N_FLOW, DOP_CONDITION_FLOW_CHANGE,
    DOP_CONDITION_N_PAIRED, DOP_CONDITION_P_VALUE, DOP_CONDITION_P_ADJUSTED, DOP_CONDITION_COLUMNS
};
enum {
    DOP_ANOVA_ARTERY, DOP_ANOVA_CONDITION, DOP_ANOVA_N, DOP_ANOVA_K, DOP_ANOVA_F, DOP_ANOVA_DF_EFFECT,
    DOP_ANOVA_DF_ERROR, DOP_ANOVA_P, DOP_ANOVA_GG_EPSILON, DOP_ANOVA_P_GG, DOP_ANOVA_COLUMNS
};

/* The table of one result (static data); NULL for a kind out of range.
 * Errors: none. */
DOP_API const dop_result_table *dop_result_schema(dop_result_kind kind);

/* One column of a table: dop_result_schema(kind)->columns[column]; NULL when
 * either is out of range. Errors: none. */
DOP_API const dop_result_column *dop_result_column_of(dop_result_kind kind, int column);

/* The CSV header line of a table (no newline): the CSV names in csv_order
 * joined by ','; "" for a table without a CSV form or a kind out of range.
 * Built once, on the first call (thread-safe). Errors: none. */
DOP_API const char *dop_result_csv_header(dop_result_kind kind);

/* The HDF5 path of a column, "/group/name" ("/name" at the root), into buf
 * (size bytes, truncated to fit); "" when the column is not in the HDF5
 * file. Returns buf. Errors: none. */
DOP_API const char *dop_result_h5_path(dop_result_kind kind, int column, char *buf, size_t size);

#ifdef __cplusplus
}
#endif
#endif
