/* Sources of complex Doppler samples (see include/dopflow/reader.h).
 *
 * The slow-time IQ formats (native HDF5, UFF, MATLAB) are back ends of
 * their own (reader_backend.h); this file chooses one by the file's content
 * and forwards to it. Audio and raw samples are read here, by two back ends:
 *  - libsndfile for self-describing files (WAV, FLAC, AIFF, ...). Integer
 *    encodings come back normalised to [-1, 1) (libsndfile's default
 *    SFC_SET_NORM_FLOAT = TRUE: int16 x / 32768), float encodings as stored,
 *    so full scale is 1.0 either way;
 *  - raw interleaved little-endian s16 or f32 from a file or standard input,
 *    decoded here byte by byte so that the result does not depend on the
 *    host's byte order.
 *
 * Channel mapping (dop_channels):
 *   UNSET: 2 channels -> IQ, 1 channel -> MONO;
 *   IQ / QI: need 2 channels (left = I / left = Q);
 *   MONO: 1 channel gives I = x, Q = 0; with a 2-channel file the LEFT
 *         channel is taken and the right one ignored (--channels mono on a
 *         stereo recording analyses one channel non-directionally);
 *   LEFT / RIGHT: a 2-channel file read as MONO from that channel (info
 *         reports MONO with mono_channel 0 / 1); LEFT on a 1-channel file
 *         is that channel.
 * For raw input the channel count is implied by the mapping: MONO reads one
 * channel, everything else two.
 *
 * Memory is constant: one block of READ_BLOCK_FRAMES frames is decoded at a
 * time, whatever the length of the recording.
 *
 * Speed: the samples of 16-bit little-endian WAV files (the usual
 * recording) are read with pread(2) a block at a time (the next block on a
 * second thread while this one is analysed: read_ahead.c) and converted here,
 * without libsndfile's per-sample work (after checking that the first
 * samples are libsndfile's; any other file is read through libsndfile).
 * Not mapped: converting straight from a mapping of the page cache cost
 * twice as much (a TLB miss and a cache miss at every 4 KiB page, faults
 * that are dear in a virtual machine), while the kernel's copy of a block
 * into one reused buffer runs over its own large pages. A file truncated
 * by another program while it is being read ends the samples early. */
#include "dopflow/reader.h"
#include "reader_backend.h"
#include "input/read_ahead.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* glibc defines CMPLXF only for gcc >= 4.7; clang (the libFuzzer build) has
 * the same builtin under its own name. */
#if !defined(CMPLXF) && defined(__clang__)
#define CMPLXF(x, y) __builtin_complex((float)(x), (float)(y))
#endif

/* Frames decoded per underlying read: 65536 frames x 2 channels x 2 bytes =
 * 256 KiB of 16-bit samples, large enough that the per-call overhead of
 * libsndfile / stdio, the read(2) calls and the hand-overs to the
 * read-ahead thread are negligible, small enough to stay in cache. */
#define READ_BLOCK_FRAMES 65536

struct dop_reader {
    dop_reader_info info;
    char *path;               /* for messages */
    SNDFILE *snd;             /* libsndfile back end, or NULL */
    int snd_fd;               /* descriptor under snd (we close it), or -1 */
    FILE *raw;                /* raw back end, or NULL */
    int raw_owned;            /* raw is a file we opened (not stdin) */
    int raw_seekable;         /* raw is a regular file: fseeko works */
    int seekable;             /* sf_seek works */
    int64_t position;         /* index of the next frame to be returned */
    int at_end;
    float *block;             /* READ_BLOCK_FRAMES x file_channels decoded samples */
    int16_t *shorts;          /* the same as 16-bit integers (16-bit sources only) */
    int pcm16;                /* libsndfile source stored as 16-bit PCM: read as integers */
    /* A 16-bit little-endian WAV whose samples are read directly (pread
     * from snd_fd into shorts), not through libsndfile. */
    int direct;
    size_t data_offset;       /* first sample's byte */
    dop_read_ahead *ahead;    /* reads the next block on a second thread (direct only), or NULL */
    int ahead_tried;
    unsigned char *bytes;     /* raw bytes of one block (raw back end only) */
    const dop_reader_backend *backend; /* an IQ file format, or NULL (audio / raw) */
    void *backend_state;
};

dop_reader_config dop_reader_config_default(void)
{
    dop_reader_config cfg = {
        .path = NULL,
        .channels = DOP_CHANNELS_UNSET,
        .raw_format = DOP_RAW_NONE,
        .raw_rate_hz = NAN, /* unknown: raw input must give one */
        .format = DOP_INPUT_AUTO,
        .gate_first = 0,
        .gate_last = -1,
    };
    return cfg;
}

