/* dopflow: DOP_API marks the public API. The library is compiled with
 * hidden visibility (-fvisibility=hidden), so the shared libdopflow.so
 * exports exactly the declarations marked here (every dop_* function of
 * header in include/dopflow/) and nothing of its internals; the static library
 * and the programs linked with it are unaffected. */
#ifndef DOPFLOW_EXPORT_H
#define DOPFLOW_EXPORT_H

#if defined(__GNUC__) || defined(__clang__)
#define DOP_API __attribute__((visibility("default")))
#else
#define DOP_API
#endif

#endif
