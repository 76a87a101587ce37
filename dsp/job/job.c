/* One recording from file to results (see job.h). Output adapters live
 * here and in result_csv.c / h5_writer.c; the signal processing is in the
 * analysis. Every output is written atomically, and if anything fails, the
 * outputs already committed by this run are removed again: all or nothing. */
#include "dopflow/job.h"
#include "dopflow/atomic_file.h"
#include "dopflow/diameter.h"
#include "dopflow/h5_writer.h"
#include "dopflow/quadrature_check.h"
#include "dopflow/result_csv.h"
#include "dopflow/review.h"
#include "output/frame_queue.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Complex samples per read: 65536 (512 KiB, four chunks of the analysis's
 * worker, analysis.c); 32768 when the frames are streamed, which are
 * flushed block by block (a block is 2.6 s at 12.5 kHz). */
#define READ_BLOCK 65536
#define READ_BLOCK_STREAMED 32768

dop_job dop_job_default(void)
{
    dop_job job;
    memset(&job, 0, sizeof job);
    job.input = dop_reader_config_default();
    job.overrides = dop_acquisition_unset();
    job.start_s = NAN;
    job.end_s = NAN;
    job.analysis = dop_analysis_config_default();
    return job;
}

typedef struct job_outputs {
    dop_atomic_file *summary, *frames, *beats;
    dop_frame_queue *frame_rows; /* the frames file's rows, written by a second thread (NULL: in place) */
    dop_h5_writer *h5;
    float *db_row;
    size_t bins;
    dop_summary_acc *acc;
    double time_offset_s;
    dop_job_report *report;
    dop_review_replay *replay; /* NULL without a review */
    const dop_job_tap *tap;    /* NULL: none */
    dop_status status; /* first write failure inside a callback */
    dop_error *err;
} job_outputs;

static int on_spectrum(const dop_spectrum_frame *sf, double noise, void *user)
{
    job_outputs *o = user;
    (void)noise;
    const int tapped = o->tap && o->tap->on_spectrum;
    if (!o->h5 && !tapped) return 0;
    for (size_t k = 0; k < o->bins; k++) o->db_row[k] = (float)(10.0 * log10(sf->psd[k] + 1e-30));
    /* Rows are stamped like frames: seconds from the start of the file. */
    if (o->h5) o->status = dop_h5_writer_add_spectrum(o->h5, sf->time_s + o->time_offset_s, o->db_row, o->err);
    if (o->status == DOP_OK && tapped &&
        o->tap->on_spectrum(sf->time_s + o->time_offset_s, o->db_row, o->bins, o->tap->user))
        o->status = dop_error_set(o->err, DOP_ERR_INTERRUPTED, "analysis stopped by its viewer");
    return o->status != DOP_OK;
}

static int on_frame(const dop_frame *f, void *user)
{
    job_outputs *o = user;
    dop_summary_acc_add_frame(o->acc, f);
    o->report->frames++;
    if (o->frame_rows) {
        dop_frame_queue_push(o->frame_rows, f);
    } else if (o->frames) {
        FILE *out = dop_atomic_stream(o->frames);
        dop_frame_csv_row(out, f);
        fputc('\n', out);
    }
    if (o->h5) o->status = dop_h5_writer_add_frame(o->h5, f, o->err);
    if (o->status == DOP_OK && o->tap && o->tap->on_frame && o->tap->on_frame(f, o->tap->user))
        o->status = dop_error_set(o->err, DOP_ERR_INTERRUPTED, "analysis stopped by its viewer");
    return o->status != DOP_OK;
}

/* A beat; reject_reason is NULL without a review (no reason column). */
static int put_beat(job_outputs *o, const dop_beat *b, const char *reject_reason)
{
    dop_summary_acc_add_beat(o->acc, b);
    o->report->beats++;
    o->report->rejected_beats += b->rejected != 0;
    if (o->beats) {
        FILE *out = dop_atomic_stream(o->beats);
        dop_beat_csv_row_reason(out, b, b->reject_reason == DOP_BEAT_REVIEW ? reject_reason : NULL);
        fputc('\n', out);
    }
    if (o->h5) o->status = dop_h5_writer_add_beat(o->h5, b, o->err);
    if (o->status == DOP_OK && o->tap && o->tap->on_beat && o->tap->on_beat(b, reject_reason, o->tap->user))
        o->status = dop_error_set(o->err, DOP_ERR_INTERRUPTED, "analysis stopped by its viewer");
    return o->status != DOP_OK;
}

