/* The fast paths give the results of the straightforward code they replace.
 *
 * Each optimised stage is run against a plain version of the same
 * computation written here (the code as it was before the optimisation):
 *  - noise floor: the same bits as quickselect + left-to-right truncated
 *    means, on noise, flow, dead bands, zeros, subnormals, NaN and
 *    negative bins, several masks and quantiles, frame sequences that move
 *    the quantile's exponent bucket;
 *  - number formatting: the same text as printf("%.Nf") and "%lld";
 *  - frames and beats CSV rows: the same text as the printf-based writer;
 *  - reader: 16-bit WAV samples equal libsndfile's sf_readf_float;
 *  - wall filter: any split of the pushes gives the same bits (the chunked
 *    and sample-by-sample paths agree), and the output stays within float
 *    rounding of the sample-by-sample recursion;
 *  - spectrum: any split of the pushes gives the same frames, with and
 *    without the AVX loops;
 *  - beat path: the template match and the best predecessor give the bits
 *    and the interval of the plain loops, with ties and NaN;
 *  - tempo: the same estimate with and without the AVX lag products, and
 *    when an input repeats (the memo) as from a fresh handle;
 *  - beat evidence and spectral lines: the same bits with and without the
 *    AVX bin loops, on spectra with zeros, NaN, infinities, steady tones and
 *    a tail of bins. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <complex.h>
#include <math.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dopflow/beat_evidence.h"
#include "dopflow/beat_tempo.h"
#include "dopflow/noise_floor.h"
#include "dopflow/reader.h"
#include "dopflow/result_csv.h"
#include "dopflow/spectral_lines.h"
#include "dopflow/spectrum.h"
#include "dopflow/wall_filter.h"
#include "core/cpu.h"
#include "core/fmt.h"
#include "pipeline/beat_path.h"
#include "io_util.h"

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;

static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static double uniform(void) { return (double)(rng() >> 11) * 0x1p-53; }

/* ---- noise floor: the estimator as first written ---- */

static float ref_select_kth(float *a, size_t n, size_t k)
{
    size_t lo = 0, hi = n - 1;
    while (lo < hi) {
        float pivot = a[lo + (hi - lo) / 2];
        size_t i = lo, j = hi;
        while (i <= j) {
            while (a[i] < pivot) i++;
            while (a[j] > pivot) j--;
            if (i <= j) {
                float t = a[i];
                a[i] = a[j];
                a[j] = t;
                i++;
                if (j == 0) break;
                j--;
            }
        }
        if (k <= j) hi = j;
        else if (k >= i) lo = i;
        else break;
    }
    return a[k];
}

static double ref_noise_estimate(const float *psd, const size_t *sel, size_t n_sel, double quantile, float *scratch)
{
    for (size_t i = 0; i < n_sel; i++) scratch[i] = psd[sel[i]];
    double median = ref_select_kth(scratch, n_sel, n_sel / 2);
    float alive = (float)(median * 1e-5);
    size_t n_alive = 0;
    for (size_t i = 0; i < n_sel; i++)
        if (psd[sel[i]] >= alive) scratch[n_alive++] = psd[sel[i]];
    if (n_alive < 8) return median;
    size_t k = (size_t)(quantile * (double)(n_alive - 1));
    double level = (double)ref_select_kth(scratch, n_alive, k) * (1.0 / -log1p(-quantile));
    const double truncated_mean = (1.0 - 4.0 * exp(-3.0)) / (1.0 - exp(-3.0));
    for (int it = 0; it < 4 && level > 0.0; it++) {
        double limit = 3.0 * level, sum = 0.0;
        size_t count = 0;
        for (size_t i = 0; i < n_sel; i++) {
            double v = psd[sel[i]];
            if (v < limit && v >= alive) {
                sum += v;
                count++;
            }
        }
        if (count < n_alive / 4) break;
        level = sum / (double)count / truncated_mean;
    }
    return level;
}

/* One synthetic frame: exponential noise of mean `mean` (bin to bin), a flow
 * band, and now and then a dead band, zeros, subnormals or bad values. */
