/* Run-time choice of instruction set (see cpu.h). */
#include "cpu.h"

#include <stdlib.h>

/* Whether DOPFLOW_NO_AVX512 asks for the SSE2 versions. */
static int wide_paths_off(void)
{
    const char *off = getenv("DOPFLOW_NO_AVX512");
    return off && off[0] && off[0] != '0';
}

int dop_cpu_use_avx512(void)
{
#if DOP_HAVE_AVX512_PATHS
    if (wide_paths_off()) return 0;
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") != 0;
#else
    return 0;
#endif
}

int dop_cpu_use_avx(void)
{
#if DOP_HAVE_AVX512_PATHS
    if (wide_paths_off()) return 0;
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx") != 0;
#else
    return 0;
#endif
}