static int on_beat(const dop_beat *b, void *user) { return put_beat(user, b, NULL); }

static int on_reviewed_beat(const dop_beat *b, const char *reject_reason, void *user)
{
    return put_beat(user, b, reject_reason);
}

/* With a review, the segmenter's frames and beats go through the replay first. */
static int to_replay_frame(const dop_frame *f, void *user)
{
    job_outputs *o = user;
    dop_status st = dop_review_replay_frame(o->replay, f);
    if (st == DOP_ERR_NOMEM && o->status == DOP_OK) o->status = dop_error_set(o->err, st, "review: out of memory");
    return st != DOP_OK;
}

static int to_replay_beat(const dop_beat *b, void *user)
{
    job_outputs *o = user;
    return dop_review_replay_beat(o->replay, b) != DOP_OK;
}

/* The review file of the job (NULL when none applies), checked against
 * the recording's bytes when it names them. */
static dop_status load_review(const dop_job *job, dop_review **review, dop_job_report *report, dop_error *err)
{
    *review = NULL;
    if (job->no_review) return DOP_OK;
    const char *path = job->review_path;
    char *guessed = NULL;
    if (!path && strcmp(job->input.path, "-") != 0) {
        guessed = dop_review_path_for(job->input.path);
        if (!guessed) return dop_error_set(err, DOP_ERR_NOMEM, "out of memory");
        if (access(guessed, F_OK) == 0) path = guessed;
    }
    dop_status status = path ? dop_review_load(path, review, err) : DOP_OK;
    if (status == DOP_OK && *review && dop_review_input_sha256(*review)[0]) {
        char sha[65] = "";
        if (strcmp(job->input.path, "-") == 0)
            status = dop_error_set(err, DOP_ERR_METADATA, "%s: input_sha256 cannot be checked on standard input", path);
        else if ((status = dop_file_sha256(job->input.path, sha, err)) == DOP_OK)
            status = dop_review_check_input(*review, sha, path, job->input.path, err);
    }
    if (status == DOP_OK && *review) {
        snprintf(report->review_used, sizeof report->review_used, "%s", path);
        report->reviewed = dop_review_is_reviewed(*review);
        report->review_edits = (int64_t)dop_review_edit_count(*review);
    }
    if (status != DOP_OK) {
        dop_review_destroy(*review);
        *review = NULL;
    }
    free(guessed);
    return status;
}

/* The review's counts into the report, one line per unmatched edit. */
static void report_review(const dop_review *review, const dop_review_replay *replay, dop_job_report *report)
{
    dop_review_replay_stats st;
    dop_review_replay_get_stats(replay, &st);
    report->review_unmatched = st.unmatched;
    report->review_rejected_beats = st.beats_rejected;
    report->review_added_beats = st.beats_added;
    report->review_restored_beats = st.beats_restored;
    report->review_excluded_s = st.excluded_s;
    size_t used = 0, size = sizeof report->review_unmatched_text;
    for (size_t i = 0; i < dop_review_edit_count(review); i++) {
        if (dop_review_replay_edit_matched(replay, i)) continue;
        char what[128];
        dop_review_edit_text(dop_review_edit_at(review, i), what, sizeof what);
        int n = snprintf(report->review_unmatched_text + used, size - used, "%s: edit %zu (%s) matches no beat%s\n",
                         report->review_used, i + 1, what,
                         dop_review_edit_at(review, i)->action == DOP_REVIEW_EXCLUDE ? " or frame" :
                         " onset within 0.15 s");
        if (n < 0 || (size_t)n >= size - used) {
            report->review_unmatched_text[used] = '\0';
            break;
        }
        used += (size_t)n;
    }
}

