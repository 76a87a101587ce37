/* libFuzzer: the readers on arbitrary bytes. The first byte picks the
 * reader: libsndfile (any header: WAV, AIFF, FLAC, ...), raw s16 or raw f32,
 * and the channel mapping; the rest is the file. Everything is read in
 * blocks of a size taken from the second byte, with one skip. */
#include "dopflow/reader.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) return 0;
    uint8_t mode = data[0], blk = data[1];
    const char *path = fuzz_file("input.bin", data + 2, size - 2);
    dop_reader_config cfg = dop_reader_config_default();
    cfg.path = path;
    /* Audio and raw only: the IQ file formats are parsed by HDF5 and
     * libmatio, whose own faults on damaged files (HDF5 1.10.8 reads freed
     * memory decoding damaged attributes under ASan) dopflow cannot fix;
     * dopflow's checks around them are tested in test_iq.c and
     * tests/input/test_iq_mat.c and test_iq_uff.c. */
    cfg.format = DOP_INPUT_AUDIO;
    cfg.raw_format = (dop_raw_format)(mode % 3);
    cfg.raw_rate_hz = cfg.raw_format == DOP_RAW_NONE ? 0.0 : 12500.0;
    cfg.channels = (dop_channels)((mode / 3) % 4);
    dop_reader *r = NULL;
    dop_error err;
    if (dop_reader_open(&cfg, &r, &err) != DOP_OK) {
        if (r) abort();
        return 0;
    }
    const dop_reader_info *info = dop_reader_get_info(r);
    if (!(info->rate_hz > 0) || (info->file_channels != 1 && info->file_channels != 2)) abort();
    float complex buf[300];
    size_t cap = 1 + blk % 300, got = 0, total = 0;
    if (mode & 0x40) (void)dop_reader_skip_to(r, (int64_t)blk * 3, &err);
    while (dop_reader_read(r, buf, cap, &got, &err) == DOP_OK && got > 0) {
        if (got > cap) abort();
        total += got;
        if (total > 100000000) abort(); /* more samples than bytes: a reader loop */
    }
    dop_reader_close(r);
    return 0;
}
