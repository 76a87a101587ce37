/* Simulator sink: stereo WAV (left I, right Q) through libsndfile, 16-bit
 * PCM or 32-bit float. One gate only (audio has no depth). */
#include "sim_sink.h"

#include <sndfile.h>
#include <stdlib.h>
#include <string.h>

#define WAV_CHUNK 4096 /* frames converted per libsndfile write */

typedef struct wav_sink {
    SNDFILE *snd;
    const char *name;
    sim_sink_params p;
    void *conv; /* WAV_CHUNK x 2 converted values */
} wav_sink;

static void abort_wav(void *state)
{
    wav_sink *w = state;
    if (!w) return;
    if (w->snd) sf_close(w->snd);
    free(w->conv);
    free(w);
}

static dop_status open_wav(const char *tmp_path, const char *name, const sim_sink_params *p, void **state,
                           dop_error *err)
{
    *state = NULL;
    if (p->gates != 1)
        return dop_error_set(err, DOP_ERR_INVALID_ARG, "%s: a WAV recording holds one gate; %ld gates need an IQ format "
                             "(.h5, .uff, .mat)", name, p->gates);
    wav_sink *w = calloc(1, sizeof *w);
    if (!w || !(w->conv = malloc(WAV_CHUNK * 2 * sizeof(float)))) {
        abort_wav(w);
        return dop_error_set(err, DOP_ERR_NOMEM, "out of memory writing %s", name);
    }
    w->name = name;
    w->p = *p;
    SF_INFO info;
    memset(&info, 0, sizeof info);
    info.samplerate = (int)p->prf_hz;
    info.channels = 2;
    info.format = SF_FORMAT_WAV | (p->float_samples ? SF_FORMAT_FLOAT : SF_FORMAT_PCM_16);
    w->snd = sf_open(tmp_path, SFM_WRITE, &info);
    if (!w->snd) {
        abort_wav(w);
        return dop_error_set(err, DOP_ERR_IO, "%s: cannot write WAV: %s", name, sf_strerror(NULL));
    }
    /* The PEAK chunk of float WAVs carries a time stamp: leave it out so
     * that the same spec gives the same bytes. */
    sf_command(w->snd, SFC_SET_ADD_PEAK_CHUNK, NULL, SF_FALSE);
    *state = w;
    return DOP_OK;
}

static dop_status write_wav(void *state, const float complex *x, size_t n, int64_t *clipped, dop_error *err)
{
    wav_sink *w = state;
    for (size_t done = 0; done < n;) {
        size_t k = n - done < WAV_CHUNK ? n - done : WAV_CHUNK;
        sim_scale(&w->p, x + done, k, w->conv, clipped);
        sf_count_t wrote = w->p.float_samples ? sf_writef_float(w->snd, w->conv, (sf_count_t)k)
                                              : sf_writef_short(w->snd, w->conv, (sf_count_t)k);
        if (wrote != (sf_count_t)k)
            return dop_error_set(err, DOP_ERR_IO, "%s: write failed: %s", w->name, sf_strerror(w->snd));
        done += k;
    }
    return DOP_OK;
}

static dop_status finish_wav(void *state, dop_error *err)
{
    wav_sink *w = state;
    int rc = sf_close(w->snd);
    w->snd = NULL;
    const char *name = w->name;
    abort_wav(w);
    return rc == 0 ? DOP_OK : dop_error_set(err, DOP_ERR_IO, "%s: cannot finish WAV", name);
}

const sim_sink_ops sim_sink_wav = {"wav", ".wav", 0, open_wav, write_wav, finish_wav, abort_wav};
