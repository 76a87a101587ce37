/* USTB Ultrasound File Format (UFF) slow-time IQ: the beamformed data of a
 * uff.beamformed_data group, pixels as gates.
 *
 * The layout, as USTB writes it (UFF v1.2.0; USTB's MATLAB sources
 * +uff/write_object.m, +uff/read_object.m, +uff/index.m,
 * +uff/beamformed_data.m, +uff/channel_data.m and uff.m, by A.
 * Rodriguez-Molares and O. M. H. Rindal, https://www.ustb.no; the Python
 * port pyuff_ustb, github.com/magnusdk/pyuff_ustb, objects/uff.py, writes
 * the same):
 *  - an HDF5 file whose root has the attribute `version` ("v1.2.0");
 *  - every UFF object is a group with string attributes `class` (e.g.
 *    "uff.beamformed_data") and `name`, and numeric `size` ([1 1]) and
 *    `array` (0); each non-empty property is a child named after it;
 *  - a numeric property is a dataset with attributes class ("single",
 *    "double", "int16"), name, complex = 0 and imaginary = 0; a complex
 *    one is a group (class, name, complex = 1) holding datasets `real` and
 *    `imag` of the same shape. MATLAB writes them with h5create/h5write,
 *    so the HDF5 dimensions are MATLAB's reversed, and its trailing
 *    singleton dimensions are dropped;
 *  - uff.beamformed_data: `data` is [pixels x channels x waves x frames] in
 *    MATLAB, i.e. HDF5 (frames, waves, channels, pixels) with the pixels
 *    varying fastest; `scan` (uff.scan / uff.linear_scan / uff.sector_scan:
 *    pixel coordinates x, y, z in m, or the axes they are made from);
 *    optional `sequence` (uff.wave objects, each with sound_speed),
 *    `probe`, `pulse` (uff.pulse: center_frequency, Hz),
 *    `sampling_frequency` (depth), `modulation_frequency` (Hz, the
 *    demodulation frequency of IQ data) and `frame_rate` (frames per
 *    second; USTB's default is 1, meant for videos). The slow-time rate of
 *    Doppler ensembles has no field of its own in beamformed_data (the PRF
 *    lives in uff.channel_data.PRF).
 *
 * How dopflow reads it:
 *  - the group is cfg->variable (its path) or the first group, in name
 *    order, whose class is "uff.beamformed_data" (groups of other UFF
 *    classes are not searched inside);
 *  - gates are the pixels, flattened in file order (for a linear scan:
 *    depth fastest, then lateral), so --gate A:B picks a pixel or a run of
 *    pixels; the data must be channel-summed (1 channel);
 *  - slow time is the frames; a file with one frame and several waves (an
 *    ensemble beamformed per transmit event without compounding) is read
 *    with the waves as slow time, since each wave is then one pulse of the
 *    ensemble; several waves in each of several frames are refused
 *    (compound the waves, or store the ensemble as frames);
 *  - the PRF: cfg->raw_rate_hz if given, else the group's attribute prf_hz
 *    (dopflow's own, see sim_sink_uff.c), else frame_rate when the frames
 *    are the slow time and it is not USTB's default 1; otherwise the user
 *    must give --prf;
 *  - f0: attribute f0_hz, else pulse/center_frequency, else
 *    modulation_frequency (the Doppler shift follows the transmitted
 *    frequency; demodulation is normally at it); c: attribute c_m_s, else
 *    the first wave's sound_speed; angle_deg, diameter_mm: attributes;
 *  - int16 data (full scale 32768) are divided by 32768, floats taken as
 *    stored (USTB stores single). Real (RF) data are refused: Doppler needs
 *    IQ.
 * Pulses are read as hyperslabs of at most DOP_READER_BACKEND_BLOCK_BYTES
 * (real part, then imaginary part, interleaved into the output).
 * HDF5's error stack is never printed (lib_guard.h). */