static dop_status open_outputs(const dop_job *job, const dop_analysis *analysis, int reviewed, job_outputs *o,
                               dop_error *err)
{
    int stdout_users = 0;
    const char *paths[] = {job->summary_path, job->frames_path, job->beats_path};
    for (int i = 0; i < 3; i++) stdout_users += paths[i] && strcmp(paths[i], "-") == 0;
    if (stdout_users > 1)
        return dop_error_set(err, DOP_ERR_INVALID_ARG, "only one output can go to standard output ('-')");
    if (job->h5_path && strcmp(job->h5_path, "-") == 0)
        return dop_error_set(err, DOP_ERR_INVALID_ARG, "the HDF5 output needs a file name, not '-'");
    dop_status status;
    if (job->summary_path && (status = dop_atomic_open(job->summary_path, &o->summary, err)) != DOP_OK) return status;
    if (job->frames_path) {
        if ((status = dop_atomic_open(job->frames_path, &o->frames, err)) != DOP_OK) return status;
        fprintf(dop_atomic_stream(o->frames), "%s\n", dop_frame_csv_header());
        /* Streamed frames are flushed block by block from this thread: written in place. */
        if (!job->frames_stream &&
            (status = dop_frame_queue_create(dop_atomic_stream(o->frames), &o->frame_rows, err)) != DOP_OK)
            return status;
    }
    if (job->beats_path) {
        if ((status = dop_atomic_open(job->beats_path, &o->beats, err)) != DOP_OK) return status;
        fprintf(dop_atomic_stream(o->beats), "%s\n", dop_beat_csv_header());
    }
    if (job->h5_path || (job->tap && job->tap->on_spectrum)) {
        o->bins = dop_analysis_bins(analysis);
        o->db_row = malloc(o->bins * sizeof *o->db_row);
        if (!o->db_row) return dop_error_set(err, DOP_ERR_NOMEM, "out of memory");
    }
    if (job->tap && job->tap->on_start &&
        job->tap->on_start(dop_analysis_velocity_axis(analysis), dop_analysis_bins(analysis),
                           dop_analysis_frame_period_s(analysis), job->tap->user))
        return dop_error_set(err, DOP_ERR_INTERRUPTED, "analysis stopped by its viewer");
    if (job->h5_path) {
        status = dop_h5_writer_create(job->h5_path, o->bins, dop_analysis_velocity_axis(analysis), &o->h5, err);
        if (status != DOP_OK) return status;
    }
    return DOP_OK;
}

static void abort_outputs(job_outputs *o)
{
    dop_frame_queue_finish(o->frame_rows); /* its thread must be done with the stream */
    o->frame_rows = NULL;
    dop_atomic_abort(o->summary);
    dop_atomic_abort(o->frames);
    dop_atomic_abort(o->beats);
    dop_h5_writer_abort(o->h5);
    o->summary = o->frames = o->beats = NULL;
    o->h5 = NULL;
}

/* Commit the CSV outputs together (dop_atomic_commit_all: their disk
 * writes overlap), then the HDF5 file; on a failure remove what this run
 * already committed. */
static dop_status commit_outputs(const dop_job *job, job_outputs *o, dop_error *err)
{
    dop_atomic_file *files[3];
    const char *paths[3];
    size_t n = 0, committed = 0;
    dop_frame_queue_finish(o->frame_rows); /* every row in the stream */
    o->frame_rows = NULL;
    if (o->summary) files[n] = o->summary, paths[n++] = job->summary_path;
    if (o->frames) files[n] = o->frames, paths[n++] = job->frames_path;
    if (o->beats) files[n] = o->beats, paths[n++] = job->beats_path;
    o->summary = o->frames = o->beats = NULL;
    dop_status status = dop_atomic_commit_all(files, n, &committed, err);
    if (status == DOP_OK && o->h5) {
        status = dop_h5_writer_commit(o->h5, err);
        o->h5 = NULL;
    }
    if (status != DOP_OK) {
        for (size_t i = 0; i < committed; i++)
            if (strcmp(paths[i], "-") != 0) unlink(paths[i]);
        abort_outputs(o);
    }
    return status;
}

