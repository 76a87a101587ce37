/* Spectrum frame callbacks for tests (dop_spectrum_push's frame_fn): keep
 * the last frame's PSD, or every frame's. */
#ifndef DOPFLOW_TEST_SPECTRUM_CAPTURE_H
#define DOPFLOW_TEST_SPECTRUM_CAPTURE_H

#include <stddef.h>

#include "dopflow/spectrum.h"

/* The last frame: psd (bins values, malloc'd on the first frame; free it),
 * the frame count and the last frame's time (s). */
typedef struct psd_capture {
    float *psd;
    size_t bins, frames;
    double last_time;
} psd_capture;
int psd_capture_last(const dop_spectrum_frame *f, void *user);

/* Every frame: psd holds frames x bins values (grown as needed). */
typedef struct psd_log {
    float *psd;
    size_t bins, frames, capacity;
} psd_log;
int psd_log_append(const dop_spectrum_frame *f, void *user);
void psd_log_free(psd_log *log);

#endif