static const char *const input_format_names[] = {"auto", "audio", "iq-h5", "uff", "mat", "clarius"};

int dop_input_format_parse(const char *text)
{
    for (int i = 0; i < (int)(sizeof input_format_names / sizeof input_format_names[0]); i++)
        if (text && strcmp(text, input_format_names[i]) == 0) return i;
    return -1;
}

const char *dop_input_format_name(dop_input_format format)
{
    return format >= DOP_INPUT_AUTO && format <= DOP_INPUT_CLARIUS ? input_format_names[format] : "unknown";
}

dop_status dop_reader_backend_seek(const char *name, int64_t pulse, int64_t pulses, int64_t *position, dop_error *err)
{
    if (pulse < 0)
        return dop_error_set(err, DOP_ERR_INVALID_ARG, "%s: cannot skip to negative pulse %lld", name, (long long)pulse);
    *position = pulse > pulses ? pulses : pulse;
    return DOP_OK;
}

dop_status dop_reader_gate_range(const dop_reader_config *cfg, const char *name, long file_gates, long *first,
                                 long *count, dop_error *err)
{
    long last = cfg->gate_last < 0 ? file_gates - 1 : cfg->gate_last;
    if (cfg->gate_first < 0 || cfg->gate_first > last || last >= file_gates)
        return dop_error_set(err, DOP_ERR_INVALID_ARG,
                             "%s: gate range %ld:%ld is outside the file's %ld gate%s (valid: 0:%ld)", name,
                             cfg->gate_first, last, file_gates, file_gates == 1 ? "" : "s", file_gates - 1);
    *first = cfg->gate_first;
    *count = last - cfg->gate_first + 1;
    return DOP_OK;
}

/* The IQ back end for a file: the one asked for, or the one whose probe
 * recognises the content (MATLAB header first: a v7.3 file is HDF5 too). */
static const dop_reader_backend *choose_backend(const dop_reader_config *cfg)
{
    switch (cfg->format) {
    case DOP_INPUT_IQ_H5: return &dop_reader_backend_iq_h5;
    case DOP_INPUT_UFF: return &dop_reader_backend_uff;
    case DOP_INPUT_MAT: return &dop_reader_backend_mat;
    case DOP_INPUT_AUDIO:
    case DOP_INPUT_CLARIUS: return NULL; /* refused by dop_reader_open */
    case DOP_INPUT_AUTO: break;
    }
    if (cfg->raw_format != DOP_RAW_NONE || strcmp(cfg->path, "-") == 0) return NULL;
    const dop_reader_backend *const candidates[] = {&dop_reader_backend_mat, &dop_reader_backend_iq_h5,
                                                    &dop_reader_backend_uff};
    for (size_t i = 0; i < sizeof candidates / sizeof candidates[0]; i++)
        if (candidates[i]->probe(cfg->path)) return candidates[i];
    return NULL;
}

/* Whether the file starts with the HDF5 signature (a damaged or unknown
 * HDF5 file is not audio: say so rather than what libsndfile thinks). */