static dop_status write_h5_attributes(const dop_job *job, const dop_analysis_config *cfg, const dop_reader_info *info,
                                      double start_s, double end_s, dop_h5_writer *h5, dop_error *err)
{
    static const char *const windows[] = {"hann", "hamming", "blackman", "gaussian"};
    static const char *const fmax_methods[] = {"mgm", "percentile", "threshold", "knee"};
    static const char *const vmean_methods[] = {"intensity", "half-max", "kasai"};
    const struct { const char *name; double value; } numbers[] = {
        {"fs_hz", cfg->fs_hz}, {"f0_hz", cfg->acq.f0_hz}, {"angle_deg", cfg->acq.angle_deg},
        {"c_m_s", cfg->acq.c_m_s}, {"diameter_mm", cfg->acq.diameter_mm}, {"wall_hz", cfg->wall.cutoff_hz},
        {"wall_order", cfg->wall.order}, {"window_ms", cfg->spectrum.window_ms}, {"hop_ms", cfg->spectrum.hop_ms},
        {"fft_size", (double)cfg->spectrum.fft_size}, {"percentile", cfg->envelope.percentile},
        {"threshold_db", cfg->envelope.threshold_db}, {"detect_sigma", cfg->envelope.detect_sigma},
        {"noise_quantile", cfg->noise.quantile}, {"noise_rise_time_s", cfg->noise.rise_time_s},
        {"min_hr_bpm", cfg->beats.min_hr_bpm}, {"max_hr_bpm", cfg->beats.max_hr_bpm},
        {"beat_reject_fraction", cfg->beats.reject_fraction}, {"burst_factor", cfg->burst_factor},
        {"dropout_factor", cfg->dropout_factor}, {"start_s", start_s}, {"end_s", end_s},
        {"gates", (double)cfg->gates}, {"gate_first", (double)info->gate_first},
        {"baseline_shift_cm_s", cfg->baseline_shift_cm_s}, {"unwrap", cfg->unwrap == DOP_UNWRAP_ON},
        {"nyquist_cm_s", dop_doppler_cm_s_per_hz(cfg->acq.f0_hz, cfg->acq.angle_deg, cfg->acq.c_m_s) * cfg->fs_hz / 2.0},
    };
    dop_status status = DOP_OK;
    for (size_t i = 0; i < sizeof numbers / sizeof numbers[0] && status == DOP_OK; i++)
        status = dop_h5_writer_set_number(h5, numbers[i].name, numbers[i].value, err);
    const struct { const char *name; const char *value; } strings[] = {
        {"channels", dop_channels_name(cfg->acq.channels)},
        {"window", windows[cfg->spectrum.window]},
        {"vmax_method", fmax_methods[cfg->envelope.method]},
        {"vmean_method", vmean_methods[cfg->vmean_method]},
        {"dopflow_version", DOPFLOW_VERSION},
        {"input_file", job->input.path},
        {"input_format", dop_input_format_name(info->kind)},
        {"diameter_csv", job->diameter_csv ? job->diameter_csv : ""},
    };
    for (size_t i = 0; i < sizeof strings / sizeof strings[0] && status == DOP_OK; i++)
        status = dop_h5_writer_set_string(h5, strings[i].name, strings[i].value, err);
    if (status != DOP_OK) return status;
    char sha[65] = "";
    if (strcmp(job->input.path, "-") != 0) {
        if ((status = dop_file_sha256(job->input.path, sha, err)) != DOP_OK) return status;
    } else {
        snprintf(sha, sizeof sha, "standard input");
    }
    return dop_h5_writer_set_string(h5, "input_sha256", sha, err);
}

/* The review applied: its file, SHA-256 and edits (provenance). */
static dop_status write_h5_review(const dop_review *review, const char *path, dop_h5_writer *h5, dop_error *err)
{
    dop_status status = dop_h5_writer_set_string(h5, "review_file", path, err);
    if (status == DOP_OK) status = dop_h5_writer_set_string(h5, "review_sha256", dop_review_sha256(review), err);
    if (status == DOP_OK) status = dop_h5_writer_set_string(h5, "review_edits", dop_review_edits_json(review), err);
    if (status == DOP_OK) status = dop_h5_writer_set_string(h5, "review_note", dop_review_note(review), err);
    if (status == DOP_OK) status = dop_h5_writer_set_number(h5, "reviewed", dop_review_is_reviewed(review), err);
    return status;
}

/* Everything one run holds, released in one place (job_run_free). */
typedef struct job_run {
    const dop_job *job;
    dop_job_report *report;
    dop_reader *reader;
    const dop_reader_info *info;
    dop_diameter_track *track;
    dop_analysis *analysis;
    dop_review *review;
    dop_analysis_config cfg;
    dop_epoch *own_epochs;
    const dop_epoch *epochs;
    size_t n_epochs;
    double start_s, end_s;       /* the analysed span, s from the start of the file */
    int64_t first_sample;
    double remaining_limit;      /* samples to analyse; -1 = to the end */
    job_outputs o;
} job_run;

