#!/bin/sh
# Build the whole project with AddressSanitizer and UndefinedBehaviorSanitizer
# (gcc) in build-asan and run the whole ctest suite; any sanitizer report
# fails the run (halt_on_error, detect_leaks).
#
#   tools/sanitize.sh            # build-asan, every test
#   JOBS=4 tools/sanitize.sh     # parallel build and ctest
#   BUILD_DIR=/tmp/asan tools/sanitize.sh
#
# The hostile-input test (test_hostile) drops its 2 GB `ulimit -v` under ASan
# (the shadow memory needs terabytes of address space); its 20 s time limit
# per command stays.
set -eu
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build-asan}
JOBS=${JOBS:-2}
[ -x tools/install-deps.sh ] && tools/install-deps.sh
FLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DCMAKE_C_FLAGS="$FLAGS" -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" >/dev/null
cmake --build "$BUILD_DIR" -j "$JOBS"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:strict_string_checks=1:detect_stack_use_after_return=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
export LSAN_OPTIONS="suppressions=$(pwd)/tools/lsan.supp:print_suppressions=0"
start=$(date +%s)
ctest --test-dir "$BUILD_DIR" -j "$JOBS" --output-on-failure --timeout 1200
echo "sanitize.sh: all tests passed under ASan+UBSan in $(( $(date +%s) - start )) s"
