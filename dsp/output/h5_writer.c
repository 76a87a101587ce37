/* The HDF5 result file (layout in include/dopflow/h5_writer.h).
 *
 * Everything is appended: the datasets are created empty with an unlimited
 * first dimension, chunked and deflate-compressed, and grown as rows
 * arrive. Rows are buffered in memory and written a block at a time as
 * hyperslabs, so memory is fixed (64 spectrogram rows, 1024 values per
 * 1-D series) whatever the length of the recording.
 *
 * The file is written under a temporary name from dop_atomic_open() and
 * renamed into place only by dop_h5_writer_commit(), so a run that fails or
 * is killed leaves no partial result file.
 *
 * HDF5's automatic error printing is switched off (the library never
 * prints); the innermost message of HDF5's error stack is copied into the
 * dop_error instead. */
#include "dopflow/h5_writer.h"
#include "dopflow/atomic_file.h"
#include "dopflow/result_schema.h"

#include <hdf5.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* Spectrogram rows per chunk and per buffered write: 64 x bins float32
 * (64 x 512 x 4 = 128 KiB for a 512-point FFT), one chunk per write. */
#define H5_SPECTRUM_ROWS 64
/* Values per chunk / buffered write of the 1-D series (8 KiB of float64). */
#define H5_SERIES_ROWS 1024
/* zlib level: 4 compresses dB spectrograms nearly as well as 9, much faster. */
#define H5_DEFLATE_LEVEL 4

/* The columns of /frames and /beats, their names, types and record
 * offsets, come from the result schema (result_schema.h); a column without an
 * HDF5 name (pi_tamean) has no dataset. */
#define N_FRAME_FIELDS DOP_FRAME_COLUMNS
#define N_BEAT_FIELDS DOP_BEAT_COLUMNS

/* One extendible 1-D dataset and its write buffer. Values are buffered as
 * double whatever the stored type: HDF5 converts on write (double ->
 * uint32/int32 is exact for flags and booleans). */
typedef struct series {
    hid_t dset;
    const char *name;      /* for messages */
    double buf[H5_SERIES_ROWS];
    size_t buffered;
    hsize_t written;
} series;

struct dop_h5_writer {
    char *path;                     /* final path, for messages */
    dop_atomic_file *atomic;
    hid_t file;
    hid_t frames_group, beats_group;
    size_t bins;
    hid_t spectrogram;
    float *rows;                    /* H5_SPECTRUM_ROWS x bins */
    size_t rows_buffered;
    hsize_t rows_written;
    series time;
    series frame_series[N_FRAME_FIELDS];
    series beat_series[N_BEAT_FIELDS];
};

/* H5Ewalk2 callback: keep the innermost description (walked downward, the
 * first entry is where HDF5 detected the error). */
static herr_t keep_innermost(unsigned n, const H5E_error2_t *e, void *user)
{
    if (n == 0 && e->desc) snprintf((char *)user, 200, "%s", e->desc);
    return 0;
}

static dop_status hdf5_fail(const dop_h5_writer *w, dop_error *err, const char *what)
{
    char detail[200] = "";
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, keep_innermost, detail);
    H5Eclear2(H5E_DEFAULT);
    if (detail[0])
        return dop_error_set(err, DOP_ERR_HDF5, "%s: %s (HDF5: %s)", w->path, what, detail);
    return dop_error_set(err, DOP_ERR_HDF5, "%s: %s", w->path, what);
}

/* An empty dataset with an unlimited first dimension: rank 1 ([0]) or
 * rank 2 ([0][cols]), chunked by chunk_rows rows, deflated. */
