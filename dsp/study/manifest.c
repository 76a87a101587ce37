/* Study manifests (see include/dopflow/manifest.h).
 *
 * The file is read one physical line at a time with getline() and fed to
 * libcsv, so that the line where each record starts is known exactly even
 * when quoted fields contain line breaks. Strings live in one arena; names
 * (subjects, conditions, arteries) are interned in an open-addressing hash
 * table and duplicate rows are found with a second one, so a manifest of
 * 10^6 rows reads in linear time. */
#include "dopflow/manifest.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <csv.h>
#include <nettle/sha2.h>

#include "core/fs.h"

/* ---- arena: strings that live as long as the manifest ---- */

typedef struct arena_chunk {
    struct arena_chunk *next;
    size_t used, cap;
    char data[];
} arena_chunk;

static char *arena_strndup(arena_chunk **head, const char *s, size_t n)
{
    arena_chunk *c = *head;
    if (!c || c->cap - c->used < n + 1) {
        size_t cap = n + 1 > (1u << 20) ? n + 1 : (1u << 20);
        c = malloc(sizeof *c + cap);
        if (!c) return NULL;
        c->next = *head;
        c->used = 0;
        c->cap = cap;
        *head = c;
    }
    char *p = c->data + c->used;
    memcpy(p, s, n);
    p[n] = '\0';
    c->used += n + 1;
    return p;
}

static void arena_free(arena_chunk *head)
{
    while (head) {
        arena_chunk *next = head->next;
        free(head);
        head = next;
    }
}

/* FNV-1a, 64 bit: fast and good enough for table slots. */
static uint64_t hash_bytes(const char *s, size_t n, uint64_t h)
{
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h;
}
#define HASH_SEED 14695981039346656037ull

static uint64_t hash_mix(uint64_t h, uint64_t v)
{
    h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    return h * 0xff51afd7ed558ccdull;
}

/* ---- interned names ---- */

typedef struct name_slot {
    uint64_t hash;
    size_t id_plus1; /* 0 = empty */
} name_slot;

typedef struct name_table {
    char **names;
    size_t count, cap;
    name_slot *slots;
    size_t mask; /* slots - 1, a power of two minus one */
} name_table;

static int name_table_grow_slots(name_table *t)
{
    size_t n = t->slots ? (t->mask + 1) * 2 : 64;
    name_slot *slots = calloc(n, sizeof *slots);
    if (!slots) return -1;
    if (t->slots) {
        for (size_t i = 0; i <= t->mask; i++) {
            if (!t->slots[i].id_plus1) continue;
            size_t j = t->slots[i].hash & (n - 1);
            while (slots[j].id_plus1) j = (j + 1) & (n - 1);
            slots[j] = t->slots[i];
        }
        free(t->slots);
    }
    t->slots = slots;
    t->mask = n - 1;
    return 0;
}

/* Id of name (added when new); (size_t)-1 on no memory. */
static size_t name_table_intern(name_table *t, arena_chunk **arena, const char *s, size_t n)
{
    if (!t->slots || (t->count + 1) * 2 > t->mask + 1)
        if (name_table_grow_slots(t) != 0) return (size_t)-1;
    uint64_t h = hash_bytes(s, n, HASH_SEED);
    size_t j = h & t->mask;
    while (t->slots[j].id_plus1) {
        size_t id = t->slots[j].id_plus1 - 1;
        if (t->slots[j].hash == h && strlen(t->names[id]) == n && memcmp(t->names[id], s, n) == 0) return id;
        j = (j + 1) & t->mask;
    }
    if (t->count == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        char **names = realloc(t->names, cap * sizeof *names);
        if (!names) return (size_t)-1;
        t->names = names;
        t->cap = cap;
    }
    char *copy = arena_strndup(arena, s, n);
    if (!copy) return (size_t)-1;
    t->names[t->count] = copy;
    t->slots[j] = (name_slot){h, t->count + 1};
    return t->count++;
}

static void name_table_free(name_table *t)
{
    free(t->names);
    free(t->slots);
}

/* ---- the manifest ---- */

enum column_kind {
    COL_OTHER = 0,
    COL_SUBJECT,
    COL_CONDITION,
    COL_FILE,
    COL_ARTERY,
    COL_ONSET,
    COL_F0,
    COL_ANGLE,
    COL_DIAMETER,
    COL_C,
    COL_CHANNELS,
    COL_KIND_COUNT
};

