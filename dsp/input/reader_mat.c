/* MATLAB .mat slow-time IQ, read through libmatio (v4, v5 compressed or
 * not, and v7.3, which is HDF5 underneath).
 *
 * The IQ variable (cfg->variable; by default the only numeric array of two
 * or more elements) may be, in MATLAB's dimension order (column-major, so
 * the pulses of one gate are contiguous):
 *   complex N x 1 or 1 x N   one gate, N pulses;
 *   complex N x G            pulses down the columns, G gates;
 *   real    N x 2            columns I and Q, one gate;
 *   real    N x G x 2        I in (:, :, 1), Q in (:, :, 2).
 * Classes int16 (full scale 32768: values / 32768), single and double (as
 * stored). A 1 x G complex row is one gate of G pulses, never one pulse.
 *
 * The pulse repetition frequency is cfg->raw_rate_hz when given (the
 * command line wins), else the scalar named cfg->rate_variable, else a
 * scalar `prf_hz`. Scalars f0_hz, angle_deg, c_m_s and diameter_mm fill
 * info->file_acq when present.
 *
 * Memory is bounded: blocks of at most DOP_READER_BACKEND_BLOCK_BYTES are
 * read with Mat_VarReadData / Mat_VarReadDataLinear, never the whole
 * variable. How fast depends on how the file stores it:
 *  - v7.3: HDF5 hyperslabs of the chunked dataset, fast;
 *  - v5/v4 uncompressed: one contiguous read per gate and block (linear
 *    reads; a strided 2-D read is some 100 times slower in libmatio);
 *  - v5 compressed (MATLAB's default `save`): libmatio inflates the
 *    variable from its start on every call, so reading costs O(N^2 / block):
 *    about 15 s for 64 MB of complex single. Save large recordings with
 *    `save -v7.3` (or -v6, uncompressed).
 *
 * A damaged file is refused before libmatio reads its data where that can
 * be told: a variable claiming more data than the file can hold (even
 * compressed), a v7.3 dataset with a damaged element type (HDF5 would read
 * out of bounds converting it). libmatio reports some failures only in its
 * log (a compressed stream that ends early reads as zeros): any message it
 * logs during a read is taken as a failure. Its log and HDF5's error stack
 * are kept from the terminal (lib_guard.h); the last libmatio message is
 * quoted in ours. */
#include "core/lib_guard.h"
#include "reader_backend.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <matio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* glibc defines CMPLXF only for gcc >= 4.7; clang has the same builtin. */
#if !defined(CMPLXF) && defined(__clang__)
#define CMPLXF(x, y) __builtin_complex((float)(x), (float)(y))
#endif

/* zlib cannot compress by more than 1032:1: a compressed variable that
 * claims more than this many times the file's size is damaged. */
#define ZLIB_MAX_RATIO 1032.0

typedef enum mat_layout {
    LAYOUT_COMPLEX,      /* complex N x G (G may be 1) */
    LAYOUT_COMPLEX_ROW,  /* complex 1 x N */
    LAYOUT_REAL_PAIRS    /* real N x 2 or N x G x 2 */
} mat_layout;

typedef struct mat_reader {
    char *name;            /* file, for messages */
    char *var_name;        /* the IQ variable */
    mat_t *mat;
    matvar_t *var;         /* its header (no data) */
    mat_layout layout;
    size_t pulses;         /* N */
    size_t file_gates;     /* G in the file */
    size_t gate_first, gates;
    enum matio_classes cls;
    size_t elem;           /* bytes per value of cls */
    int linear;            /* contiguous per-gate reads (uncompressed v4/v5) */
    size_t block;          /* pulses per read */
    unsigned char *buf;    /* 2 x block x gates values of cls: real parts, then imaginary */
    int64_t position;      /* next pulse */
} mat_reader;

static const char *class_name(enum matio_classes c)
{
    static const char *const names[] = {"empty", "cell", "struct", "object", "char", "sparse", "double",
                                        "single", "int8", "uint8", "int16", "uint16", "int32", "uint32",
                                        "int64", "uint64", "function", "opaque"};
    return (unsigned)c < sizeof names / sizeof names[0] ? names[c] : "unknown";
}