static void make_frame(float *psd, size_t bins, double mean, int frame)
{
    for (size_t k = 0; k < bins; k++) psd[k] = (float)(-log(1.0 - uniform()) * mean);
    size_t lo = (size_t)(uniform() * (double)bins), width = (size_t)(uniform() * (double)bins * 0.6);
    double gain = pow(10.0, 1.0 + 3.0 * uniform());
    for (size_t k = lo; k < lo + width && k < bins; k++) psd[k] *= (float)gain;
    switch (frame % 23) {
    case 3: /* band-limited recording: a dead band far below the noise */
        for (size_t k = bins / 2; k < bins; k++) psd[k] *= 1e-8f;
        break;
    case 5:
        for (size_t k = 0; k < bins; k += 3) psd[k] = 0.0f;
        break;
    case 7: /* silent */
        memset(psd, 0, bins * sizeof *psd);
        break;
    case 11:
        for (size_t k = 0; k < bins; k++) psd[k] = (float)(uniform() * 1e-40); /* subnormal */
        break;
    case 13: psd[bins / 3] = NAN; break;
    case 17: psd[bins / 5] = -1.0f; break;
    case 19: psd[bins / 7] = INFINITY; break;
    case 21: /* all equal */
        for (size_t k = 0; k < bins; k++) psd[k] = 1e-9f;
        break;
    default: break;
    }
}

/* The stages choose AVX-512 versions at create time unless
 * DOPFLOW_NO_AVX512 is set: run with both where the machine has it. */
static void set_narrow(int narrow)
{
    if (narrow) setenv("DOPFLOW_NO_AVX512", "1", 1);
    else unsetenv("DOPFLOW_NO_AVX512");
}

static void noise_floor_matches_reference(void **state)
{
    (void)state;
    for (int narrow = 0; narrow < 2; narrow++) {
    set_narrow(narrow);
    const size_t sizes[] = {256, 64, 1024};
    const double quantiles[] = {0.25, 0.1, 0.5};
    for (size_t si = 0; si < 3; si++) {
        const size_t bins = sizes[si];
        uint8_t *masks[3];
        masks[0] = NULL;
        masks[1] = malloc(bins); /* as the analysis: bin 0 and the wall-filter gap left out */
        masks[2] = malloc(bins); /* many runs */
        for (size_t k = 0; k < bins; k++) {
            masks[1][k] = k > 0 && (k < bins / 2 - 3 || k > bins / 2 + 3);
            masks[2][k] = (k / 5) % 3 != 1;
        }
        float *psd = malloc(bins * sizeof *psd), *scratch = malloc(bins * sizeof *scratch);
        size_t *sel = malloc(bins * sizeof *sel);
        for (int mi = 0; mi < 3; mi++)
            for (int qi = 0; qi < 3; qi++) {
                dop_noise_floor_config cfg = dop_noise_floor_config_default();
                cfg.frame_rate_hz = 100.0;
                cfg.quantile = quantiles[qi];
                dop_noise_floor *nf = NULL;
                assert_int_equal(dop_noise_floor_create(&cfg, bins, masks[mi], &nf, NULL), DOP_OK);
                size_t n_sel = 0;
                for (size_t k = 0; k < bins; k++)
                    if (!masks[mi] || masks[mi][k]) sel[n_sel++] = k;
                double mean = 1e-9;
                for (int frame = 0; frame < 1500; frame++) {
                    /* the level drifts, and jumps by octaves now and then */
                    mean *= frame % 97 == 0 ? pow(2.0, (double)(rng() % 9) - 4.0) : exp(0.05 * (uniform() - 0.5));
                    make_frame(psd, bins, mean, frame);
                    double fast = dop_noise_floor_frame_estimate(nf, psd);
                    double ref = ref_noise_estimate(psd, sel, n_sel, cfg.quantile, scratch);
                    if (memcmp(&fast, &ref, sizeof fast) != 0)
                        fail_msg("bins %zu mask %d q %g frame %d: %.17g vs reference %.17g", bins, mi, cfg.quantile,
                                 frame, fast, ref);
                }
                dop_noise_floor_destroy(nf);
            }
        free(masks[1]);
        free(masks[2]);
        free(psd);
        free(scratch);
        free(sel);
    }
    }
    set_narrow(0);
}

/* ---- number formatting and CSV rows ---- */

