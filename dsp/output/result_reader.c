/* The result reader (see result_reader.h): columns of a dopflow result from
 * its HDF5 file (HDF5's C library) or its CSV files (libcsv), for the
 * figures and the study. */
#include "dopflow/result_reader.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <csv.h>
#include <hdf5.h>

/* ---- HDF5 ---------------------------------------------------------------- */

dop_status dop_result_h5_open(const char *path, int64_t *file_id, dop_error *err)
{
    *file_id = H5I_INVALID_HID;
    FILE *probe = fopen(path, "rb");
    if (!probe) return dop_error_set(err, DOP_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    fclose(probe);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    if (H5Fis_hdf5(path) <= 0)
        return dop_error_set(err, DOP_ERR_FORMAT, "%s: not an HDF5 file (expected an HDF5 result of dopflow)",
                             path);
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (file < 0) return dop_error_set(err, DOP_ERR_FORMAT, "%s: cannot open as HDF5", path);
    *file_id = file;
    return DOP_OK;
}

void dop_result_h5_close(int64_t file_id)
{
    if (file_id >= 0) H5Fclose((hid_t)file_id);
}

/* Does the link "a/b/c" exist, checking each level (H5Lexists fails on a
 * missing intermediate group)? */
static int h5_path_exists(hid_t file, const char *name)
{
    char partial[256];
    size_t len = strlen(name);
    if (len >= sizeof partial) return 0;
    for (size_t i = 1; i <= len; i++) {
        if (name[i] != '/' && name[i] != '\0') continue;
        memcpy(partial, name, i);
        partial[i] = '\0';
        if (H5Lexists(file, partial, H5P_DEFAULT) <= 0) return 0;
    }
    return 1;
}

dop_status dop_result_h5_read_doubles(int64_t file_id, const char *h5_path, const char *name, double **out,
                                size_t *n, dop_error *err)
{
    *out = NULL;
    *n = 0;
    hid_t file = (hid_t)file_id;
    if (!h5_path_exists(file, name))
        return dop_error_set(err, DOP_ERR_FORMAT, "%s: no /%s dataset (expected an HDF5 result of dopflow)",
                             h5_path, name);
    dop_status status = DOP_OK;
    hid_t dset = H5Dopen2(file, name, H5P_DEFAULT);
    hid_t space = dset >= 0 ? H5Dget_space(dset) : H5I_INVALID_HID;
    if (space < 0 || H5Sget_simple_extent_ndims(space) != 1) {
        status = dop_error_set(err, DOP_ERR_FORMAT, "%s: /%s is not a 1-D dataset", h5_path, name);
        goto done;
    }
    hsize_t dims[1] = {0};
    H5Sget_simple_extent_dims(space, dims, NULL);
    double *values = malloc((size_t)(dims[0] ? dims[0] : 1) * sizeof *values);
    if (!values) {
        status = dop_error_set(err, DOP_ERR_NOMEM, "%s: out of memory reading /%s", h5_path, name);
        goto done;
    }
    if (dims[0] > 0 && H5Dread(dset, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, values) < 0) {
        free(values);
        status = dop_error_set(err, DOP_ERR_HDF5, "%s: cannot read /%s", h5_path, name);
        goto done;
    }
    *out = values;
    *n = (size_t)dims[0];
done:
    if (space >= 0) H5Sclose(space);
    if (dset >= 0) H5Dclose(dset);
    return status;
}

dop_status dop_result_h5_read_column(int64_t file_id, const char *h5_path, dop_result_kind kind, int column,
                               double **out, size_t *n, dop_error *err)
{
    char name[128];
    dop_result_h5_path(kind, column, name, sizeof name);
    return dop_result_h5_read_doubles(file_id, h5_path, name + 1, out, n, err); /* relative to the root */
}

/* ---- CSV (libcsv) -------------------------------------------------------- */

typedef struct csv_state {
    const char *path;
    dop_result_csv_row_fn row_fn;
    void *user;
    dop_error *err;
    dop_status status;
    char **fields;              /* current record */
    size_t count, capacity;
    size_t row;
} csv_state;

static void on_csv_field(void *data, size_t len, void *user)
{
    csv_state *st = user;
    if (st->status != DOP_OK) return;
    if (st->count == st->capacity) {
        size_t cap = st->capacity ? 2 * st->capacity : 16;
        char **grown = realloc(st->fields, cap * sizeof *grown);
        if (!grown) {
            st->status = dop_error_set(st->err, DOP_ERR_NOMEM, "%s: out of memory", st->path);
            return;
        }
        for (size_t i = st->capacity; i < cap; i++) grown[i] = NULL;
        st->fields = grown;
        st->capacity = cap;
    }
    char *copy = realloc(st->fields[st->count], len + 1);
    if (!copy) {
        st->status = dop_error_set(st->err, DOP_ERR_NOMEM, "%s: out of memory", st->path);
        return;
    }
    if (len) memcpy(copy, data, len);
    copy[len] = '\0';
    st->fields[st->count++] = copy;
}

static void on_csv_record(int terminator, void *user)
{
    (void)terminator;
    csv_state *st = user;
    if (st->status == DOP_OK && st->count > 0) {
        /* A blank line gives one empty field: skip it. */
        if (!(st->count == 1 && st->fields[0][0] == '\0'))
            st->status = st->row_fn((const char *const *)st->fields, st->count, st->row++, st->user, st->err);
    }
    st->count = 0;
}

dop_status dop_result_csv_read(const char *path, dop_result_csv_row_fn row, void *user, dop_error *err)
{
    FILE *in = fopen(path, "rb");
    if (!in) return dop_error_set(err, DOP_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct csv_parser parser;
    if (csv_init(&parser, CSV_APPEND_NULL) != 0) {
        fclose(in);
        return dop_error_set(err, DOP_ERR_NOMEM, "%s: out of memory", path);
    }
    csv_state st = {.path = path, .row_fn = row, .user = user, .err = err, .status = DOP_OK};
    char buf[65536];
    size_t n;
    while (st.status == DOP_OK && (n = fread(buf, 1, sizeof buf, in)) > 0) {
        if (csv_parse(&parser, buf, n, on_csv_field, on_csv_record, &st) != n && st.status == DOP_OK)
            st.status = dop_error_set(err, DOP_ERR_FORMAT, "%s: not valid CSV near row %zu (%s)", path, st.row + 1,
                                      csv_strerror(csv_error(&parser)));
    }
    if (st.status == DOP_OK && ferror(in))
        st.status = dop_error_set(err, DOP_ERR_IO, "%s: read error: %s", path, strerror(errno));
    if (st.status == DOP_OK) csv_fini(&parser, on_csv_field, on_csv_record, &st);
    csv_free(&parser);
    fclose(in);
    for (size_t i = 0; i < st.capacity; i++) free(st.fields[i]);
    free(st.fields);
    if (st.status == DOP_OK && st.row == 0)
        return dop_error_set(err, DOP_ERR_FORMAT, "%s: empty file (no header line)", path);
    return st.status;
}

int dop_result_csv_column(const char *const *fields, size_t count, const char *name)
{
    for (size_t i = 0; i < count; i++) {
        const char *f = fields[i];
        while (*f == ' ') f++;
        size_t len = strlen(f);
        while (len > 0 && (f[len - 1] == ' ' || f[len - 1] == '\r')) len--;
        if (len == strlen(name) && strncmp(f, name, len) == 0) return (int)i;
    }
    return -1;
}

int dop_result_csv_column_of(const char *const *fields, size_t count, dop_result_kind kind, int column)
{
    const dop_result_column *c = dop_result_column_of(kind, column);
    return c && c->csv_name ? dop_result_csv_column(fields, count, c->csv_name) : -1;
}

double dop_result_csv_number(const char *text)
{
    if (!text) return NAN;
    while (*text == ' ') text++;
    if (!*text) return NAN;
    char *end = NULL;
    double v = strtod(text, &end);
    while (end && (*end == ' ' || *end == '\r')) end++;
    if (end == text || (end && *end) || !isfinite(v)) return NAN;
    return v;
}
