/* Slow-time IQ file checks shared by tests/input/test_iq_mat.c and
 * test_iq_uff.c: the integer sample pattern the test files are made of, and
 * what the reader must return for it; opening a reader that must succeed or
 * fail (with a message naming the file); reading every pulse against the
 * expected values; and round trips of the simulator's sinks (write N pulses
 * of G gates, read them back whole, in blocks and as a gate range). */
#ifndef DOPFLOW_TEST_IQ_CHECK_H
#define DOPFLOW_TEST_IQ_CHECK_H

#include <complex.h>
#include <stddef.h>
#include <stdint.h>

#include "dopflow/reader.h"
#include "dopflow/status.h"
#include "sim/sink/sim_sink.h"

#define PRF_HZ 4000.0 /* pulse repetition frequency of every test file */

/* The stored integer of sample (pulse p, gate g), part c (0 = I, 1 = Q). */
int iq_pattern(size_t p, size_t g, int c);
/* What the reader must return for it: int16 is full scale 32768; floats are
 * stored as pattern / 4096 (exact) and read as stored. */
float iq_expected(int is_int16, size_t p, size_t g, int c);
/* `name` in the test's temporary folder (*state). */
void iq_path_in(char *out, size_t size, void **state, const char *name);

dop_reader_config iq_config(const char *path, dop_input_format format);
/* Open that must succeed (the test fails with the message otherwise). */
dop_reader *iq_open_ok(const dop_reader_config *cfg);
/* Open must fail with `status` and a message naming the file (and holding
 * `words` when given). */
void iq_open_fails(const dop_reader_config *cfg, dop_status status, const char *words);

/* Every pulse, `capacity` at a time, compared with fn(p, g, c) for gates
 * g0.. of the file; returns the pulses read. */
typedef float (*iq_value_fn)(const void *ctx, size_t p, size_t g, int c);
size_t iq_read_compare(dop_reader *r, size_t capacity, size_t g0, iq_value_fn fn, const void *ctx);
/* iq_expected for ctx pointing to an int is_int16. */
float iq_pattern_value(const void *ctx, size_t p, size_t g, int c);

/* Samples written through a sink, and what its scaling makes of them. */
typedef struct sink_data {
    size_t N, G;
    float complex *x;    /* unscaled, pulse-major */
    int16_t *pcm;        /* what sim_scale_pcm16 makes of it */
    float *flt;          /* what sim_scale_float makes of it */
} iq_sink_data;
float iq_sink_value(const void *ctx, size_t p, size_t g, int c);
/* Write N pulses of G gates through `ops` in three uneven pieces. */
void iq_sink_write(const sim_sink_ops *ops, const char *path, size_t N, size_t G, int float_samples, iq_sink_data *d);
void iq_sink_data_free(iq_sink_data *d);
/* The acquisition every sink test file carries (PRF_HZ, 5 MHz, 60 degrees,
 * 1540 m/s, 6 mm) and I/Q channels. */
void iq_check_acquisition(const dop_reader_info *info);
/* Write through ops and read back (by format and by content), whole, in
 * blocks of 97 pulses and as a gate range. */
void iq_sink_round_trip(void **state, const sim_sink_ops *ops, const char *file, dop_input_format kind, size_t N,
                        size_t G, int float_samples);
/* Three round trips through a sink (float 1000 x 4, int16 777 x 1, int16
 * 500 x 5); then the float file, found by content, must describe itself
 * with `format` and a layout starting with `layout`. Its path is left in
 * path. */
void iq_sink_round_trips(void **state, const sim_sink_ops *sink, const char *ext, dop_input_format format,
                         const char *format_name, const char *layout, char *path, size_t size);

#endif