static void fmt_matches_printf(void **state)
{
    (void)state;
    char a[DOP_FMT_MAX], b[DOP_FMT_MAX];
    const double special[] = {0.0, -0.0, 0.5, 1.5, 2.5, 0.125, 0.375, 0.0625, -0.0625, 1e-4, -1e-4, 0.00049999,
                              0.0005, 999.9995, 1e15, -1e15, 1e300, 5e-324, NAN, INFINITY, -INFINITY, 123456789.123456};
    for (size_t i = 0; i < sizeof special / sizeof special[0]; i++)
        for (int p = 0; p <= 6; p++) {
            size_t len = dop_fmt_fixed(a, special[i], p);
            snprintf(b, sizeof b, "%.*f", p, special[i]);
            assert_string_equal(a, b);
            assert_int_equal(len, strlen(b));
        }
    for (long i = 0; i < 400000; i++) {
        double x;
        switch (i % 4) {
        case 0: { /* any bit pattern */
            uint64_t bits = rng();
            memcpy(&x, &bits, sizeof x);
            break;
        }
        case 1: x = ((double)(int64_t)(rng() % 2000001) - 1000000.0) / (double)(1u << (rng() % 20)); break; /* exact ties */
        case 2: x = ((double)(int64_t)(rng() % 20000001) - 1e7) / pow(10.0, (double)(rng() % 6)); break;
        default: x = ldexp((double)(rng() >> 11), (int)(rng() % 120) - 100) * ((rng() & 1) ? -1.0 : 1.0); break;
        }
        for (int p = 0; p <= 4; p++) {
            size_t len = dop_fmt_fixed(a, x, p);
            snprintf(b, sizeof b, "%.*f", p, x);
            if (strcmp(a, b) != 0 || len != strlen(b)) fail_msg("%.17g with %d decimals: '%s' vs printf '%s'", x, p, a, b);
        }
    }
    const long long ints[] = {0, 1, -1, 9, 10, -10, 99, 100, 123456789012345LL, INT64_MIN, INT64_MAX};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        dop_fmt_int(a, ints[i]);
        snprintf(b, sizeof b, "%lld", ints[i]);
        assert_string_equal(a, b);
    }
}

/* The frames and beats rows as first written, with fprintf. */
static void ref_put(FILE *out, double value, const char *format)
{
    fputc(',', out);
    if (isfinite(value)) fprintf(out, format, value);
}

static void ref_frame_row(FILE *out, const dop_frame *f)
{
    char quality[128];
    dop_frame_quality_text(f->flags, quality, sizeof quality);
    fprintf(out, "%.4f", f->time_s);
    ref_put(out, f->vmax_cm_s, "%.3f");
    ref_put(out, f->vmean_cm_s, "%.3f");
    ref_put(out, f->flow_ml_min, "%.3f");
    fprintf(out, ",%s", quality);
    ref_put(out, f->vmax_forward_cm_s, "%.3f");
    ref_put(out, f->vmax_reverse_cm_s, "%.3f");
    ref_put(out, f->diameter_mm, "%.4f");
    ref_put(out, f->shear_rate_s, "%.3f");
    ref_put(out, f->snr_db, "%.2f");
    ref_put(out, f->noise_db, "%.2f");
    if (f->beat_index >= 0) fprintf(out, ",%lld", (long long)f->beat_index);
    else fputc(',', out);
}

static void ref_beat_row(FILE *out, const dop_beat *b)
{
    fprintf(out, "%lld", (long long)b->index);
    ref_put(out, b->start_s, "%.4f");
    ref_put(out, b->end_s, "%.4f");
    ref_put(out, b->heart_rate_bpm, "%.2f");
    ref_put(out, b->psv_cm_s, "%.3f");
    ref_put(out, b->edv_cm_s, "%.3f");
    ref_put(out, b->tamax_cm_s, "%.3f");
    ref_put(out, b->tamean_cm_s, "%.3f");
    ref_put(out, b->pi, "%.4f");
    ref_put(out, b->tamean_cm_s != 0.0 ? (b->psv_cm_s - b->edv_cm_s) / b->tamean_cm_s : NAN, "%.4f");
    ref_put(out, b->ri, "%.4f");
    ref_put(out, b->flow_ml_min, "%.3f");
    ref_put(out, b->shear_rate_s, "%.3f");
    ref_put(out, b->artifact_fraction, "%.3f");
    fprintf(out, ",%d", b->rejected);
    ref_put(out, b->sqi, "%.3f");
    fprintf(out, ",%s,%d", dop_beat_reason_name(b->reject_reason), b->incomplete);
}

static double field(void)
{
    switch (rng() % 8) {
    case 0: return NAN;
    case 1: return -0.0;
    case 2: return (double)(int64_t)(rng() % 200) * 0.75 - 75.0; /* multiples of a bin */
    default: return (uniform() - 0.5) * pow(10.0, (double)(rng() % 7) - 2.0);
    }
}

