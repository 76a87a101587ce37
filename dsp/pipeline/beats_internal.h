/* The beat stage's private parts (dsp/pipeline/beats.c and the two files
 * split from it): the ring of per-frame slots, the stage's state, and the
 * calls between the three files.
 *  - beats.c: create, the features in, the beat path, push and flush;
 *  - beat_periodicity.c: the periodicity of the last window (tempo, weights,
 *    the cycle template, the foot of the upstroke);
 *  - beat_segment.c: the frames out (beats closed, measured, judged,
 *    artifacts bridged).
 * Not installed; nothing here is part of the library's interface. */
#ifndef DOPFLOW_PIPELINE_BEATS_INTERNAL_H
#define DOPFLOW_PIPELINE_BEATS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "dopflow/beat_tempo.h"
#include "dopflow/beats.h"

/* The features of a frame: the flow's velocity traces, and the spectral
 * evidence twice: as it is, and with bursts left out (F_*_QUIET). */
enum { F_VMAX, F_VMEAN, F_POWER, F_FLUX, F_POWER_QUIET, F_FLUX_QUIET, N_FEATURES };
#define N_USED DOP_TEMPO_FEATURES

#define MEDIAN_LEN 5            /* frames: removes isolated spikes and one-frame gaps */
#define SMOOTH_S 0.08           /* moving average of the traces, s */
#define FOOT_WINDOW_S 0.25      /* the foot is searched this far before the steepest rise, s */
#define FOOT_PERIOD_FRACTION 0.3 /* ... and at most this fraction of the period */
#define UPDATE_S 2.0            /* periodicity re-estimated and path fixed every UPDATE_S */
#define COMMIT_DELAY_S 4.0      /* path nodes are fixed this long after they were scored */
#define FIRST_ESTIMATE_S 4.0    /* first estimate after this much data (or at the end) */
#define TEMPO_RATE_HZ 50.0      /* onset strengths decimated to about this rate for the tempo */
#define DIRECTION_S 5.0         /* the flow's main direction: mean over this long */
#define POWER_FLOOR 1e-6        /* excess power ratio added before the logarithm */
#define MIN_SPACING 0.5         /* two beats at least this fraction of the period apart */
#define SHORT_BEAT 0.6          /* beats shorter than this fraction of the period are irregular */
#define LONG_BEAT 1.6           /* ... and longer than this */
#define SIGNAL_MIN_DB 10.0      /* a pulsatile span has frames this far above the noise */
#define SIGNAL_SHARE 0.1        /* ... in at least this share of its frames */
#define CLEAR_FLOW 2.0          /* flow periodicity above this x z_min: bursts are artifacts */
#define EXCESS_SHARE 0.5        /* artifact rejection: excess over the usual share > this x reject fraction */
#define CONFIRM_PERIOD 0.1       /* two estimates in a row agree: periods within this fraction */
#define HIDING_MAJORITY 0.5     /* the detector flags more than this share of frames: no artifact verdicts */
#define TEMPLATE_BEATS 16       /* the cycle template averages the last this many beats */
#define TEMPLATE_MIN_BEATS 3    /* ... and is used from this many on */
#define TEMPLATE_PASSES 8       /* the first template: at most this many passes (first_template) */

typedef struct slot {
    dop_frame frame;
    double held[N_FEATURES];    /* feature, artifact frames at the last clean value */
    double median[N_FEATURES];  /* running median of `held` over MEDIAN_LEN frames */
    double trace[N_FEATURES];   /* moving average of `median` */
    double onset[N_FEATURES];   /* onset strength: rise of the trace (flux: itself) */
    double combined;            /* standardised combined onset strength (weights in force) */
    double score;               /* dynamic programming: best path score ending here */
    int64_t back;               /* previous beat on that path, -1 if none */
} slot;