static int is_numeric_class(enum matio_classes c) { return c >= MAT_C_DOUBLE && c <= MAT_C_UINT64; }

/* Elements of a variable; SIZE_MAX if the product overflows. */
static size_t numel(const matvar_t *v)
{
    size_t n = 1;
    for (int i = 0; i < v->rank; i++) {
        if (v->dims[i] != 0 && n > SIZE_MAX / v->dims[i]) return SIZE_MAX;
        n *= v->dims[i];
    }
    return v->rank > 0 ? n : 0;
}

/* "6000 x 4" */
static void dims_text(const matvar_t *v, char *out, size_t size)
{
    size_t used = 0;
    out[0] = '\0';
    for (int i = 0; i < v->rank && used < size; i++) {
        int n = snprintf(out + used, size - used, "%s%zu", i ? " x " : "", v->dims[i]);
        if (n < 0) break;
        used += (size_t)n;
    }
}

/* "iq (complex single 6000 x 4)" */
static void describe_var(const matvar_t *v, char *out, size_t size)
{
    char dims[96];
    dims_text(v, dims, sizeof dims);
    snprintf(out, size, "%s (%s%s%s %s)", v->name ? v->name : "?", v->isComplex ? "complex " : "",
             v->isLogical ? "logical " : "", class_name(v->class_type), dims);
}

/* "name: what (libmatio: its last message)" */
static dop_status fail_matio(dop_status status, dop_error *err, const char *name, const char *what)
{
    const char *detail = dop_matio_message();
    if (detail[0]) return dop_error_set(err, status, "%s: %s (libmatio: %s)", name, what, detail);
    return dop_error_set(err, status, "%s: %s", name, what);
}

/* Walk the file's variables: count the numeric arrays of >= 2 elements,
 * keep the first one's name (*first, caller frees) and list them in `list`
 * ("iq (complex single 6000 x 4), ..."). Returns the count, -1 on no memory. */
static long scan_candidates(mat_t *mat, char **first, char *list, size_t list_size)
{
    long count = 0;
    size_t used = 0;
    list[0] = '\0';
    *first = NULL;
    Mat_Rewind(mat);
    matvar_t *v;
    while ((v = Mat_VarReadNextInfo(mat)) != NULL) {
        if (v->name && is_numeric_class(v->class_type) && !v->isLogical && numel(v) >= 2) {
            if (count == 0 && !(*first = strdup(v->name))) {
                Mat_VarFree(v);
                return -1;
            }
            count++;
            char one[160];
            describe_var(v, one, sizeof one);
            if (used < list_size) {
                int n = snprintf(list + used, list_size - used, "%s%s", used ? ", " : "", one);
                if (n > 0) used += (size_t)n;
            }
        }
        Mat_VarFree(v);
    }
    if (used >= list_size && list_size > 4) memcpy(list + list_size - 4, "...", 4);
    return count;
}

/* A real numeric scalar variable: 1 read into *value, 0 absent, -1 present
 * but not a finite real number (message in err). */
static int read_scalar(mat_reader *m, const char *var, double *value, dop_error *err)
{
    matvar_t *v = Mat_VarReadInfo(m->mat, var);
    if (!v) return 0;
    int result = -1;
    char what[160];
    describe_var(v, what, sizeof what);
    union {
        double d; float f; int8_t i8; uint8_t u8; int16_t i16; uint16_t u16;
        int32_t i32; uint32_t u32; int64_t i64; uint64_t u64;
    } x;
    const int scalar = is_numeric_class(v->class_type) && !v->isComplex && numel(v) == 1;
    int read_failed = 0;
    if (scalar) {
        dop_matio_quiet(); /* a message from the read is a failure (see read_mat) */
        read_failed = Mat_VarReadDataLinear(m->mat, v, &x, 0, 1, 1) != 0 || dop_matio_message()[0];
    }
    if (!scalar) {
        dop_error_set(err, DOP_ERR_FORMAT, "%s: variable %s must be a real numeric scalar", m->name, what);
    } else if (read_failed) {
        char failure[200];
        snprintf(failure, sizeof failure, "cannot read variable %s (damaged file?)", what);
        fail_matio(DOP_ERR_FORMAT, err, m->name, failure);
    } else {
        switch (v->class_type) {
        case MAT_C_DOUBLE: *value = x.d; break;
        case MAT_C_SINGLE: *value = x.f; break;
        case MAT_C_INT8: *value = x.i8; break;
        case MAT_C_UINT8: *value = x.u8; break;
        case MAT_C_INT16: *value = x.i16; break;
        case MAT_C_UINT16: *value = x.u16; break;
        case MAT_C_INT32: *value = x.i32; break;
        case MAT_C_UINT32: *value = x.u32; break;
        case MAT_C_INT64: *value = (double)x.i64; break;
        default: *value = (double)x.u64; break;
        }
        if (isfinite(*value))
            result = 1;
        else
            dop_error_set(err, DOP_ERR_FORMAT, "%s: variable %s is %s", m->name, var, isnan(*value) ? "NaN" : "infinite");
    }
    Mat_VarFree(v);
    return result;
}

