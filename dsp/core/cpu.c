/* Run-time choice of instruction set (see cpu.h). */
#include "cpu.h"

#include <stdlib.h>

#if DOP_HAVE_AVX512_PATHS
/* Whether paths wider than SSE2 may be used: DOPFLOW_NO_AVX512 unset (or
 * "0"); initialises the processor feature tests. */
static int wide_paths_allowed(void)
{
    const char *off = getenv("DOPFLOW_NO_AVX512");
    if (off && off[0] && off[0] != '0') return 0;
    __builtin_cpu_init();
    return 1;
}

int dop_cpu_use_avx512(void) { return wide_paths_allowed() && __builtin_cpu_supports("avx512f") != 0; }
int dop_cpu_use_avx(void) { return wide_paths_allowed() && __builtin_cpu_supports("avx") != 0; }
#else
int dop_cpu_use_avx512(void) { return 0; }
int dop_cpu_use_avx(void) { return 0; }
#endif
