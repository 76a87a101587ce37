/* Simulator sink: MATLAB v7.3 (.mat, HDF5 underneath) through libmatio,
 * read back by reader_mat.c:
 *
 *   iq            complex N x G (pulses down the columns, one column per
 *                 gate); int16 (x 32767) or single by the spec's
 *                 sample_format
 *   prf_hz        double scalar, the pulse repetition frequency, Hz
 *   f0_hz, angle_deg, c_m_s, diameter_mm   double scalars (when known)
 *
 * The IQ is appended a block of pulses at a time with Mat_VarWriteAppend
 * (v7.3 only: the HDF5 dataset is created chunked with unlimited
 * dimensions and grown along the pulses), so memory stays bounded for any
 * duration. Not compressed: simulated speckle and noise do not deflate
 * (about 1.1:1) and zlib level 9, libmatio's only level, is slow.
 *
 * The text header is fixed (libmatio's default carries the date), but the
 * HDF5 objects libmatio creates carry time stamps, so two runs of the same
 * spec give the same numbers, not the same bytes. */
#include "core/lib_guard.h"
#include "sim_sink.h"

#include <math.h>
#include <matio.h>
#include <stdlib.h>
#include <string.h>

/* At most this many bytes of interleaved samples per append (and as many
 * again split into real and imaginary columns). */
#define APPEND_BYTES (1u << 20)

#define MAT73_HEADER "MATLAB 7.3 MAT-file, Platform: dopflow, Created by: dopflow simulate (libmatio) HDF5 schema 1.00 ."

typedef struct mat_sink {
    mat_t *mat;
    const char *name;      /* final path, for messages */
    sim_sink_params p;
    size_t block;          /* pulses per append */
    size_t elem;           /* 2 (int16) or 4 (single) */
    void *conv;            /* block x gates interleaved I, Q (pulse-major) */
    unsigned char *split;  /* block x gates real parts column by column, then the imaginary parts */
    int64_t written;       /* pulses */
} mat_sink;

static void abort_mat(void *state)
{
    mat_sink *s = state;
    if (!s) return;
    if (s->mat) {
        dop_h5_quiet q = dop_h5_quiet_begin();
        dop_matio_quiet();
        Mat_Close(s->mat);
        dop_h5_quiet_end(q);
    }
    free(s->conv);
    free(s->split);
    free(s);
}

static dop_status fail(dop_status status, dop_error *err, const char *name, const char *what)
{
    const char *detail = dop_matio_message();
    if (detail[0]) return dop_error_set(err, status, "%s: %s (libmatio: %s)", name, what, detail);
    return dop_error_set(err, status, "%s: %s", name, what);
}

static int write_scalar(mat_t *mat, const char *var_name, double value)
{
    size_t dims[2] = {1, 1};
    matvar_t *v = Mat_VarCreate(var_name, MAT_C_DOUBLE, MAT_T_DOUBLE, 2, dims, &value, MAT_F_DONT_COPY_DATA);
    if (!v) return -1;
    int rc = Mat_VarWrite(mat, v, MAT_COMPRESSION_NONE);
    Mat_VarFree(v);
    return rc;
}

/* Append n pulses (already in s->split) to iq; n may be 0 (an empty iq). */
static int append_iq(mat_sink *s, size_t n)
{
    const size_t G = (size_t)s->p.gates;
    size_t dims[2] = {n, G};
    mat_complex_split_t z = {s->split, s->split + n * G * s->elem};
    const int is_float = s->p.float_samples;
    matvar_t *v = Mat_VarCreate("iq", is_float ? MAT_C_SINGLE : MAT_C_INT16, is_float ? MAT_T_SINGLE : MAT_T_INT16, 2,
                                dims, &z, MAT_F_COMPLEX | MAT_F_DONT_COPY_DATA);
    if (!v) return -1;
    int rc = n > 0 ? Mat_VarWriteAppend(s->mat, v, MAT_COMPRESSION_NONE, 1) : Mat_VarWrite(s->mat, v, MAT_COMPRESSION_NONE);
    Mat_VarFree(v);
    return rc;
}

