/* Spectrum frame callbacks for tests (see spectrum_capture.h). */
#include "spectrum_capture.h"

#include <stdlib.h>
#include <string.h>

int psd_capture_last(const dop_spectrum_frame *f, void *user)
{
    psd_capture *c = user;
    if (!c->psd) c->psd = calloc(f->bins, sizeof *c->psd);
    if (!c->psd) return 1;
    c->bins = f->bins;
    memcpy(c->psd, f->psd, f->bins * sizeof *c->psd);
    c->frames++;
    c->last_time = f->time_s;
    return 0;
}

int psd_log_append(const dop_spectrum_frame *f, void *user)
{
    psd_log *log = user;
    if (log->frames == log->capacity) {
        size_t cap = log->capacity ? 2 * log->capacity : 64;
        float *grown = realloc(log->psd, cap * f->bins * sizeof *grown);
        if (!grown) return 1;
        log->psd = grown;
        log->capacity = cap;
    }
    log->bins = f->bins;
    memcpy(log->psd + log->frames * f->bins, f->psd, f->bins * sizeof *log->psd);
    log->frames++;
    return 0;
}

void psd_log_free(psd_log *log)
{
    free(log->psd);
    *log = (psd_log){0};
}
