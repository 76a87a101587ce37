/* Number formatting for the CSV writers (see fmt.h).
 *
 * A double is m 2^-s exactly (m < 2^53). For |x| < 1e15 and at most 4
 * decimals, x 10^p = m 10^p 2^-s with m 10^p < 2^67: the integer part and
 * the remainder of that product in 128-bit arithmetic give x 10^p rounded
 * exactly, ties to even, which is what glibc's printf prints in the default
 * rounding mode. Anything else (more decimals, huge values, NaN, infinity)
 * goes to snprintf itself. */
#include "fmt.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

__extension__ typedef unsigned __int128 u128;

#define FAST_PREC_MAX 4
static const uint64_t pow10_table[FAST_PREC_MAX + 1] = {1, 10, 100, 1000, 10000};

/* Decimal digits of v, at least `width` of them (zero-padded), two at a
 * time from a table. */
static const char digit_pairs[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

static size_t put_digits(char *buf, uint64_t v, int width)
{
    int n = 1; /* digits of v */
    for (uint64_t t = v; t >= 10; t /= 10) n++;
    if (n < width) n = width;
    char *p = buf + n;
    while (v >= 100) { /* two at a time, from the right */
        unsigned pair = (unsigned)(v % 100);
        v /= 100;
        p -= 2;
        memcpy(p, digit_pairs + 2 * pair, 2);
    }
    if (v >= 10) {
        p -= 2;
        memcpy(p, digit_pairs + 2 * v, 2);
    } else {
        *--p = (char)('0' + v);
    }
    while (p > buf) *--p = '0'; /* zero padding up to width */
    return (size_t)n;
}

size_t dop_fmt_fixed(char *buf, double x, int prec)
{
    if (prec < 0 || prec > FAST_PREC_MAX || !(fabs(x) < 1e15)) {
        int n = snprintf(buf, DOP_FMT_MAX, "%.*f", prec, x);
        return n < 0 ? 0 : (size_t)n;
    }
    char *p = buf;
    uint64_t bits;
    memcpy(&bits, &x, sizeof bits);
    if (bits >> 63) *p++ = '-'; /* printf writes -0.000 for -0.0 and -0.0001 */
    /* |x| = m 2^-shift exactly, m < 2^53 (IEEE 754 binary64 fields). */
    const int biased = (int)((bits >> 52) & 0x7FF);
    uint64_t m = bits & ((1ULL << 52) - 1);
    int shift;
    if (biased == 0) {
        shift = 1074; /* zero or subnormal: m 2^-1074 */
    } else {
        m |= 1ULL << 52;
        shift = 1075 - biased; /* > 3 since |x| < 1e15 < 2^50 */
    }
    uint64_t q = 0; /* |x| 10^prec, rounded to nearest, ties to even */
    if (m != 0 && shift < 128) {
        u128 product = (u128)m * pow10_table[prec];
        q = (uint64_t)(product >> shift);
        u128 rem = product & (((u128)1 << shift) - 1), half = (u128)1 << (shift - 1);
        if (rem > half || (rem == half && (q & 1))) q++;
    } /* else zero, or product < 2^67 <= half: rounds to 0 */
    /* Integer and fractional parts; constant divisors (multiplications). */
    uint64_t whole, frac;
    switch (prec) {
    case 0: whole = q, frac = 0; break;
    case 1: whole = q / 10, frac = q % 10; break;
    case 2: whole = q / 100, frac = q % 100; break;
    case 3: whole = q / 1000, frac = q % 1000; break;
    default: whole = q / 10000, frac = q % 10000; break;
    }
    p += put_digits(p, whole, 1);
    if (prec > 0) {
        *p++ = '.';
        p += put_digits(p, frac, prec);
    }
    *p = '\0';
    return (size_t)(p - buf);
}

size_t dop_fmt_int(char *buf, long long v)
{
    char *p = buf;
    unsigned long long u = (unsigned long long)v;
    if (v < 0) {
        *p++ = '-';
        u = 0ULL - u;
    }
    p += put_digits(p, u, 1);
    *p = '\0';
    return (size_t)(p - buf);
}
