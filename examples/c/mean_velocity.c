/* Example: use the installed dopflow library from C.
 *
 * Streams a recording through the analysis object in blocks and prints the
 * mean velocity of each whole second (the average of the frames' spatial-mean
 * velocity whose centre falls in that second, cm/s). The acquisition comes
 * from the recording's JSON sidecar (REC.json, as `dopflow simulate` writes).
 *
 *   cc mean_velocity.c $(pkg-config --cflags --libs dopflow) -o mean_velocity
 *   ./mean_velocity rec.wav
 *
 * or as a CMake project with find_package(dopflow) (CMakeLists.txt here). */
#include <dopflow/dopflow.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

enum { BLOCK = 4096 }; /* samples per push: any size gives the same result */

typedef struct per_second {
    long second;  /* the second being accumulated, -1 before the first frame */
    double sum;   /* of vmean_cm_s over its frames */
    long frames;
} per_second;

static void print_second(const per_second *s)
{
    if (s->frames > 0) printf("%ld,%.3f\n", s->second, s->sum / (double)s->frames);
}

static int on_frame(const dop_frame *frame, void *user)
{
    per_second *s = user;
    long second = (long)floor(frame->time_s);
    if (second != s->second) {
        print_second(s);
        s->second = second;
        s->sum = 0.0;
        s->frames = 0;
    }
    s->sum += frame->vmean_cm_s;
    s->frames++;
    return 0;
}

/* Open the recording and its sidecar; fills cfg's rate and acquisition. */
static dop_status open_recording(const char *path, dop_reader **reader, dop_analysis_config *cfg, dop_error *err)
{
    dop_reader_config rc = dop_reader_config_default();
    rc.path = path;
    dop_status status = dop_reader_open(&rc, reader, err);
    if (status != DOP_OK) return status;
    char *sidecar = dop_sidecar_path_for(path);
    dop_acquisition meta = dop_acquisition_unset();
    status = sidecar ? dop_sidecar_read(sidecar, &meta, err) : DOP_ERR_NOMEM;
    free(sidecar);
    if (status != DOP_OK) return status;
    const dop_reader_info *info = dop_reader_get_info(*reader);
    cfg->fs_hz = info->rate_hz;
    cfg->gates = info->gates;
    dop_acquisition_overlay(&cfg->acq, &meta);
    cfg->acq.channels = info->channels;
    return DOP_OK;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s RECORDING (with its sidecar RECORDING.json)\n", argv[0]);
        return 2;
    }
    dop_error err = {{0}};
    dop_reader *reader = NULL;
    dop_analysis *analysis = NULL;
    float complex *block = NULL;
    per_second acc = {-1, 0.0, 0};
    dop_analysis_config cfg = dop_analysis_config_default();
    dop_analysis_output out = {NULL, on_frame, NULL, &acc};
    dop_status status = open_recording(argv[1], &reader, &cfg, &err);
    if (status == DOP_OK) status = dop_analysis_create(&cfg, &out, &analysis, &err);
    if (status == DOP_OK && !(block = malloc(BLOCK * (size_t)cfg.gates * sizeof *block))) status = DOP_ERR_NOMEM;
    if (status == DOP_OK) printf("second,mean_velocity_cm_s\n");
    while (status == DOP_OK) {
        size_t got = 0;
        status = dop_reader_read(reader, block, BLOCK, &got, &err);
        if (status != DOP_OK || got == 0) break;
        status = dop_analysis_push(analysis, block, got, &err);
    }
    if (status == DOP_OK) status = dop_analysis_flush(analysis, &err);
    if (status == DOP_OK) print_second(&acc);
    free(block);
    dop_analysis_destroy(analysis);
    dop_reader_close(reader);
    if (status != DOP_OK) {
        fprintf(stderr, "%s: %s\n", argv[1], err.message[0] ? err.message : dop_strerror(status));
        return 1;
    }
    printf("# dopflow %s\n", dop_version());
    return 0;
}