#include "core/lib_guard.h"
#include "reader_backend.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define BEAMFORMED_CLASS "uff.beamformed_data"
/* Search limits against hostile files (links are followed as found). */
#define SEARCH_DEPTH 8
#define SEARCH_OBJECTS 10000
/* deflate cannot compress by more than 1032:1. */
#define DEFLATE_MAX_RATIO 1032.0
/* A compressed chunk is inflated whole by HDF5: refuse larger ones. */
#define MAX_FILTERED_CHUNK_BYTES (64u << 20)

typedef struct uff_reader {
    char *name;          /* file, for messages */
    char group[512];     /* path of the beamformed_data group */
    hid_t file, re, im, space;
    int rank;            /* 1 to 4 */
    int slow_dim;        /* HDF5 dimension of slow time, -1 for a single pulse */
    hsize_t pulses;
    long gate_first, gates;
    float scale;         /* 1/32768 for int16, 1 for floats */
    size_t block;        /* pulses per read */
    float *part;         /* block x gates values of one part (real or imag) */
    int64_t position;
} uff_reader;

/* A string attribute (fixed or variable length, one element) into out:
 * 1 read, 0 absent, -1 not a string. */
static int string_attribute(hid_t obj, const char *attr_name, char *out, size_t size)
{
    out[0] = '\0';
    if (H5Aexists(obj, attr_name) <= 0) return 0;
    hid_t attr = H5Aopen(obj, attr_name, H5P_DEFAULT);
    if (attr < 0) return -1;
    int result = -1;
    hid_t type = H5Aget_type(attr), space = H5Aget_space(attr);
    if (type >= 0 && space >= 0 && H5Tget_class(type) == H5T_STRING && dop_h5_type_sane(type) &&
        H5Sget_simple_extent_npoints(space) == 1) {
        if (H5Tis_variable_str(type) > 0) {
            char *s = NULL;
            hid_t mem = H5Tcopy(H5T_C_S1);
            /* Same character set as stored (h5py writes UTF-8): HDF5 does not convert between them. */
            if (mem >= 0 && H5Tset_size(mem, H5T_VARIABLE) >= 0 && H5Tset_cset(mem, H5Tget_cset(type)) >= 0 &&
                H5Aread(attr, mem, &s) >= 0) {
                snprintf(out, size, "%s", s ? s : "");
                result = 1;
            }
            if (s) H5free_memory(s);
            if (mem >= 0) H5Tclose(mem);
        } else {
            size_t n = H5Tget_size(type);
            char *buf = n > 0 && n <= 4096 ? calloc(1, n + 1) : NULL;
            if (buf && H5Aread(attr, type, buf) >= 0) {
                snprintf(out, size, "%s", buf); /* stops at a NUL (MATLAB's null-terminated strings) */
                result = 1;
            }
            free(buf);
        }
    }
    if (type >= 0) H5Tclose(type);
    if (space >= 0) H5Sclose(space);
    H5Aclose(attr);
    size_t len = strlen(out);
    while (len > 0 && out[len - 1] == ' ') out[--len] = '\0'; /* space-padded strings */
    return result;
}

/* A numeric scalar attribute: 1 read, 0 absent, -1 not a finite number. */
static int number_attribute(hid_t obj, const char *attr_name, double *value)
{
    if (H5Aexists(obj, attr_name) <= 0) return 0;
    hid_t attr = H5Aopen(obj, attr_name, H5P_DEFAULT);
    if (attr < 0) return -1;
    int result = -1;
    hid_t type = H5Aget_type(attr), space = H5Aget_space(attr);
    if (type >= 0 && space >= 0) {
        H5T_class_t cls = H5Tget_class(type);
        if ((cls == H5T_INTEGER || cls == H5T_FLOAT) && dop_h5_type_sane(type) &&
            H5Sget_simple_extent_npoints(space) == 1 && H5Aread(attr, H5T_NATIVE_DOUBLE, value) >= 0 &&
            isfinite(*value))
            result = 1;
    }
    if (type >= 0) H5Tclose(type);
    if (space >= 0) H5Sclose(space);
    H5Aclose(attr);
    return result;
}

/* 1 if `path` (relative to loc) names an object; intermediate groups may
 * be missing (H5Lexists alone fails then). */