static hid_t create_extendible(hid_t where, const char *name, hid_t type, int rank, hsize_t cols, hsize_t chunk_rows)
{
    hsize_t dims[2] = {0, cols};
    hsize_t maxdims[2] = {H5S_UNLIMITED, cols};
    hsize_t chunk[2] = {chunk_rows, cols};
    hid_t dset = H5I_INVALID_HID;
    hid_t space = H5Screate_simple(rank, dims, maxdims);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (space < 0 || dcpl < 0) goto done;
    /* no object timestamps: the same analysis gives the same bytes */
    if (H5Pset_chunk(dcpl, rank, chunk) < 0 || H5Pset_deflate(dcpl, H5_DEFLATE_LEVEL) < 0 ||
        H5Pset_obj_track_times(dcpl, 0) < 0)
        goto done;
    dset = H5Dcreate2(where, name, type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
done:
    if (dcpl >= 0) H5Pclose(dcpl);
    if (space >= 0) H5Sclose(space);
    return dset;
}

/* Append `rows` rows (of `cols` values each for rank 2) of memory type
 * mem_type at the end of dset, whose current length is *written. */
static herr_t append_rows(hid_t dset, int rank, hsize_t cols, hsize_t *written, hsize_t rows, hid_t mem_type,
                          const void *data)
{
    if (rows == 0) return 0;
    hsize_t new_dims[2] = {*written + rows, cols};
    hsize_t start[2] = {*written, 0};
    hsize_t count[2] = {rows, cols};
    herr_t result = -1;
    hid_t file_space = H5I_INVALID_HID, mem_space = H5I_INVALID_HID;
    if (H5Dset_extent(dset, new_dims) < 0) goto done;
    file_space = H5Dget_space(dset);
    mem_space = H5Screate_simple(rank, count, NULL);
    if (file_space < 0 || mem_space < 0) goto done;
    if (H5Sselect_hyperslab(file_space, H5S_SELECT_SET, start, NULL, count, NULL) < 0) goto done;
    if (H5Dwrite(dset, mem_type, mem_space, file_space, H5P_DEFAULT, data) < 0) goto done;
    *written += rows;
    result = 0;
done:
    if (mem_space >= 0) H5Sclose(mem_space);
    if (file_space >= 0) H5Sclose(file_space);
    return result;
}

static dop_status series_flush(dop_h5_writer *w, series *s, dop_error *err)
{
    if (append_rows(s->dset, 1, 1, &s->written, s->buffered, H5T_NATIVE_DOUBLE, s->buf) < 0) {
        char what[160];
        snprintf(what, sizeof what, "cannot write dataset %s", s->name);
        return hdf5_fail(w, err, what);
    }
    s->buffered = 0;
    return DOP_OK;
}

static dop_status series_push(dop_h5_writer *w, series *s, double value, dop_error *err)
{
    s->buf[s->buffered++] = value;
    return s->buffered == H5_SERIES_ROWS ? series_flush(w, s, err) : DOP_OK;
}

static hid_t file_type_of(dop_value_type type)
{
    switch (type) {
    case DOP_VALUE_FLOAT32: return H5T_IEEE_F32LE;
    case DOP_VALUE_FLAGS: return H5T_STD_U32LE;
    case DOP_VALUE_INT: return H5T_STD_I32LE;
    default: return H5T_IEEE_F64LE;
    }
}

static double field_value(const void *record, const dop_result_column *c)
{
    const char *p = (const char *)record + c->offset;
    switch (c->type) {
    case DOP_VALUE_INDEX: { int64_t v; memcpy(&v, p, sizeof v); return (double)v; }
    case DOP_VALUE_FLAGS: { uint32_t v; memcpy(&v, p, sizeof v); return (double)v; }
    case DOP_VALUE_INT: { int v; memcpy(&v, p, sizeof v); return (double)v; }
    default: { double v; memcpy(&v, p, sizeof v); return v; }
    }
}

/* The group of a table and one dataset per column with an HDF5 name, in
 * the schema's order (the file's bytes depend on it). */
static dop_status create_group_series(dop_h5_writer *w, dop_result_kind kind, hid_t *group, series *out,
                                      dop_error *err)
{
    const dop_result_table *table = dop_result_schema(kind);
    hid_t gcpl = H5Pcreate(H5P_GROUP_CREATE); /* no timestamps (see create_extendible) */
    *group = gcpl < 0 || H5Pset_obj_track_times(gcpl, 0) < 0
                 ? H5I_INVALID_HID
                 : H5Gcreate2(w->file, table->h5_group, H5P_DEFAULT, gcpl, H5P_DEFAULT);
    if (gcpl >= 0) H5Pclose(gcpl);
    if (*group < 0) return hdf5_fail(w, err, "cannot create group");
    for (size_t i = 0; i < table->count; i++) {
        const dop_result_column *c = &table->columns[i];
        if (!c->h5_name) continue;
        out[i].name = c->h5_name;
        out[i].dset = create_extendible(*group, c->h5_name, file_type_of(c->type), 1, 1, H5_SERIES_ROWS);
        if (out[i].dset < 0) {
            char what[160];
            snprintf(what, sizeof what, "cannot create dataset %s/%s", table->h5_group + 1, c->h5_name);
            return hdf5_fail(w, err, what);
        }
    }
    return DOP_OK;
}

/* Name of a dataset at the root (the spectrogram and its axes). */
static const char *root_name(int column) { return dop_result_column_of(DOP_RESULT_SPECTRA, column)->h5_name; }

/* Message "cannot VERB /NAME" for a dataset at the root. */
static dop_status root_fail(dop_h5_writer *w, dop_error *err, const char *verb, int column)
{
    char what[160];
    snprintf(what, sizeof what, "cannot %s /%s", verb, root_name(column));
    return hdf5_fail(w, err, what);
}

static dop_status write_velocity_axis(dop_h5_writer *w, const float *velocity_cm_s, dop_error *err)
{
    hsize_t dims[1] = {w->bins};
    dop_status status = DOP_OK;
    hid_t space = H5Screate_simple(1, dims, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE); /* no timestamps (see create_extendible) */
    hid_t dset = space < 0 || dcpl < 0 || H5Pset_obj_track_times(dcpl, 0) < 0
                     ? H5I_INVALID_HID
                     : H5Dcreate2(w->file, root_name(DOP_SPECTRA_VELOCITY), H5T_IEEE_F32LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    if (dcpl >= 0) H5Pclose(dcpl);
    if (dset < 0 || H5Dwrite(dset, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, velocity_cm_s) < 0)
        status = root_fail(w, err, "write", DOP_SPECTRA_VELOCITY);
    if (dset >= 0) H5Dclose(dset);
    if (space >= 0) H5Sclose(space);
    return status;
}

/* Close every HDF5 object and the file; returns -1 if closing the file
 * failed (data may not have reached the disk). */
static int close_hdf5(dop_h5_writer *w)
{
    if (w->time.dset >= 0) H5Dclose(w->time.dset);
    for (size_t i = 0; i < N_FRAME_FIELDS; i++)
        if (w->frame_series[i].dset >= 0) H5Dclose(w->frame_series[i].dset);
    for (size_t i = 0; i < N_BEAT_FIELDS; i++)
        if (w->beat_series[i].dset >= 0) H5Dclose(w->beat_series[i].dset);
    if (w->spectrogram >= 0) H5Dclose(w->spectrogram);
    if (w->frames_group >= 0) H5Gclose(w->frames_group);
    if (w->beats_group >= 0) H5Gclose(w->beats_group);
    w->time.dset = w->spectrogram = w->frames_group = w->beats_group = H5I_INVALID_HID;
    for (size_t i = 0; i < N_FRAME_FIELDS; i++) w->frame_series[i].dset = H5I_INVALID_HID;
    for (size_t i = 0; i < N_BEAT_FIELDS; i++) w->beat_series[i].dset = H5I_INVALID_HID;
    int result = 0;
    if (w->file >= 0 && H5Fclose(w->file) < 0) result = -1;
    w->file = H5I_INVALID_HID;
    return result;
}

static void free_writer(dop_h5_writer *w)
{
    free(w->rows);
    free(w->path);
    free(w);
}

dop_status dop_h5_writer_create(const char *path, size_t bins, const float *velocity_cm_s, dop_h5_writer **out,
                                dop_error *err)
{
    *out = NULL;
    /* The library never prints: HDF5 would otherwise dump its error stack
     * on stderr. (Process-wide setting of the HDF5 library.) */
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    if (!path || !path[0]) return dop_error_set(err, DOP_ERR_INVALID_ARG, "no HDF5 output path given");
    if (strcmp(path, "-") == 0)
        return dop_error_set(err, DOP_ERR_INVALID_ARG, "HDF5 output cannot go to standard output: give a file name");
    if (bins == 0 || !velocity_cm_s)
        return dop_error_set(err, DOP_ERR_INVALID_ARG, "%s: a spectrogram needs at least one velocity bin", path);

    dop_status status = DOP_OK;
    hid_t fapl = H5I_INVALID_HID;
    dop_h5_writer *w = calloc(1, sizeof *w);
    if (!w) return dop_error_set(err, DOP_ERR_NOMEM, "%s: out of memory", path);
    w->file = w->frames_group = w->beats_group = w->spectrogram = w->time.dset = H5I_INVALID_HID;
    for (size_t i = 0; i < N_FRAME_FIELDS; i++) w->frame_series[i].dset = H5I_INVALID_HID;
    for (size_t i = 0; i < N_BEAT_FIELDS; i++) w->beat_series[i].dset = H5I_INVALID_HID;
    w->bins = bins;
    w->path = strdup(path);
    w->rows = malloc(sizeof *w->rows * bins * H5_SPECTRUM_ROWS);
    if (!w->path || !w->rows) {
        status = dop_error_set(err, DOP_ERR_NOMEM, "%s: out of memory", path);
        goto fail;
    }

    status = dop_atomic_open(path, &w->atomic, err);
    if (status != DOP_OK) goto fail;
    dop_atomic_release_stream(w->atomic); /* HDF5 opens the file by name */

    /* Strong close: H5Fclose really closes the file even if an object were
     * left open, so the rename in commit sees complete data. */
    fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0 || H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG) < 0) {
        status = hdf5_fail(w, err, "cannot set up file access");
        goto fail;
    }
    w->file = H5Fcreate(dop_atomic_temp_path(w->atomic), H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    if (w->file < 0) {
        status = hdf5_fail(w, err, "cannot create HDF5 file");
        goto fail;
    }

    w->spectrogram =
        create_extendible(w->file, root_name(DOP_SPECTRA_SPECTROGRAM), H5T_IEEE_F32LE, 2, bins, H5_SPECTRUM_ROWS);
    if (w->spectrogram < 0) {
        status = root_fail(w, err, "create", DOP_SPECTRA_SPECTROGRAM);
        goto fail;
    }
    w->time.name = root_name(DOP_SPECTRA_TIME);
    w->time.dset = create_extendible(w->file, w->time.name, H5T_IEEE_F64LE, 1, 1, H5_SERIES_ROWS);
    if (w->time.dset < 0) {
        status = root_fail(w, err, "create", DOP_SPECTRA_TIME);
        goto fail;
    }
    status = write_velocity_axis(w, velocity_cm_s, err);
    if (status != DOP_OK) goto fail;
    status = create_group_series(w, DOP_RESULT_FRAMES, &w->frames_group, w->frame_series, err);
    if (status != DOP_OK) goto fail;
    status = create_group_series(w, DOP_RESULT_BEATS, &w->beats_group, w->beat_series, err);
    if (status != DOP_OK) goto fail;
#ifdef DOPFLOW_VERSION
    status = dop_h5_writer_set_string(w, "dopflow_version", DOPFLOW_VERSION, err);
    if (status != DOP_OK) goto fail;
#endif
    H5Pclose(fapl);
    *out = w;
    return DOP_OK;

fail:
    if (fapl >= 0) H5Pclose(fapl);
    dop_h5_writer_abort(w);
    return status;
}

static dop_status flush_spectra(dop_h5_writer *w, dop_error *err)
{
    if (append_rows(w->spectrogram, 2, w->bins, &w->rows_written, w->rows_buffered, H5T_NATIVE_FLOAT, w->rows) < 0)
        return root_fail(w, err, "write", DOP_SPECTRA_SPECTROGRAM);
    w->rows_buffered = 0;
    return DOP_OK;
}

dop_status dop_h5_writer_add_spectrum(dop_h5_writer *w, double time_s, const float *power_db, dop_error *err)
{
    memcpy(w->rows + w->rows_buffered * w->bins, power_db, sizeof *w->rows * w->bins);
    w->rows_buffered++;
    if (w->rows_buffered == H5_SPECTRUM_ROWS) {
        dop_status status = flush_spectra(w, err);
        if (status != DOP_OK) return status;
    }
    return series_push(w, &w->time, time_s, err);
}

/* One value of each column of the table that has a dataset. */
static dop_status add_record(dop_h5_writer *w, dop_result_kind kind, series *out, const void *record, dop_error *err)
{
    const dop_result_table *table = dop_result_schema(kind);
    for (size_t i = 0; i < table->count; i++) {
        if (!table->columns[i].h5_name) continue;
        dop_status status = series_push(w, &out[i], field_value(record, &table->columns[i]), err);
        if (status != DOP_OK) return status;
    }
    return DOP_OK;
}

dop_status dop_h5_writer_add_frame(dop_h5_writer *w, const dop_frame *frame, dop_error *err)
{
    return add_record(w, DOP_RESULT_FRAMES, w->frame_series, frame, err);
}

dop_status dop_h5_writer_add_beat(dop_h5_writer *w, const dop_beat *beat, dop_error *err)
{
    return add_record(w, DOP_RESULT_BEATS, w->beat_series, beat, err);
}

/* Attributes are replaced when set twice (the last value wins). */
static dop_status write_attribute(dop_h5_writer *w, const char *name, hid_t file_type, hid_t mem_type,
                                  const void *value, dop_error *err)
{
    if (!name || !name[0]) return dop_error_set(err, DOP_ERR_INVALID_ARG, "%s: attribute without a name", w->path);
    dop_status status = DOP_OK;
    hid_t attr = H5I_INVALID_HID;
    hid_t space = H5Screate(H5S_SCALAR);
    htri_t exists = H5Aexists(w->file, name);
    if (space < 0 || exists < 0 || (exists > 0 && H5Adelete(w->file, name) < 0)) goto fail;
    attr = H5Acreate2(w->file, name, file_type, space, H5P_DEFAULT, H5P_DEFAULT);
    if (attr < 0 || H5Awrite(attr, mem_type, value) < 0) goto fail;
    goto done;
fail:
    {
        char what[160];
        snprintf(what, sizeof what, "cannot write attribute %s", name);
        status = hdf5_fail(w, err, what);
    }
done:
    if (attr >= 0) H5Aclose(attr);
    if (space >= 0) H5Sclose(space);
    return status;
}

dop_status dop_h5_writer_set_number(dop_h5_writer *w, const char *name, double value, dop_error *err)
{
    return write_attribute(w, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &value, err);
}

dop_status dop_h5_writer_set_string(dop_h5_writer *w, const char *name, const char *value, dop_error *err)
{
    /* Variable-length UTF-8: read back as a str by h5py, any length. */
    hid_t type = H5Tcopy(H5T_C_S1);
    if (type < 0 || H5Tset_size(type, H5T_VARIABLE) < 0 || H5Tset_cset(type, H5T_CSET_UTF8) < 0) {
        if (type >= 0) H5Tclose(type);
        return hdf5_fail(w, err, "cannot make a string type");
    }
    const char *text = value ? value : "";
    dop_status status = write_attribute(w, name, type, type, &text, err);
    H5Tclose(type);
    return status;
}

dop_status dop_h5_writer_commit(dop_h5_writer *w, dop_error *err)
{
    dop_status status = flush_spectra(w, err);
    if (status == DOP_OK) status = series_flush(w, &w->time, err);
    for (size_t i = 0; status == DOP_OK && i < N_FRAME_FIELDS; i++)
        status = series_flush(w, &w->frame_series[i], err);
    for (size_t i = 0; status == DOP_OK && i < N_BEAT_FIELDS; i++)
        status = series_flush(w, &w->beat_series[i], err);
    if (status != DOP_OK) goto fail;
    if (close_hdf5(w) < 0) {
        status = hdf5_fail(w, err, "cannot close (data may be incomplete)");
        goto fail;
    }
    status = dop_atomic_commit(w->atomic, err); /* frees the atomic file, removes the temp on failure */
    w->atomic = NULL;
    free_writer(w);
    return status;

fail:
    dop_h5_writer_abort(w);
    return status;
}

void dop_h5_writer_abort(dop_h5_writer *w)
{
    if (!w) return;
    close_hdf5(w);
    H5Eclear2(H5E_DEFAULT);
    dop_atomic_abort(w->atomic);
    free_writer(w);
}