static const char *const column_names[COL_KIND_COUNT] = {
    [COL_SUBJECT] = "subject",   [COL_CONDITION] = "condition", [COL_FILE] = "file",
    [COL_ARTERY] = "artery",     [COL_ONSET] = "onset_s",       [COL_F0] = "f0_hz",
    [COL_ANGLE] = "angle_deg",   [COL_DIAMETER] = "diameter_mm", [COL_C] = "c_m_s",
    [COL_CHANNELS] = "channels",
};

struct dop_manifest {
    dop_manifest_row *rows;
    size_t count, cap;
    name_table names[DOP_MANIFEST_KEY_COUNT];
    char **columns;   /* header names */
    size_t n_columns;
    arena_chunk *arena;
    char sha256_hex[2 * SHA256_DIGEST_SIZE + 1];
    /* duplicate detection: slots hold row index + 1 */
    name_slot *dup;
    size_t dup_mask;
};

typedef struct parse_state {
    dop_manifest *m;
    const char *name;
    const char *base_dir;
    size_t line;         /* physical line being fed, 1-based */
    size_t record_line;  /* line where the current record started; 0 = not started */
    char *buf;           /* fields of the current record, NUL-separated */
    size_t buf_len, buf_cap;
    size_t *offs, *lens;
    size_t n_fields, fields_cap;
    int header_done;
    int *kind;           /* column index -> column_kind */
    int column_of[COL_KIND_COUNT]; /* kind -> column index, -1 absent */
    dop_status status;
    dop_error *err;
} parse_state;

static const char *column_label(const parse_state *st, size_t col)
{
    return col < st->m->n_columns ? st->m->columns[col] : "?";
}