/* The PRF and what the file says of the acquisition. */
static dop_status read_scalars(mat_reader *m, const dop_reader_config *cfg, dop_reader_info *info, dop_error *err)
{
    static const char *const names[] = {"f0_hz", "angle_deg", "c_m_s", "diameter_mm"};
    double *const targets[] = {&info->file_acq.f0_hz, &info->file_acq.angle_deg, &info->file_acq.c_m_s,
                               &info->file_acq.diameter_mm};
    for (int i = 0; i < 4; i++) {
        double v = NAN;
        if (read_scalar(m, names[i], &v, err) < 0) return DOP_ERR_FORMAT;
        *targets[i] = v;
    }
    double prf = NAN;
    if (isfinite(cfg->raw_rate_hz)) {
        prf = cfg->raw_rate_hz;
    } else if (cfg->rate_variable && cfg->rate_variable[0]) {
        int got = read_scalar(m, cfg->rate_variable, &prf, err);
        if (got < 0) return DOP_ERR_FORMAT;
        if (got == 0)
            return dop_error_set(err, DOP_ERR_FORMAT, "%s: no variable %s holding the PRF (rate_variable): give "
                                 "prf_hz in Hz or the name of a scalar variable", m->name, cfg->rate_variable);
    } else {
        int got = read_scalar(m, "prf_hz", &prf, err);
        if (got < 0) return DOP_ERR_FORMAT;
        if (got == 0)
            return dop_error_set(err, DOP_ERR_FORMAT, "%s: no pulse repetition frequency in the file (no scalar prf_hz): "
                                 "give prf_hz in Hz or a rate_variable naming one", m->name);
    }
    if (!(prf > 0.0) || !isfinite(prf))
        return dop_error_set(err, DOP_ERR_FORMAT, "%s: pulse repetition frequency %g Hz is not positive", m->name, prf);
    info->rate_hz = prf;
    return DOP_OK;
}

/* Check the IQ variable's class and shape; set layout, pulses, file_gates. */
static dop_status check_layout(mat_reader *m, dop_error *err)
{
    const matvar_t *v = m->var;
    char what[160];
    describe_var(v, what, sizeof what);
    if (v->class_type == MAT_C_SPARSE || !is_numeric_class(v->class_type) || v->isLogical)
        return dop_error_set(err, DOP_ERR_FORMAT, "%s: variable %s is not a numeric array; the IQ data must be int16, "
                             "single or double", m->name, what);
    if (v->class_type != MAT_C_INT16 && v->class_type != MAT_C_SINGLE && v->class_type != MAT_C_DOUBLE)
        return dop_error_set(err, DOP_ERR_FORMAT, "%s: variable %s: class %s is not read; the IQ data must be int16, "
                             "single or double", m->name, what, class_name(v->class_type));
    if (numel(v) == 0)
        return dop_error_set(err, DOP_ERR_FORMAT, "%s: variable %s is empty", m->name, what);
    if (v->isComplex && v->rank == 2) {
        if (v->dims[0] == 1 && v->dims[1] > 1) {
            m->layout = LAYOUT_COMPLEX_ROW;
            m->pulses = v->dims[1];
            m->file_gates = 1;
        } else {
            m->layout = LAYOUT_COMPLEX;
            m->pulses = v->dims[0];
            m->file_gates = v->dims[1];
        }
    } else if (!v->isComplex && v->rank == 2 && v->dims[1] == 2) {
        m->layout = LAYOUT_REAL_PAIRS;
        m->pulses = v->dims[0];
        m->file_gates = 1;
    } else if (!v->isComplex && v->rank == 3 && v->dims[2] == 2) {
        m->layout = LAYOUT_REAL_PAIRS;
        m->pulses = v->dims[0];
        m->file_gates = v->dims[1];
    } else {
        return dop_error_set(err, DOP_ERR_FORMAT, "%s: variable %s has an unusable shape; dopflow reads complex N x 1, "
                             "1 x N or N x G (pulses down the columns), or real N x 2 or N x G x 2 (I then Q)",
                             m->name, what);
    }
    if (m->pulses > INT_MAX || m->file_gates > INT_MAX)
        return dop_error_set(err, DOP_ERR_FORMAT, "%s: variable %s is larger than libmatio can index (%d per dimension)",
                             m->name, what, INT_MAX);
    return DOP_OK;
}