static int path_exists(hid_t loc, const char *path)
{
    char part[256];
    size_t len = strlen(path);
    if (len >= sizeof part) return 0;
    for (size_t i = 1; i <= len; i++) {
        if (path[i] == '/' || path[i] == '\0') {
            memcpy(part, path, i);
            part[i] = '\0';
            if (H5Lexists(loc, part, H5P_DEFAULT) <= 0) return 0;
        }
    }
    return 1;
}

/* A numeric scalar dataset (UFF stores scalars as 1 x 1 arrays): 1 read,
 * 0 absent, -1 present but not one finite real number. */
static int number_dataset(hid_t loc, const char *path, double *value)
{
    if (!path_exists(loc, path)) return 0;
    hid_t dset = H5Dopen2(loc, path, H5P_DEFAULT);
    if (dset < 0) return -1; /* e.g. a complex (group) value */
    int result = -1;
    hid_t type = H5Dget_type(dset), space = H5Dget_space(dset);
    if (type >= 0 && space >= 0) {
        H5T_class_t cls = H5Tget_class(type);
        if ((cls == H5T_INTEGER || cls == H5T_FLOAT) && dop_h5_type_sane(type) &&
            H5Sget_simple_extent_npoints(space) == 1 &&
            H5Dread(dset, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, value) >= 0 && isfinite(*value))
            result = 1;
    }
    if (type >= 0) H5Tclose(type);
    if (space >= 0) H5Sclose(space);
    H5Dclose(dset);
    return result;
}

typedef struct group_search {
    char path[512];   /* current path; the result when found */
    int depth;
    long visited;
    int found;
} group_search;

static herr_t search_link(hid_t loc, const char *link_name, const H5L_info_t *info, void *data);

/* Look inside `group` (at s->path) for a beamformed_data group. */
static void search_group(hid_t group, group_search *s)
{
    if (s->depth >= SEARCH_DEPTH) return;
    s->depth++;
    hsize_t index = 0;
    H5Literate(group, H5_INDEX_NAME, H5_ITER_INC, &index, search_link, s);
    s->depth--;
}

static herr_t search_link(hid_t loc, const char *link_name, const H5L_info_t *info, void *data)
{
    (void)info;
    group_search *s = data;
    if (++s->visited > SEARCH_OBJECTS) return 1; /* give up: stop iterating */
    hid_t g = H5Gopen2(loc, link_name, H5P_DEFAULT);
    if (g < 0) return 0; /* a dataset (or a dangling link) */
    size_t len = strlen(s->path);
    int n = snprintf(s->path + len, sizeof s->path - len, "/%s", link_name);
    if (n < 0 || (size_t)n >= sizeof s->path - len) {
        s->path[len] = '\0';
        H5Gclose(g);
        return 0;
    }
    char cls[64];
    int has_class = string_attribute(g, "class", cls, sizeof cls);
    if (has_class == 1 && strcmp(cls, BEAMFORMED_CLASS) == 0) {
        s->found = 1;
    } else if (has_class == 0) {
        search_group(g, s); /* a plain container: look inside */
    }
    H5Gclose(g);
    if (s->found) return 1;
    s->path[len] = '\0';
    return 0;
}

static int find_beamformed(hid_t file, char *path, size_t size)
{
    group_search s;
    memset(&s, 0, sizeof s);
    hid_t root = H5Gopen2(file, "/", H5P_DEFAULT);
    if (root < 0) return 0;
    search_group(root, &s);
    H5Gclose(root);
    if (s.found) snprintf(path, size, "%s", s.path);
    return s.found;
}

static int probe_uff(const char *path)
{
    dop_h5_quiet q = dop_h5_quiet_begin();
    int found = 0;
    if (H5Fis_hdf5(path) > 0) {
        hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
        if (file >= 0) {
            char group[512];
            /* A top-level /iq is the native layout's (reader_iq_h5.c). */
            found = H5Lexists(file, "iq", H5P_DEFAULT) <= 0 && find_beamformed(file, group, sizeof group);
            H5Fclose(file);
        }
    }
    dop_h5_quiet_end(q);
    return found;
}