static dop_status fail_at(parse_state *st, size_t col, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static dop_status fail_at(parse_state *st, size_t col, const char *fmt, ...)
{
    char detail[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    st->status = dop_error_set(st->err, DOP_ERR_FORMAT, "%s line %zu, column %zu (%s): %s", st->name,
                               st->record_line, col + 1, column_label(st, col), detail);
    return st->status;
}

static void on_field(void *s, size_t len, void *data)
{
    parse_state *st = data;
    if (st->status != DOP_OK) return;
    if (!st->record_line) st->record_line = st->line;
    if (st->n_fields == st->fields_cap) {
        size_t cap = st->fields_cap ? st->fields_cap * 2 : 16;
        size_t *offs = realloc(st->offs, cap * sizeof *offs);
        if (offs) st->offs = offs;
        size_t *lens = realloc(st->lens, cap * sizeof *lens);
        if (lens) st->lens = lens;
        if (!offs || !lens) {
            st->status = dop_error_set(st->err, DOP_ERR_NOMEM, "%s: out of memory", st->name);
            return;
        }
        st->fields_cap = cap;
    }
    if (st->buf_len + len + 1 > st->buf_cap) {
        size_t cap = st->buf_cap ? st->buf_cap : 256;
        while (cap < st->buf_len + len + 1) cap *= 2;
        char *buf = realloc(st->buf, cap);
        if (!buf) {
            st->status = dop_error_set(st->err, DOP_ERR_NOMEM, "%s: out of memory", st->name);
            return;
        }
        st->buf = buf;
        st->buf_cap = cap;
    }
    if (len) memcpy(st->buf + st->buf_len, s, len);
    st->buf[st->buf_len + len] = '\0';
    st->offs[st->n_fields] = st->buf_len;
    st->lens[st->n_fields] = len;
    st->buf_len += len + 1;
    st->n_fields++;
}

static const char *field(const parse_state *st, size_t col) { return st->buf + st->offs[col]; }

/* Shorten a value for a message. */
static const char *quote_value(const char *s, char *out, size_t cap)
{
    size_t n = strlen(s);
    if (n + 1 <= cap) return s;
    snprintf(out, cap, "%.*s...", (int)(cap - 4), s);
    return out;
}

static int check_text(parse_state *st, size_t col)
{
    size_t bad;
    if (memchr(field(st, col), '\0', st->lens[col])) {
        fail_at(st, col, "contains a NUL byte");
        return -1;
    }
    if (!dop_utf8_valid(field(st, col), st->lens[col], &bad)) {
        char what[64];
        snprintf(what, sizeof what, "0x%02X at byte %zu", (unsigned char)field(st, col)[bad], bad + 1);
        fail_at(st, col, "not UTF-8 text (invalid byte %s)", what);
        return -1;
    }
    return 0;
}

static int parse_header(parse_state *st)
{
    dop_manifest *m = st->m;
    m->columns = calloc(st->n_fields, sizeof *m->columns);
    st->kind = calloc(st->n_fields, sizeof *st->kind);
    if (!m->columns || !st->kind) {
        st->status = dop_error_set(st->err, DOP_ERR_NOMEM, "%s: out of memory", st->name);
        return -1;
    }
    m->n_columns = st->n_fields;
    for (size_t c = 0; c < st->n_fields; c++) {
        m->columns[c] = arena_strndup(&m->arena, field(st, c), st->lens[c]);
        if (!m->columns[c]) {
            st->status = dop_error_set(st->err, DOP_ERR_NOMEM, "%s: out of memory", st->name);
            return -1;
        }
    }
    for (size_t c = 0; c < st->n_fields; c++) {
        if (check_text(st, c) != 0) return -1;
        for (int k = 1; k < COL_KIND_COUNT; k++) {
            if (strcmp(field(st, c), column_names[k]) != 0) continue;
            if (st->column_of[k] >= 0) {
                fail_at(st, c, "column '%s' repeats column %d", column_names[k], st->column_of[k] + 1);
                return -1;
            }
            st->column_of[k] = (int)c;
            st->kind[c] = k;
        }
    }
    static const int required[] = {COL_SUBJECT, COL_CONDITION, COL_FILE};
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++)
        if (st->column_of[required[i]] < 0) {
            st->status = dop_error_set(st->err, DOP_ERR_FORMAT,
                                       "%s line %zu: required column '%s' is missing (the header needs "
                                       "subject, condition and file)",
                                       st->name, st->record_line, column_names[required[i]]);
            return -1;
        }
    st->header_done = 1;
    return 0;
}

static int parse_number(parse_state *st, size_t col, double *out)
{
    const char *s = field(st, col);
    *out = NAN;
    if (!*s) return 0;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    while (*end == ' ' || *end == '\t') end++;
    if (end == s || *end || !isfinite(v) || errno == ERANGE) {
        char shown[80];
        fail_at(st, col, "'%s' is not a finite number", quote_value(s, shown, sizeof shown));
        return -1;
    }
    *out = v;
    return 0;
}

/* Lexical clean-up in place: "a//b" -> "a/b", "./a/./b" -> "a/b" (".."
 * is kept: with symbolic links it cannot be resolved lexically). */
static void normalize_path(char *p)
{
    char *out = p;
    const char *in = p;
    int absolute = *in == '/';
    if (absolute) *out++ = *in++;
    char *start = out;
    while (*in) {
        const char *end = strchr(in, '/');
        size_t len = end ? (size_t)(end - in) : strlen(in);
        if (len == 0 || (len == 1 && in[0] == '.')) {
            in += len + (end ? 1 : 0);
            continue;
        }
        if (out != start) *out++ = '/';
        memmove(out, in, len);
        out += len;
        in += len + (end ? 1 : 0);
    }
    if (out == start && !absolute) *out++ = '.';
    *out = '\0';
}

static char *resolve_path(dop_manifest *m, const char *base_dir, const char *file, size_t n)
{
    int relative = file[0] != '/' && base_dir && *base_dir;
    size_t b = relative ? strlen(base_dir) : 0;
    size_t total = b + (relative ? 1 : 0) + n;
    char *tmp = malloc(total + 1);
    if (!tmp) return NULL;
    if (relative) {
        memcpy(tmp, base_dir, b);
        tmp[b] = '/';
    }
    memcpy(tmp + total - n, file, n);
    tmp[total] = '\0';
    normalize_path(tmp);
    char *out = arena_strndup(&m->arena, tmp, strlen(tmp));
    free(tmp);
    return out;
}

static uint64_t row_hash(const dop_manifest_row *r)
{
    uint64_t h = hash_bytes(r->path, strlen(r->path), HASH_SEED);
    h = hash_mix(h, r->subject);
    h = hash_mix(h, r->condition);
    return hash_mix(h, r->artery);
}

/* Index of an earlier identical row, or (size_t)-1 after inserting this one
 * (the last row of m). (size_t)-2 on no memory. */
static size_t dup_check(dop_manifest *m)
{
    if (!m->dup || (m->count + 1) * 2 > m->dup_mask + 1) {
        size_t n = m->dup ? (m->dup_mask + 1) * 2 : 1024;
        name_slot *slots = calloc(n, sizeof *slots);
        if (!slots) return (size_t)-2;
        if (m->dup)
            for (size_t i = 0; i <= m->dup_mask; i++) {
                if (!m->dup[i].id_plus1) continue;
                size_t j = m->dup[i].hash & (n - 1);
                while (slots[j].id_plus1) j = (j + 1) & (n - 1);
                slots[j] = m->dup[i];
            }
        free(m->dup);
        m->dup = slots;
        m->dup_mask = n - 1;
    }
    size_t index = m->count - 1;
    const dop_manifest_row *r = &m->rows[index];
    uint64_t h = row_hash(r);
    size_t j = h & m->dup_mask;
    while (m->dup[j].id_plus1) {
        const dop_manifest_row *o = &m->rows[m->dup[j].id_plus1 - 1];
        if (m->dup[j].hash == h && o->subject == r->subject && o->condition == r->condition &&
            o->artery == r->artery && strcmp(o->path, r->path) == 0)
            return m->dup[j].id_plus1 - 1;
        j = (j + 1) & m->dup_mask;
    }
    m->dup[j] = (name_slot){h, index + 1};
    return (size_t)-1;
}

static int parse_row(parse_state *st)
{
    dop_manifest *m = st->m;
    int all_empty = 1;
    for (size_t c = 0; c < st->n_fields; c++)
        if (st->lens[c]) all_empty = 0;
    if (all_empty) return 0; /* ",,," rows that spreadsheets export */
    if (st->n_fields != m->n_columns) {
        st->status = dop_error_set(st->err, DOP_ERR_FORMAT, "%s line %zu: %zu field(s), the header has %zu",
                                   st->name, st->record_line, st->n_fields, m->n_columns);
        return -1;
    }
    for (size_t c = 0; c < st->n_fields; c++)
        if (check_text(st, c) != 0) return -1;

    dop_manifest_row row;
    memset(&row, 0, sizeof row);
    row.line = st->record_line;
    row.onset_s = NAN;
    row.overrides = dop_acquisition_unset();

    static const int required[] = {COL_SUBJECT, COL_CONDITION, COL_FILE};
    for (size_t i = 0; i < 3; i++) {
        size_t c = (size_t)st->column_of[required[i]];
        if (!st->lens[c]) {
            fail_at(st, c, "empty; every row needs a %s", column_names[required[i]]);
            return -1;
        }
    }
    size_t ids[DOP_MANIFEST_KEY_COUNT];
    static const int name_cols[DOP_MANIFEST_KEY_COUNT] = {COL_SUBJECT, COL_CONDITION, COL_ARTERY};
    for (int k = 0; k < DOP_MANIFEST_KEY_COUNT; k++) {
        int c = st->column_of[name_cols[k]];
        const char *s = c >= 0 ? field(st, (size_t)c) : "";
        size_t n = c >= 0 ? st->lens[c] : 0;
        ids[k] = name_table_intern(&m->names[k], &m->arena, s, n);
        if (ids[k] == (size_t)-1) {
            st->status = dop_error_set(st->err, DOP_ERR_NOMEM, "%s: out of memory", st->name);
            return -1;
        }
    }
    row.subject = ids[DOP_MANIFEST_SUBJECT];
    row.condition = ids[DOP_MANIFEST_CONDITION];
    row.artery = ids[DOP_MANIFEST_ARTERY];

    size_t fc = (size_t)st->column_of[COL_FILE];
    row.file = arena_strndup(&m->arena, field(st, fc), st->lens[fc]);
    row.path = row.file ? resolve_path(m, st->base_dir, field(st, fc), st->lens[fc]) : NULL;
    if (!row.file || !row.path) {
        st->status = dop_error_set(st->err, DOP_ERR_NOMEM, "%s: out of memory", st->name);
        return -1;
    }

    struct {
        int kind;
        double *dst;
    } numbers[] = {
        {COL_ONSET, &row.onset_s},
        {COL_F0, &row.overrides.f0_hz},
        {COL_ANGLE, &row.overrides.angle_deg},
        {COL_DIAMETER, &row.overrides.diameter_mm},
        {COL_C, &row.overrides.c_m_s},
    };
    for (size_t i = 0; i < sizeof numbers / sizeof numbers[0]; i++) {
        int c = st->column_of[numbers[i].kind];
        if (c >= 0 && parse_number(st, (size_t)c, numbers[i].dst) != 0) return -1;
    }
    int cc = st->column_of[COL_CHANNELS];
    if (cc >= 0 && st->lens[cc]) {
        row.overrides.channels = dop_channels_parse(field(st, (size_t)cc));
        if (row.overrides.channels == DOP_CHANNELS_UNSET) {
            char shown[80];
            fail_at(st, (size_t)cc, "'%s' is not a channel layout (iq, qi, mono, left or right)",
                    quote_value(field(st, (size_t)cc), shown, sizeof shown));
            return -1;
        }
    }

    if (m->count == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 256;
        dop_manifest_row *rows = realloc(m->rows, cap * sizeof *rows);
        if (!rows) {
            st->status = dop_error_set(st->err, DOP_ERR_NOMEM, "%s: out of memory", st->name);
            return -1;
        }
        m->rows = rows;
        m->cap = cap;
    }
    m->rows[m->count++] = row;
    size_t earlier = dup_check(m);
    if (earlier == (size_t)-2) {
        st->status = dop_error_set(st->err, DOP_ERR_NOMEM, "%s: out of memory", st->name);
        return -1;
    }
    if (earlier != (size_t)-1) {
        const char *artery = m->names[DOP_MANIFEST_ARTERY].names[row.artery];
        st->status = dop_error_set(
            st->err, DOP_ERR_FORMAT,
            "%s line %zu, columns subject/condition/artery/file: duplicate of line %zu (subject '%.60s', "
            "condition '%.60s', artery '%.60s', file '%.120s')",
            st->name, row.line, m->rows[earlier].line, m->names[DOP_MANIFEST_SUBJECT].names[row.subject],
            m->names[DOP_MANIFEST_CONDITION].names[row.condition], artery, row.file);
        return -1;
    }
    return 0;
}

static void on_record(int c, void *data)
{
    parse_state *st = data;
    (void)c;
    if (st->status == DOP_OK) {
        if (!st->record_line) st->record_line = st->line;
        if (!st->header_done)
            parse_header(st);
        else
            parse_row(st);
    }
    st->n_fields = 0;
    st->buf_len = 0;
    st->record_line = 0;
}

static int is_blank_line(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n') return 0;
    return 1;
}

dop_status dop_manifest_read_stream(FILE *in, const char *name, const char *base_dir, dop_manifest **out,
                                    dop_error *err)
{
    *out = NULL;
    if (!name) name = "manifest";
    dop_manifest *m = calloc(1, sizeof *m);
    if (!m) return dop_error_set(err, DOP_ERR_NOMEM, "%s: out of memory", name);

    parse_state st;
    memset(&st, 0, sizeof st);
    st.m = m;
    st.name = name;
    st.base_dir = base_dir;
    st.err = err;
    for (int k = 0; k < COL_KIND_COUNT; k++) st.column_of[k] = -1;

    struct csv_parser parser;
    /* STRICT: a stray quote inside an unquoted field or text after a
     * closing quote is an error, not silently kept; STRICT_FINI: an
     * unterminated quote at the end of the file is an error. */
    if (csv_init(&parser, CSV_STRICT | CSV_STRICT_FINI) != 0) {
        free(m);
        return dop_error_set(err, DOP_ERR_NOMEM, "%s: out of memory", name);
    }
    struct sha256_ctx sha;
    sha256_init(&sha);

    char *line = NULL;
    size_t line_cap = 0;
    ssize_t got;
    while (st.status == DOP_OK && (got = getline(&line, &line_cap, in)) > 0) {
        st.line++;
        sha256_update(&sha, (size_t)got, (const uint8_t *)line);
        const char *p = line;
        size_t n = (size_t)got;
        if (st.line == 1 && n >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0) {
            p += 3; /* UTF-8 byte-order mark (spreadsheet exports) */
            n -= 3;
        }
        if (!st.record_line && !is_blank_line(p, n)) st.record_line = st.line;
        if (csv_parse(&parser, p, n, on_field, on_record, &st) != n && st.status == DOP_OK) {
            if (!st.record_line) st.record_line = st.line;
            st.status = dop_error_set(err, DOP_ERR_FORMAT, "%s line %zu: malformed CSV (%s; quote fields that "
                                      "contain quotes, commas or line breaks and double the inner quotes)",
                                      name, st.line, csv_strerror(csv_error(&parser)));
        }
    }
    if (st.status == DOP_OK && ferror(in))
        st.status = dop_error_set(err, DOP_ERR_IO, "%s: read error: %s", name, strerror(errno));
    if (st.status == DOP_OK) {
        if (csv_fini(&parser, on_field, on_record, &st) != 0 && st.status == DOP_OK)
            st.status = dop_error_set(err, DOP_ERR_FORMAT,
                                      "%s line %zu: malformed CSV at the end of the file (unterminated quote "
                                      "opened on line %zu)",
                                      name, st.line, st.record_line ? st.record_line : st.line);
    }
    if (st.status == DOP_OK && !st.header_done)
        st.status = dop_error_set(err, DOP_ERR_FORMAT, "%s: empty, expected a header line with subject, "
                                  "condition and file", name);
    csv_free(&parser);
    free(line);
    free(st.buf);
    free(st.offs);
    free(st.lens);
    free(st.kind);
    if (st.status != DOP_OK) {
        dop_manifest_destroy(m);
        return st.status;
    }
    /* The artery table always has a name, "" when the column is absent. */
    dop_fs_sha256_hex(&sha, m->sha256_hex);
    free(m->dup); /* only needed while reading */
    m->dup = NULL;
    *out = m;
    return DOP_OK;
}

dop_status dop_manifest_read(const char *path, dop_manifest **out, dop_error *err)
{
    *out = NULL;
    FILE *in = fopen(path, "rb");
    if (!in) return dop_error_set(err, DOP_ERR_IO, "%s: cannot open manifest: %s", path, strerror(errno));
    const char *slash = strrchr(path, '/');
    char *base = NULL;
    if (slash) {
        size_t n = slash == path ? 1 : (size_t)(slash - path);
        base = malloc(n + 1);
        if (!base) {
            fclose(in);
            return dop_error_set(err, DOP_ERR_NOMEM, "%s: out of memory", path);
        }
        memcpy(base, path, n);
        base[n] = '\0';
    }
    dop_status status = dop_manifest_read_stream(in, path, base, out, err);
    free(base);
    fclose(in);
    return status;
}

size_t dop_manifest_row_count(const dop_manifest *m) { return m ? m->count : 0; }

const dop_manifest_row *dop_manifest_row_at(const dop_manifest *m, size_t index)
{
    return m && index < m->count ? &m->rows[index] : NULL;
}

size_t dop_manifest_name_count(const dop_manifest *m, dop_manifest_key key)
{
    if (!m || (int)key < 0 || key >= DOP_MANIFEST_KEY_COUNT) return 0;
    return m->names[key].count;
}

const char *dop_manifest_name(const dop_manifest *m, dop_manifest_key key, size_t id)
{
    if (!m || (int)key < 0 || key >= DOP_MANIFEST_KEY_COUNT || id >= m->names[key].count) return NULL;
    return m->names[key].names[id];
}

int dop_manifest_has_column(const dop_manifest *m, const char *column)
{
    if (!m || !column) return 0;
    for (size_t c = 0; c < m->n_columns; c++)
        if (strcmp(m->columns[c], column) == 0) return 1;
    return 0;
}

const char *dop_manifest_sha256(const dop_manifest *m) { return m ? m->sha256_hex : ""; }

void dop_manifest_destroy(dop_manifest *m)
{
    if (!m) return;
    free(m->rows);
    for (int k = 0; k < DOP_MANIFEST_KEY_COUNT; k++) name_table_free(&m->names[k]);
    free(m->columns);
    free(m->dup);
    arena_free(m->arena);
    free(m);
}

int dop_utf8_valid(const char *str, size_t n, size_t *bad_offset)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        size_t len;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            len = 2;
            cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            len = 3;
            cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            len = 4;
            cp = c & 0x07;
        } else {
            goto bad;
        }
        if (i + len > n) goto bad;
        for (size_t j = 1; j < len; j++) {
            if ((s[i + j] & 0xC0) != 0x80) goto bad;
            cp = (cp << 6) | (s[i + j] & 0x3F);
        }
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
            cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            goto bad;
        i += len;
    }
    return 1;
bad:
    if (bad_offset) *bad_offset = i;
    return 0;
}