/* A file's declared data cannot be larger than what the file can hold: an
 * uncompressed variable needs at least one byte per value (MATLAB may store
 * a double array as uint8; libmatio does not tell the stored type before
 * reading), a compressed one at least 1/1032 of that. v7.3 (HDF5) may be
 * compressed; its chunks may also be missing altogether (read as zeros),
 * which no recording does and which would let a small damaged file claim
 * days of samples. */
static dop_status check_size(mat_reader *m, const char *path, dop_error *err)
{
    struct stat st;
    if (stat(path, &st) != 0) return DOP_OK;
    const int maybe_compressed = m->var->compression == MAT_COMPRESSION_ZLIB || Mat_GetVersion(m->mat) == MAT_FT_MAT73;
    double need = (double)numel(m->var) * (m->var->isComplex ? 2.0 : 1.0);
    double room = (double)st.st_size * (maybe_compressed ? ZLIB_MAX_RATIO : 1.0);
    if (need > room) {
        char what[160];
        describe_var(m->var, what, sizeof what);
        return dop_error_set(err, DOP_ERR_FORMAT, "%s: variable %s needs at least %.0f bytes of data but the file has "
                             "%lld bytes (truncated or damaged)", m->name, what, need, (long long)st.st_size);
    }
    return DOP_OK;
}

static void close_mat(void *state)
{
    mat_reader *m = state;
    if (!m) return;
    dop_h5_quiet q = dop_h5_quiet_begin();
    dop_matio_quiet();
    if (m->var) Mat_VarFree(m->var);
    if (m->mat) Mat_Close(m->mat);
    dop_h5_quiet_end(q);
    free(m->buf);
    free(m->var_name);
    free(m->name);
    free(m);
}

static int probe_mat(const char *path)
{
    /* v5 and v7.3 both start with a 116-byte text header "MATLAB ..." (v7.3
     * in the HDF5 user block); v4 files have no signature and are read
     * only when asked for (--format mat). */
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    char head[6];
    size_t n = fread(head, 1, sizeof head, f);
    fclose(f);
    return n == sizeof head && memcmp(head, "MATLAB", 6) == 0;
}

typedef struct type_check {
    char bad[64]; /* the first dataset whose element type is damaged */
    long seen;
} type_check;

static herr_t check_one_type(hid_t loc, const char *link_name, const H5L_info_t *info, void *data)
{
    (void)info;
    type_check *c = data;
    if (++c->seen > 100000) return 1; /* enough: libmatio would take long over such a file anyway */
    hid_t dset = H5Dopen2(loc, link_name, H5P_DEFAULT);
    if (dset < 0) return 0; /* a struct or cell (group): not read here */
    hid_t type = H5Dget_type(dset);
    if (!dop_h5_type_sane(type)) snprintf(c->bad, sizeof c->bad, "%s", link_name);
    if (type >= 0) H5Tclose(type);
    H5Dclose(dset);
    return c->bad[0] ? 1 : 0;
}

/* A v7.3 file is HDF5: libmatio reads its top-level datasets (the
 * variables) with conversions HDF5 does not guard against damaged element
 * types, so check them first. */
