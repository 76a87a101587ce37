/* Run-time choice of instruction set (internal to the library).
 *
 * A few exact passes have AVX-512 or AVX versions (wall_filter.c, noise_floor.c, beat_tempo.c,
 * beat_evidence.c, beat_path.c, spectral_lines.c, spectrum.c) that give the same bits as their
 * SSE2 versions; they are used when the processor has AVX-512F (or AVX) and the environment
 * does not set DOPFLOW_NO_AVX512 (which the tests use to run both versions on one machine).
 * Binaries are built for plain x86-64 and run on any of its processors. */
#ifndef DOPFLOW_CPU_H
#define DOPFLOW_CPU_H

#if defined(__GNUC__) && defined(__x86_64__)
#define DOP_HAVE_AVX512_PATHS 1
#else
#define DOP_HAVE_AVX512_PATHS 0
#endif

/* 1 when the AVX-512 versions should be used. */
int dop_cpu_use_avx512(void);

/* 1 when the AVX (256-bit, no FMA) versions should be used (beat_tempo.c):
 * the processor has AVX and DOPFLOW_NO_AVX512 is not set (it switches off
 * every path wider than SSE2). */
int dop_cpu_use_avx(void);

#endif