static void csv_rows_match_printf(void **state)
{
    (void)state;
    char *fast_text = NULL, *ref_text = NULL;
    size_t fast_len = 0, ref_len = 0;
    FILE *fast = open_memstream(&fast_text, &fast_len), *ref = open_memstream(&ref_text, &ref_len);
    assert_non_null(fast);
    assert_non_null(ref);
    for (int i = 0; i < 20000; i++) {
        dop_frame f;
        memset(&f, 0, sizeof f);
        f.time_s = (double)i * 0.01 + 0.01;
        f.vmax_forward_cm_s = fabs(field());
        f.vmax_reverse_cm_s = -fabs(field());
        f.vmax_cm_s = i % 3 == 0 ? f.vmax_reverse_cm_s : i % 3 == 1 ? f.vmax_forward_cm_s : field();
        f.vmean_cm_s = field();
        f.flow_ml_min = field();
        f.diameter_mm = i % 5 ? 3.8 : NAN;
        f.shear_rate_s = field();
        f.snr_db = field();
        f.noise_db = -90.0 + field();
        f.flags = i % 4 ? 0u : (unsigned)(rng() % 128);
        f.beat_index = i % 7 ? (int64_t)(i / 70) : -1;
        dop_frame_csv_row(fast, &f);
        fputc('\n', fast);
        ref_frame_row(ref, &f);
        fputc('\n', ref);
        dop_beat b;
        memset(&b, 0, sizeof b);
        b.index = i;
        b.start_s = field(), b.end_s = field(), b.heart_rate_bpm = field(), b.psv_cm_s = field();
        b.edv_cm_s = field(), b.tamax_cm_s = field(), b.tamean_cm_s = i % 9 ? field() : 0.0;
        b.pi = field(), b.ri = field(), b.flow_ml_min = field(), b.shear_rate_s = field();
        b.artifact_fraction = uniform(), b.rejected = i % 2;
        b.sqi = i % 11 ? uniform() : NAN, b.reject_reason = (int)(rng() % 4), b.incomplete = i % 13 == 0;
        dop_beat_csv_row(fast, &b);
        fputc('\n', fast);
        ref_beat_row(ref, &b);
        fputc('\n', ref);
    }
    fclose(fast);
    fclose(ref);
    assert_int_equal(fast_len, ref_len);
    assert_memory_equal(fast_text, ref_text, ref_len);
    free(fast_text);
    free(ref_text);
}

/* ---- reader ---- */

static void reader_pcm16_matches_libsndfile(void **state)
{
    (void)state;
    char dir[256];
    assert_int_equal(io_tmpdir_make(dir, sizeof dir), 0);
    char path[512];
    io_path_join(path, sizeof path, dir, "pcm16.wav");
    const size_t n = 100003; /* more than one read block, not a multiple of it */
    short *pcm = malloc(2 * n * sizeof *pcm);
    for (size_t i = 0; i < 2 * n; i++) pcm[i] = (short)(int16_t)(uint16_t)rng();
    pcm[0] = -32768;
    pcm[1] = 32767;
    SF_INFO info = {.samplerate = 12500, .channels = 2, .format = SF_FORMAT_WAV | SF_FORMAT_PCM_16};
    SNDFILE *snd = sf_open(path, SFM_WRITE, &info);
    assert_non_null(snd);
    assert_int_equal(sf_writef_short(snd, pcm, (sf_count_t)n), (sf_count_t)n);
    sf_close(snd);
    /* libsndfile's own floats */
    float *want = malloc(2 * n * sizeof *want);
    memset(&info, 0, sizeof info);
    snd = sf_open(path, SFM_READ, &info);
    assert_non_null(snd);
    assert_int_equal(sf_readf_float(snd, want, (sf_count_t)n), (sf_count_t)n);
    sf_close(snd);
    const dop_channels maps[] = {DOP_CHANNELS_IQ, DOP_CHANNELS_QI, DOP_CHANNELS_MONO};
    float complex *got = malloc(n * sizeof *got);
    for (int m = 0; m < 3; m++) {
        dop_reader_config rc = dop_reader_config_default();
        rc.path = path;
        rc.channels = maps[m];
        dop_reader *r = NULL;
        assert_int_equal(dop_reader_open(&rc, &r, NULL), DOP_OK);
        size_t total = 0, count;
        do { /* odd request sizes */
            size_t want_now = 1 + (size_t)(rng() % 50000);
            if (want_now > n - total) want_now = n - total;
            assert_int_equal(dop_reader_read(r, got + total, want_now, &count, NULL), DOP_OK);
            total += count;
        } while (count > 0 && total < n);
        assert_int_equal(total, n);
        dop_reader_close(r);
        for (size_t i = 0; i < n; i++) {
            float left = want[2 * i], right = want[2 * i + 1];
            float complex expect = maps[m] == DOP_CHANNELS_QI ? CMPLXF(right, left)
                                   : maps[m] == DOP_CHANNELS_MONO ? CMPLXF(left, 0.0f)
                                                                  : CMPLXF(left, right);
            if (memcmp(&got[i], &expect, sizeof expect) != 0) fail_msg("mapping %d sample %zu differs", m, i);
        }
    }
    free(pcm);
    free(want);
    free(got);
    io_tmpdir_remove(dir);
}