static void close_uff(void *state)
{
    uff_reader *u = state;
    if (!u) return;
    dop_h5_quiet q = dop_h5_quiet_begin();
    if (u->space >= 0) H5Sclose(u->space);
    if (u->re >= 0) H5Dclose(u->re);
    if (u->im >= 0) H5Dclose(u->im);
    if (u->file >= 0) H5Fclose(u->file);
    dop_h5_quiet_end(q);
    free(u->part);
    free(u->name);
    free(u);
}

/* Element type of the data: int16 (scaled), float32 or float64. */
static dop_status check_type(uff_reader *u, hid_t dset, const char *part, char *type_name, size_t size,
                             dop_error *err)
{
    hid_t type = H5Dget_type(dset);
    H5T_class_t cls = type >= 0 ? H5Tget_class(type) : H5T_NO_CLASS;
    size_t bytes = type >= 0 ? H5Tget_size(type) : 0;
    int is_signed = cls == H5T_INTEGER && H5Tget_sign(type) == H5T_SGN_2;
    int sane = dop_h5_type_sane(type);
    if (type >= 0) H5Tclose(type);
    if (!sane) cls = H5T_NO_CLASS; /* damaged: refused below */
    if (cls == H5T_INTEGER && bytes == 2 && is_signed) {
        u->scale = 1.0f / 32768.0f;
        snprintf(type_name, size, "int16");
        return DOP_OK;
    }
    if (cls == H5T_FLOAT && (bytes == 4 || bytes == 8)) {
        u->scale = 1.0f;
        snprintf(type_name, size, "%s", bytes == 4 ? "single" : "double");
        return DOP_OK;
    }
    return dop_error_set(err, DOP_ERR_FORMAT, "%s: %s/data/%s holds %zu-byte %s values; dopflow reads int16, single or "
                         "double", u->name, u->group, part, bytes,
                         cls == H5T_INTEGER ? "integer" : cls == H5T_FLOAT ? "floating-point" : "non-numeric");
}

/* A compressed chunk is read whole: its size must be bounded. */
static dop_status check_chunks(uff_reader *u, hid_t dset, size_t elem, dop_error *err)
{
    hid_t dcpl = H5Dget_create_plist(dset);
    if (dcpl < 0) return DOP_OK;
    dop_status status = DOP_OK;
    hsize_t chunk[H5S_MAX_RANK];
    int rank = H5Pget_layout(dcpl) == H5D_CHUNKED ? H5Pget_chunk(dcpl, H5S_MAX_RANK, chunk) : 0;
    if (rank > 0 && H5Pget_nfilters(dcpl) > 0) {
        double bytes = (double)elem;
        for (int i = 0; i < rank; i++) bytes *= (double)chunk[i];
        if (bytes > MAX_FILTERED_CHUNK_BYTES)
            status = dop_error_set(err, DOP_ERR_FORMAT, "%s: %s/data is compressed in chunks of %.0f MiB, too large to "
                                   "read in bounded memory (%u MiB at most)", u->name, u->group, bytes / 1048576.0,
                                   MAX_FILTERED_CHUNK_BYTES >> 20);
    }
    H5Pclose(dcpl);
    return status;
}

