/* libFuzzer: the whole analysis (dop_job_run: reader, wall filter,
 * spectrum, noise floor, envelopes, beats, summaries, CSV writers) on
 * arbitrary bytes as a recording with fixed metadata (4 MHz, 60 degrees,
 * 4 mm). The first byte picks the input (a WAV/any libsndfile header, raw
 * s16 or raw f32 at 2 kHz so that short inputs still make frames) and
 * whether epochs are given; summary, frames and beats are written to a
 * scratch folder (HDF5 is left out: slow, and its writer only copies). */
#include "dopflow/job.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    uint8_t mode = data[0];
    const char *path = fuzz_file("rec.wav", data + 1, size - 1);
    static char summary[128], frames[128], beats[128];
    snprintf(summary, sizeof summary, "%s/summary.csv", fuzz_dir());
    snprintf(frames, sizeof frames, "%s/frames.csv", fuzz_dir());
    snprintf(beats, sizeof beats, "%s/beats.csv", fuzz_dir());
    static const dop_epoch epochs[] = {{"pre", -1.0, 0.5}, {"post", 0.25, 3.0}};

    dop_job job = dop_job_default();
    job.input.path = path;
    /* Audio and raw only: the IQ file formats are parsed by HDF5 and
     * libmatio, whose own faults on damaged files (HDF5 1.10.8 reads freed
     * memory decoding damaged attributes under ASan) dopflow cannot fix;
     * dopflow's checks around them are tested in test_iq.c and
     * tests/input/test_iq_mat.c and test_iq_uff.c. */
    job.input.format = DOP_INPUT_AUDIO;
    job.input.raw_format = (dop_raw_format)(mode % 3);
    job.input.raw_rate_hz = 2000.0;
    /* rec.json never exists: the metadata is fixed below */
    job.overrides.f0_hz = 4e6;
    job.overrides.angle_deg = 60.0;
    job.overrides.diameter_mm = 4.0;
    if (mode & 0x10) job.overrides.channels = DOP_CHANNELS_MONO;
    if (mode & 0x20) {
        job.epochs = epochs;
        job.n_epochs = 2;
    }
    job.analysis.wall.cutoff_hz = 20.0;
    job.summary_path = summary;
    job.frames_path = frames;
    job.beats_path = beats;
    dop_summary rows[2];
    dop_job_report report;
    dop_error err;
    dop_status st = dop_job_run(&job, rows, &report, &err);
    if (st != DOP_OK && access(summary, F_OK) == 0) abort(); /* an error leaves no output */
    unlink(summary);
    unlink(frames);
    unlink(beats);
    return 0;
}