/* Metadata layers (defaults < the file's own < sidecar < job overrides),
 * the review, and the reader opened with the channels resolved. */
static dop_status open_input(job_run *run, dop_error *err)
{
    const dop_job *job = run->job;
    dop_job_report *report = run->report;
    dop_acquisition_layers meta;
    dop_status status = dop_acquisition_resolve(job->input.path, job->meta_path, NULL, &job->overrides, &meta, err);
    if (status != DOP_OK) return status;
    size_t used = strnlen(meta.sidecar_path, sizeof report->sidecar_used - 1); /* truncated like the old report */
    memcpy(report->sidecar_used, meta.sidecar_path, used);
    report->sidecar_used[used] = '\0';
    if ((status = load_review(job, &run->review, report, err)) != DOP_OK) return status;

    dop_reader_config input = job->input;
    if (input.channels == DOP_CHANNELS_UNSET) input.channels = meta.layered.channels;
    /* Nobody chose the channels: a stereo file that is not I/Q is read as mono (left). */
    if ((status = dop_quadrature_resolve(&input, &report->quadrature, err)) != DOP_OK) return status;
    if ((status = dop_reader_open(&input, &run->reader, err)) != DOP_OK) return status;
    run->info = dop_reader_get_info(run->reader);
    dop_acquisition acq = dop_acquisition_defaults();
    dop_acquisition_overlay(&acq, &run->info->file_acq);
    dop_acquisition_overlay(&acq, &meta.layered);
    acq.channels = run->info->channels;
    report->acq = acq;
    report->input = *run->info;
    report->fs_hz = run->info->rate_hz;
    report->non_directional = acq.channels == DOP_CHANNELS_MONO;
    return DOP_OK;
}

/* The analysis configuration for this recording: rate, metadata, gates,
 * unwrapping, the diameter track. */
static dop_status configure_analysis(job_run *run, dop_error *err)
{
    const dop_reader_info *info = run->info;
    dop_analysis_config *cfg = &run->cfg;
    *cfg = run->job->analysis;
    cfg->fs_hz = info->rate_hz;
    cfg->acq = run->report->acq;
    cfg->gates = info->gates;
    if (cfg->unwrap == DOP_UNWRAP_AUTO)
        cfg->unwrap = info->kind != DOP_INPUT_AUDIO && cfg->acq.channels != DOP_CHANNELS_MONO ? DOP_UNWRAP_ON
                                                                                              : DOP_UNWRAP_OFF;
    run->report->unwrap = cfg->unwrap == DOP_UNWRAP_ON;
    if (run->job->diameter_csv) {
        dop_status status = dop_diameter_track_load(run->job->diameter_csv, &run->track, err);
        if (status != DOP_OK) return status;
        cfg->diameter_fn = dop_diameter_track_at;
        cfg->diameter_user = run->track;
    }
    return DOP_OK;
}

/* The analysed span (start_s, end_s), checked against the recording, in samples. */
static dop_status choose_span(job_run *run, dop_error *err)
{
    const dop_job *job = run->job;
    const dop_reader_info *info = run->info;
    run->start_s = isnan(job->start_s) ? 0.0 : job->start_s;
    run->end_s = isnan(job->end_s) ? (info->frames >= 0 ? info->duration_s : DBL_MAX) : job->end_s;
    if (info->frames == 0) /* an empty file or stream: say so, not "--start 0 s is past the end" */
        return dop_error_set(err, DOP_ERR_NO_DATA, "%s: no samples (empty recording)",
                             strcmp(job->input.path, "-") == 0 ? "standard input" : job->input.path);
    if (info->frames >= 0 && run->start_s >= info->duration_s)
        return dop_error_set(err, DOP_ERR_NO_DATA, "%s: start_s = %g s is past the end of the recording (%.3f s)",
                             job->input.path, run->start_s, info->duration_s);
    if (run->start_s < 0.0 || !(run->start_s < run->end_s))
        return dop_error_set(err, DOP_ERR_INVALID_ARG, "start_s = %g s must be >= 0 and before end_s = %g s",
                             run->start_s, run->end_s);
    run->first_sample = (int64_t)llround(run->start_s * info->rate_hz);
    run->remaining_limit = run->end_s >= DBL_MAX / 2 ? -1.0 : (run->end_s - run->start_s) * info->rate_hz;
    run->cfg.time_offset_s = (double)run->first_sample / info->rate_hz;
    /* Floating-point samples are not limited to full scale (a float file
     * may hold values far beyond 1): loud is not clipped there. */
    if (info->is_float) run->cfg.clip_level = INFINITY;
    run->o.time_offset_s = run->cfg.time_offset_s;
    return DOP_OK;
}

