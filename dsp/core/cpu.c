/* Run-time choice of instruction set (see cpu.h). */
#include "cpu.h"

#include <stdlib.h>

int dop_cpu_use_avx512(void)
{
#if DOP_HAVE_AVX512_PATHS
    const char *off = getenv("DOPFLOW_NO_AVX512");
    if (off && off[0] && off[0] != '0') return 0;
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") != 0;
#else
    return 0;
#endif
}