/* ---- wall filter ---- */

/* The sample-by-sample recursion (transposed direct form II, double). */
typedef struct ref_section {
    double b0, b1, b2, a1, a2, z[2][2];
} ref_section;

static int ref_design(double fs, double fc, int order, ref_section *s)
{
    const double k = tan(M_PI * fc / fs);
    int n = 0;
    for (int i = 0; i < order / 2; i++) {
        double zeta = sin(M_PI * (2 * i + 1) / (2.0 * order)), a0 = 1.0 + 2.0 * zeta * k + k * k;
        s[n++] = (ref_section){1.0 / a0, -2.0 / a0, 1.0 / a0, 2.0 * (k * k - 1.0) / a0, (1.0 - 2.0 * zeta * k + k * k) / a0, {{0}}};
    }
    if (order % 2) s[n++] = (ref_section){1.0 / (1.0 + k), -1.0 / (1.0 + k), 0.0, (k - 1.0) / (1.0 + k), 0.0, {{0}}};
    return n;
}

static void ref_filter(ref_section *s, int sections, const float complex *in, float complex *out, size_t n)
{
    for (size_t t = 0; t < n; t++) {
        double x[2] = {crealf(in[t]), cimagf(in[t])};
        for (int q = 0; q < sections; q++)
            for (int c = 0; c < 2; c++) {
                double *z = s[q].z[c];
                double y = s[q].b0 * x[c] + z[0];
                z[0] = s[q].b1 * x[c] - s[q].a1 * y + z[1];
                z[1] = s[q].b2 * x[c] - s[q].a2 * y;
                x[c] = y;
            }
        out[t] = CMPLXF((float)x[0], (float)x[1]);
    }
}