static dop_status check_v73_types(mat_reader *m, const char *path, dop_error *err)
{
    if (H5Fis_hdf5(path) <= 0) return DOP_OK; /* libmatio will say what is wrong */
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (file < 0) return DOP_OK;
    type_check c;
    memset(&c, 0, sizeof c);
    hsize_t index = 0;
    H5Literate(file, H5_INDEX_NAME, H5_ITER_INC, &index, check_one_type, &c);
    H5Fclose(file);
    if (c.bad[0])
        return dop_error_set(err, DOP_ERR_FORMAT, "%s: variable %s has a damaged element type", m->name, c.bad);
    return DOP_OK;
}

static dop_status open_mat_file(mat_reader *m, const dop_reader_config *cfg, dop_reader_info *info, dop_error *err)
{
    FILE *f = fopen(cfg->path, "rb");
    if (!f) return dop_error_set(err, DOP_ERR_IO, "%s: cannot open: %s", m->name, strerror(errno));
    fclose(f);
    m->mat = Mat_Open(cfg->path, MAT_ACC_RDONLY);
    /* libmatio 1.5.23 returns a v7.3 file whose HDF5 part it could not
     * open (only logging why): a message here is a failure too. */
    if (!m->mat || dop_matio_message()[0])
        return fail_matio(DOP_ERR_FORMAT, err, m->name,
                          "not a MATLAB .mat file libmatio can read (damaged or truncated?)");
    if (Mat_GetVersion(m->mat) == MAT_FT_MAT73) {
        dop_status status = check_v73_types(m, cfg->path, err);
        if (status != DOP_OK) return status;
    }

    /* The IQ variable: named, or the only numeric array of >= 2 elements. */
    char list[400];
    if (cfg->variable && cfg->variable[0]) {
        m->var_name = strdup(cfg->variable);
        if (!m->var_name) return dop_error_set(err, DOP_ERR_NOMEM, "%s: out of memory", m->name);
    } else {
        long count = scan_candidates(m->mat, &m->var_name, list, sizeof list);
        if (count < 0) return dop_error_set(err, DOP_ERR_NOMEM, "%s: out of memory", m->name);
        if (count == 0)
            return fail_matio(DOP_ERR_FORMAT, err, m->name, "has no numeric array of 2 or more elements to read as IQ");
        if (count > 1)
            return dop_error_set(err, DOP_ERR_FORMAT, "%s: has %ld numeric arrays: %s; choose the IQ one with "
                                 "variable = NAME", m->name, count, list);
    }
    m->var = Mat_VarReadInfo(m->mat, m->var_name);
    if (!m->var) {
        char *first = NULL;
        long count = scan_candidates(m->mat, &first, list, sizeof list);
        free(first);
        return dop_error_set(err, DOP_ERR_FORMAT, "%s: no variable %s (numeric arrays in the file: %s)", m->name,
                             m->var_name, count > 0 ? list : "none");
    }
    dop_status status = check_layout(m, err);
    if (status == DOP_OK) status = check_size(m, cfg->path, err);
    if (status != DOP_OK) return status;
    long first = 0, count = 0;
    if ((status = dop_reader_gate_range(cfg, m->name, (long)m->file_gates, &first, &count, err)) != DOP_OK)
        return status;
    m->gate_first = (size_t)first;
    m->gates = (size_t)count;

    /* The scalars, then the IQ header again: reading other variables moves
     * libmatio's position in a v5 file. */
    Mat_VarFree(m->var);
    m->var = NULL;
    if ((status = read_scalars(m, cfg, info, err)) != DOP_OK) return status;
    m->var = Mat_VarReadInfo(m->mat, m->var_name);
    if (!m->var) return fail_matio(DOP_ERR_FORMAT, err, m->name, "cannot read the IQ variable's header again");

    m->cls = m->var->class_type;
    m->elem = m->cls == MAT_C_INT16 ? 2 : m->cls == MAT_C_SINGLE ? 4 : 8;
    const enum mat_ft version = Mat_GetVersion(m->mat);
    /* Linear reads index with an int: fine for any uncompressed v4/v5
     * variable (a v5 variable is at most 2^31 bytes). */
    m->linear = version != MAT_FT_MAT73 && m->var->compression != MAT_COMPRESSION_ZLIB &&
                numel(m->var) <= (size_t)INT_MAX;
    const size_t pulse_bytes = 2 * m->gates * m->elem;
    if (pulse_bytes > DOP_READER_BACKEND_BLOCK_BYTES)
        return dop_error_set(err, DOP_ERR_FORMAT, "%s: %zu gates per pulse is more than dopflow reads at once (%zu); "
                             "choose fewer with gate_first and gate_last", m->name, m->gates,
                             (size_t)DOP_READER_BACKEND_BLOCK_BYTES / (2 * m->elem));
    m->block = DOP_READER_BACKEND_BLOCK_BYTES / pulse_bytes;
    if (m->block > m->pulses) m->block = m->pulses;
    m->buf = malloc(m->block * pulse_bytes);
    if (!m->buf) return dop_error_set(err, DOP_ERR_NOMEM, "%s: out of memory", m->name);

    info->file_channels = 2;
    info->channels = DOP_CHANNELS_IQ;
    info->frames = (int64_t)m->pulses;
    info->duration_s = (double)m->pulses / info->rate_hz;
    info->is_float = m->cls != MAT_C_INT16;
    info->gates = (long)m->gates;
    info->file_gates = (long)m->file_gates;
    info->gate_first = (long)m->gate_first;
    info->kind = DOP_INPUT_MAT;
    snprintf(info->format, sizeof info->format, "%s (matio)",
             version == MAT_FT_MAT73 ? "MATLAB 7.3" : version == MAT_FT_MAT5 ? "MATLAB 5.0" : "MATLAB 4");
    char dims[96];
    dims_text(m->var, dims, sizeof dims);
    snprintf(info->layout, sizeof info->layout, "%s %s %s (%s)%s", m->var_name, m->var->isComplex ? "complex" : "real",
             class_name(m->cls), dims, m->var->compression == MAT_COMPRESSION_ZLIB ? ", compressed" : "");
    return DOP_OK;
}

