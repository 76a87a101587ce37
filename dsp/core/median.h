/* Small medians shared by the per-frame stages (header only: inlined in
 * their per-bin and per-frame loops). */
#ifndef DOPFLOW_CORE_MEDIAN_H
#define DOPFLOW_CORE_MEDIAN_H

/* The median of the five values v[0..4], none NaN, without branches: a
 * sorting network of nine comparators (Knuth, TAOCP vol. 3, 5.3.4), each a
 * minimum and a maximum, on a copy. The same value as sorting (a -0 and a
 * 0 may change places). */
static inline double dop_median5(const double *v)
{
    static const int pairs[9][2] = {{0, 1}, {3, 4}, {2, 4}, {2, 3}, {0, 3}, {0, 2}, {1, 4}, {1, 3}, {1, 2}};
    double x[5] = {v[0], v[1], v[2], v[3], v[4]};
    for (int c = 0; c < 9; c++) {
        const double a = x[pairs[c][0]], b = x[pairs[c][1]];
        x[pairs[c][0]] = b < a ? b : a;
        x[pairs[c][1]] = b < a ? a : b;
    }
    return x[2];
}

#endif
