/* Result keys: the SHA-256 of everything a recording's result depends on
 * (the format, the dopflow version, the analysis parameters, the row's
 * metadata, its epochs, and the bytes of the input, its sidecar, its
 * review and its diameter CSV), so that a resumed study reuses a result
 * exactly when it would come out the same. */
#include "study/study_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/fs.h"
#include "dopflow/dopflow.h"

/* The metadata layer of a job as "prefix.name=value" lines (%.17g). */
static void put_acq(FILE *f, const char *prefix, const dop_acquisition *a)
{
    fprintf(f, "%s.f0_hz=%.17g\n%s.angle_deg=%.17g\n%s.c_m_s=%.17g\n%s.diameter_mm=%.17g\n%s.channels=%d\n",
            prefix, a->f0_hz, prefix, a->angle_deg, prefix, a->c_m_s, prefix, a->diameter_mm, prefix,
            (int)a->channels);
}

dop_status dop_study_params_text(const dop_job *job, char **out, dop_error *err)
{
    /* Every option that changes a summary. Paths of the metadata file and
     * the diameter CSV are not here: their bytes go into the key. */
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return dop_error_set(err, DOP_ERR_NOMEM, "out of memory");
    const dop_analysis_config *a = &job->analysis;
    fprintf(f, "input.channels=%d\ninput.raw_format=%d\ninput.raw_rate_hz=%.17g\n", (int)job->input.channels,
            (int)job->input.raw_format, job->input.raw_rate_hz);
    put_acq(f, "overrides", &job->overrides);
    fprintf(f, "meta=%s\ndiameter_csv=%s\nstart_s=%.17g\nend_s=%.17g\n", job->meta_path ? "file" : "sidecar",
            job->diameter_csv ? "file" : "constant", job->start_s, job->end_s);
    fprintf(f, "vmean_method=%d\nburst_factor=%.17g\ndropout_factor=%.17g\nmin_nyquist_cm_s=%.17g\n",
            (int)a->vmean_method, a->burst_factor, a->dropout_factor, a->min_nyquist_cm_s);
    fprintf(f, "wall.cutoff_hz=%.17g\nwall.order=%d\n", a->wall.cutoff_hz, a->wall.order);
    fprintf(f, "spectrum.window_ms=%.17g\nspectrum.hop_ms=%.17g\nspectrum.fft_size=%zu\nspectrum.window=%d\n",
            a->spectrum.window_ms, a->spectrum.hop_ms, a->spectrum.fft_size, (int)a->spectrum.window);
    fprintf(f, "noise.quantile=%.17g\nnoise.rise_time_s=%.17g\n", a->noise.quantile, a->noise.rise_time_s);
    fprintf(f,
            "envelope.method=%d\nenvelope.percentile=%.17g\nenvelope.threshold_db=%.17g\n"
            "envelope.detect_sigma=%.17g\nenvelope.gap_hz=%.17g\nenvelope.one_sided=%d\n",
            (int)a->envelope.method, a->envelope.percentile, a->envelope.threshold_db, a->envelope.detect_sigma,
            a->envelope.gap_hz, a->envelope.one_sided);
    fprintf(f, "beats.min_hr_bpm=%.17g\nbeats.max_hr_bpm=%.17g\nbeats.reject_fraction=%.17g\n",
            a->beats.min_hr_bpm, a->beats.max_hr_bpm, a->beats.reject_fraction);
    if (fclose(f) != 0 || !buf) {
        free(buf);
        return dop_error_set(err, DOP_ERR_NOMEM, "out of memory");
    }
    *out = buf;
    return DOP_OK;
}

dop_status study_key_compute(const char *params_text, const dop_job *job, const char *sidecar_path,
                             const dop_epoch *epochs, size_t n_epochs, char key[STUDY_KEY_HEX + 1], dop_error *err)
{
    struct sha256_ctx sha;
    sha256_init(&sha);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) return dop_error_set(err, DOP_ERR_NOMEM, "out of memory");
    fprintf(f, "%s\nversion=%s\n%s", STUDY_FORMAT, dop_version(), params_text);
    put_acq(f, "row", &job->overrides);
    if (epochs)
        for (size_t i = 0; i < n_epochs; i++)
            fprintf(f, "epoch=%s:%.17g:%.17g\n", epochs[i].label, epochs[i].start_s, epochs[i].end_s);
    else
        fputs("epoch=all\n", f);
    if (fclose(f) != 0 || !text) {
        free(text);
        return dop_error_set(err, DOP_ERR_NOMEM, "out of memory");
    }
    sha256_update(&sha, len, (const uint8_t *)text);
    free(text);

    int got = dop_fs_sha256_tagged_file(&sha, "input", job->input.path, err);
    if (got == 0) return dop_error_set(err, DOP_ERR_IO, "%s: cannot open: %s", job->input.path, strerror(ENOENT));
    if (got < 0) return DOP_ERR_IO;
    got = sidecar_path[0] ? dop_fs_sha256_tagged_file(&sha, "sidecar", sidecar_path, err) : 0;
    if (got < 0) return DOP_ERR_IO;
    if (got == 0) sha256_update(&sha, 13, (const uint8_t *)"sidecar none\n");
    /* The review file (review.h): a changed review is a new result. Without
     * one, nothing is hashed, so keys of unreviewed studies stay as they were. */
    if (job->no_review) {
        sha256_update(&sha, 11, (const uint8_t *)"review off\n");
    } else {
        char *review = dop_review_path_for(job->input.path);
        if (!review) return dop_error_set(err, DOP_ERR_NOMEM, "out of memory");
        got = dop_fs_sha256_tagged_file(&sha, "review", review, err);
        free(review);
        if (got < 0) return DOP_ERR_IO;
    }
    if (job->diameter_csv) {
        got = dop_fs_sha256_tagged_file(&sha, "diameter_csv", job->diameter_csv, err);
        if (got < 0) return DOP_ERR_IO;
        if (got == 0) sha256_update(&sha, 18, (const uint8_t *)"diameter_csv none\n");
    }
    dop_fs_sha256_hex(&sha, key);
    return DOP_OK;
}