static void wall_filter_chunks_match_recursion(void **state)
{
    (void)state;
    const size_t n = 60000;
    float complex *x = malloc(n * sizeof *x), *one = malloc(n * sizeof *one), *split = malloc(n * sizeof *split);
    float complex *ref = malloc(n * sizeof *ref);
    /* Strong slow clutter (the cancellation the chunks must survive) over a weak broadband signal. */
    for (size_t t = 0; t < n; t++) {
        double ph = 2.0 * M_PI * 7.0 * (double)t / 12500.0;
        x[t] = CMPLXF((float)(0.9 * cos(ph) + 1e-3 * (uniform() - 0.5)), (float)(0.9 * sin(ph) + 1e-3 * (uniform() - 0.5)));
    }
    float complex *narrow_out = malloc(n * sizeof *narrow_out);
    for (int order = 1; order <= 12; order++) {
        dop_wall_filter_config cfg = dop_wall_filter_config_default();
        cfg.fs_hz = 12500.0;
        cfg.cutoff_hz = order % 3 == 0 ? 300.0 : 50.0;
        cfg.order = order;
        dop_wall_filter *wf = NULL;
        /* the same bits with and without AVX-512 */
        set_narrow(1);
        assert_int_equal(dop_wall_filter_create(&cfg, &wf, NULL), DOP_OK);
        dop_wall_filter_push(wf, x, narrow_out, n);
        dop_wall_filter_destroy(wf);
        set_narrow(0);
        assert_int_equal(dop_wall_filter_create(&cfg, &wf, NULL), DOP_OK);
        dop_wall_filter_push(wf, x, one, n);
        assert_memory_equal(one, narrow_out, n * sizeof *one);
        dop_wall_filter_reset(wf);
        for (size_t i = 0; i < n;) { /* pushes of every size, some a multiple of the chunk groups */
            size_t take = rng() % 3 == 0 ? 1024 * (1 + rng() % 3) : 1 + (size_t)(rng() % 3000);
            if (take > n - i) take = n - i;
            dop_wall_filter_push(wf, x + i, split + i, take);
            i += take;
        }
        assert_memory_equal(one, split, n * sizeof *one);
        ref_section s[6];
        int sections = ref_design(cfg.fs_hz, cfg.cutoff_hz, order, s);
        ref_filter(s, sections, x, ref, n);
        /* Within float rounding of each output: two units in its last
         * place (2^-22 relative), or 1e-12 of the input's amplitude where
         * the output is near zero (the double recursions differ at ~1e-16).
         * Under clutter 60 dB above the signal, as here, about 0.3 % of the
         * values round to a neighbouring float; at most 1 % may. */
        size_t differ = 0;
        for (size_t t = 0; t < n; t++) {
            const float a[2] = {crealf(one[t]), cimagf(one[t])}, b[2] = {crealf(ref[t]), cimagf(ref[t])};
            for (int c = 0; c < 2; c++) {
                if (a[c] == b[c]) continue;
                differ++;
                if (!(fabs((double)a[c] - (double)b[c]) <= 0x1p-22 * fabs((double)b[c]) + 1e-12))
                    fail_msg("order %d sample %zu: %.9g vs the recursion's %.9g", order, t, (double)a[c], (double)b[c]);
            }
        }
        if (differ > 2 * n / 100) fail_msg("order %d: %zu of %zu values differ from the recursion", order, differ, 2 * n);
        dop_wall_filter_destroy(wf);
    }
    free(x);
    free(one);
    free(split);
    free(ref);
    free(narrow_out);
}

/* ---- spectrum ---- */

typedef struct frames_capture {
    float *psd;
    double *time_s;
    float *peak;
    size_t bins, count, cap;
} frames_capture;

static int capture(const dop_spectrum_frame *f, void *user)
{
    frames_capture *c = user;
    if (c->count < c->cap) {
        memcpy(c->psd + c->count * f->bins, f->psd, f->bins * sizeof *c->psd);
        c->time_s[c->count] = f->time_s;
        c->peak[c->count] = f->peak;
    }
    c->count++;
    return 0;
}

static void spectrum_any_split_same_frames(void **state)
{
    (void)state;
    const size_t n = 30011;
    float complex *x = malloc(n * sizeof *x);
    for (size_t t = 0; t < n; t++) x[t] = CMPLXF((float)(uniform() - 0.5), (float)(uniform() - 0.5));
    x[20000] = CMPLXF(NAN, 0.25f); /* a peak passes over it */
    const double windows_ms[] = {20.0, 15.0, 20.0};
    const double hops_ms[] = {10.0, 5.0, 20.0};
    for (int w = 0; w < 3; w++) {
        dop_spectrum_config cfg = dop_spectrum_config_default();
        cfg.fs_hz = 12500.0;
        cfg.window_ms = windows_ms[w];
        cfg.hop_ms = hops_ms[w];
        dop_spectrum *s = NULL;
        assert_int_equal(dop_spectrum_create(&cfg, &s, NULL), DOP_OK);
        size_t bins = dop_spectrum_bins(s), cap = n / 60 + 2;
        frames_capture a = {malloc(cap * bins * sizeof(float)), malloc(cap * sizeof(double)), malloc(cap * sizeof(float)),
                            bins, 0, cap};
        frames_capture b = {malloc(cap * bins * sizeof(float)), malloc(cap * sizeof(double)), malloc(cap * sizeof(float)),
                            bins, 0, cap};
        assert_int_equal(dop_spectrum_push(s, x, n, capture, &a), DOP_OK);
        /* the split pushes without the AVX loops: the same frames either way */
        dop_spectrum_destroy(s);
        set_narrow(1);
        assert_int_equal(dop_spectrum_create(&cfg, &s, NULL), DOP_OK);
        set_narrow(0);
        for (size_t i = 0; i < n;) {
            size_t take = 1 + (size_t)(rng() % 700);
            if (take > n - i) take = n - i;
            assert_int_equal(dop_spectrum_push(s, x + i, take, capture, &b), DOP_OK);
            i += take;
        }
        assert_int_equal(a.count, b.count);
        assert_true(a.count <= cap);
        assert_memory_equal(a.psd, b.psd, a.count * bins * sizeof(float));
        assert_memory_equal(a.time_s, b.time_s, a.count * sizeof(double));
        assert_memory_equal(a.peak, b.peak, a.count * sizeof(float));
        free(a.psd), free(a.time_s), free(a.peak), free(b.psd), free(b.time_s), free(b.peak);
        dop_spectrum_destroy(s);
    }
    free(x);
}

