/* The frames CSV through the writer thread (dsp/output/frame_queue.c): the
 * same bytes as rows written in place, for any number of frames (none, a
 * part of a batch, whole rings that make the job wait, and more). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dopflow/result_csv.h"
#include "output/frame_queue.h"

static dop_frame frame_number(int i)
{
    dop_frame f;
    memset(&f, 0, sizeof f);
    f.index = i;
    f.time_s = 0.01 * (i + 1);
    f.vmax_cm_s = 40.0 * sin(0.05 * i);
    f.vmax_forward_cm_s = fabs(f.vmax_cm_s);
    f.vmax_reverse_cm_s = -0.5;
    f.vmean_cm_s = 0.4 * f.vmax_cm_s;
    f.diameter_mm = i % 7 ? 3.8 : NAN;
    f.flow_ml_min = 3.0 * f.vmean_cm_s;
    f.shear_rate_s = 21.0 * f.vmean_cm_s;
    f.noise_db = -90.0 + 0.001 * i;
    f.snr_db = 30.0 - 0.002 * i;
    f.flags = (uint32_t)(i % 11 == 0);
    f.beat_index = i / 80 - 1;
    return f;
}

/* The whole text a stream received. */
static char *contents(FILE *file, size_t *len)
{
    fflush(file);
    long size = ftell(file);
    char *text = malloc((size_t)size + 1);
    rewind(file);
    *len = fread(text, 1, (size_t)size, file);
    return text;
}

static void same_bytes_for(int frames)
{
    FILE *direct = tmpfile(), *queued = tmpfile();
    assert_non_null(direct);
    assert_non_null(queued);
    dop_frame_queue *q = NULL;
    dop_error err = {""};
    assert_int_equal(dop_frame_queue_create(queued, &q, &err), DOP_OK);
    for (int i = 0; i < frames; i++) {
        dop_frame f = frame_number(i);
        dop_frame_csv_row(direct, &f);
        fputc('\n', direct);
        dop_frame_queue_push(q, &f);
    }
    dop_frame_queue_finish(q);
    size_t a_len, b_len;
    char *a = contents(direct, &a_len), *b = contents(queued, &b_len);
    assert_int_equal(a_len, b_len);
    assert_memory_equal(a, b, a_len);
    free(a);
    free(b);
    fclose(direct);
    fclose(queued);
}

static void test_same_bytes_as_in_place(void **state)
{
    (void)state;
    const int counts[] = {0, 1, 255, 256, 257, 1024, 1025, 5000};
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) same_bytes_for(counts[i]);
    dop_frame_queue_finish(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_bytes_as_in_place),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