/* Open data/real and data/imag and map their dimensions. */
static dop_status open_data(uff_reader *u, hid_t group, const dop_reader_config *cfg, dop_reader_info *info,
                            dop_error *err)
{
    if (H5Lexists(group, "data", H5P_DEFAULT) <= 0)
        return dop_error_set(err, DOP_ERR_FORMAT, "%s: %s has no data (a uff.beamformed_data holds data [pixels x "
                             "channels x waves x frames])", u->name, u->group);
    hid_t data = H5Gopen2(group, "data", H5P_DEFAULT);
    if (data < 0)
        return dop_error_set(err, DOP_ERR_FORMAT, "%s: %s/data is real (a dataset, not a real/imag pair): Doppler "
                             "needs complex (IQ) beamformed data", u->name, u->group);
    double is_complex = 1.0;
    int has_flag = number_attribute(data, "complex", &is_complex);
    if (H5Lexists(data, "real", H5P_DEFAULT) > 0) u->re = H5Dopen2(data, "real", H5P_DEFAULT);
    if (H5Lexists(data, "imag", H5P_DEFAULT) > 0) u->im = H5Dopen2(data, "imag", H5P_DEFAULT);
    H5Gclose(data);
    if ((has_flag == 1 && is_complex == 0.0) || u->re < 0 || u->im < 0)
        return dop_error_set(err, DOP_ERR_FORMAT, "%s: %s/data is not complex: it needs datasets real and imag (USTB's "
                             "complex layout)", u->name, u->group);
    char type_name[16], imag_type[16];
    dop_status status = check_type(u, u->re, "real", type_name, sizeof type_name, err);
    if (status == DOP_OK) status = check_type(u, u->im, "imag", imag_type, sizeof imag_type, err);
    if (status != DOP_OK) return status;
    if (strcmp(type_name, imag_type) != 0)
        return dop_error_set(err, DOP_ERR_FORMAT, "%s: %s/data real is %s but imag is %s", u->name, u->group, type_name,
                             imag_type);
    size_t elem = strcmp(type_name, "int16") == 0 ? 2 : strcmp(type_name, "single") == 0 ? 4 : 8;
    if ((status = check_chunks(u, u->re, elem, err)) != DOP_OK || (status = check_chunks(u, u->im, elem, err)) != DOP_OK)
        return status;

    hsize_t dims[H5S_MAX_RANK], imag_dims[H5S_MAX_RANK];
    hid_t imag_space = H5Dget_space(u->im);
    u->space = H5Dget_space(u->re);
    u->rank = u->space >= 0 ? H5Sget_simple_extent_ndims(u->space) : -1;
    int imag_rank = imag_space >= 0 ? H5Sget_simple_extent_ndims(imag_space) : -1;
    int same = u->rank == imag_rank && u->rank >= 1 && u->rank <= H5S_MAX_RANK &&
               H5Sget_simple_extent_dims(u->space, dims, NULL) >= 0 &&
               H5Sget_simple_extent_dims(imag_space, imag_dims, NULL) >= 0 &&
               memcmp(dims, imag_dims, (size_t)u->rank * sizeof dims[0]) == 0;
    if (imag_space >= 0) H5Sclose(imag_space);
    if (u->rank < 1 || u->rank > 4)
        return dop_error_set(err, DOP_ERR_FORMAT, "%s: %s/data has rank %d; USTB beamformed data has at most 4 "
                             "dimensions [pixels x channels x waves x frames]", u->name, u->group, u->rank);
    if (!same)
        return dop_error_set(err, DOP_ERR_FORMAT, "%s: %s/data real and imag differ in shape", u->name, u->group);
    /* HDF5 holds MATLAB's [pixels x channels x waves x frames] reversed. */
    const int r = u->rank;
    const hsize_t pixels = dims[r - 1], channels = r >= 2 ? dims[r - 2] : 1, waves = r >= 3 ? dims[r - 3] : 1,
                  frames = r == 4 ? dims[0] : 1;
    if (pixels == 0 || channels == 0 || waves == 0 || frames == 0)
        return dop_error_set(err, DOP_ERR_FORMAT, "%s: %s/data is empty", u->name, u->group);
    if (channels > 1)
        return dop_error_set(err, DOP_ERR_FORMAT, "%s: %s/data has %llu channels per pixel (HDF5 dimensions are "
                             "MATLAB's [pixels x channels x waves x frames] reversed); dopflow reads channel-summed "
                             "data, 1 channel", u->name, u->group, (unsigned long long)channels);
    if (waves > 1 && frames > 1)
        return dop_error_set(err, DOP_ERR_FORMAT, "%s: %s/data has %llu waves in each of %llu frames; compound the "
                             "waves first, or store the Doppler ensemble as frames", u->name, u->group,
                             (unsigned long long)waves, (unsigned long long)frames);
    u->slow_dim = frames > 1 ? 0 : waves > 1 ? r - 3 : -1;
    u->pulses = frames * waves;
    /* At least 1/1032 of a byte per value (deflate's limit) must be in the
     * file: missing chunks read as zeros would let a small damaged file
     * claim days of samples. */
    struct stat st;
    const double values = 2.0 * (double)pixels * (double)u->pulses;
    if (stat(cfg->path, &st) == 0 && values > (double)st.st_size * DEFLATE_MAX_RATIO)
        return dop_error_set(err, DOP_ERR_FORMAT, "%s: %s/data declares %.0f values but the file has only %lld bytes "
                             "(damaged)", u->name, u->group, values, (long long)st.st_size);
    if (pixels > (hsize_t)LONG_MAX)
        return dop_error_set(err, DOP_ERR_FORMAT, "%s: %s/data has %llu pixels", u->name, u->group,
                             (unsigned long long)pixels);
    if ((status = dop_reader_gate_range(cfg, u->name, (long)pixels, &u->gate_first, &u->gates, err)) != DOP_OK)
        return status;
    if ((size_t)u->gates > DOP_READER_BACKEND_BLOCK_BYTES / (2 * sizeof(float)))
        return dop_error_set(err, DOP_ERR_FORMAT, "%s: %ld pixels per pulse is more than dopflow reads at once (%zu); "
                             "choose a region with gate_first and gate_last", u->name, u->gates,
                             (size_t)DOP_READER_BACKEND_BLOCK_BYTES / (2 * sizeof(float)));
    /* A block is read part by part into u->part (half the block bytes),
     * then interleaved into the caller's buffer. */
    u->block = DOP_READER_BACKEND_BLOCK_BYTES / ((size_t)u->gates * 2 * sizeof(float));
    if ((hsize_t)u->block > u->pulses) u->block = (size_t)u->pulses;
    u->part = malloc(u->block * (size_t)u->gates * sizeof *u->part);
    if (!u->part) return dop_error_set(err, DOP_ERR_NOMEM, "%s: out of memory", u->name);
    info->file_gates = (long)pixels;
    info->is_float = u->scale == 1.0f;
    char shape[128];
    snprintf(shape, sizeof shape, "%llu pixels x %llu channel x %llu waves x %llu frames", (unsigned long long)pixels,
             (unsigned long long)channels, (unsigned long long)waves, (unsigned long long)frames);
    snprintf(info->layout, sizeof info->layout, "%.32s/data complex %.6s [%.100s]", u->group, type_name, shape);
    return DOP_OK;
}