static dop_status open_mat_sink(const char *tmp_path, const char *name, const sim_sink_params *p, void **state,
                                dop_error *err)
{
    *state = NULL;
    if (p->gates < 1) return dop_error_set(err, DOP_ERR_INVALID_ARG, "%s: %ld gates", name, p->gates);
    mat_sink *s = calloc(1, sizeof *s);
    if (!s) return dop_error_set(err, DOP_ERR_NOMEM, "out of memory writing %s", name);
    s->name = name;
    s->p = *p;
    s->elem = p->float_samples ? 4 : 2;
    const size_t pulse_bytes = (size_t)p->gates * 2 * s->elem;
    s->block = APPEND_BYTES / pulse_bytes > 0 ? APPEND_BYTES / pulse_bytes : 1;
    s->conv = malloc(s->block * pulse_bytes);
    s->split = malloc(s->block * pulse_bytes);
    if (!s->conv || !s->split) {
        abort_mat(s);
        return dop_error_set(err, DOP_ERR_NOMEM, "out of memory writing %s", name);
    }
    dop_h5_quiet q = dop_h5_quiet_begin();
    dop_matio_quiet();
    dop_status status = DOP_OK;
    s->mat = Mat_CreateVer(tmp_path, MAT73_HEADER, MAT_FT_MAT73);
    if (!s->mat) {
        status = fail(DOP_ERR_IO, err, name, "cannot create the MAT v7.3 file");
    } else {
        const char *const names[] = {"prf_hz", "f0_hz", "angle_deg", "c_m_s", "diameter_mm"};
        const double values[] = {p->prf_hz, p->f0_hz, p->angle_deg, p->c_m_s, p->diameter_mm};
        for (int i = 0; i < 5 && status == DOP_OK; i++)
            if (isfinite(values[i]) && write_scalar(s->mat, names[i], values[i]) != 0)
                status = fail(DOP_ERR_IO, err, name, "cannot write the acquisition scalars");
    }
    dop_h5_quiet_end(q);
    if (status != DOP_OK) {
        abort_mat(s);
        return status;
    }
    *state = s;
    return DOP_OK;
}

/* Pulse-major interleaved (I, Q) to MATLAB's column-major real and
 * imaginary parts: element (p, g) at g * n + p. */
#define SPLIT(type)                                                                          \
    do {                                                                                     \
        const type *in = s->conv;                                                            \
        type *re = (type *)(void *)s->split, *im = re + k * G;                               \
        for (size_t p = 0; p < k; p++)                                                       \
            for (size_t g = 0; g < G; g++) {                                                 \
                re[g * k + p] = in[2 * (p * G + g)];                                         \
                im[g * k + p] = in[2 * (p * G + g) + 1];                                     \
            }                                                                                \
    } while (0)

static dop_status write_mat(void *state, const float complex *x, size_t n, int64_t *clipped, dop_error *err)
{
    mat_sink *s = state;
    const size_t G = (size_t)s->p.gates;
    for (size_t done = 0; done < n;) {
        size_t k = n - done < s->block ? n - done : s->block;
        sim_scale(&s->p, x + done * G, k * G, s->conv, clipped);
        if (s->p.float_samples) SPLIT(float);
        else SPLIT(int16_t);
        dop_h5_quiet q = dop_h5_quiet_begin();
        dop_matio_quiet();
        int rc = append_iq(s, k);
        dop_h5_quiet_end(q);
        if (rc != 0) return fail(DOP_ERR_IO, err, s->name, "write failed (libmatio)");
        s->written += (int64_t)k;
        done += k;
    }
    return DOP_OK;
}

static dop_status finish_mat(void *state, dop_error *err)
{
    mat_sink *s = state;
    dop_h5_quiet q = dop_h5_quiet_begin();
    dop_matio_quiet();
    dop_status status = DOP_OK;
    if (s->written == 0 && append_iq(s, 0) != 0) status = fail(DOP_ERR_IO, err, s->name, "cannot write an empty iq");
    if (Mat_Close(s->mat) != 0 && status == DOP_OK) status = fail(DOP_ERR_IO, err, s->name, "cannot finish the MAT file");
    s->mat = NULL;
    dop_h5_quiet_end(q);
    abort_mat(s);
    return status;
}

const sim_sink_ops sim_sink_mat = {"mat", ".mat", 1, open_mat_sink, write_mat, finish_mat, abort_mat};
