/* Vessel diameter over time from a CSV file (see include/dopflow/diameter.h).
 *
 * Parsed with libcsv (quoting, CR/LF/CRLF line ends, surrounding blanks);
 * the UTF-8 byte-order mark that spreadsheet programs write is skipped
 * here because libcsv would take it as part of the first column's name.
 * Diameter files are small (one row per measured frame or per beat), so
 * the whole track is kept in memory, growing by doubling. */
#include "dopflow/diameter.h"

#include <csv.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CSV_READ_BYTES (64 * 1024)
#define DIAMETER_MAX_MM 100.0 /* the same bound as dop_acquisition_validate */

struct dop_diameter_track {
    double *time_s;      /* strictly increasing, s */
    double *diameter_mm; /* (0, 100] mm */
    size_t count, capacity;
};

/* Parser state shared by the libcsv callbacks. The first failure is kept;
 * later callbacks do nothing. */
typedef struct csv_state {
    const char *path;
    dop_error *err;
    dop_status status;
    dop_diameter_track *track;
    size_t record;               /* 1-based record number; 1 is the header */
    size_t field;                /* 0-based field number in the record */
    long time_col, diameter_col; /* column indices, -1 = not (yet) found */
    int have_time, have_diameter;
    double time_s, diameter_mm;
} csv_state;

/* Copy a field (not NUL-terminated in general) without surrounding blanks. */
static void field_text(const void *data, size_t len, char *out, size_t size)
{
    const char *s = data ? data : "";
    while (len > 0 && (*s == ' ' || *s == '\t')) s++, len--;
    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\0')) len--;
    if (len >= size) len = size - 1;
    memcpy(out, s, len);
    out[len] = '\0';
}

static int parse_number(const char *text, double *out)
{
    if (!text[0]) return -1;
    char *end = NULL;
    errno = 0;
    double v = strtod(text, &end);
    if (end == text || *end != '\0' || errno == ERANGE || !isfinite(v)) return -1;
    *out = v;
    return 0;
}

static void on_field(void *data, size_t len, void *user)
{
    csv_state *st = user;
    if (st->status != DOP_OK) return;
    char text[128];
    field_text(data, len, text, sizeof text);
    long col = (long)st->field++;
    if (st->record == 1) {
        long *slot = strcasecmp(text, "time_s") == 0        ? &st->time_col
                     : strcasecmp(text, "diameter_mm") == 0 ? &st->diameter_col
                                                            : NULL;
        if (slot && *slot >= 0)
            st->status = dop_error_set(st->err, DOP_ERR_METADATA, "%s: column \"%s\" appears twice in the header",
                                       st->path, text);
        else if (slot)
            *slot = col;
        return;
    }
    if (col != st->time_col && col != st->diameter_col) return; /* extra column */
    double value;
    if (parse_number(text, &value) != 0) {
        st->status = dop_error_set(st->err, DOP_ERR_METADATA, "%s: row %zu: %s \"%s\" is not a number", st->path,
                                   st->record, col == st->time_col ? "time_s" : "diameter_mm", text);
        return;
    }
    if (col == st->time_col) {
        st->time_s = value;
        st->have_time = 1;
    } else {
        st->diameter_mm = value;
        st->have_diameter = 1;
    }
}

static int track_append(dop_diameter_track *t, double time_s, double diameter_mm)
{
    if (t->count == t->capacity) {
        size_t cap = t->capacity ? 2 * t->capacity : 64;
        double *times = realloc(t->time_s, cap * sizeof *times);
        if (!times) return -1;
        t->time_s = times;
        double *diameters = realloc(t->diameter_mm, cap * sizeof *diameters);
        if (!diameters) return -1;
        t->diameter_mm = diameters;
        t->capacity = cap;
    }
    t->time_s[t->count] = time_s;
    t->diameter_mm[t->count] = diameter_mm;
    t->count++;
    return 0;
}

static void on_record(int terminator, void *user)
{
    csv_state *st = user;
    size_t record = st->record++;
    size_t fields = st->field;
    st->field = 0;
    if (st->status != DOP_OK) return;
    if (record == 1) {
        if (st->time_col < 0 || st->diameter_col < 0)
            st->status = dop_error_set(st->err, DOP_ERR_METADATA,
                                       "%s: header must name the columns time_s and diameter_mm (missing %s)", st->path,
                                       st->time_col < 0 ? "time_s" : "diameter_mm");
        return;
    }
    if (!st->have_time || !st->have_diameter) {
        st->status = dop_error_set(st->err, DOP_ERR_METADATA, "%s: row %zu has %zu field%s; no value for %s", st->path,
                                   record, fields, fields == 1 ? "" : "s", !st->have_time ? "time_s" : "diameter_mm");
        return;
    }
    st->have_time = st->have_diameter = 0;
    if (!(st->diameter_mm > 0.0 && st->diameter_mm <= DIAMETER_MAX_MM)) {
        st->status = dop_error_set(st->err, DOP_ERR_METADATA, "%s: row %zu: diameter_mm = %g is outside (0, 100] mm",
                                   st->path, record, st->diameter_mm);
        return;
    }
    dop_diameter_track *t = st->track;
    if (t->count > 0 && !(st->time_s > t->time_s[t->count - 1])) {
        st->status = dop_error_set(st->err, DOP_ERR_METADATA,
                                   "%s: row %zu: time_s = %g does not increase (previous row %g); rows must be sorted by time",
                                   st->path, record, st->time_s, t->time_s[t->count - 1]);
        return;
    }
    if (track_append(t, st->time_s, st->diameter_mm) != 0)
        st->status = dop_error_set(st->err, DOP_ERR_NOMEM, "%s: out of memory", st->path);
}