static dop_status open_mat(const dop_reader_config *cfg, const char *name, dop_reader_info *info, void **state,
                           dop_error *err)
{
    *state = NULL;
    mat_reader *m = calloc(1, sizeof *m);
    if (!m) return dop_error_set(err, DOP_ERR_NOMEM, "%s: out of memory", name);
    m->name = strdup(name);
    if (!m->name) {
        free(m);
        return dop_error_set(err, DOP_ERR_NOMEM, "%s: out of memory", name);
    }
    dop_h5_quiet q = dop_h5_quiet_begin();
    dop_matio_quiet();
    dop_status status = open_mat_file(m, cfg, info, err);
    dop_h5_quiet_end(q);
    if (status != DOP_OK) {
        close_mat(m);
        return status;
    }
    *state = m;
    return DOP_OK;
}

/* n pulses from p0 of the selected gates into m->buf: n x gates real parts
 * (gate by gate, each n long), then as many imaginary parts (Q). */
static int read_block(mat_reader *m, size_t p0, size_t n)
{
    const size_t G = m->gates, half = n * G * m->elem;
    unsigned char *re = m->buf, *im = m->buf + half;
    if (m->linear) {
        /* Column-major: the pulses of one gate (and one of I, Q) are contiguous. */
        for (size_t g = 0; g < G; g++) {
            const size_t gf = m->gate_first + g, at = g * n * m->elem;
            if (m->layout == LAYOUT_REAL_PAIRS) {
                for (size_t c = 0; c < 2; c++) {
                    size_t start = c * m->pulses * m->file_gates + gf * m->pulses + p0;
                    if (Mat_VarReadDataLinear(m->mat, m->var, (c ? im : re) + at, (int)start, 1, (int)n) != 0) return -1;
                }
            } else {
                mat_complex_split_t z = {re + at, im + at};
                if (Mat_VarReadDataLinear(m->mat, m->var, &z, (int)(gf * m->pulses + p0), 1, (int)n) != 0) return -1;
            }
        }
        return 0;
    }
    int start[3] = {(int)p0, (int)m->gate_first, 0}, stride[3] = {1, 1, 1}, edge[3] = {(int)n, (int)G, 2};
    if (m->layout == LAYOUT_COMPLEX_ROW) {
        start[0] = 0, start[1] = (int)p0, edge[0] = 1, edge[1] = (int)n;
    } else if (m->layout == LAYOUT_REAL_PAIRS && m->var->rank == 2) {
        start[1] = 0, edge[1] = 2; /* N x 2: I column then Q column */
    }
    if (m->layout == LAYOUT_REAL_PAIRS) return Mat_VarReadData(m->mat, m->var, re, start, stride, edge) != 0 ? -1 : 0;
    mat_complex_split_t z = {re, im};
    return Mat_VarReadData(m->mat, m->var, &z, start, stride, edge) != 0 ? -1 : 0;
}

