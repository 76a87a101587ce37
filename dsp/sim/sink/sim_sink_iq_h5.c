/* Simulator sink: the native HDF5 IQ layout that dopflow reads (see
 * reader_iq_h5.c and the README): dataset /iq of shape (N, 2) for one gate
 * or (N, G, 2), int16 (x 32767) or float32 by the spec's sample_format,
 * chunked by CHUNK_PULSES pulses, with the attributes prf_hz, f0_hz,
 * angle_deg, c_m_s and diameter_mm. No object time stamps, so the same spec
 * gives the same bytes. */
#include "sim_sink.h"

#include <hdf5.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK_PULSES 4096

typedef struct iq_h5_sink {
    hid_t file, dset, space;
    const char *name;
    sim_sink_params p;
    int rank;
    hsize_t written;  /* pulses */
    void *conv;       /* CHUNK_PULSES x gates x 2 values */
} iq_h5_sink;

static void abort_iq_h5(void *state)
{
    iq_h5_sink *s = state;
    if (!s) return;
    if (s->space >= 0) H5Sclose(s->space);
    if (s->dset >= 0) H5Dclose(s->dset);
    if (s->file >= 0) H5Fclose(s->file);
    H5Eclear2(H5E_DEFAULT);
    free(s->conv);
    free(s);
}

static herr_t set_number(hid_t dset, const char *attr_name, double value)
{
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t attr = space < 0 ? -1 : H5Acreate2(dset, attr_name, H5T_IEEE_F64LE, space, H5P_DEFAULT, H5P_DEFAULT);
    herr_t rc = attr < 0 ? -1 : H5Awrite(attr, H5T_NATIVE_DOUBLE, &value);
    if (attr >= 0) H5Aclose(attr);
    if (space >= 0) H5Sclose(space);
    return rc;
}

static dop_status open_iq_h5_sink(const char *tmp_path, const char *name, const sim_sink_params *p, void **state,
                                  dop_error *err)
{
    *state = NULL;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    iq_h5_sink *s = calloc(1, sizeof *s);
    if (!s) return dop_error_set(err, DOP_ERR_NOMEM, "out of memory writing %s", name);
    s->file = s->dset = s->space = H5I_INVALID_HID;
    s->name = name;
    s->p = *p;
    s->rank = p->gates > 1 ? 3 : 2;
    s->conv = malloc((size_t)CHUNK_PULSES * (size_t)p->gates * 2 * sizeof(float));
    if (!s->conv) {
        abort_iq_h5(s);
        return dop_error_set(err, DOP_ERR_NOMEM, "out of memory writing %s", name);
    }
    hsize_t dims[3] = {(hsize_t)p->pulses, (hsize_t)p->gates, 2};
    hsize_t chunk[3] = {(hsize_t)p->pulses < CHUNK_PULSES ? (hsize_t)p->pulses : CHUNK_PULSES, (hsize_t)p->gates, 2};
    if (s->rank == 2) dims[1] = chunk[1] = 2;
    if (chunk[0] == 0) chunk[0] = 1;
    hid_t fcpl = H5Pcreate(H5P_FILE_CREATE), dcpl = H5Pcreate(H5P_DATASET_CREATE);
    int ok = fcpl >= 0 && dcpl >= 0 && H5Pset_chunk(dcpl, s->rank, chunk) >= 0 && H5Pset_obj_track_times(dcpl, 0) >= 0;
    if (ok) s->file = H5Fcreate(tmp_path, H5F_ACC_TRUNC, fcpl, H5P_DEFAULT);
    if (ok && s->file >= 0) s->space = H5Screate_simple(s->rank, dims, NULL);
    if (s->space >= 0)
        s->dset = H5Dcreate2(s->file, "iq", p->float_samples ? H5T_IEEE_F32LE : H5T_STD_I16LE, s->space, H5P_DEFAULT,
                             dcpl, H5P_DEFAULT);
    if (fcpl >= 0) H5Pclose(fcpl);
    if (dcpl >= 0) H5Pclose(dcpl);
    ok = s->dset >= 0 && set_number(s->dset, "prf_hz", p->prf_hz) >= 0 && set_number(s->dset, "f0_hz", p->f0_hz) >= 0 &&
         set_number(s->dset, "angle_deg", p->angle_deg) >= 0 && set_number(s->dset, "c_m_s", p->c_m_s) >= 0 &&
         set_number(s->dset, "diameter_mm", p->diameter_mm) >= 0;
    if (!ok) {
        abort_iq_h5(s);
        return dop_error_set(err, DOP_ERR_IO, "%s: cannot create the HDF5 file", name);
    }
    *state = s;
    return DOP_OK;
}

static dop_status write_iq_h5(void *state, const float complex *x, size_t n, int64_t *clipped, dop_error *err)
{
    iq_h5_sink *s = state;
    const size_t gates = (size_t)s->p.gates;
    for (size_t done = 0; done < n;) {
        size_t k = n - done < CHUNK_PULSES ? n - done : CHUNK_PULSES;
        sim_scale(&s->p, x + done * gates, k * gates, s->conv, clipped);
        hsize_t start[3] = {s->written, 0, 0}, count[3] = {k, gates, 2};
        if (s->rank == 2) count[1] = 2;
        hid_t mem = H5Screate_simple(s->rank, count, NULL);
        herr_t rc = mem < 0 ? -1 : H5Sselect_hyperslab(s->space, H5S_SELECT_SET, start, NULL, count, NULL);
        if (rc >= 0)
            rc = H5Dwrite(s->dset, s->p.float_samples ? H5T_NATIVE_FLOAT : H5T_NATIVE_SHORT, mem, s->space, H5P_DEFAULT,
                          s->conv);
        if (mem >= 0) H5Sclose(mem);
        if (rc < 0) return dop_error_set(err, DOP_ERR_IO, "%s: write failed (HDF5)", s->name);
        s->written += k;
        done += k;
    }
    return DOP_OK;
}

static dop_status finish_iq_h5(void *state, dop_error *err)
{
    iq_h5_sink *s = state;
    herr_t rc = H5Dclose(s->dset);
    s->dset = H5I_INVALID_HID;
    if (rc >= 0) rc = H5Fflush(s->file, H5F_SCOPE_GLOBAL);
    if (H5Fclose(s->file) < 0) rc = -1;
    s->file = H5I_INVALID_HID;
    const char *name = s->name;
    abort_iq_h5(s);
    return rc >= 0 ? DOP_OK : dop_error_set(err, DOP_ERR_IO, "%s: cannot finish the HDF5 file", name);
}

const sim_sink_ops sim_sink_iq_h5 = {"iq-h5", ".h5 .hdf5", 1, open_iq_h5_sink, write_iq_h5, finish_iq_h5, abort_iq_h5};
