/* The description of a study folder: .study/shard.json (what the folder
 * holds: manifest hash, parameters, shard K/N, command) and
 * .study/index.csv (each row's key or error), what dop_study_merge()
 * reads; and the folder's paths. */
#include "study/study_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <csv.h>
#include <jansson.h>

#include "core/fs.h"
#include "dopflow/atomic_file.h"

void study_meta_free(study_meta *m)
{
    free(m->version);
    free(m->manifest);
    free(m->manifest_sha256);
    free(m->epochs);
    free(m->reference);
    free(m->parameters_sha256);
    free(m->command);
    memset(m, 0, sizeof *m);
}

dop_status study_meta_write(const char *path, const study_meta *m, dop_error *err)
{
    json_t *o = json_object();
    if (!o) return dop_error_set(err, DOP_ERR_NOMEM, "out of memory");
    json_object_set_new(o, "format", json_string(STUDY_FORMAT));
    json_object_set_new(o, "dopflow_version", json_string(m->version));
    json_object_set_new(o, "manifest", json_string(m->manifest));
    json_object_set_new(o, "manifest_sha256", json_string(m->manifest_sha256));
    json_object_set_new(o, "rows", json_integer((json_int_t)m->rows));
    json_object_set_new(o, "onset_column", json_boolean(m->onset_column));
    json_object_set_new(o, "epochs", m->epochs ? json_string(m->epochs) : json_null());
    json_object_set_new(o, "reference_epoch", json_string(m->reference));
    json_object_set_new(o, "parameters_sha256", json_string(m->parameters_sha256));
    json_object_set_new(o, "command", m->command ? json_string(m->command) : json_null());
    json_object_set_new(o, "shard", json_integer(m->shard));
    json_object_set_new(o, "shard_count", json_integer(m->shard_count));
    json_object_set_new(o, "complete", json_true());
    dop_atomic_file *af;
    dop_status st = dop_atomic_open(path, &af, err);
    if (st == DOP_OK) {
        FILE *f = dop_atomic_stream(af);
        json_dumpf(o, f, JSON_INDENT(2) | JSON_SORT_KEYS);
        fputc('\n', f);
        st = dop_atomic_commit(af, err);
    }
    json_decref(o);
    return st;
}

static char *json_dup_string(json_t *o, const char *key, int *bad)
{
    json_t *v = json_object_get(o, key);
    if (json_is_null(v)) return NULL;
    if (!json_is_string(v)) {
        *bad = 1;
        return NULL;
    }
    char *s = strdup(json_string_value(v));
    if (!s) *bad = 1;
    return s;
}

dop_status study_meta_read(const char *dir, study_meta *m, dop_error *err)
{
    memset(m, 0, sizeof *m);
    char *path = dop_fs_path_join(dir, ".study/shard.json");
    if (!path) return dop_error_set(err, DOP_ERR_NOMEM, "out of memory");
    json_error_t je;
    json_t *o = json_load_file(path, 0, &je);
    if (!o) {
        dop_status st = dop_fs_is_file(path)
                            ? dop_error_set(err, DOP_ERR_FORMAT, "%s: %s (line %d)", path, je.text, je.line)
                            : dop_error_set(err, DOP_ERR_FORMAT, "%s: not a study folder (no .study/shard.json; "
                                            "was the shard run finished?)", dir);
        free(path);
        return st;
    }
    int bad = 0;
    json_t *fmt = json_object_get(o, "format");
    if (!json_is_string(fmt) || strcmp(json_string_value(fmt), STUDY_FORMAT) != 0) bad = 1;
    m->version = json_dup_string(o, "dopflow_version", &bad);
    m->manifest = json_dup_string(o, "manifest", &bad);
    m->manifest_sha256 = json_dup_string(o, "manifest_sha256", &bad);
    m->epochs = json_dup_string(o, "epochs", &bad);
    m->reference = json_dup_string(o, "reference_epoch", &bad);
    m->parameters_sha256 = json_dup_string(o, "parameters_sha256", &bad);
    m->command = json_dup_string(o, "command", &bad);
    json_t *rows = json_object_get(o, "rows"), *shard = json_object_get(o, "shard"),
           *count = json_object_get(o, "shard_count"), *onset = json_object_get(o, "onset_column");
    if (!json_is_integer(rows) || !json_is_integer(shard) || !json_is_integer(count) || !json_is_boolean(onset) ||
        !m->version || !m->manifest || !m->manifest_sha256 || !m->reference || !m->parameters_sha256)
        bad = 1;
    if (!bad) {
        m->rows = (size_t)json_integer_value(rows);
        m->shard = (unsigned)json_integer_value(shard);
        m->shard_count = (unsigned)json_integer_value(count);
        m->onset_column = json_is_true(onset);
        if (!json_is_true(json_object_get(o, "complete"))) bad = 2;
    }
    json_decref(o);
    if (bad) {
        study_meta_free(m);
        dop_status st = dop_error_set(err, DOP_ERR_FORMAT, bad == 2 ? "%s: the shard run did not finish"
                                                                    : "%s: not a dopflow study folder description",
                                      path);
        free(path);
        return st;
    }
    free(path);
    return DOP_OK;
}

