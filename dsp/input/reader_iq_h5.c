/* Native HDF5 slow-time IQ (the layout dopflow documents and `dopflow
 * simulate OUT.h5` writes):
 *
 *   dataset /iq   int16, float32 or float64; shape (N, 2) for one gate or
 *                 (N, G, 2) for G gates (depth samples) per pulse; the last
 *                 dimension is (I, Q); N pulses in time order. int16 full
 *                 scale is 32768 (values / 32768), floats are taken as stored.
 *   attributes of /iq (scalar numbers):
 *     prf_hz       pulse repetition frequency, Hz (required unless --prf)
 *     f0_hz        transmit frequency, Hz          (optional)
 *     angle_deg    beam-to-flow angle, degrees     (optional)
 *     c_m_s        speed of sound, m/s             (optional)
 *     diameter_mm  vessel diameter, mm             (optional)
 *
 * The pulses are read as hyperslabs of at most DOP_READER_BACKEND_BLOCK_BYTES
 * straight into the caller's buffer (HDF5 converts the stored type to float),
 * so memory does not grow with the file. */
#include "reader_backend.h"

#include <hdf5.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct iq_h5 {
    char *name;        /* for messages */
    hid_t file, dset, file_space;
    int rank;          /* 2 or 3 */
    hsize_t pulses;
    long gate_first, gates;
    float scale;       /* 1/32768 for int16, 1 for floats */
    int64_t position;  /* next pulse */
} iq_h5;

