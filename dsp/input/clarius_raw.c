/* Clarius raw IQ reader (see clarius_raw.h). The header's counts are
 * bounded first (so that no product can overflow 64 bits), then the exact
 * file size they imply is compared with the real one; only then is a line
 * buffer allocated. Values are decoded byte by byte (little-endian), so the
 * reader does not depend on the host's byte order. */
#include "dopflow/clarius_raw.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct dop_clarius_raw {
    FILE *file;
    char *path;                 /* for messages */
    dop_clarius_raw_info info;
    uint64_t frame_bytes;       /* timestamp + lines x samples x 4 */
    uint64_t line_bytes;        /* one beam line: samples x ensemble x 4 */
    unsigned char *buffer;      /* line_bytes */
};

dop_clarius_raw_config dop_clarius_raw_config_default(void)
{
    dop_clarius_raw_config cfg = {NULL, 12};
    return cfg;
}

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int16_t le16s(const unsigned char *p)
{
    int32_t u = (int32_t)p[0] | (int32_t)p[1] << 8;
    return (int16_t)(u >= 0x8000 ? u - 0x10000 : u);
}

/* Read `len` bytes at `offset`; DOP_ERR_IO with the position on failure. */
static dop_status read_at(dop_clarius_raw *r, uint64_t offset, void *data, size_t len, dop_error *err)
{
    if (fseeko(r->file, (off_t)offset, SEEK_SET) != 0)
        return dop_error_set(err, DOP_ERR_IO, "%s: cannot seek to byte %llu: %s", r->path,
                             (unsigned long long)offset, strerror(errno));
    if (fread(data, 1, len, r->file) != len)
        return dop_error_set(err, DOP_ERR_IO, "%s: cannot read %zu bytes at byte %llu (%s)", r->path, len,
                             (unsigned long long)offset, ferror(r->file) ? strerror(errno) : "the file is shorter");
    return DOP_OK;
}

/* The header's counts, against fixed bounds and the file size. */
static dop_status check_header(dop_clarius_raw *r, const unsigned char *h, uint64_t file_bytes, size_t ensemble,
                               dop_error *err)
{
    uint32_t id = le32(h), frames = le32(h + 4), lines = le32(h + 8), samples = le32(h + 12),
             sample_bytes = le32(h + 16);
    const char *p = r->path;
    if (sample_bytes != 4)
        return dop_error_set(err, DOP_ERR_FORMAT,
                             "%s: sample size %u bytes; only IQ with int16 I and Q (4 bytes) is read "
                             "(2 would be RF, 1 envelope)",
                             p, sample_bytes);
    if (frames == 0 || frames > DOP_CLARIUS_MAX_FRAMES)
        return dop_error_set(err, DOP_ERR_FORMAT,
                             "%s: header says %u frames (1 to %u accepted): not a Clarius raw file?", p, frames,
                             DOP_CLARIUS_MAX_FRAMES);
    if (lines == 0 || lines > DOP_CLARIUS_MAX_LINES)
        return dop_error_set(err, DOP_ERR_FORMAT, "%s: header says %u lines per frame (1 to %u accepted)", p, lines,
                             DOP_CLARIUS_MAX_LINES);
    if (samples == 0 || samples > DOP_CLARIUS_MAX_SAMPLES)
        return dop_error_set(err, DOP_ERR_FORMAT, "%s: header says %u samples per line (1 to %u accepted)", p, samples,
                             DOP_CLARIUS_MAX_SAMPLES);
    if (lines % ensemble != 0)
        return dop_error_set(err, DOP_ERR_FORMAT,
                             "%s: %u lines per frame are not a whole number of beam lines of %zu shots "
                             "(wrong ensemble length?)",
                             p, lines, ensemble);
    /* bounded above: at most 2^16 x 2^16 x 4 + 8 bytes a frame, x 10^5 frames < 2^64 */
    uint64_t frame_bytes = DOP_CLARIUS_TIMESTAMP_BYTES + (uint64_t)lines * samples * sample_bytes;
    uint64_t expected = DOP_CLARIUS_HEADER_BYTES + (uint64_t)frames * frame_bytes;
    if (file_bytes < expected)
        return dop_error_set(err, DOP_ERR_FORMAT,
                             "%s: truncated: the header promises %u frame(s) of %u lines x %u samples "
                             "(%llu bytes) but the file has %llu",
                             p, frames, lines, samples, (unsigned long long)expected, (unsigned long long)file_bytes);
    if (file_bytes > expected)
        return dop_error_set(err, DOP_ERR_FORMAT,
                             "%s: %llu bytes beyond the %u frame(s) of %u lines x %u samples the header declares "
                             "(%llu bytes): header and data disagree",
                             p, (unsigned long long)(file_bytes - expected), frames, lines, samples,
                             (unsigned long long)expected);
    r->info.id = id;
    r->info.frames = frames;
    r->info.lines = lines;
    r->info.samples = samples;
    r->info.sample_bytes = sample_bytes;
    r->info.ensemble = ensemble;
    r->info.beam_lines = lines / ensemble;
    r->info.file_bytes = file_bytes;
    r->frame_bytes = frame_bytes;
    r->line_bytes = (uint64_t)samples * ensemble * sample_bytes;
    return DOP_OK;
}

