/* Simulator sink: USTB's Ultrasound File Format (UFF v1.2.0, HDF5), the
 * structure USTB's own uff.write_object writes (see reader_uff.c for the
 * references), read back by reader_uff.c:
 *
 *   /                        attribute version = "v1.2.0"
 *   /b_data                  uff.beamformed_data (class, name, size [1 1], array 0)
 *                            + dopflow's attributes prf_hz, f0_hz, angle_deg,
 *                              c_m_s, diameter_mm (doubles; USTB ignores
 *                              attributes it does not know)
 *     data/real, data/imag   int16 (x 32767) or single by the spec's
 *                            sample_format; MATLAB [pixels x 1 x 1 x frames],
 *                            HDF5 (N, 1, 1, G): one frame per pulse, one
 *                            pixel per gate
 *     scan                   uff.linear_scan: x_axis = 0 and z_axis = the
 *                            gate depths, with the pixel coordinates x, y, z
 *     pulse/center_frequency f0, Hz (when known)
 *     modulation_frequency   f0, Hz: the IQ are baseband at f0 (when known)
 *     frame_rate             the PRF, Hz (frames per second)
 *
 * Every numeric value is a dataset with USTB's attributes class, name,
 * complex and imaginary, so that USTB's uff.read_object rebuilds the
 * object. The simulator models no depth: the gates are put nominally
 * lambda / 2 = c / (2 f0) apart from z = 0 (1 mm apart when f0 or c is
 * unknown). No object time stamps: the same spec gives the same bytes. */
#include "core/lib_guard.h"
#include "sim_sink.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define UFF_VERSION "v1.2.0"
#define GROUP_NAME "b_data"
/* Bytes of samples per chunk and per write (bounded memory). */
#define WRITE_BYTES (1u << 20)

typedef struct uff_sink {
    hid_t file, real, imag, space;
    const char *name;    /* final path, for messages */
    sim_sink_params p;
    size_t block;        /* pulses per write */
    void *conv;          /* block x gates interleaved I, Q */
    void *part;          /* block x gates values of one part (real or imag) */
    hsize_t written;     /* pulses */
} uff_sink;

static void abort_uff(void *state)
{
    uff_sink *s = state;
    if (!s) return;
    dop_h5_quiet q = dop_h5_quiet_begin();
    if (s->space >= 0) H5Sclose(s->space);
    if (s->real >= 0) H5Dclose(s->real);
    if (s->imag >= 0) H5Dclose(s->imag);
    if (s->file >= 0) H5Fclose(s->file);
    dop_h5_quiet_end(q);
    free(s->conv);
    free(s->part);
    free(s);
}

/* A fixed-length string attribute, as MATLAB's h5writeatt writes it
 * (scalar, null-terminated); `array1`: a one-element array holding the
 * terminating NUL too, as the root's version (USTB reads it as a cell). */
static herr_t attr_string(hid_t obj, const char *attr_name, const char *value, int array1)
{
    hsize_t one = 1;
    hid_t type = H5Tcopy(H5T_C_S1);
    hid_t space = array1 ? H5Screate_simple(1, &one, NULL) : H5Screate(H5S_SCALAR);
    herr_t rc = type < 0 || space < 0 ? -1 : H5Tset_size(type, strlen(value) + (array1 ? 1 : 0));
    if (rc >= 0) rc = H5Tset_strpad(type, H5T_STR_NULLTERM);
    hid_t attr = rc < 0 ? -1 : H5Acreate2(obj, attr_name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    rc = attr < 0 ? -1 : H5Awrite(attr, type, value);
    if (attr >= 0) H5Aclose(attr);
    if (space >= 0) H5Sclose(space);
    if (type >= 0) H5Tclose(type);
    return rc;
}

/* A double attribute: scalar (n = 1) or a vector of n. */
static herr_t attr_doubles(hid_t obj, const char *attr_name, const double *values, hsize_t n)
{
    hid_t space = n == 1 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &n, NULL);
    hid_t attr = space < 0 ? -1 : H5Acreate2(obj, attr_name, H5T_IEEE_F64LE, space, H5P_DEFAULT, H5P_DEFAULT);
    herr_t rc = attr < 0 ? -1 : H5Awrite(attr, H5T_NATIVE_DOUBLE, values);
    if (attr >= 0) H5Aclose(attr);
    if (space >= 0) H5Sclose(space);
    return rc;
}

