/* Simulator sink: raw interleaved little-endian I/Q (int16 or float32),
 * pulse-major, gates inside a pulse: I(p,0) Q(p,0) I(p,1) Q(p,1) ... No
 * header: the rate and acquisition go to the sidecar JSON, the sample type
 * follows the spec's sample_format. What `dopflow analyze --raw-format`
 * reads (one gate). */
#include "sim_sink.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RAW_CHUNK 4096 /* complex values converted per fwrite */

typedef struct raw_sink {
    FILE *f;
    const char *name;
    sim_sink_params p;
    void *conv; /* RAW_CHUNK x 2 values */
} raw_sink;

static void abort_raw(void *state)
{
    raw_sink *r = state;
    if (!r) return;
    if (r->f) fclose(r->f);
    free(r->conv);
    free(r);
}

static dop_status open_raw_sink(const char *tmp_path, const char *name, const sim_sink_params *p, void **state,
                                dop_error *err)
{
    *state = NULL;
#if !(defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__)
    return dop_error_set(err, DOP_ERR_INVALID_ARG, "%s: raw output is written on little-endian hosts only", name);
#endif
    raw_sink *r = calloc(1, sizeof *r);
    if (!r || !(r->conv = malloc(RAW_CHUNK * 2 * sizeof(float)))) {
        abort_raw(r);
        return dop_error_set(err, DOP_ERR_NOMEM, "out of memory writing %s", name);
    }
    r->name = name;
    r->p = *p;
    if (!(r->f = fopen(tmp_path, "wb"))) {
        int e = errno;
        abort_raw(r);
        return dop_error_set(err, DOP_ERR_IO, "%s: cannot write: %s", name, strerror(e));
    }
    *state = r;
    return DOP_OK;
}

static dop_status write_raw(void *state, const float complex *x, size_t n, int64_t *clipped, dop_error *err)
{
    raw_sink *r = state;
    size_t values = n * (size_t)r->p.gates;
    for (size_t done = 0; done < values;) {
        size_t k = values - done < RAW_CHUNK ? values - done : RAW_CHUNK;
        size_t bytes = sim_scale(&r->p, x + done, k, r->conv, clipped);
        if (fwrite(r->conv, 2 * bytes, k, r->f) != k)
            return dop_error_set(err, DOP_ERR_IO, "%s: write failed: %s", r->name, strerror(errno));
        done += k;
    }
    return DOP_OK;
}

static dop_status finish_raw(void *state, dop_error *err)
{
    raw_sink *r = state;
    int rc = fclose(r->f);
    r->f = NULL;
    const char *name = r->name;
    abort_raw(r);
    return rc == 0 ? DOP_OK : dop_error_set(err, DOP_ERR_IO, "%s: cannot finish: %s", name, strerror(errno));
}

const sim_sink_ops sim_sink_raw = {"raw", ".iq .raw", 1, open_raw_sink, write_raw, finish_raw, abort_raw};