/* The beat path's loops as they were in beats.c. */
static double ref_best_predecessor(const double *scores, int64_t t, const double *penalty, int64_t dlo, int64_t dhi,
                                   int64_t *best_d)
{
    double best = 0.0;
    *best_d = 0;
    for (int64_t d = dlo; d <= dhi; d++) {
        double v = scores[t - d] - penalty[d];
        if (v > best) {
            best = v;
            *best_d = d;
        }
    }
    return best;
}

static void beat_path_matches_plain_loops(void **state)
{
    (void)state;
    enum { N = 700, LEN = 61 };
    double line[N + LEN], cycle[LEN], out[N], penalty[N];
    set_narrow(0);
    for (int trial = 0; trial < 200; trial++) {
        const int coarse = trial % 3 == 0; /* few distinct values: ties */
        for (size_t i = 0; i < N + LEN; i++) line[i] = coarse ? (double)(rng() % 4) : uniform() * 4.0 - 1.0;
        for (size_t i = 0; i < N; i++) penalty[i] = coarse ? (double)(rng() % 3) : uniform() * 2.0;
        if (trial % 7 == 1) line[rng() % N] = NAN;
        const size_t len = 1 + rng() % LEN, count = rng() % (N - len);
        for (size_t i = 0; i < len; i++) cycle[i] = uniform() - 0.3;
        const double gain = uniform() + 0.5;
        dop_beat_match(line, count, cycle, len, gain, out);
        for (size_t j = 0; j < count; j++) {
            double m = 0.0;
            for (size_t i = 0; i < len; i++) m += cycle[i] * line[j + i];
            m *= gain;
            assert_memory_equal(&m, &out[j], sizeof m);
        }
        for (int64_t t = 200; t < N; t += 37) {
            const int64_t dlo = 1 + (int64_t)(rng() % 60), dhi = dlo - 1 + (int64_t)(rng() % 140);
            int64_t ref_d;
            const double ref = ref_best_predecessor(line, t, penalty, dlo, dhi, &ref_d);
            const int widest = dop_cpu_use_avx512() ? 2 : dop_cpu_use_avx();
            for (int level = 0; level <= widest; level++) {
                int64_t d;
                const double v = dop_beat_best_predecessor_at(line, t, penalty, dlo, dhi, level, &d);
                assert_memory_equal(&v, &ref, sizeof v);
                assert_int_equal(d, ref_d);
            }
        }
    }
}

/* Four noisy onset strengths with a period of `period` samples. */
static void tempo_inputs(double *x[DOP_TEMPO_FEATURES], size_t n, double period)
{
    for (int k = 0; k < DOP_TEMPO_FEATURES; k++)
        for (size_t i = 0; i < n; i++) {
            double phase = fmod((double)i + 3.0 * k, period) / period;
            x[k][i] = (phase < 0.15 ? 1.0 : 0.0) * (k + 1) + (0.3 + 0.2 * k) * uniform();
        }
}

static void tempo_same_on_every_path(void **state)
{
    (void)state;
    enum { N = 601 };
    double buf[DOP_TEMPO_FEATURES][N];
    double *x[DOP_TEMPO_FEATURES];
    for (int k = 0; k < DOP_TEMPO_FEATURES; k++) x[k] = buf[k];
    dop_tempo_config cfg = dop_tempo_config_default();
    cfg.rate_hz = 50.0;
    cfg.max_samples = N;
    for (int trial = 0; trial < 12; trial++) {
        tempo_inputs(x, N, 25.0 + 6.0 * trial);
        const size_t n = N - (size_t)trial * 17;
        dop_tempo_estimate e[3];
        memset(e, 0, sizeof e); /* padding too: compared as bytes */
        for (int narrow = 0; narrow < 2; narrow++) {
            set_narrow(narrow);
            dop_tempo *t = NULL;
            assert_int_equal(dop_tempo_create(&cfg, &t, NULL), DOP_OK);
            dop_tempo_estimate_window(t, (const double *const *)x, n, &e[narrow]);
            dop_tempo_estimate_window(t, (const double *const *)x, n, &e[2]); /* the memo */
            assert_memory_equal(&e[narrow], &e[2], sizeof e[2]);
            dop_tempo_destroy(t);
        }
        assert_memory_equal(&e[0], &e[1], sizeof e[0]);
    }
    set_narrow(0);
}