dop_status dop_clarius_raw_open(const dop_clarius_raw_config *cfg, dop_clarius_raw **out, dop_error *err)
{
    if (out) *out = NULL;
    if (!cfg || !out || !cfg->path)
        return dop_error_set(err, DOP_ERR_INVALID_ARG, "clarius raw: no file path given");
    if (cfg->ensemble < 1 || cfg->ensemble > DOP_CLARIUS_MAX_LINES)
        return dop_error_set(err, DOP_ERR_INVALID_ARG, "%s: ensemble of %zu shots (1 to %u accepted)", cfg->path,
                             cfg->ensemble, DOP_CLARIUS_MAX_LINES);
    dop_status status = DOP_OK;
    dop_clarius_raw *r = calloc(1, sizeof *r);
    if (!r) return dop_error_set(err, DOP_ERR_NOMEM, "%s: out of memory", cfg->path);
    if (!(r->path = strdup(cfg->path))) {
        status = dop_error_set(err, DOP_ERR_NOMEM, "%s: out of memory", cfg->path);
        goto fail;
    }
    struct stat st;
    if (!(r->file = fopen(cfg->path, "rb")) || fstat(fileno(r->file), &st) != 0) {
        status = dop_error_set(err, DOP_ERR_IO, "%s: cannot open: %s", cfg->path, strerror(errno));
        goto fail;
    }
    if (!S_ISREG(st.st_mode)) {
        status = dop_error_set(err, DOP_ERR_IO, "%s: not a regular file", cfg->path);
        goto fail;
    }
    uint64_t file_bytes = (uint64_t)st.st_size;
    unsigned char header[DOP_CLARIUS_HEADER_BYTES];
    if (file_bytes < DOP_CLARIUS_HEADER_BYTES + DOP_CLARIUS_TIMESTAMP_BYTES) {
        status = dop_error_set(err, DOP_ERR_FORMAT, "%s: %llu bytes: shorter than a Clarius raw header (%u + %u)",
                               cfg->path, (unsigned long long)file_bytes, DOP_CLARIUS_HEADER_BYTES,
                               DOP_CLARIUS_TIMESTAMP_BYTES);
        goto fail;
    }
    if ((status = read_at(r, 0, header, sizeof header, err)) != DOP_OK) goto fail;
    if ((status = check_header(r, header, file_bytes, cfg->ensemble, err)) != DOP_OK) goto fail;
    if (r->line_bytes > SIZE_MAX / 2 || !(r->buffer = malloc((size_t)r->line_bytes))) {
        status = dop_error_set(err, DOP_ERR_NOMEM, "%s: out of memory for a line of %llu bytes", cfg->path,
                               (unsigned long long)r->line_bytes);
        goto fail;
    }
    *out = r;
    return DOP_OK;
fail:
    dop_clarius_raw_close(r);
    return status;
}

const dop_clarius_raw_info *dop_clarius_raw_get_info(const dop_clarius_raw *r) { return &r->info; }

dop_status dop_clarius_raw_timestamp(dop_clarius_raw *r, size_t frame, uint64_t *out, dop_error *err)
{
    if (frame >= r->info.frames)
        return dop_error_set(err, DOP_ERR_INVALID_ARG, "%s: frame %zu requested, the file has %zu", r->path, frame,
                             r->info.frames);
    unsigned char b[DOP_CLARIUS_TIMESTAMP_BYTES];
    dop_status status = read_at(r, DOP_CLARIUS_HEADER_BYTES + (uint64_t)frame * r->frame_bytes, b, sizeof b, err);
    if (status != DOP_OK) return status;
    *out = (uint64_t)le32(b) | (uint64_t)le32(b + 4) << 32;
    return DOP_OK;
}

dop_status dop_clarius_raw_read_line(dop_clarius_raw *r, size_t frame, size_t line, float complex *out,
                                     size_t capacity, dop_error *err)
{
    const dop_clarius_raw_info *in = &r->info;
    if (frame >= in->frames || line >= in->beam_lines)
        return dop_error_set(err, DOP_ERR_INVALID_ARG, "%s: frame %zu, beam line %zu requested; the file has %zu x %zu",
                             r->path, frame, line, in->frames, in->beam_lines);
    size_t values = in->samples * in->ensemble;
    if (!out || capacity < values)
        return dop_error_set(err, DOP_ERR_INVALID_ARG, "%s: a beam line needs room for %zu x %zu samples, given %zu",
                             r->path, in->samples, in->ensemble, out ? capacity : 0);
    uint64_t offset = DOP_CLARIUS_HEADER_BYTES + (uint64_t)frame * r->frame_bytes + DOP_CLARIUS_TIMESTAMP_BYTES +
                      (uint64_t)line * r->line_bytes;
    dop_status status = read_at(r, offset, r->buffer, (size_t)r->line_bytes, err);
    if (status != DOP_OK) return status;
    const float scale = 1.0f / 32768.0f;
    for (size_t i = 0; i < values; i++) {
        const unsigned char *p = r->buffer + 4 * i;
        out[i] = CMPLXF((float)le16s(p) * scale, (float)le16s(p + 2) * scale);
    }
    return DOP_OK;
}

void dop_clarius_raw_close(dop_clarius_raw *r)
{
    if (!r) return;
    if (r->file) fclose(r->file);
    free(r->buffer);
    free(r->path);
    free(r);
}
