/* Number formatting for the CSV writers (internal to the library).
 *
 * dop_fmt_fixed() writes exactly the text printf("%.*f", prec, x) writes
 * (glibc: the binary value rounded exactly, ties to even), a few times
 * faster: one frames row has eleven numbers and a 10-hour recording 3.6
 * million rows. tests/pipeline/test_equivalence.c compares it with snprintf. */
#ifndef DOPFLOW_FMT_H
#define DOPFLOW_FMT_H

#include <stddef.h>
#include <stdint.h>

/* Longest text either function writes, with its NUL. */
#define DOP_FMT_MAX 352

/* printf("%.*f", prec, x) into buf (at least DOP_FMT_MAX bytes), prec in
 * 0..9; returns the length (no NUL counted; one is written). */
size_t dop_fmt_fixed(char *buf, double x, int prec);

/* printf("%lld", v) into buf (at least 21 bytes); returns the length. */
size_t dop_fmt_int(char *buf, long long v);

#endif