/* The analysis, and the review's replay between it and the outputs. */
static dop_status create_analysis(job_run *run, dop_error *err)
{
    job_outputs *o = &run->o;
    dop_analysis_output callbacks = {on_spectrum, run->review ? to_replay_frame : on_frame,
                                     run->review ? to_replay_beat : on_beat, o};
    dop_status status = dop_analysis_create(&run->cfg, &callbacks, &run->analysis, err);
    if (status != DOP_OK) {
        if (status == DOP_ERR_METADATA || status == DOP_ERR_ALIASING || status == DOP_ERR_INVALID_ARG) {
            char detail[sizeof err->message];
            snprintf(detail, sizeof detail, "%s", err ? err->message : "");
            dop_error_set(err, status, "%s: %s", run->job->input.path, detail);
        }
        return status;
    }
    run->report->nyquist_cm_s = dop_analysis_nyquist_cm_s(run->analysis);
    if (!run->review) return DOP_OK;
    dop_review_replay_config rc = {dop_analysis_frame_period_s(run->analysis), run->cfg.beats.reject_fraction};
    dop_review_replay_output ro = {on_frame, on_reviewed_beat, o};
    return dop_review_replay_create(run->review, &rc, &ro, &o->replay, err);
}

/* The job's epochs, or one epoch "all" over the analysed span; then the
 * summary accumulator and the output files. */
static dop_status prepare_outputs(job_run *run, dop_error *err)
{
    run->epochs = run->job->epochs;
    run->n_epochs = run->job->n_epochs;
    if (!run->epochs || run->n_epochs == 0) {
        run->own_epochs = calloc(1, sizeof *run->own_epochs);
        if (!run->own_epochs) return dop_error_set(err, DOP_ERR_NOMEM, "out of memory");
        snprintf(run->own_epochs->label, sizeof run->own_epochs->label, "all");
        run->own_epochs->start_s = run->start_s;
        run->own_epochs->end_s = run->end_s;
        run->epochs = run->own_epochs;
        run->n_epochs = 1;
    }
    job_outputs *o = &run->o;
    dop_status status = dop_summary_acc_create(run->epochs, run->n_epochs,
                                               dop_analysis_frame_period_s(run->analysis), &o->acc, err);
    if (status == DOP_OK) status = open_outputs(run->job, run->analysis, run->review != NULL, o, err);
    if (status == DOP_OK && o->h5)
        status = write_h5_attributes(run->job, &run->cfg, run->info, run->start_s, run->end_s, o->h5, err);
    if (status == DOP_OK && o->h5 && run->review)
        status = write_h5_review(run->review, run->report->review_used, o->h5, err);
    return status;
}

/* Read the span block by block (READ_BLOCK samples, whatever the number of
 * gates) into the analysis; stops when the job's stop flag is raised. */
static dop_status push_samples(job_run *run, dop_error *err)
{
    const dop_job *job = run->job;
    const size_t gates = (size_t)run->info->gates;
    const size_t read_block = job->frames_stream ? READ_BLOCK_STREAMED : READ_BLOCK;
    const size_t block_pulses = gates < read_block ? read_block / gates : 1;
    float complex *block = malloc(block_pulses * gates * sizeof *block);
    if (!block) return dop_error_set(err, DOP_ERR_NOMEM, "out of memory");
    dop_status status = DOP_OK;
    if (run->first_sample > 0) status = dop_reader_skip_to(run->reader, run->first_sample, err);
    double pushed = 0.0;
    while (status == DOP_OK) {
        if (job->stop && *job->stop) {
            status = dop_error_set(err, DOP_ERR_INTERRUPTED, "%s: interrupted", job->input.path);
            break;
        }
        size_t want = block_pulses;
        if (run->remaining_limit >= 0.0) {
            double left = run->remaining_limit - pushed;
            if (left <= 0.0) break;
            if (left < (double)want) want = (size_t)ceil(left);
        }
        size_t got = 0;
        if ((status = dop_reader_read(run->reader, block, want, &got, err)) != DOP_OK || got == 0) break;
        status = dop_analysis_push(run->analysis, block, got, err);
        if (run->o.status != DOP_OK) status = run->o.status;
        pushed += (double)got;
        if (job->frames_stream && run->o.frames) fflush(dop_atomic_stream(run->o.frames));
    }
    free(block);
    return status;
}