static void beat_evidence_same_on_every_path(void **state)
{
    (void)state;
    enum { FRAMES = 300 };
    const size_t sizes[] = {256, 250, 7};
    for (size_t si = 0; si < 3; si++) {
        const size_t bins = sizes[si];
        float *psd = malloc(bins * sizeof *psd);
        dop_beat_evidence_frame *out[2];
        dop_beat_evidence_config cfg = dop_beat_evidence_config_default();
        cfg.bins = bins;
        cfg.frame_rate_hz = 100.0;
        for (int narrow = 0; narrow < 2; narrow++) {
            set_narrow(narrow);
            out[narrow] = calloc(FRAMES, sizeof *out[narrow]);
            dop_beat_evidence *e = NULL;
            assert_int_equal(dop_beat_evidence_create(&cfg, &e, NULL), DOP_OK);
            rng_state = 0x9E3779B97F4A7C15ULL + si; /* the same frames on both paths */
            for (int f = 0; f < FRAMES; f++) {
                make_frame(psd, bins, 1e-3 * (1.0 + (f % 37)), f);
                if (f % 50 == 7) psd[bins / 3] = 0.0f;
                out[narrow][f] = dop_beat_evidence_push(e, psd);
            }
            dop_beat_evidence_destroy(e);
        }
        assert_memory_equal(out[0], out[1], FRAMES * sizeof *out[0]);
        free(out[0]);
        free(out[1]);
        free(psd);
    }
    set_narrow(0);
}

static void spectral_lines_same_on_every_path(void **state)
{
    (void)state;
    enum { FRAMES = 600 };
    const size_t sizes[] = {256, 250};
    for (size_t si = 0; si < 2; si++) {
        const size_t bins = sizes[si];
        float *psd = malloc(bins * sizeof *psd), *out[2];
        long long lines[2];
        dop_spectral_lines_config cfg = dop_spectral_lines_config_default();
        cfg.bins = bins;
        cfg.frame_rate_hz = 100.0;
        for (int narrow = 0; narrow < 2; narrow++) {
            set_narrow(narrow);
            out[narrow] = malloc(FRAMES * bins * sizeof *out[narrow]);
            dop_spectral_lines *sl = NULL;
            assert_int_equal(dop_spectral_lines_create(&cfg, &sl, NULL), DOP_OK);
            rng_state = 0x5DEECE66DULL + si; /* the same frames on both paths */
            for (int f = 0; f < FRAMES; f++) {
                make_frame(psd, bins, 1e-3, f);
                for (size_t k = 20; k < 60; k++) psd[k] *= 50.0f; /* blood beside ... */
                psd[bins / 2 + 40] = 1.0f;                         /* ... a steady tone: a line */
                memcpy(out[narrow] + (size_t)f * bins, dop_spectral_lines_push(sl, psd), bins * sizeof *psd);
            }
            lines[narrow] = dop_spectral_lines_frames(sl);
            dop_spectral_lines_destroy(sl);
        }
        assert_memory_equal(out[0], out[1], FRAMES * bins * sizeof *out[0]);
        assert_true(lines[0] == lines[1] && lines[0] > 0); /* lines were found and removed */
        free(out[0]);
        free(out[1]);
        free(psd);
    }
    set_narrow(0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(noise_floor_matches_reference),
        cmocka_unit_test(fmt_matches_printf),
        cmocka_unit_test(csv_rows_match_printf),
        cmocka_unit_test(reader_pcm16_matches_libsndfile),
        cmocka_unit_test(wall_filter_chunks_match_recursion),
        cmocka_unit_test(spectrum_any_split_same_frames),
        cmocka_unit_test(beat_path_matches_plain_loops),
        cmocka_unit_test(tempo_same_on_every_path),
        cmocka_unit_test(beat_evidence_same_on_every_path),
        cmocka_unit_test(spectral_lines_same_on_every_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