/* HDF5 must not print its error stack: the library reports through dop_error. */
static void hdf5_quiet(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

static int probe_iq_h5(const char *path)
{
    hdf5_quiet();
    if (H5Fis_hdf5(path) <= 0) return 0;
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (file < 0) return 0;
    int found = H5Lexists(file, "iq", H5P_DEFAULT) > 0;
    H5Fclose(file);
    H5Eclear2(H5E_DEFAULT);
    return found;
}

static void close_iq_h5(void *state)
{
    iq_h5 *h = state;
    if (!h) return;
    if (h->file_space >= 0) H5Sclose(h->file_space);
    if (h->dset >= 0) H5Dclose(h->dset);
    if (h->file >= 0) H5Fclose(h->file);
    H5Eclear2(H5E_DEFAULT);
    free(h->name);
    free(h);
}

/* A scalar numeric attribute of /iq: 1 read, 0 absent, -1 present but not a
 * finite scalar number. */
static int number_attribute(hid_t dset, const char *attr_name, double *value)
{
    if (H5Aexists(dset, attr_name) <= 0) return 0;
    hid_t attr = H5Aopen(dset, attr_name, H5P_DEFAULT);
    if (attr < 0) return -1;
    int result = -1;
    hid_t type = H5Aget_type(attr), space = H5Aget_space(attr);
    if (type >= 0 && space >= 0) {
        H5T_class_t cls = H5Tget_class(type);
        if ((cls == H5T_INTEGER || cls == H5T_FLOAT) && H5Sget_simple_extent_npoints(space) == 1 &&
            H5Aread(attr, H5T_NATIVE_DOUBLE, value) >= 0 && isfinite(*value))
            result = 1;
    }
    if (type >= 0) H5Tclose(type);
    if (space >= 0) H5Sclose(space);
    H5Aclose(attr);
    return result;
}

/* Stored element type: int16, float32 or float64. */
static dop_status check_type(iq_h5 *h, char *type_name, size_t type_name_size, dop_error *err)
{
    hid_t type = H5Dget_type(h->dset);
    if (type < 0) return dop_error_set(err, DOP_ERR_FORMAT, "%s: /iq has no readable element type", h->name);
    H5T_class_t cls = H5Tget_class(type);
    size_t size = H5Tget_size(type);
    int is_signed = cls == H5T_INTEGER && H5Tget_sign(type) == H5T_SGN_2;
    H5Tclose(type);
    if (cls == H5T_INTEGER && size == 2 && is_signed) {
        h->scale = 1.0f / 32768.0f;
        snprintf(type_name, type_name_size, "int16");
        return DOP_OK;
    }
    if (cls == H5T_FLOAT && (size == 4 || size == 8)) {
        h->scale = 1.0f;
        snprintf(type_name, type_name_size, "float%zu", size * 8);
        return DOP_OK;
    }
    return dop_error_set(err, DOP_ERR_FORMAT, "%s: /iq holds %s%zu-byte values; dopflow reads int16, float32 or float64",
                         h->name, cls == H5T_INTEGER ? (is_signed ? "signed integer " : "unsigned integer ")
                                  : cls == H5T_FLOAT ? "floating-point " : "non-numeric ", size);
}

static dop_status read_attributes(iq_h5 *h, const dop_reader_config *cfg, dop_reader_info *info, dop_error *err)
{
    static const char *const names[] = {"prf_hz", "f0_hz", "angle_deg", "c_m_s", "diameter_mm"};
    double values[5];
    for (int i = 0; i < 5; i++) {
        values[i] = NAN;
        if (number_attribute(h->dset, names[i], &values[i]) < 0)
            return dop_error_set(err, DOP_ERR_FORMAT, "%s: attribute /iq %s is not a finite scalar number", h->name,
                                 names[i]);
    }
    info->file_acq.f0_hz = values[1];
    info->file_acq.angle_deg = values[2];
    info->file_acq.c_m_s = values[3];
    info->file_acq.diameter_mm = values[4];
    double prf = isfinite(cfg->raw_rate_hz) ? cfg->raw_rate_hz : values[0];
    if (isnan(prf))
        return dop_error_set(err, DOP_ERR_FORMAT,
                             "%s: /iq has no prf_hz attribute: give the pulse repetition frequency prf_hz in Hz", h->name);
    if (!(prf > 0.0) || !isfinite(prf))
        return dop_error_set(err, DOP_ERR_FORMAT, "%s: pulse repetition frequency %g Hz is not positive", h->name, prf);
    info->rate_hz = prf;
    return DOP_OK;
}

static dop_status open_iq_h5(const dop_reader_config *cfg, const char *name, dop_reader_info *info, void **state,
                             dop_error *err)
{
    *state = NULL;
    hdf5_quiet();
    iq_h5 *h = calloc(1, sizeof *h);
    if (!h) return dop_error_set(err, DOP_ERR_NOMEM, "%s: out of memory", name);
    h->file = h->dset = h->file_space = H5I_INVALID_HID;
    h->name = strdup(name);
    dop_status status = DOP_OK;
    if (!h->name) {
        status = dop_error_set(err, DOP_ERR_NOMEM, "%s: out of memory", name);
        goto fail;
    }
    htri_t is_h5 = H5Fis_hdf5(cfg->path);
    if (is_h5 < 0) {
        status = dop_error_set(err, DOP_ERR_IO, "%s: cannot open", name);
        goto fail;
    }
    if (is_h5 == 0 || (h->file = H5Fopen(cfg->path, H5F_ACC_RDONLY, H5P_DEFAULT)) < 0) {
        status = dop_error_set(err, DOP_ERR_FORMAT, "%s: not a readable HDF5 file", name);
        goto fail;
    }
    if (H5Lexists(h->file, "iq", H5P_DEFAULT) <= 0 || (h->dset = H5Dopen2(h->file, "iq", H5P_DEFAULT)) < 0) {
        status = dop_error_set(err, DOP_ERR_FORMAT, "%s: no dataset /iq (the native IQ layout: see README)", name);
        goto fail;
    }
    char type_name[16];
    if ((status = check_type(h, type_name, sizeof type_name, err)) != DOP_OK) goto fail;
    hsize_t dims[H5S_MAX_RANK];
    h->file_space = H5Dget_space(h->dset);
    h->rank = h->file_space >= 0 ? H5Sget_simple_extent_ndims(h->file_space) : -1;
    if (h->rank < 2 || h->rank > 3 || H5Sget_simple_extent_dims(h->file_space, dims, NULL) < 0 ||
        dims[h->rank - 1] != 2) {
        status = dop_error_set(err, DOP_ERR_FORMAT,
                               "%s: /iq must have shape (N, 2) or (N, G, 2), with (I, Q) last; it has rank %d%s", name,
                               h->rank, h->rank == 2 || h->rank == 3 ? " but its last dimension is not 2" : "");
        goto fail;
    }
    h->pulses = dims[0];
    long file_gates = h->rank == 3 ? (long)dims[1] : 1;
    if (h->rank == 3 && (dims[1] == 0 || dims[1] > (hsize_t)1 << 20)) {
        status = dop_error_set(err, DOP_ERR_FORMAT, "%s: /iq has %llu gates per pulse (1 to 1048576 supported)", name,
                               (unsigned long long)dims[1]);
        goto fail;
    }
    if ((status = dop_reader_gate_range(cfg, name, file_gates, &h->gate_first, &h->gates, err)) != DOP_OK) goto fail;
    if ((status = read_attributes(h, cfg, info, err)) != DOP_OK) goto fail;

    info->file_channels = 2;
    info->channels = DOP_CHANNELS_IQ;
    info->frames = (int64_t)h->pulses;
    info->duration_s = (double)h->pulses / info->rate_hz;
    info->is_float = h->scale == 1.0f;
    info->gates = h->gates;
    info->file_gates = file_gates;
    info->gate_first = h->gate_first;
    snprintf(info->format, sizeof info->format, "native HDF5 IQ");
    if (h->rank == 3)
        snprintf(info->layout, sizeof info->layout, "/iq %s (%llu, %llu, 2)", type_name, (unsigned long long)dims[0],
                 (unsigned long long)dims[1]);
    else
        snprintf(info->layout, sizeof info->layout, "/iq %s (%llu, 2)", type_name, (unsigned long long)dims[0]);
    *state = h;
    return DOP_OK;
fail:
    close_iq_h5(h);
    return status;
}

static dop_status read_iq_h5(void *state, float complex *out, size_t max_pulses, size_t *count, dop_error *err)
{
    iq_h5 *h = state;
    *count = 0;
    const size_t pulse_bytes = (size_t)h->gates * 2 * sizeof(float);
    size_t block = DOP_READER_BACKEND_BLOCK_BYTES / pulse_bytes;
    if (block < 1) block = 1;
    while (*count < max_pulses && h->position < (int64_t)h->pulses) {
        size_t n = max_pulses - *count;
        if (n > block) n = block;
        if ((hsize_t)n > h->pulses - (hsize_t)h->position) n = (size_t)(h->pulses - (hsize_t)h->position);
        hsize_t start[3] = {(hsize_t)h->position, (hsize_t)h->gate_first, 0};
        hsize_t extent[3] = {n, (hsize_t)h->gates, 2};
        if (h->rank == 2) extent[1] = 2, start[1] = 0;
        hsize_t values = (hsize_t)n * (hsize_t)h->gates * 2;
        float *dst = (float *)(out + *count * (size_t)h->gates);
        /* A memory space of the selection's own shape: HDF5 then copies
         * whole rows instead of matching the two element by element. */
        hid_t mem = H5Screate_simple(h->rank, extent, NULL);
        herr_t rc = mem < 0 ? -1 : H5Sselect_hyperslab(h->file_space, H5S_SELECT_SET, start, NULL, extent, NULL);
        if (rc >= 0) rc = H5Dread(h->dset, H5T_NATIVE_FLOAT, mem, h->file_space, H5P_DEFAULT, dst);
        if (mem >= 0) H5Sclose(mem);
        if (rc < 0) {
            H5Eclear2(H5E_DEFAULT);
            return dop_error_set(err, DOP_ERR_IO, "%s: cannot read /iq pulses %lld to %lld (damaged file?)", h->name,
                                 (long long)h->position, (long long)h->position + (long long)n - 1);
        }
        const size_t bad = dop_first_non_finite(dst, (size_t)values);
        if (bad < (size_t)values) {
            long long pulse = h->position + (long long)(bad / (2 * (hsize_t)h->gates));
            long gate = h->gate_first + (long)(bad / 2 % (hsize_t)h->gates);
            return dop_error_set(err, DOP_ERR_FORMAT, "%s: /iq pulse %lld gate %ld (%s) is %s", h->name, pulse, gate,
                                 bad % 2 ? "Q" : "I", isnan(dst[bad]) ? "NaN" : "infinite");
        }
        if (h->scale != 1.0f)
            for (hsize_t i = 0; i < values; i++) dst[i] *= h->scale;
        *count += n;
        h->position += (int64_t)n;
    }
    return DOP_OK;
}

static dop_status seek_iq_h5(void *state, int64_t pulse, dop_error *err)
{
    iq_h5 *h = state;
    return dop_reader_backend_seek(h->name, pulse, (int64_t)h->pulses, &h->position, err);
}

const dop_reader_backend dop_reader_backend_iq_h5 = {
    "iq-h5", probe_iq_h5, open_iq_h5, read_iq_h5, seek_iq_h5, close_iq_h5,
};