dop_status dop_diameter_track_load(const char *csv_path, dop_diameter_track **out, dop_error *err)
{
    *out = NULL;
    dop_status status = DOP_OK;
    struct csv_parser parser;
    int parser_ready = 0;
    unsigned char *buf = NULL;
    dop_diameter_track *track = calloc(1, sizeof *track);
    FILE *file = fopen(csv_path, "rb");
    if (!file) {
        status = dop_error_set(err, DOP_ERR_IO, "%s: cannot open diameter file: %s", csv_path, strerror(errno));
        goto fail;
    }
    buf = malloc(CSV_READ_BYTES);
    if (!track || !buf) {
        status = dop_error_set(err, DOP_ERR_NOMEM, "%s: out of memory", csv_path);
        goto fail;
    }
    /* Strict: a stray quote inside an unquoted field, or an unterminated
     * quoted field at the end, is an error rather than a guess. */
    if (csv_init(&parser, CSV_STRICT | CSV_STRICT_FINI) != 0) {
        status = dop_error_set(err, DOP_ERR_NOMEM, "%s: out of memory", csv_path);
        goto fail;
    }
    parser_ready = 1;
    csv_state st = {.path = csv_path, .err = err, .status = DOP_OK, .track = track,
                    .record = 1, .time_col = -1, .diameter_col = -1};
    int first = 1;
    size_t n;
    while ((n = fread(buf, 1, CSV_READ_BYTES, file)) > 0) {
        const unsigned char *p = buf;
        if (first && n >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF) p += 3, n -= 3; /* UTF-8 BOM */
        first = 0;
        if (csv_parse(&parser, p, n, on_field, on_record, &st) != n) {
            status = dop_error_set(err, DOP_ERR_METADATA, "%s: malformed CSV near row %zu: %s", csv_path, st.record,
                                   csv_strerror(csv_error(&parser)));
            goto fail;
        }
        if (st.status != DOP_OK) break;
    }
    if (ferror(file)) {
        status = dop_error_set(err, DOP_ERR_IO, "%s: read error: %s", csv_path, strerror(errno));
        goto fail;
    }
    if (st.status == DOP_OK && csv_fini(&parser, on_field, on_record, &st) != 0) {
        status = dop_error_set(err, DOP_ERR_METADATA, "%s: malformed CSV at the end (unterminated quote?)", csv_path);
        goto fail;
    }
    status = st.status;
    if (status != DOP_OK) goto fail;
    if (st.record == 1) {
        status = dop_error_set(err, DOP_ERR_METADATA, "%s: empty; expected a header time_s,diameter_mm and rows", csv_path);
        goto fail;
    }
    if (track->count == 0) {
        status = dop_error_set(err, DOP_ERR_METADATA, "%s: has a header but no data rows", csv_path);
        goto fail;
    }
    csv_free(&parser);
    free(buf);
    fclose(file);
    *out = track;
    return DOP_OK;

fail:
    if (parser_ready) csv_free(&parser);
    free(buf);
    if (file) fclose(file);
    dop_diameter_track_destroy(track);
    return status;
}

double dop_diameter_track_at(double time_s, void *track)
{
    const dop_diameter_track *t = track;
    if (isnan(time_s) || !t || t->count == 0) return NAN;
    if (time_s <= t->time_s[0]) return t->diameter_mm[0];
    if (time_s >= t->time_s[t->count - 1]) return t->diameter_mm[t->count - 1];
    /* Binary search: the last row with time <= time_s. */
    size_t lo = 0, hi = t->count - 1; /* time_s[lo] <= time_s < time_s[hi] */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (t->time_s[mid] <= time_s) lo = mid;
        else hi = mid;
    }
    double frac = (time_s - t->time_s[lo]) / (t->time_s[hi] - t->time_s[lo]);
    return t->diameter_mm[lo] + frac * (t->diameter_mm[hi] - t->diameter_mm[lo]);
}

size_t dop_diameter_track_count(const dop_diameter_track *track) { return track ? track->count : 0; }

void dop_diameter_track_destroy(dop_diameter_track *track)
{
    if (!track) return;
    free(track->time_s);
    free(track->diameter_mm);
    free(track);
}
