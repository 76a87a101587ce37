/* dopflow_bench's common pieces: the clock, statistics of repeated
 * timings, files, and the inputs (simulated recordings, read into memory). */
#include "bench.h"

#include <ftw.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dopflow/simulate.h"

double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void stat_add(stat_set *s, double x)
{
    if (s->n < MAX_REPEATS) s->v[s->n++] = x;
}

double stat_median(const stat_set *s)
{
    if (s->n == 0) return NAN;
    double t[MAX_REPEATS];
    memcpy(t, s->v, (size_t)s->n * sizeof *t);
    qsort(t, (size_t)s->n, sizeof *t, cmp_double);
    return s->n % 2 ? t[s->n / 2] : 0.5 * (t[s->n / 2 - 1] + t[s->n / 2]);
}

double stat_min(const stat_set *s)
{
    double m = INFINITY;
    for (int i = 0; i < s->n; i++) m = fmin(m, s->v[i]);
    return s->n ? m : NAN;
}

double stat_max(const stat_set *s)
{
    double m = -INFINITY;
    for (int i = 0; i < s->n; i++) m = fmax(m, s->v[i]);
    return s->n ? m : NAN;
}

void die(const char *what, dop_status st, const dop_error *err)
{
    fprintf(stderr, "dopflow_bench: %s: %s\n", what, err && err->message[0] ? err->message : dop_strerror(st));
    exit(1);
}

char *join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = malloc(n);
    if (!p) exit(1);
    snprintf(p, n, "%s/%s", a, b);
    return p;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void rm_rf(const char *path)
{
    nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- inputs ---- */

void simulate(const options *o, double duration_s, uint64_t seed, const char *wav)
{
    dop_sim_config cfg;
    dop_error err;
    dop_status st = dop_sim_spec_load(o->spec, &cfg, &err);
    if (st != DOP_OK) die(o->spec, st, &err);
    cfg.duration_s = duration_s;
    cfg.n_epochs = 0;
    cfg.seed = seed;
    st = dop_sim_write(&cfg, wav, NULL, NULL, &err);
    if (st != DOP_OK) die(wav, st, &err);
}

double read_all(const char *path, signal_data *s)
{
    dop_error err;
    dop_reader_config rc = dop_reader_config_default();
    rc.path = path;
    dop_reader *r;
    double t0 = now_s();
    dop_status st = dop_reader_open(&rc, &r, &err);
    if (st != DOP_OK) die(path, st, &err);
    const dop_reader_info *info = dop_reader_get_info(r);
    size_t cap = (size_t)info->frames + 1;
    if (!s->x) s->x = malloc(cap * sizeof *s->x);
    if (!s->x) exit(1);
    size_t n = 0, got;
    do {
        size_t want = cap - n < 8192 ? cap - n : 8192;
        st = dop_reader_read(r, s->x + n, want, &got, &err);
        if (st != DOP_OK) die(path, st, &err);
        n += got;
    } while (got > 0 && n < cap);
    s->n = n;
    s->fs = info->rate_hz;
    dop_reader_close(r);
    double t = now_s() - t0;
    char *sidecar = dop_sidecar_path_for(path);
    s->acq = dop_acquisition_defaults();
    dop_acquisition side;
    if (sidecar && dop_sidecar_read(sidecar, &side, &err) == DOP_OK) dop_acquisition_overlay(&s->acq, &side);
    free(sidecar);
    s->acq.channels = DOP_CHANNELS_IQ;
    return t;
}