static herr_t attr_double(hid_t obj, const char *attr_name, double value) { return attr_doubles(obj, attr_name, &value, 1); }

/* A UFF object: a group with class, name, size [1 1] and array 0. */
static hid_t uff_group(hid_t where, const char *group_name, const char *cls)
{
    static const double size[2] = {1.0, 1.0};
    hid_t gcpl = H5Pcreate(H5P_GROUP_CREATE);
    hid_t g = gcpl < 0 || H5Pset_obj_track_times(gcpl, 0) < 0
                  ? H5I_INVALID_HID
                  : H5Gcreate2(where, group_name, H5P_DEFAULT, gcpl, H5P_DEFAULT);
    if (gcpl >= 0) H5Pclose(gcpl);
    if (g >= 0 && (attr_string(g, "class", cls, 0) < 0 || attr_string(g, "name", group_name, 0) < 0 ||
                   attr_doubles(g, "size", size, 2) < 0 || attr_double(g, "array", 0.0) < 0)) {
        H5Gclose(g);
        g = H5I_INVALID_HID;
    }
    return g;
}

/* A real double property: MATLAB column n x 1, HDF5 (1, n). */
static herr_t uff_doubles(hid_t where, const char *dset_name, const double *values, hsize_t n)
{
    hsize_t dims[2] = {1, n};
    hid_t space = H5Screate_simple(2, dims, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    hid_t dset = space < 0 || dcpl < 0 || H5Pset_obj_track_times(dcpl, 0) < 0
                     ? H5I_INVALID_HID
                     : H5Dcreate2(where, dset_name, H5T_IEEE_F64LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    herr_t rc = dset < 0 ? -1 : H5Dwrite(dset, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, values);
    if (rc >= 0)
        rc = attr_string(dset, "class", "double", 0) < 0 || attr_string(dset, "name", dset_name, 0) < 0 ||
                     attr_double(dset, "complex", 0.0) < 0 || attr_double(dset, "imaginary", 0.0) < 0
                 ? -1 : 0;
    if (dset >= 0) H5Dclose(dset);
    if (dcpl >= 0) H5Pclose(dcpl);
    if (space >= 0) H5Sclose(space);
    return rc;
}

static herr_t uff_double(hid_t where, const char *dset_name, double value) { return uff_doubles(where, dset_name, &value, 1); }

/* One part (real or imag) of the complex data: (N, 1, 1, G), chunked by
 * whole pulses. */
static hid_t data_part(uff_sink *s, hid_t data, const char *part, double imaginary)
{
    const hsize_t G = (hsize_t)s->p.gates;
    hsize_t dims[4] = {(hsize_t)s->p.pulses, 1, 1, G}, maxdims[4] = {H5S_UNLIMITED, 1, 1, G};
    hsize_t chunk[4] = {s->block, 1, 1, G};
    if ((hsize_t)s->p.pulses < chunk[0] && s->p.pulses > 0) chunk[0] = (hsize_t)s->p.pulses;
    hid_t space = H5Screate_simple(4, dims, maxdims);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    hid_t dset = space < 0 || dcpl < 0 || H5Pset_chunk(dcpl, 4, chunk) < 0 || H5Pset_obj_track_times(dcpl, 0) < 0
                     ? H5I_INVALID_HID
                     : H5Dcreate2(data, part, s->p.float_samples ? H5T_IEEE_F32LE : H5T_STD_I16LE, space, H5P_DEFAULT,
                                  dcpl, H5P_DEFAULT);
    if (dset >= 0 && (attr_string(dset, "class", s->p.float_samples ? "single" : "int16", 0) < 0 ||
                      attr_string(dset, "name", "data", 0) < 0 || attr_double(dset, "imaginary", imaginary) < 0)) {
        H5Dclose(dset);
        dset = H5I_INVALID_HID;
    }
    if (dcpl >= 0) H5Pclose(dcpl);
    if (space >= 0) H5Sclose(space);
    return dset;
}

/* The linear scan: one line of G pixels down the depth. */
static herr_t write_scan(uff_sink *s, hid_t bf)
{
    const size_t G = (size_t)s->p.gates;
    double dz = isfinite(s->p.c_m_s) && isfinite(s->p.f0_hz) && s->p.f0_hz > 0.0 ? s->p.c_m_s / (2.0 * s->p.f0_hz) : 1e-3;
    double *z = malloc(G * sizeof *z), *zero = calloc(G, sizeof *zero);
    hid_t scan = z && zero ? uff_group(bf, "scan", "uff.linear_scan") : H5I_INVALID_HID;
    herr_t rc = scan < 0 ? -1 : 0;
    if (rc >= 0) {
        for (size_t g = 0; g < G; g++) z[g] = (double)g * dz;
        rc = uff_double(scan, "x_axis", 0.0) < 0 || uff_doubles(scan, "z_axis", z, G) < 0 ||
                     uff_doubles(scan, "x", zero, G) < 0 || uff_doubles(scan, "y", zero, G) < 0 ||
                     uff_doubles(scan, "z", z, G) < 0
                 ? -1 : 0;
    }
    if (scan >= 0) H5Gclose(scan);
    free(z);
    free(zero);
    return rc;
}

static herr_t write_structure(uff_sink *s)
{
    const sim_sink_params *p = &s->p;
    hid_t root = H5Gopen2(s->file, "/", H5P_DEFAULT);
    herr_t rc = root < 0 ? -1 : attr_string(root, "version", UFF_VERSION, 1);
    if (root >= 0) H5Gclose(root);
    hid_t bf = rc < 0 ? H5I_INVALID_HID : uff_group(s->file, GROUP_NAME, "uff.beamformed_data");
    if (bf < 0) return -1;
    static const char *const extra[] = {"prf_hz", "f0_hz", "angle_deg", "c_m_s", "diameter_mm"};
    const double values[] = {p->prf_hz, p->f0_hz, p->angle_deg, p->c_m_s, p->diameter_mm};
    for (int i = 0; i < 5 && rc >= 0; i++)
        if (isfinite(values[i])) rc = attr_double(bf, extra[i], values[i]);
    if (rc >= 0) rc = uff_double(bf, "frame_rate", p->prf_hz);
    if (rc >= 0 && isfinite(p->f0_hz)) {
        rc = uff_double(bf, "modulation_frequency", p->f0_hz);
        hid_t pulse = rc < 0 ? H5I_INVALID_HID : uff_group(bf, "pulse", "uff.pulse");
        if (pulse < 0 || uff_double(pulse, "center_frequency", p->f0_hz) < 0) rc = -1;
        if (pulse >= 0) H5Gclose(pulse);
    }
    if (rc >= 0) rc = write_scan(s, bf);
    if (rc >= 0) {
        /* The complex data: a group (class, name, complex = 1) holding real and imag. */
        hid_t gcpl = H5Pcreate(H5P_GROUP_CREATE);
        hid_t data = gcpl < 0 || H5Pset_obj_track_times(gcpl, 0) < 0
                         ? H5I_INVALID_HID
                         : H5Gcreate2(bf, "data", H5P_DEFAULT, gcpl, H5P_DEFAULT);
        if (gcpl >= 0) H5Pclose(gcpl);
        rc = data < 0 || attr_string(data, "class", p->float_samples ? "single" : "int16", 0) < 0 ||
                     attr_string(data, "name", "data", 0) < 0 || attr_double(data, "complex", 1.0) < 0
                 ? -1 : 0;
        if (rc >= 0) {
            s->real = data_part(s, data, "real", 0.0);
            s->imag = data_part(s, data, "imag", 1.0);
            s->space = s->real >= 0 ? H5Dget_space(s->real) : H5I_INVALID_HID;
            if (s->real < 0 || s->imag < 0 || s->space < 0) rc = -1;
        }
        if (data >= 0) H5Gclose(data);
    }
    H5Gclose(bf);
    return rc;
}

static dop_status open_uff_sink(const char *tmp_path, const char *name, const sim_sink_params *p, void **state,
                                dop_error *err)
{
    *state = NULL;
    if (p->gates < 1 || p->pulses < 0) return dop_error_set(err, DOP_ERR_INVALID_ARG, "%s: %ld gates", name, p->gates);
    uff_sink *s = calloc(1, sizeof *s);
    if (!s) return dop_error_set(err, DOP_ERR_NOMEM, "out of memory writing %s", name);
    s->file = s->real = s->imag = s->space = H5I_INVALID_HID;
    s->name = name;
    s->p = *p;
    const size_t pulse_bytes = (size_t)p->gates * 2 * (p->float_samples ? sizeof(float) : sizeof(int16_t));
    s->block = WRITE_BYTES / pulse_bytes > 0 ? WRITE_BYTES / pulse_bytes : 1;
    s->conv = malloc(s->block * pulse_bytes);
    s->part = malloc(s->block * pulse_bytes / 2);
    if (!s->conv || !s->part) {
        abort_uff(s);
        return dop_error_set(err, DOP_ERR_NOMEM, "out of memory writing %s", name);
    }
    dop_h5_quiet q = dop_h5_quiet_begin();
    s->file = H5Fcreate(tmp_path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    herr_t rc = s->file < 0 ? -1 : write_structure(s);
    dop_h5_quiet_end(q);
    if (rc < 0) {
        abort_uff(s);
        return dop_error_set(err, DOP_ERR_IO, "%s: cannot create the UFF (HDF5) file", name);
    }
    *state = s;
    return DOP_OK;
}

static dop_status write_uff(void *state, const float complex *x, size_t n, int64_t *clipped, dop_error *err)
{
    uff_sink *s = state;
    const size_t G = (size_t)s->p.gates;
    if ((int64_t)(s->written + n) > s->p.pulses)
        return dop_error_set(err, DOP_ERR_INVALID_ARG, "%s: more pulses than the %lld announced", s->name,
                             (long long)s->p.pulses);
    dop_h5_quiet q = dop_h5_quiet_begin();
    herr_t rc = 0;
    for (size_t done = 0; done < n && rc >= 0;) {
        size_t k = n - done < s->block ? n - done : s->block;
        sim_scale(&s->p, x + done * G, k * G, s->conv, clipped);
        /* I from the even values, Q from the odd ones, each gathered into a
         * contiguous part (an HDF5 memory selection with stride 2 is
         * several times slower), into pulses written..written+k. */
        hsize_t start[4] = {s->written, 0, 0, 0}, count[4] = {k, 1, 1, G};
        const hsize_t values = (hsize_t)k * G;
        hid_t mem_type = s->p.float_samples ? H5T_NATIVE_FLOAT : H5T_NATIVE_INT16;
        rc = H5Sselect_hyperslab(s->space, H5S_SELECT_SET, start, NULL, count, NULL);
        /* The memory space has the selection's shape: HDF5 1.10 maps a
         * selection of another shape to the chunks element by element. */
        hid_t mem = rc < 0 ? H5I_INVALID_HID : H5Screate_simple(4, count, NULL);
        for (size_t part = 0; part < 2 && mem >= 0 && rc >= 0; part++) {
            if (s->p.float_samples) {
                const float *in = s->conv;
                float *out = s->part;
                for (size_t i = 0; i < values; i++) out[i] = in[2 * i + part];
            } else {
                const int16_t *in = s->conv;
                int16_t *out = s->part;
                for (size_t i = 0; i < values; i++) out[i] = in[2 * i + part];
            }
            rc = H5Dwrite(part ? s->imag : s->real, mem_type, mem, s->space, H5P_DEFAULT, s->part);
        }
        if (mem >= 0) H5Sclose(mem);
        else rc = -1;
        if (rc >= 0) s->written += k;
        done += k;
    }
    dop_h5_quiet_end(q);
    return rc < 0 ? dop_error_set(err, DOP_ERR_IO, "%s: write failed (HDF5)", s->name) : DOP_OK;
}

static dop_status finish_uff(void *state, dop_error *err)
{
    uff_sink *s = state;
    dop_h5_quiet q = dop_h5_quiet_begin();
    herr_t rc = H5Dclose(s->real);
    if (H5Dclose(s->imag) < 0) rc = -1;
    s->real = s->imag = H5I_INVALID_HID;
    if (rc >= 0) rc = H5Fflush(s->file, H5F_SCOPE_GLOBAL);
    if (H5Fclose(s->file) < 0) rc = -1;
    s->file = H5I_INVALID_HID;
    dop_h5_quiet_end(q);
    const char *name = s->name;
    abort_uff(s);
    return rc >= 0 ? DOP_OK : dop_error_set(err, DOP_ERR_IO, "%s: cannot finish the UFF file", name);
}

const sim_sink_ops sim_sink_uff = {"uff", ".uff", 1, open_uff_sink, write_uff, finish_uff, abort_uff};
