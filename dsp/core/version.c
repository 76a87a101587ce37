/* Library version (set by CMake from the project version). */
#include "dopflow/dopflow.h"

const char *dop_version(void) { return DOPFLOW_VERSION; }
