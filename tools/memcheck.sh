#!/bin/sh
# Run the ctest suite under valgrind memcheck (ctest -T memcheck) in
# build-memcheck: any memory error or definite leak fails the run.
# Suppressions (tools/valgrind.supp) cover third-party libraries only.
#
# What is checked: every test executable, i.e. the library code the unit
# tests call in-process. The `dopflow` processes the CLI tests start are not
# traced (valgrind on every child would take hours); the sanitizer build
# (tools/sanitize.sh) covers them.
#   tools/memcheck.sh                  # every test
#   TESTS='test_reader|test_manifest' tools/memcheck.sh   # a subset (ctest -R)
set -eu
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build-memcheck}
JOBS=${JOBS:-2}
command -v valgrind >/dev/null 2>&1 || { SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo; $SUDO apt-get install -y -qq valgrind; }
[ -x tools/install-deps.sh ] && tools/install-deps.sh >/dev/null
OPTS="--error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite"
OPTS="$OPTS --track-origins=no --num-callers=30 --suppressions=$(pwd)/tools/valgrind.supp --gen-suppressions=all"
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMEMORYCHECK_COMMAND="$(command -v valgrind)" \
      -DMEMORYCHECK_COMMAND_OPTIONS="$OPTS" >/dev/null
cmake --build "$BUILD_DIR" -j "$JOBS"
start=$(date +%s)
# Under valgrind the tests run 20-50x slower; the time limits of the
# hostile-input test's commands are not affected (they run natively).
# The review server and browser tests and the real-recordings check are Python scripts that only drive
# `dopflow` processes (valgrind would trace the Python interpreter): left out,
# like the other CLI processes, and covered by the sanitizer build.
SKIP_TESTS='test_review_server|test_review_browser|test_real_recordings'
# Tests that repeat one path over many seeds take a few of them here.
export DOPFLOW_MEMCHECK=1
if [ -n "${TESTS:-}" ]; then
  ctest --test-dir "$BUILD_DIR" -T memcheck -j "$JOBS" --timeout 3000 --output-on-failure -R "$TESTS" -E "$SKIP_TESTS"
else
  ctest --test-dir "$BUILD_DIR" -T memcheck -j "$JOBS" --timeout 3000 --output-on-failure -E "$SKIP_TESTS"
fi
# ctest -T memcheck exits 0 even when valgrind reports defects in some
# versions: look at the logs too.
bad=$(grep -l -E "ERROR SUMMARY: [1-9]|definitely lost: [1-9]" "$BUILD_DIR"/Testing/Temporary/MemoryChecker.*.log 2>/dev/null || true)
if [ -n "$bad" ]; then
  echo "memcheck.sh: valgrind reported errors or definite leaks in:"; echo "$bad"; exit 1
fi
echo "memcheck.sh: no memory errors or definite leaks in $(( $(date +%s) - start )) s"
