/* Small medians shared by the per-frame stages (header only: inlined in
 * their per-bin loops). */
#ifndef DOPFLOW_CORE_MEDIAN_H
#define DOPFLOW_CORE_MEDIAN_H

/* Median of the five values v[0..4] (insertion sort of a copy). */
static inline double dop_median5(const double *v)
{
    double t[5] = {v[0], v[1], v[2], v[3], v[4]};
    for (int i = 1; i < 5; i++)
        for (int j = i; j > 0 && t[j - 1] > t[j]; j--) {
            double x = t[j];
            t[j] = t[j - 1];
            t[j - 1] = x;
        }
    return t[2];
}

#endif