dop_status study_index_write(const char *path, const study_entry *e, size_t n, dop_error *err)
{
    dop_atomic_file *af;
    dop_status st = dop_atomic_open(path, &af, err);
    if (st != DOP_OK) return st;
    FILE *f = dop_atomic_stream(af);
    fputs("row,subject,condition,artery,file,key,error\n", f);
    for (size_t i = 0; i < n; i++) {
        fprintf(f, "%zu,", e[i].row);
        study_csv_design(f, &e[i]);
        fprintf(f, ",%s,", e[i].error ? "" : e[i].key);
        if (e[i].error) study_csv_put(f, e[i].error);
        fputc('\n', f);
    }
    return dop_atomic_commit(af, err);
}

typedef struct index_reader {
    const char *path;
    const char *results_dir;
    study_index *idx;
    char **fields;
    size_t n_fields, fields_cap;
    size_t record;
    dop_status status;
    dop_error *err;
} index_reader;

static void index_field(void *s, size_t len, void *data)
{
    index_reader *ir = data;
    if (ir->status != DOP_OK) return;
    if (ir->n_fields == ir->fields_cap) {
        size_t cap = ir->fields_cap ? 2 * ir->fields_cap : 8;
        char **f = realloc(ir->fields, cap * sizeof *f);
        if (!f) {
            ir->status = dop_error_set(ir->err, DOP_ERR_NOMEM, "out of memory");
            return;
        }
        ir->fields = f;
        ir->fields_cap = cap;
    }
    char *copy = malloc(len + 1);
    if (!copy) {
        ir->status = dop_error_set(ir->err, DOP_ERR_NOMEM, "out of memory");
        return;
    }
    memcpy(copy, s, len);
    copy[len] = '\0';
    ir->fields[ir->n_fields++] = copy;
}

static void index_fields_clear(index_reader *ir)
{
    for (size_t i = 0; i < ir->n_fields; i++) free(ir->fields[i]);
    ir->n_fields = 0;
}