/* PRF and the acquisition values the file holds. */
static dop_status read_metadata(uff_reader *u, hid_t group, const dop_reader_config *cfg, dop_reader_info *info,
                                dop_error *err)
{
    static const char *const attrs[] = {"prf_hz", "f0_hz", "angle_deg", "c_m_s", "diameter_mm"};
    double a[5];
    for (int i = 0; i < 5; i++) {
        a[i] = NAN;
        if (number_attribute(group, attrs[i], &a[i]) < 0)
            return dop_error_set(err, DOP_ERR_FORMAT, "%s: attribute %s of %s is not a finite scalar number", u->name,
                                 attrs[i], u->group);
    }
    static const char *const sets[] = {"frame_rate", "pulse/center_frequency", "modulation_frequency",
                                       "sequence/sound_speed", "sequence/sequence_0001/sound_speed"};
    double d[5];
    for (int i = 0; i < 5; i++) {
        d[i] = NAN;
        if (number_dataset(group, sets[i], &d[i]) < 0)
            return dop_error_set(err, DOP_ERR_FORMAT, "%s: %s/%s is not a real scalar number", u->name, u->group, sets[i]);
    }
    info->file_acq.f0_hz = isfinite(a[1]) ? a[1] : d[1] > 0.0 ? d[1] : d[2] > 0.0 ? d[2] : NAN;
    info->file_acq.angle_deg = a[2];
    info->file_acq.c_m_s = isfinite(a[3]) ? a[3] : d[3] > 0.0 ? d[3] : d[4] > 0.0 ? d[4] : NAN;
    info->file_acq.diameter_mm = a[4];

    double prf = NAN;
    const int frames_are_slow = u->slow_dim == 0 && u->rank == 4;
    if (isfinite(cfg->raw_rate_hz)) prf = cfg->raw_rate_hz;
    else if (isfinite(a[0])) prf = a[0];
    else if (frames_are_slow && isfinite(d[0]) && d[0] != 1.0) prf = d[0];
    if (isnan(prf))
        return dop_error_set(err, DOP_ERR_FORMAT, "%s: %s has no pulse repetition frequency (no prf_hz attribute%s): "
                             "give prf_hz in Hz", u->name, u->group,
                             !frames_are_slow ? "; the slow time is the waves"
                             : d[0] == 1.0    ? "; frame_rate is 1, USTB's default, not a PRF"
                                              : ", no frame_rate");
    if (!(prf > 0.0) || !isfinite(prf))
        return dop_error_set(err, DOP_ERR_FORMAT, "%s: pulse repetition frequency %g Hz is not positive", u->name, prf);
    info->rate_hz = prf;
    return DOP_OK;
}

