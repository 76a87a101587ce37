/* Sources of complex Doppler samples (see include/dopflow/reader.h).
 *
 * Two back ends behind one reader:
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
 *         stereo recording analyses one channel non-directionally).
 * For raw input the channel count is implied by the mapping: MONO reads one
 * channel, everything else two.
 *
 * Memory is constant: one block of READ_BLOCK_FRAMES frames is decoded at a
 * time, whatever the length of the recording. */
#include "dopflow/reader.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Frames decoded per underlying read: 8192 frames x 2 channels x 4 bytes =
 * 64 KiB, large enough that the per-call overhead of libsndfile / stdio is
 * negligible and small enough to stay in cache. */
#define READ_BLOCK_FRAMES 8192

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
    unsigned char *bytes;     /* raw bytes of one block (raw back end only) */
};

dop_reader_config dop_reader_config_default(void)
{
    dop_reader_config cfg = {
        .path = NULL,
        .channels = DOP_CHANNELS_UNSET,
        .raw_format = DOP_RAW_NONE,
        .raw_rate_hz = NAN, /* unknown: raw input must give one */
    };
    return cfg;
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
        return dop_error_set(err, DOP_ERR_FORMAT, "%s: has 1 channel but --channels %s needs 2 (I and Q)",
                             r->path, dop_channels_name(wanted));
    r->info.file_channels = file_channels;
    r->info.channels = wanted;
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
    return DOP_OK;
}

static size_t raw_sample_bytes(dop_raw_format format) { return format == DOP_RAW_S16 ? 2 : 4; }

static dop_status open_raw(dop_reader *r, const dop_reader_config *cfg, dop_error *err)
{
    if (cfg->raw_format != DOP_RAW_S16 && cfg->raw_format != DOP_RAW_F32)
        return dop_error_set(err, DOP_ERR_INVALID_ARG, "%s: unknown raw sample format %d", r->path, (int)cfg->raw_format);
    if (!(cfg->raw_rate_hz > 0.0) || !isfinite(cfg->raw_rate_hz))
        return dop_error_set(err, DOP_ERR_INVALID_ARG, "%s: raw input needs a positive sample rate (--rate HZ)", r->path);
    /* Raw data carries no channel count: the mapping decides it. */
    int file_channels = cfg->channels == DOP_CHANNELS_MONO ? 1 : 2;
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
    if (cfg->channels < DOP_CHANNELS_UNSET || cfg->channels > DOP_CHANNELS_MONO)
        return dop_error_set(err, DOP_ERR_INVALID_ARG, "%s: unknown channel mapping %d", cfg->path, (int)cfg->channels);
    if (strcmp(cfg->path, "-") == 0 && cfg->raw_format == DOP_RAW_NONE)
        return dop_error_set(err, DOP_ERR_INVALID_ARG,
                             "standard input can only be read as raw samples: give --raw-format s16|f32 and --rate HZ");

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

    status = cfg->raw_format == DOP_RAW_NONE ? open_sndfile(r, cfg, err) : open_raw(r, cfg, err);
    if (status != DOP_OK) goto fail;

    r->block = malloc(sizeof *r->block * READ_BLOCK_FRAMES * (size_t)r->info.file_channels);
    if (!r->block) {
        status = dop_error_set(err, DOP_ERR_NOMEM, "%s: out of memory", r->path);
        goto fail;
    }
    *out = r;
    return DOP_OK;

fail:
    dop_reader_close(r);
    return status;
}

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

/* Read up to `frames` frames (<= READ_BLOCK_FRAMES) into r->block; returns
 * the number read (0 at the end). */
static dop_status read_block(dop_reader *r, size_t frames, size_t *got, dop_error *err)
{
    *got = 0;
    if (r->snd) {
        sf_count_t n = sf_readf_float(r->snd, r->block, (sf_count_t)frames);
        if (n < 0 || (n == 0 && sf_error(r->snd) == SF_ERR_SYSTEM))
            return dop_error_set(err, DOP_ERR_IO, "%s: read error (libsndfile: %s)", r->path, sf_strerror(r->snd));
        *got = (size_t)n;
        return DOP_OK;
    }
    size_t channels = (size_t)r->info.file_channels;
    int is_s16 = !r->info.is_float;
    size_t sample_bytes = is_s16 ? 2 : 4;
    /* fread with the frame as element size: a frame split across pipe
     * writes is completed by stdio; a partial frame at the very end is
     * dropped. */
    size_t n = fread(r->bytes, sample_bytes * channels, frames, r->raw);
    if (n < frames && ferror(r->raw))
        return dop_error_set(err, DOP_ERR_IO, "%s: read error: %s", r->path, strerror(errno));
    size_t values = n * channels;
    for (size_t i = 0; i < values; i++)
        r->block[i] = is_s16 ? decode_s16(r->bytes + 2 * i) : decode_f32(r->bytes + 4 * i);
    *got = n;
    return DOP_OK;
}

dop_status dop_reader_read(dop_reader *reader, float complex *out, size_t capacity, size_t *count, dop_error *err)
{
    *count = 0;
    size_t done = 0;
    while (done < capacity && !reader->at_end) {
        size_t want = capacity - done;
        if (want > READ_BLOCK_FRAMES) want = READ_BLOCK_FRAMES;
        size_t got = 0;
        dop_status status = read_block(reader, want, &got, err);
        if (status != DOP_OK) {
            *count = done;
            return status;
        }
        if (got == 0) {
            reader->at_end = 1;
            break;
        }
        const float *b = reader->block;
        int stereo = reader->info.file_channels == 2;
        for (size_t i = 0; i < got; i++) {
            float left = stereo ? b[2 * i] : b[i];
            float right = stereo ? b[2 * i + 1] : 0.0f;
            if (!isfinite(left) || !isfinite(right)) {
                int channel = !isfinite(left) ? 0 : 1;
                float bad = channel == 0 ? left : right;
                *count = done + i;
                reader->position += (int64_t)i;
                reader->at_end = 1; /* the rest of this block is lost: stop here */
                return dop_error_set(err, DOP_ERR_FORMAT, "%s: sample %lld (%s channel, t = %.6f s) is %s",
                                     reader->path, (long long)reader->position, channel == 0 ? "left" : "right",
                                     (double)reader->position / reader->info.rate_hz,
                                     isnan(bad) ? "NaN" : "infinite");
            }
            switch (reader->info.channels) {
            case DOP_CHANNELS_QI: out[done + i] = CMPLXF(right, left); break;
            case DOP_CHANNELS_MONO: out[done + i] = CMPLXF(left, 0.0f); break; /* left channel of stereo */
            default: out[done + i] = CMPLXF(left, right); break;
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
    if (frame == reader->position) return DOP_OK;
    int64_t known = reader->info.frames;
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
        dop_status status = read_block(reader, want, &got, err);
        if (status != DOP_OK) return status;
        reader->position += (int64_t)got;
        if (got < want) reader->at_end = 1;
    }
    return DOP_OK;
}

void dop_reader_close(dop_reader *reader)
{
    if (!reader) return;
    if (reader->snd) sf_close(reader->snd);
    if (reader->snd_fd >= 0) close(reader->snd_fd);
    if (reader->raw && reader->raw_owned) fclose(reader->raw);
    free(reader->block);
    free(reader->bytes);
    free(reader->path);
    free(reader);
}