static void index_record(int c, void *data)
{
    (void)c;
    index_reader *ir = data;
    size_t rec = ir->record++;
    if (ir->status != DOP_OK) {
        index_fields_clear(ir);
        return;
    }
    if (ir->n_fields != 7) {
        ir->status = dop_error_set(ir->err, DOP_ERR_FORMAT, "%s record %zu: %zu fields, expected 7", ir->path,
                                   rec + 1, ir->n_fields);
        index_fields_clear(ir);
        return;
    }
    if (rec == 0) { /* header */
        index_fields_clear(ir);
        return;
    }
    study_index *idx = ir->idx;
    if (idx->count == idx->cap) {
        size_t cap = idx->cap ? 2 * idx->cap : 256;
        study_entry *e = realloc(idx->entries, cap * sizeof *e);
        if (!e) {
            ir->status = dop_error_set(ir->err, DOP_ERR_NOMEM, "out of memory");
            index_fields_clear(ir);
            return;
        }
        idx->entries = e;
        idx->cap = cap;
    }
    study_entry *e = &idx->entries[idx->count];
    memset(e, 0, sizeof *e);
    char *end;
    errno = 0;
    unsigned long long row = strtoull(ir->fields[0], &end, 10);
    size_t keylen = strlen(ir->fields[5]);
    int has_error = ir->fields[6][0] != '\0';
    if (*end || !ir->fields[0][0] || errno || (!has_error && keylen != STUDY_KEY_HEX)) {
        ir->status = dop_error_set(ir->err, DOP_ERR_FORMAT, "%s record %zu: malformed", ir->path, rec + 1);
        index_fields_clear(ir);
        return;
    }
    e->row = (size_t)row;
    e->subject = ir->fields[1];
    e->condition = ir->fields[2];
    e->artery = ir->fields[3];
    e->file = ir->fields[4];
    if (!has_error) memcpy(e->key, ir->fields[5], STUDY_KEY_HEX + 1);
    free(ir->fields[5]);
    e->error = has_error ? ir->fields[6] : NULL;
    if (!has_error) free(ir->fields[6]);
    free(ir->fields[0]);
    e->results_dir = ir->results_dir;
    ir->n_fields = 0; /* strings now owned by the study_entry */
    idx->count++;
}

static void entry_strings_free(study_entry *e)
{
    free((char *)e->subject);
    free((char *)e->condition);
    free((char *)e->artery);
    free((char *)e->file);
    free((char *)e->error);
}

dop_status study_index_read(const char *path, const char *results_dir, study_index *idx, dop_error *err)
{
    index_reader r;
    memset(&r, 0, sizeof r);
    index_reader *ir = &r;
    ir->path = path;
    ir->results_dir = results_dir;
    ir->idx = idx;
    ir->status = DOP_OK;
    ir->err = err;
    FILE *in = fopen(path, "rb");
    if (!in) return dop_error_set(err, DOP_ERR_FORMAT, "%s: cannot open: %s", path, strerror(errno));
    struct csv_parser p;
    if (csv_init(&p, CSV_STRICT | CSV_STRICT_FINI) != 0) {
        fclose(in);
        return dop_error_set(err, DOP_ERR_NOMEM, "out of memory");
    }
    char buf[1 << 16];
    size_t got;
    while (ir->status == DOP_OK && (got = fread(buf, 1, sizeof buf, in)) > 0)
        if (csv_parse(&p, buf, got, index_field, index_record, ir) != got && ir->status == DOP_OK)
            ir->status = dop_error_set(err, DOP_ERR_FORMAT, "%s: malformed CSV (%s)", path,
                                       csv_strerror(csv_error(&p)));
    if (ir->status == DOP_OK && csv_fini(&p, index_field, index_record, ir) != 0 && ir->status == DOP_OK)
        ir->status = dop_error_set(err, DOP_ERR_FORMAT, "%s: malformed CSV at the end", path);
    index_fields_clear(ir);
    free(ir->fields);
    csv_free(&p);
    fclose(in);
    return ir->status;
}

void study_index_free(study_index *idx)
{
    for (size_t i = 0; i < idx->count; i++) entry_strings_free(&idx->entries[i]);
    free(idx->entries);
    memset(idx, 0, sizeof *idx);
}

void study_paths_free(study_paths *p)
{
    free(p->results);
    free(p->study);
    free(p->index);
    free(p->meta);
    memset(p, 0, sizeof *p);
}

dop_status study_paths_make(const char *out_dir, study_paths *p, dop_error *err)
{
    p->results = dop_fs_path_join(out_dir, ".results");
    p->study = dop_fs_path_join(out_dir, ".study");
    p->index = dop_fs_path_join(out_dir, ".study/index.csv");
    p->meta = dop_fs_path_join(out_dir, ".study/shard.json");
    if (!p->results || !p->study || !p->index || !p->meta) return dop_error_set(err, DOP_ERR_NOMEM, "out of memory");
    dop_status st = dop_fs_make_dirs(out_dir, err);
    if (st == DOP_OK) st = dop_fs_make_dirs(p->results, err);
    if (st == DOP_OK) st = dop_fs_make_dirs(p->study, err);
    return st;
}