static dop_status open_uff_file(uff_reader *u, const dop_reader_config *cfg, dop_reader_info *info, dop_error *err)
{
    FILE *f = fopen(cfg->path, "rb");
    if (!f) return dop_error_set(err, DOP_ERR_IO, "%s: cannot open: %s", u->name, strerror(errno));
    fclose(f);
    if (H5Fis_hdf5(cfg->path) <= 0 || (u->file = H5Fopen(cfg->path, H5F_ACC_RDONLY, H5P_DEFAULT)) < 0)
        return dop_error_set(err, DOP_ERR_FORMAT, "%s: not a readable HDF5 file (UFF is HDF5; damaged or truncated?)",
                             u->name);
    if (cfg->variable && cfg->variable[0]) {
        snprintf(u->group, sizeof u->group, "%s%s", cfg->variable[0] == '/' ? "" : "/", cfg->variable);
        if (!path_exists(u->file, u->group))
            return dop_error_set(err, DOP_ERR_FORMAT, "%s: no group %s", u->name, u->group);
    } else if (!find_beamformed(u->file, u->group, sizeof u->group)) {
        return dop_error_set(err, DOP_ERR_FORMAT, "%s: no USTB uff.beamformed_data group (not a UFF file with "
                             "beamformed data)", u->name);
    }
    hid_t group = H5Gopen2(u->file, u->group, H5P_DEFAULT);
    if (group < 0) return dop_error_set(err, DOP_ERR_FORMAT, "%s: %s is not a group", u->name, u->group);
    char cls[64];
    dop_status status = DOP_OK;
    if (string_attribute(group, "class", cls, sizeof cls) != 1 || strcmp(cls, BEAMFORMED_CLASS) != 0)
        status = dop_error_set(err, DOP_ERR_FORMAT, "%s: %s is %s%s, not a uff.beamformed_data", u->name, u->group,
                               cls[0] ? "of class " : "a group without a class", cls);
    if (status == DOP_OK) status = open_data(u, group, cfg, info, err);
    if (status == DOP_OK) status = read_metadata(u, group, cfg, info, err);
    H5Gclose(group);
    if (status != DOP_OK) return status;

    char version[32];
    hid_t root = H5Gopen2(u->file, "/", H5P_DEFAULT);
    int has_version = root >= 0 && string_attribute(root, "version", version, sizeof version) == 1 && version[0];
    if (root >= 0) H5Gclose(root);
    snprintf(info->format, sizeof info->format, "USTB UFF%s%s", has_version ? " " : "", has_version ? version : "");
    info->file_channels = 2;
    info->channels = DOP_CHANNELS_IQ;
    info->frames = (int64_t)u->pulses;
    info->duration_s = (double)u->pulses / info->rate_hz;
    info->gates = u->gates;
    info->gate_first = u->gate_first;
    info->kind = DOP_INPUT_UFF;
    return DOP_OK;
}

static dop_status open_uff(const dop_reader_config *cfg, const char *name, dop_reader_info *info, void **state,
                           dop_error *err)
{
    *state = NULL;
    uff_reader *u = calloc(1, sizeof *u);
    if (!u) return dop_error_set(err, DOP_ERR_NOMEM, "%s: out of memory", name);
    u->file = u->re = u->im = u->space = H5I_INVALID_HID;
    u->name = strdup(name);
    if (!u->name) {
        free(u);
        return dop_error_set(err, DOP_ERR_NOMEM, "%s: out of memory", name);
    }
    dop_h5_quiet q = dop_h5_quiet_begin();
    dop_status status = open_uff_file(u, cfg, info, err);
    dop_h5_quiet_end(q);
    if (status != DOP_OK) {
        close_uff(u);
        return status;
    }
    *state = u;
    return DOP_OK;
}