/* Flush the analysis and the review's replay; what they counted into the report. */
static dop_status finish_analysis(job_run *run, dop_error *err)
{
    dop_job_report *report = run->report;
    job_outputs *o = &run->o;
    dop_status status = dop_analysis_flush(run->analysis, err);
    if (status == DOP_OK && o->replay && dop_review_replay_flush(o->replay) != DOP_OK)
        status = dop_error_set(err, DOP_ERR_INTERRUPTED, "analysis stopped by an output callback");
    if (o->replay) report_review(run->review, o->replay, report);
    report->unwrapped_frames = dop_analysis_unwrapped_frames(run->analysis);
    report->not_pulsatile_frames = dop_analysis_not_pulsatile_frames(run->analysis);
    report->spectral_line_frames = dop_analysis_spectral_line_frames(run->analysis);
    report->best_periodicity = dop_analysis_best_periodicity(run->analysis);
    if (o->status != DOP_OK) status = o->status;
    if (status == DOP_OK && report->frames == 0)
        status = dop_error_set(err, DOP_ERR_NO_DATA, "%s: recording too short: not one complete %g ms analysis window",
                               run->job->input.path, run->cfg.spectrum.window_ms);
    return status;
}

/* One summary row per epoch: into summaries (may be NULL) and the summary
 * file; then every output committed. */
static dop_status write_summaries(job_run *run, dop_summary *summaries, dop_error *err)
{
    const dop_job_report *report = run->report;
    dop_summary *rows = calloc(run->n_epochs, sizeof *rows);
    if (!rows) return dop_error_set(err, DOP_ERR_NOMEM, "out of memory");
    dop_summary_acc_result(run->o.acc, rows);
    for (size_t i = 0; i < run->n_epochs; i++) rows[i].directional = !report->non_directional;
    if (run->o.summary) {
        FILE *out = dop_atomic_stream(run->o.summary);
        fprintf(out, "%s%s\n", dop_summary_csv_header(), run->review ? ",reviewed,n_review_edits_unmatched" : "");
        for (size_t i = 0; i < run->n_epochs; i++) {
            dop_summary_csv_row(out, &rows[i]);
            if (run->review) fprintf(out, ",%d,%lld", report->reviewed, (long long)report->review_unmatched);
            fputc('\n', out);
        }
    }
    if (summaries) memcpy(summaries, rows, run->n_epochs * sizeof *rows);
    free(rows);
    return commit_outputs(run->job, &run->o, err);
}

static void job_run_free(job_run *run)
{
    free(run->o.db_row);
    dop_summary_acc_destroy(run->o.acc);
    dop_review_replay_destroy(run->o.replay);
    dop_review_destroy(run->review);
    dop_analysis_destroy(run->analysis);
    dop_diameter_track_destroy(run->track);
    dop_reader_close(run->reader);
    free(run->own_epochs);
}

dop_status dop_job_run(const dop_job *job, dop_summary *summaries, dop_job_report *report_out, dop_error *err)
{
    dop_job_report report_local;
    dop_job_report *report = report_out ? report_out : &report_local;
    memset(report, 0, sizeof *report);
    dop_error_clear(err);
    if (!job->input.path) return dop_error_set(err, DOP_ERR_INVALID_ARG, "no input given");

    job_run run;
    memset(&run, 0, sizeof run);
    run.job = job;
    run.report = report;
    run.o.report = report;
    run.o.err = err;
    run.o.tap = job->tap;
    dop_status status = open_input(&run, err);
    if (status == DOP_OK) status = configure_analysis(&run, err);
    if (status == DOP_OK) status = choose_span(&run, err);
    if (status == DOP_OK) status = create_analysis(&run, err);
    if (status == DOP_OK) status = prepare_outputs(&run, err);
    if (status == DOP_OK) status = push_samples(&run, err);
    if (status == DOP_OK) status = finish_analysis(&run, err);
    if (status == DOP_OK) status = write_summaries(&run, summaries, err);
    if (status != DOP_OK) abort_outputs(&run.o);
    job_run_free(&run);
    return status;
}