/* The block in m->buf (n pulses) to pulse-major complex samples. */
static void convert_block(const mat_reader *m, size_t n, float complex *o)
{
    const size_t G = m->gates, half = n * G;
    if (m->cls == MAT_C_INT16) {
        const int16_t *re = (const int16_t *)(const void *)m->buf, *im = re + half;
        for (size_t k = 0; k < n; k++)
            for (size_t g = 0; g < G; g++)
                o[k * G + g] = CMPLXF((float)re[g * n + k] * (1.0f / 32768.0f), (float)im[g * n + k] * (1.0f / 32768.0f));
    } else if (m->cls == MAT_C_SINGLE) {
        const float *re = (const float *)(const void *)m->buf, *im = re + half;
        for (size_t k = 0; k < n; k++)
            for (size_t g = 0; g < G; g++) o[k * G + g] = CMPLXF(re[g * n + k], im[g * n + k]);
    } else { /* double: a value beyond single precision becomes infinite and is refused below */
        const double *re = (const double *)(const void *)m->buf, *im = re + half;
        for (size_t k = 0; k < n; k++)
            for (size_t g = 0; g < G; g++) o[k * G + g] = CMPLXF((float)re[g * n + k], (float)im[g * n + k]);
    }
}

static dop_status read_mat(void *state, float complex *out, size_t max_pulses, size_t *count, dop_error *err)
{
    mat_reader *m = state;
    *count = 0;
    const size_t G = m->gates;
    while (*count < max_pulses && m->position < (int64_t)m->pulses) {
        size_t n = max_pulses - *count;
        if (n > m->block) n = m->block;
        if (n > m->pulses - (size_t)m->position) n = m->pulses - (size_t)m->position;
        const size_t p0 = (size_t)m->position;
        dop_h5_quiet q = dop_h5_quiet_begin();
        dop_matio_quiet();
        int rc = read_block(m, p0, n);
        /* libmatio reports some failures (a compressed stream that ends
         * early) only in its log, returning zeros: a message is a failure. */
        if (dop_matio_message()[0]) rc = -1;
        dop_h5_quiet_end(q);
        if (rc != 0) {
            char what[160];
            snprintf(what, sizeof what, "cannot read %s pulses %zu to %zu (truncated or damaged file?)", m->var_name, p0,
                     p0 + n - 1);
            return fail_matio(DOP_ERR_IO, err, m->name, what);
        }
        float complex *o = out + *count * G;
        convert_block(m, n, o);
        if (m->cls != MAT_C_INT16) {
            const float *x = (const float *)o;
            const size_t values = 2 * n * G;
            const size_t i = dop_first_non_finite(x, values);
            if (i < values) {
                const size_t k = i / (2 * G);
                m->position += (int64_t)k; /* the whole pulses before it are delivered */
                *count += k;
                return dop_error_set(err, DOP_ERR_FORMAT, "%s: %s pulse %zu gate %zu (%s) is %s", m->name, m->var_name,
                                     p0 + k, m->gate_first + i / 2 % G, i % 2 ? "Q" : "I",
                                     isnan(x[i]) ? "NaN" : "infinite (or beyond single precision)");
            }
        }
        *count += n;
        m->position += (int64_t)n;
    }
    return DOP_OK;
}

static dop_status seek_mat(void *state, int64_t pulse, dop_error *err)
{
    mat_reader *m = state;
    return dop_reader_backend_seek(m->name, pulse, (int64_t)m->pulses, &m->position, err);
}

const dop_reader_backend dop_reader_backend_mat = {
    "mat", probe_mat, open_mat, read_mat, seek_mat, close_mat,
};