/* n pulses (<= u->block) from the current position: the real parts to
 * the even floats of dst, the imaginary parts to the odd ones (pulse-major,
 * gate by gate). Each part is read contiguously and interleaved here: an
 * HDF5 memory selection with stride 2 is several times slower. */
static herr_t read_pulses(uff_reader *u, size_t n, float *dst)
{
    hsize_t start[4] = {0, 0, 0, 0}, count[4] = {1, 1, 1, 1};
    start[u->rank - 1] = (hsize_t)u->gate_first;
    count[u->rank - 1] = (hsize_t)u->gates;
    if (u->slow_dim >= 0) {
        start[u->slow_dim] = (hsize_t)u->position;
        count[u->slow_dim] = n;
    }
    const size_t values = n * (size_t)u->gates;
    herr_t rc = H5Sselect_hyperslab(u->space, H5S_SELECT_SET, start, NULL, count, NULL);
    /* The memory space has the selection's shape: HDF5 1.10 maps a
     * selection of another shape to the chunks element by element. */
    hid_t mem = rc < 0 ? H5I_INVALID_HID : H5Screate_simple(u->rank, count, NULL);
    for (int part = 0; part < 2 && mem >= 0 && rc >= 0; part++) {
        rc = H5Dread(part ? u->im : u->re, H5T_NATIVE_FLOAT, mem, u->space, H5P_DEFAULT, u->part);
        for (size_t i = 0; rc >= 0 && i < values; i++) dst[2 * i + (size_t)part] = u->part[i];
    }
    if (mem >= 0) H5Sclose(mem);
    return mem < 0 ? -1 : rc;
}

static dop_status read_uff(void *state, float complex *out, size_t max_pulses, size_t *count, dop_error *err)
{
    uff_reader *u = state;
    *count = 0;
    const size_t gates = (size_t)u->gates;
    while (*count < max_pulses && u->position < (int64_t)u->pulses) {
        size_t n = max_pulses - *count;
        if (n > u->block) n = u->block;
        if ((hsize_t)n > u->pulses - (hsize_t)u->position) n = (size_t)(u->pulses - (hsize_t)u->position);
        float *dst = (float *)(out + *count * gates);
        dop_h5_quiet q = dop_h5_quiet_begin();
        herr_t rc = read_pulses(u, n, dst);
        dop_h5_quiet_end(q);
        if (rc < 0)
            return dop_error_set(err, DOP_ERR_IO, "%s: cannot read %s/data pulses %lld to %lld (damaged file?)", u->name,
                                 u->group, (long long)u->position, (long long)u->position + (long long)n - 1);
        const size_t values = 2 * n * gates;
        const size_t i = dop_first_non_finite(dst, values);
        if (i < values) {
            const size_t k = i / (2 * gates);
            long long pulse = u->position + (long long)k;
            *count += k; /* the whole pulses before it are delivered */
            u->position += (int64_t)k;
            if (u->scale != 1.0f)
                for (size_t j = 0; j < 2 * k * gates; j++) dst[j] *= u->scale;
            return dop_error_set(err, DOP_ERR_FORMAT, "%s: %s/data pulse %lld pixel %ld (%s) is %s", u->name, u->group,
                                 pulse, u->gate_first + (long)(i / 2 % gates), i % 2 ? "imag" : "real",
                                 isnan(dst[i]) ? "NaN" : "infinite");
        }
        if (u->scale != 1.0f)
            for (size_t j = 0; j < values; j++) dst[j] *= u->scale;
        *count += n;
        u->position += (int64_t)n;
    }
    return DOP_OK;
}

static dop_status seek_uff(void *state, int64_t pulse, dop_error *err)
{
    uff_reader *u = state;
    return dop_reader_backend_seek(u->name, pulse, (int64_t)u->pulses, &u->position, err);
}

const dop_reader_backend dop_reader_backend_uff = {
    "uff", probe_uff, open_uff, read_uff, seek_uff, close_uff,
};