struct dop_beats {
    dop_beats_config cfg;
    dop_beats_output output;
    dop_tempo *tempo;
    slot *ring;
    size_t ring_mask;                /* slots - 1 (a power of two) */
    size_t slots;
    size_t smooth_len, window_len, delay_len, update_len, first_len, foot_len, max_beat_len, decimation;
    double *tempo_in[N_USED];        /* decimated window for the tempo estimate */
    int used[N_USED];                /* the features in use: velocity traces, spectral pair */
    int64_t *path;                   /* trace back scratch, `slots` entries */
    double *line;                    /* scratch: combined onset strengths in a row, `slots` */
    double *local;                   /* scratch: local scores of the frames scored, `slots` */
    double *sq;                      /* scratch: prefix sums of line^2, `slots` + 1 */
    double *scores;                  /* scratch: path scores in a row, slots + 2 max beat + 2 */
    int avx;                         /* dop_cpu_use_avx() at creation */
    double *penalty;                 /* tempo prior by interval, frames 0..2 max beat */
    /* stream state */
    int64_t hist_first;              /* oldest frame with features */
    int64_t first_seq, next_seq;     /* frames held: [first_seq, next_seq) */
    int64_t dp_seq;                  /* frames before it have a path score */
    int64_t dp_first;                /* oldest frame with a valid path score */
    int64_t last_estimate_seq;
    int64_t last_node;               /* last fixed path node (steepest rise), -1 */
    int64_t open_onset;              /* onset of the beat in progress, -1 */
    double last_clean[N_FEATURES];
    int have_clean[N_FEATURES];
    double direction_mean;           /* running mean of forward - reverse maximum velocity */
    double hiding_rate;              /* running fraction of burst/dropout frames (window_s) */
    int64_t direction_count;
    /* the periodicity in force */
    int have_estimate;
    int confirmed;                   /* pulsatile in two estimates in a row, with one period */
    dop_tempo_estimate estimate;
    double period_frames;            /* estimate.period_s x frame rate */
    double feature_mean[N_USED], feature_sd[N_USED], combined_sd; /* of the features in use */
    int primary_trace;               /* the most reliable trace: foot search without a template */
    /* the cycle template: the combined onset strength around the last beats */
    int64_t nodes[TEMPLATE_BEATS];   /* their path nodes, a ring */
    size_t node_count;
    double *cycle;                   /* 2 half + 1 values, node at [half] */
    double *cycle_sum;               /* scratch: running sum of cycle (template_foot) */
    double *foot_in;                 /* scratch: one beat's trace before its node */
    double foot_offset;              /* foot of the template's upstroke - node, frames */
    int64_t half;                    /* frames either side; 0: no template in use */
    double cycle_gain;               /* cycle[half] / sum of cycle^2 */
    double cycle_energy;             /* sum of cycle^2 */
    /* results */
    int64_t beat_count;
    long long not_pulsatile_frames;
    double best_z;
    int stopped;
};

/* The slot of frame seq in the ring. */
static inline slot *beat_slot(const dop_beats *b, int64_t seq) { return &b->ring[(size_t)seq & b->ring_mask]; }

/* ---- beat_segment.c: the frames out ---- */

/* Whether the periodicity in force is pulsatile. */
int beats_pulsatile_now(const dop_beats *b);
/* Release frames [first_seq, upto) as not belonging to a beat. */
void beats_release_unassigned(dop_beats *b, int64_t upto);
/* A new onset: the beat in progress ends there (if it is not too long). */
void beats_on_onset(dop_beats *b, int64_t onset);
/* The data end inside the beat in progress: it is reported as incomplete. */
void beats_close_incomplete(dop_beats *b);

/* ---- beat_periodicity.c: the periodicity ---- */

/* Periodicity of the last window_s (or all the data there is): the tempo
 * estimate, the feature weights, the tempo prior and the cycle template. */
void beats_estimate_tempo(dop_beats *b);
/* The weighted sum of the standardised onset strengths in use at seq. */
double beats_combined_onset(const dop_beats *b, int64_t seq);
/* The foot of an upstroke in y[0..n) whose steepest rise is within reach
 * of index node, by intersecting tangents (Chiu et al. 1991); fractional
 * index. */
double beats_tangent_foot(const double *y, int64_t n, int64_t node, int64_t reach);
/* The cycle template from the first TEMPLATE_BEATS of `count` path nodes
 * (the latest first; those not wholly in memory skipped): 1 if it is in use,
 * 0 with too few of them (half = 0). */
int beats_build_cycle(dop_beats *b, const int64_t *nodes, size_t count);
/* How far before a node its foot is searched, frames. */
int64_t beats_foot_reach(const dop_beats *b);

#endif