static int has_hdf5_signature(const char *path)
{
    static const unsigned char signature[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    unsigned char head[8];
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    size_t n = fread(head, 1, sizeof head, f);
    fclose(f);
    return n == sizeof head && memcmp(head, signature, sizeof head) == 0;
}

static dop_status open_backend(dop_reader *r, const dop_reader_config *cfg, dop_error *err)
{
    if (cfg->raw_format != DOP_RAW_NONE || strcmp(cfg->path, "-") == 0)
        return dop_error_set(err, DOP_ERR_INVALID_ARG,
                             "%s: format = %s reads a file, not raw samples (raw_format) or standard input", r->path,
                             r->backend->name);
    if (cfg->channels == DOP_CHANNELS_MONO || cfg->channels == DOP_CHANNELS_QI || cfg->channels == DOP_CHANNELS_LEFT ||
        cfg->channels == DOP_CHANNELS_RIGHT)
        return dop_error_set(err, DOP_ERR_INVALID_ARG, "%s: IQ files are complex; channels = %s does not apply",
                             r->path, dop_channels_name(cfg->channels));
    r->info.file_acq = dop_acquisition_unset();
    return r->backend->open(cfg, r->path, &r->info, &r->backend_state, err);
}

const dop_reader_info *dop_reader_get_info(const dop_reader *reader) { return &reader->info; }

/* Choose the mapping for a file with `file_channels` channels, or explain
 * why it does not fit. */
static dop_status map_channels(dop_reader *r, int file_channels, dop_channels wanted, dop_error *err)
{
    if (file_channels < 1)
        return dop_error_set(err, DOP_ERR_FORMAT, "%s: has no audio channels", r->path);
    if (file_channels > 2)
        return dop_error_set(err, DOP_ERR_FORMAT, "%s: has %d channels; dopflow reads 1 (mono) or 2 (I/Q)",
                             r->path, file_channels);
    if (wanted == DOP_CHANNELS_UNSET) wanted = file_channels == 2 ? DOP_CHANNELS_IQ : DOP_CHANNELS_MONO;
    if ((wanted == DOP_CHANNELS_IQ || wanted == DOP_CHANNELS_QI) && file_channels != 2)
        return dop_error_set(err, DOP_ERR_FORMAT, "%s: has 1 channel but channels = %s needs 2 (I and Q)",
                             r->path, dop_channels_name(wanted));
    if (wanted == DOP_CHANNELS_RIGHT && file_channels != 2)
        return dop_error_set(err, DOP_ERR_FORMAT, "%s: has 1 channel but channels = right needs 2", r->path);
    r->info.file_channels = file_channels;
    r->info.mono_channel = wanted == DOP_CHANNELS_RIGHT ? 1 : 0;
    r->info.channels = wanted == DOP_CHANNELS_LEFT || wanted == DOP_CHANNELS_RIGHT ? DOP_CHANNELS_MONO : wanted;
    return DOP_OK;
}

static void set_duration(dop_reader *r)
{
    r->info.duration_s = r->info.frames >= 0 ? (double)r->info.frames / r->info.rate_hz : NAN;
}

/* "WAV (Microsoft) / Signed 16 bit PCM" from libsndfile's own format names. */
static void describe_sndfile_format(dop_reader *r, int format)
{
    SF_FORMAT_INFO major = {.format = format & SF_FORMAT_TYPEMASK};
    SF_FORMAT_INFO sub = {.format = format & SF_FORMAT_SUBMASK};
    const char *major_name = sf_command(NULL, SFC_GET_FORMAT_INFO, &major, sizeof major) == 0 && major.name
                                 ? major.name : "audio";
    const char *sub_name = sf_command(NULL, SFC_GET_FORMAT_INFO, &sub, sizeof sub) == 0 && sub.name
                               ? sub.name : "unknown encoding";
    snprintf(r->info.format, sizeof r->info.format, "%s / %s", major_name, sub_name);
    int subtype = format & SF_FORMAT_SUBMASK;
    r->info.is_float = subtype == SF_FORMAT_FLOAT || subtype == SF_FORMAT_DOUBLE;
    r->pcm16 = subtype == SF_FORMAT_PCM_16;
}

static uint32_t le32(const unsigned char *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }

/* Byte offset of the samples of a RIFF/WAVE file (the "data" chunk), 0 if
 * not found. */
static size_t wav_data_offset(const unsigned char *m, size_t len)
{
    if (len < 12 || memcmp(m, "RIFF", 4) != 0 || memcmp(m + 8, "WAVE", 4) != 0) return 0;
    size_t pos = 12;
    for (int chunks = 0; chunks < 1000 && pos + 8 <= len; chunks++) {
        uint32_t size = le32(m + pos + 4);
        if (memcmp(m + pos, "data", 4) == 0) return pos + 8;
        pos += 8 + (size_t)size + (size & 1u);
    }
    return 0;
}

/* Frames the data chunk of a RIFF/WAVE file promises (its header's size
 * over the fmt chunk's block_align), read from the header with pread so
 * that libsndfile's position is untouched; -1 when not a RIFF/WAVE file,
 * no data chunk is found, or the size is a streaming placeholder (0 or
 * 0xFFFFFFFF). libsndfile itself reports only the frames present. */
static int64_t wav_promised_frames(int fd, uint64_t file_size)
{
    unsigned char head[12], chunk[8], fmt[16];
    if (pread(fd, head, sizeof head, 0) != (ssize_t)sizeof head || memcmp(head, "RIFF", 4) != 0 ||
        memcmp(head + 8, "WAVE", 4) != 0)
        return -1;
    uint64_t pos = 12;
    unsigned block_align = 0;
    for (int chunks = 0; chunks < 1000 && pos + 8 <= file_size; chunks++) {
        if (pread(fd, chunk, sizeof chunk, (off_t)pos) != (ssize_t)sizeof chunk) return -1;
        uint32_t size = le32(chunk + 4);
        if (memcmp(chunk, "fmt ", 4) == 0 && size >= 16 && pread(fd, fmt, sizeof fmt, (off_t)pos + 8) == (ssize_t)sizeof fmt)
            block_align = (unsigned)fmt[12] | (unsigned)fmt[13] << 8;
        if (memcmp(chunk, "data", 4) == 0)
            return block_align == 0 || size == 0 || size == 0xFFFFFFFFu ? -1 : (int64_t)(size / block_align);
        pos += 8 + (uint64_t)size + (size & 1u);
    }
    return -1;
}

/* A 16-bit PCM WAV (not RF64) whose samples libsndfile would read as
 * little-endian integers: find the samples (in a mapping of the file, for
 * the header's chunks) and check that the first ones are libsndfile's
 * (which then reads from the start again); then read them directly.
 * Anything unexpected leaves the libsndfile path in place. */
static void try_direct(dop_reader *r, int format, size_t file_size)
{
    const int major = format & SF_FORMAT_TYPEMASK, endian = format & SF_FORMAT_ENDMASK;
    if (!r->pcm16 || (major != SF_FORMAT_WAV && major != SF_FORMAT_WAVEX) ||
        (endian != SF_ENDIAN_FILE && endian != SF_ENDIAN_LITTLE) || r->info.frames <= 0)
        return;
#if !(defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__)
    return;
#endif
    void *m = mmap(NULL, file_size, PROT_READ, MAP_PRIVATE, r->snd_fd, 0);
    if (m == MAP_FAILED) return;
    const size_t align = 2 * (size_t)r->info.file_channels;
    size_t offset = wav_data_offset(m, file_size);
    int ok = offset > 0 && offset % 2 == 0 && offset + (size_t)r->info.frames * align <= file_size;
    if (ok) {
        short head[2 * 64];
        sf_count_t n = r->info.frames < 64 ? (sf_count_t)r->info.frames : 64;
        ok = sf_readf_short(r->snd, head, n) == n && memcmp(head, (const unsigned char *)m + offset, (size_t)n * align) == 0 &&
             sf_seek(r->snd, 0, SEEK_SET) == 0;
    }
    munmap(m, file_size);
    if (!ok) {
        sf_seek(r->snd, 0, SEEK_SET);
        return;
    }
    r->direct = 1;
    r->data_offset = offset;
}

static dop_status open_sndfile(dop_reader *r, const dop_reader_config *cfg, dop_error *err)
{
    /* Open the descriptor ourselves so that "missing or unreadable" (an I/O
     * problem) is told apart from "not audio" (a format problem). */
    int fd = open(cfg->path, O_RDONLY);
    if (fd < 0) return dop_error_set(err, DOP_ERR_IO, "%s: cannot open: %s", r->path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || S_ISDIR(st.st_mode)) {
        close(fd);
        return dop_error_set(err, DOP_ERR_IO, "%s: cannot read: is a directory", r->path);
    }
    if (S_ISREG(st.st_mode) && st.st_size == 0) {
        close(fd);
        return dop_error_set(err, DOP_ERR_FORMAT, "%s: is empty, not a recognised audio file", r->path);
    }
    SF_INFO sfinfo;
    memset(&sfinfo, 0, sizeof sfinfo);
    /* close_desc = FALSE: the descriptor stays ours, closed in
     * dop_reader_close() whether or not libsndfile accepted it. */
    r->snd_fd = fd;
    r->snd = sf_open_fd(fd, SFM_READ, &sfinfo, SF_FALSE);
    if (!r->snd) {
        int code = sf_error(NULL);
        if (code == SF_ERR_SYSTEM)
            return dop_error_set(err, DOP_ERR_IO, "%s: cannot read (libsndfile: %s)", r->path, sf_strerror(NULL));
        return dop_error_set(err, DOP_ERR_FORMAT, "%s: not a recognised audio file (libsndfile: %s)",
                             r->path, sf_strerror(NULL));
    }
    dop_status status = map_channels(r, sfinfo.channels, cfg->channels, err);
    if (status != DOP_OK) return status;
    if (sfinfo.samplerate <= 0)
        return dop_error_set(err, DOP_ERR_FORMAT, "%s: sample rate %d Hz is not positive", r->path, sfinfo.samplerate);
    r->info.rate_hz = sfinfo.samplerate;
    r->info.frames = sfinfo.frames >= 0 && sfinfo.frames < SF_COUNT_MAX ? (int64_t)sfinfo.frames : -1;
    r->seekable = sfinfo.seekable;
    describe_sndfile_format(r, sfinfo.format);
    set_duration(r);
    const int major = sfinfo.format & SF_FORMAT_TYPEMASK;
    if (S_ISREG(st.st_mode) && (major == SF_FORMAT_WAV || major == SF_FORMAT_WAVEX))
        r->info.frames_promised = wav_promised_frames(fd, (uint64_t)st.st_size);
    if (S_ISREG(st.st_mode)) try_direct(r, sfinfo.format, (size_t)st.st_size);
    return DOP_OK;
}

static size_t raw_sample_bytes(dop_raw_format format) { return format == DOP_RAW_S16 ? 2 : 4; }

static dop_status open_raw(dop_reader *r, const dop_reader_config *cfg, dop_error *err)
{
    if (cfg->raw_format != DOP_RAW_S16 && cfg->raw_format != DOP_RAW_F32)
        return dop_error_set(err, DOP_ERR_INVALID_ARG, "%s: unknown raw sample format %d", r->path, (int)cfg->raw_format);
    if (!(cfg->raw_rate_hz > 0.0) || !isfinite(cfg->raw_rate_hz))
        return dop_error_set(err, DOP_ERR_INVALID_ARG, "%s: raw input needs a positive sample rate raw_rate_hz (Hz)", r->path);
    /* Raw data carries no channel count: the mapping decides it. */
    int file_channels = cfg->channels == DOP_CHANNELS_MONO ? 1 : 2; /* LEFT / RIGHT: two */
    dop_status status = map_channels(r, file_channels, cfg->channels, err);
    if (status != DOP_OK) return status;
    r->info.rate_hz = cfg->raw_rate_hz;
    r->info.is_float = cfg->raw_format == DOP_RAW_F32;
    snprintf(r->info.format, sizeof r->info.format, "raw %s little-endian",
             cfg->raw_format == DOP_RAW_S16 ? "s16" : "f32");
    size_t frame_bytes = raw_sample_bytes(cfg->raw_format) * (size_t)file_channels;
    r->bytes = malloc(frame_bytes * READ_BLOCK_FRAMES);
    if (!r->bytes) return dop_error_set(err, DOP_ERR_NOMEM, "%s: out of memory", r->path);

    r->info.frames = -1;
    if (strcmp(cfg->path, "-") == 0) {
        r->raw = stdin;
    } else {
        r->raw = fopen(cfg->path, "rb");
        if (!r->raw) return dop_error_set(err, DOP_ERR_IO, "%s: cannot open: %s", r->path, strerror(errno));
        r->raw_owned = 1;
    }
    struct stat st;
    if (fstat(fileno(r->raw), &st) == 0) {
        if (S_ISDIR(st.st_mode)) return dop_error_set(err, DOP_ERR_IO, "%s: cannot read: is a directory", r->path);
        if (S_ISREG(st.st_mode)) {
            /* A trailing partial frame is not a sample: it is ignored. */
            r->info.frames = (int64_t)((uint64_t)st.st_size / frame_bytes);
            r->raw_seekable = r->raw_owned;
        }
    }
    set_duration(r);
    return DOP_OK;
}

dop_status dop_reader_open(const dop_reader_config *cfg, dop_reader **out, dop_error *err)
{
    *out = NULL;
    if (!cfg || !cfg->path || !cfg->path[0])
        return dop_error_set(err, DOP_ERR_INVALID_ARG, "no input file given");
    if (cfg->channels < DOP_CHANNELS_UNSET || cfg->channels > DOP_CHANNELS_RIGHT)
        return dop_error_set(err, DOP_ERR_INVALID_ARG, "%s: unknown channel mapping %d", cfg->path, (int)cfg->channels);
    if (cfg->format == DOP_INPUT_CLARIUS)
        return dop_error_set(err, DOP_ERR_INVALID_ARG, "%s: colour-flow ensembles (format = clarius) are not a slow-time "
                             "stream: analyse them with dop_color_job_run", cfg->path);
    if (strcmp(cfg->path, "-") == 0 && cfg->raw_format == DOP_RAW_NONE)
        return dop_error_set(err, DOP_ERR_INVALID_ARG,
                             "standard input can only be read as raw samples: give raw_format (s16 or f32) and "
                             "raw_rate_hz (Hz)");

    dop_status status = DOP_OK;
    dop_reader *r = calloc(1, sizeof *r);
    if (!r) return dop_error_set(err, DOP_ERR_NOMEM, "%s: out of memory", cfg->path);
    r->snd_fd = -1; /* before any goto fail: 0 would be standard input */
    r->path = strdup(strcmp(cfg->path, "-") == 0 ? "standard input" : cfg->path);
    if (!r->path) {
        status = dop_error_set(err, DOP_ERR_NOMEM, "%s: out of memory", cfg->path);
        goto fail;
    }
    r->info.duration_s = NAN;
    r->info.frames = -1;
    r->info.frames_promised = -1;
    r->info.gates = r->info.file_gates = 1;
    r->info.file_acq = dop_acquisition_unset();
    r->backend = choose_backend(cfg);
    if (r->backend) {
        r->info.kind = cfg->format != DOP_INPUT_AUTO ? cfg->format
                       : r->backend == &dop_reader_backend_mat ? DOP_INPUT_MAT
                       : r->backend == &dop_reader_backend_uff ? DOP_INPUT_UFF : DOP_INPUT_IQ_H5;
        if ((status = open_backend(r, cfg, err)) != DOP_OK) goto fail;
        *out = r;
        return DOP_OK;
    }
    r->info.kind = DOP_INPUT_AUDIO;
    if (cfg->format == DOP_INPUT_AUTO && cfg->raw_format == DOP_RAW_NONE && strcmp(cfg->path, "-") != 0 &&
        has_hdf5_signature(cfg->path)) {
        status = dop_error_set(err, DOP_ERR_FORMAT, "%s: an HDF5 file without a readable /iq dataset or UFF "
                               "beamformed_data group (damaged, or another layout: see the README)", r->path);
        goto fail;
    }
    status = cfg->raw_format == DOP_RAW_NONE ? open_sndfile(r, cfg, err) : open_raw(r, cfg, err);
    if (status != DOP_OK) goto fail;
    if (cfg->gate_first != 0 || cfg->gate_last > 0) { /* audio and raw input have one gate */
        long first, count;
        if ((status = dop_reader_gate_range(cfg, r->path, 1, &first, &count, err)) != DOP_OK) goto fail;
    }

    r->block = malloc(sizeof *r->block * READ_BLOCK_FRAMES * (size_t)r->info.file_channels);
    if (r->pcm16 || (r->raw && !r->info.is_float))
        r->shorts = malloc(sizeof *r->shorts * READ_BLOCK_FRAMES * (size_t)r->info.file_channels);
    if (!r->block || ((r->pcm16 || (r->raw && !r->info.is_float)) && !r->shorts)) {
        status = dop_error_set(err, DOP_ERR_NOMEM, "%s: out of memory", r->path);
        goto fail;
    }
    *out = r;
    return DOP_OK;

fail:
    dop_reader_close(r);
    return status;
}

#if !(defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__)
/* Little-endian decoding, independent of the host's byte order. */
static float decode_s16(const unsigned char *p)
{
    int16_t v = (int16_t)(uint16_t)(p[0] | (p[1] << 8));
    return (float)v / 32768.0f; /* the same normalisation libsndfile uses */
}

static float decode_f32(const unsigned char *p)
{
    uint32_t bits = (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
    float v;
    memcpy(&v, &bits, sizeof v);
    return v;
}
#endif

/* int16 -> float with the normalisation libsndfile uses (x / 32768, exact);
 * a plain loop that vectorises. */
static void s16_to_float(const int16_t *in, float *out, size_t n)
{
    for (size_t i = 0; i < n; i++) out[i] = (float)in[i] * (1.0f / 32768.0f);
}

/* Read up to `frames` frames (<= READ_BLOCK_FRAMES) as interleaved floats
 * into dst (frames x file_channels values); *got = frames read, 0 at the
 * end. 16-bit integer data are read as integers and converted here (the
 * same values libsndfile gives as floats, without its per-sample work). */
static dop_status read_block(dop_reader *r, float *dst, size_t frames, size_t *got, dop_error *err)
{
    *got = 0;
    size_t channels = (size_t)r->info.file_channels;
    if (r->direct) {
        const size_t align = 2 * channels;
        int64_t left = r->info.frames - r->position;
        size_t n = left <= 0 ? 0 : (size_t)left < frames ? (size_t)left : frames;
        const off_t start = (off_t)(r->data_offset + (size_t)r->position * align);
        /* The block after this one, read ahead while this one is analysed. */
        int64_t after = left - (int64_t)n;
        size_t next = after <= 0 ? 0 : after < READ_BLOCK_FRAMES ? (size_t)after : READ_BLOCK_FRAMES;
        if (!r->ahead_tried) {
            r->ahead = dop_read_ahead_start(r->snd_fd, sizeof *r->shorts * READ_BLOCK_FRAMES * channels);
            r->ahead_tried = 1;
        }
        ssize_t have = dop_read_ahead_read(r->ahead, r->snd_fd, (void **)&r->shorts, start, n * align,
                                           start + (off_t)(n * align), next * align);
        if (have < 0) return dop_error_set(err, DOP_ERR_IO, "%s: read error: %s", r->path, strerror(errno));
        n = (size_t)have / align;
        s16_to_float(r->shorts, dst, n * channels);
        *got = n;
        return DOP_OK;
    }
    if (r->snd) {
        sf_count_t n = r->pcm16 ? sf_readf_short(r->snd, r->shorts, (sf_count_t)frames)
                                : sf_readf_float(r->snd, dst, (sf_count_t)frames);
        if (n < 0 || (n == 0 && sf_error(r->snd) == SF_ERR_SYSTEM))
            return dop_error_set(err, DOP_ERR_IO, "%s: read error (libsndfile: %s)", r->path, sf_strerror(r->snd));
        if (r->pcm16) s16_to_float(r->shorts, dst, (size_t)n * channels);
        *got = (size_t)n;
        return DOP_OK;
    }
    int is_s16 = !r->info.is_float;
    size_t sample_bytes = is_s16 ? 2 : 4;
    /* fread with the frame as element size: a frame split across pipe
     * writes is completed by stdio; a partial frame at the very end is
     * dropped. A little-endian host reads the samples in place. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    void *target = is_s16 ? (void *)r->shorts : (void *)dst;
#else
    void *target = r->bytes;
#endif
    size_t n = fread(target, sample_bytes * channels, frames, r->raw);
    if (n < frames && ferror(r->raw))
        return dop_error_set(err, DOP_ERR_IO, "%s: read error: %s", r->path, strerror(errno));
    size_t values = n * channels;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (is_s16) s16_to_float(r->shorts, dst, values);
#else
    for (size_t i = 0; i < values; i++)
        dst[i] = is_s16 ? decode_s16(r->bytes + 2 * i) : decode_f32(r->bytes + 4 * i);
#endif
    *got = n;
    return DOP_OK;
}

/* Index of the first non-finite value of x[0..n), or n. Integer sources
 * cannot have one and are not scanned. */
size_t dop_first_non_finite(const float *x, size_t n)
{
    int bad = 0;
    for (size_t i = 0; i < n; i++) bad |= !isfinite(x[i]); /* vectorises: no early exit */
    if (!bad) return n;
    size_t i = 0;
    while (isfinite(x[i])) i++;
    return i;
}

dop_status dop_reader_read(dop_reader *reader, float complex *out, size_t capacity, size_t *count, dop_error *err)
{
    *count = 0;
    if (reader->backend) return reader->backend->read(reader->backend_state, out, capacity, count, err);
    size_t done = 0;
    const size_t channels = (size_t)reader->info.file_channels;
    /* I/Q in a stereo file is already the layout of float complex: read in place. */
    const int in_place = channels == 2 && reader->info.channels == DOP_CHANNELS_IQ;
    const int integer = reader->pcm16 || (reader->raw && !reader->info.is_float);
    while (done < capacity && !reader->at_end) {
        size_t want = capacity - done;
        if (want > READ_BLOCK_FRAMES) want = READ_BLOCK_FRAMES;
        size_t got = 0;
        float *b = in_place ? (float *)(out + done) : reader->block;
        dop_status status = read_block(reader, b, want, &got, err);
        if (status != DOP_OK) {
            *count = done;
            return status;
        }
        if (got == 0) {
            reader->at_end = 1;
            break;
        }
        size_t bad = integer ? got * channels : dop_first_non_finite(b, got * channels);
        if (bad < got * channels) {
            size_t i = bad / channels;
            int channel = (int)(bad % channels);
            float value = b[bad];
            if (!in_place) { /* the good samples before it are delivered */
                for (size_t k = 0; k < i; k++) {
                    float left = channels == 2 ? b[2 * k] : b[k], right = channels == 2 ? b[2 * k + 1] : 0.0f;
                    float single = channels == 2 ? b[2 * k + (size_t)reader->info.mono_channel] : b[k];
                    out[done + k] = reader->info.channels == DOP_CHANNELS_QI ? CMPLXF(right, left)
                                    : reader->info.channels == DOP_CHANNELS_MONO ? CMPLXF(single, 0.0f)
                                                                                 : CMPLXF(left, right);
                }
            }
            *count = done + i;
            reader->position += (int64_t)i;
            reader->at_end = 1; /* the rest of this block is lost: stop here */
            return dop_error_set(err, DOP_ERR_FORMAT, "%s: sample %lld (%s channel, t = %.6f s) is %s",
                                 reader->path, (long long)reader->position, channel == 0 ? "left" : "right",
                                 (double)reader->position / reader->info.rate_hz, isnan(value) ? "NaN" : "infinite");
        }
        if (!in_place) {
            float complex *o = out + done;
            if (channels == 1) {
                for (size_t i = 0; i < got; i++) o[i] = CMPLXF(b[i], 0.0f);
            } else if (reader->info.channels == DOP_CHANNELS_QI) {
                for (size_t i = 0; i < got; i++) o[i] = CMPLXF(b[2 * i + 1], b[2 * i]);
            } else if (reader->info.channels == DOP_CHANNELS_MONO) { /* one channel of stereo (left unless RIGHT) */
                const float *c = b + reader->info.mono_channel;
                for (size_t i = 0; i < got; i++) o[i] = CMPLXF(c[2 * i], 0.0f);
            } else {
                for (size_t i = 0; i < got; i++) o[i] = CMPLXF(b[2 * i], b[2 * i + 1]);
            }
        }
        done += got;
        reader->position += (int64_t)got;
        /* A short read from a file means the end; from a pipe fread only
         * returns short at EOF or error as well. */
        if (got < want) reader->at_end = 1;
    }
    *count = done;
    return DOP_OK;
}

dop_status dop_reader_skip_to(dop_reader *reader, int64_t frame, dop_error *err)
{
    if (frame < 0)
        return dop_error_set(err, DOP_ERR_INVALID_ARG, "%s: cannot skip to negative sample %lld", reader->path, (long long)frame);
    if (reader->backend) return reader->backend->seek(reader->backend_state, frame, err);
    if (frame == reader->position) return DOP_OK;
    int64_t known = reader->info.frames;
    if (reader->direct) {
        reader->position = frame;
        reader->at_end = frame >= known;
        return DOP_OK;
    }
    if (reader->snd && reader->seekable) {
        /* Past the end: position at the end, the next read returns 0. */
        int64_t target = known >= 0 && frame > known ? known : frame;
        if (sf_seek(reader->snd, (sf_count_t)target, SEEK_SET) < 0)
            return dop_error_set(err, DOP_ERR_IO, "%s: cannot seek to sample %lld (libsndfile: %s)", reader->path,
                                 (long long)frame, sf_strerror(reader->snd));
        reader->position = frame;
        reader->at_end = target < frame || (known >= 0 && target >= known);
        return DOP_OK;
    }
    if (reader->raw && reader->raw_seekable) {
        int64_t target = known >= 0 && frame > known ? known : frame;
        off_t frame_bytes = (off_t)raw_sample_bytes(reader->info.is_float ? DOP_RAW_F32 : DOP_RAW_S16)
                            * reader->info.file_channels;
        if (fseeko(reader->raw, (off_t)target * frame_bytes, SEEK_SET) != 0)
            return dop_error_set(err, DOP_ERR_IO, "%s: cannot seek to sample %lld: %s", reader->path,
                                 (long long)frame, strerror(errno));
        reader->position = frame;
        reader->at_end = known >= 0 && target >= known;
        return DOP_OK;
    }
    /* A stream: read and discard, which only goes forward. */
    if (frame < reader->position)
        return dop_error_set(err, DOP_ERR_INVALID_ARG, "%s: cannot go back to sample %lld in a stream (at %lld)",
                             reader->path, (long long)frame, (long long)reader->position);
    while (reader->position < frame && !reader->at_end) {
        int64_t left = frame - reader->position;
        size_t want = left > READ_BLOCK_FRAMES ? READ_BLOCK_FRAMES : (size_t)left;
        size_t got = 0;
        dop_status status = read_block(reader, reader->block, want, &got, err);
        if (status != DOP_OK) return status;
        reader->position += (int64_t)got;
        if (got < want) reader->at_end = 1;
    }
    return DOP_OK;
}

void dop_reader_close(dop_reader *reader)
{
    if (!reader) return;
    if (reader->backend) reader->backend->close(reader->backend_state);
    dop_read_ahead_stop(reader->ahead); /* before its descriptor is closed */
    if (reader->snd) sf_close(reader->snd);
    if (reader->snd_fd >= 0) close(reader->snd_fd);
    if (reader->raw && reader->raw_owned) fclose(reader->raw);
    free(reader->block);
    free(reader->shorts);
    free(reader->bytes);
    free(reader->path);
    free(reader);
}
