/* dopflow: the records the analysis produces, one per spectral frame and
 * one per cardiac cycle. Velocities are signed (positive = toward the
 * probe, i.e. the direction of positive Doppler frequency), in cm/s. */
#ifndef DOPFLOW_RECORDS_H
#define DOPFLOW_RECORDS_H

#include <stdint.h>

#include "dopflow/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Quality flags of a frame (bit set). Artifact flags exclude the frame from
 * averages; a beat with too many artifact frames is rejected whole. */
enum {
    DOP_FRAME_BURST = 1u << 0,         /* broadband burst (probe knock, tapotement) */
    DOP_FRAME_SATURATED = 1u << 1,     /* samples at full scale (clipping) */
    DOP_FRAME_DROPOUT = 1u << 2,       /* signal vanished (power far below noise floor) */
    DOP_FRAME_NO_SIGNAL = 1u << 3,     /* no blood signal detected above the noise */
    DOP_FRAME_NEAR_NYQUIST = 1u << 4,  /* envelope within 5% of Nyquist: possible aliasing */
    DOP_FRAME_REJECTED_BEAT = 1u << 5, /* frame belongs to a rejected beat */
    DOP_FRAME_BRIDGED = 1u << 6,       /* artifact frame inside an accepted beat; its
                                          values in averages are interpolated from neighbours */
    DOP_FRAME_UNWRAPPED = 1u << 7,     /* aliased band unwrapped: velocities beyond Nyquist */
    DOP_FRAME_EXCLUDED = 1u << 8,      /* inside a span a reviewer excluded (review.h) */
    DOP_FRAME_NOT_PULSATILE = 1u << 9, /* no periodic cardiac evidence around this frame: no beats */
    DOP_FRAME_TISSUE_BURST = 1u << 10  /* tissue moved under the probe (percussion, a knock): power
                                          near 0 Hz rising on both sides at once (tissue_burst.h) */
};
#define DOP_FRAME_ARTIFACT_MASK (DOP_FRAME_BURST | DOP_FRAME_SATURATED | DOP_FRAME_DROPOUT | DOP_FRAME_TISSUE_BURST)

typedef struct dop_frame {
    int64_t index;               /* frame number from the start of the analysed span */
    double time_s;               /* centre of the analysis window, s from file start */
    double vmax_cm_s;            /* maximum-velocity envelope, signed: the dominant direction */
    double vmax_forward_cm_s;    /* maximum forward velocity (>= 0) */
    double vmax_reverse_cm_s;    /* maximum reverse velocity (<= 0) */
    double vmean_cm_s;           /* spatial-mean velocity estimate, signed (forward - reverse) */
    double diameter_mm;          /* vessel diameter at this time (NAN = unknown) */
    double flow_ml_min;          /* vmean x pi D^2/4 x 60 (NAN without diameter) */
    double shear_rate_s;         /* wall shear rate 8 vmean / D, 1/s (Poiseuille) */
    double noise_db;             /* noise floor, dB re 1 (full scale)^2/Hz */
    double snr_db;               /* blood-signal power over noise power in the band */
    uint32_t flags;              /* DOP_FRAME_* */
    int64_t beat_index;          /* beat this frame belongs to, -1 if none */
} dop_frame;

typedef struct dop_beat {
    int64_t index;               /* beat number, from 0 */
    double start_s, end_s;       /* onset of this beat and of the next, s */
    double heart_rate_bpm;       /* 60 / (end - start) */
    double psv_cm_s;             /* peak systolic velocity (max of vmax envelope) */
    double edv_cm_s;             /* end-diastolic velocity (vmax envelope just before end) */
    double tamax_cm_s;           /* time-averaged maximum velocity over the beat */
    double tamean_cm_s;          /* time-averaged mean velocity over the beat */
    double pi;                   /* pulsatility index (PSV - EDV) / TAMAX (Gosling) */
    double ri;                   /* resistance index (PSV - EDV) / PSV (Pourcelot) */
    double flow_ml_min;          /* time-averaged volumetric flow over the beat */
    double shear_rate_s;         /* time-averaged wall shear rate, 1/s */
    double artifact_fraction;    /* fraction of the beat's frames flagged burst or dropout */
    int rejected;                /* 1 = left out of averages */
    double sqi;                  /* signal quality index 0..1 (see beats.h) */
    int reject_reason;           /* dop_beat_reason: why it was rejected (DOP_BEAT_ACCEPTED if not) */
    int incomplete;              /* 1 = the recording ends inside this beat: end_s is the end of
                                    the data, its indices and heart rate are NAN and it is in
                                    no average; its onset is a detected beat all the same */
} dop_beat;

/* Why a beat was rejected (dop_beat.reject_reason). */
typedef enum dop_beat_reason {
    DOP_BEAT_ACCEPTED = 0,
    DOP_BEAT_ARTIFACT,            /* more artifact frames than the reject fraction */
    DOP_BEAT_IRREGULAR_INTERVAL,  /* length far from the heart period of its neighbourhood */
    DOP_BEAT_LOW_QUALITY,         /* signal quality index below the threshold */
    DOP_BEAT_REVIEW,              /* rejected by a reviewer (review.h; the text is "review: <reason>") */
    DOP_BEAT_NOT_PULSATILE        /* no flow in it: too few frames above the noise (beats.h) */
} dop_beat_reason;

/* "" for DOP_BEAT_ACCEPTED, else "artifact", "irregular_interval", "low_quality", "review",
 * "not_pulsatile". Errors: none. */
DOP_API const char *dop_beat_reason_name(int reason);

#ifdef __cplusplus
}
#endif
#endif
