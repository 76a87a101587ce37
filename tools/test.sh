#!/usr/bin/env bash
# The whole test suite (the README's test command; .ci/run calls it):
#   1. install what is missing, build, run every ctest (unit, physics, CLI,
#      hostile inputs, killed runs, accuracy quick sweep);
#   2. the Slurm job array against a real single-node Slurm (tools/slurm/test-slurm.sh);
#   3. the suite again under AddressSanitizer + UndefinedBehaviorSanitizer (tools/sanitize.sh);
#   4. each libFuzzer harness for FUZZ_SECONDS (default 60; tools/fuzz.sh);
#   5. the suite once under valgrind memcheck (tools/memcheck.sh);
#   6. what a user installs: cmake --install into a temporary prefix, the
#      exported symbols, manual pages, completion, the C example built against
#      it both ways, the Python package's pytest, the .deb (tools/test-install.sh).
# `tools/test.sh --quick` runs step 1 only (about a minute).
# Ends with one line "test.sh: N passed, N failed" over the steps run.
set -uo pipefail
cd "$(dirname "$0")/.."
quick=0
[ "${1:-}" = "--quick" ] && quick=1

passed=0
failed=0
failures=()
step() {
  local name=$1
  shift
  echo
  echo "== test.sh: $name =="
  local start=$SECONDS
  if "$@"; then
    passed=$((passed + 1))
    echo "== test.sh: $name passed ($((SECONDS - start)) s) =="
  else
    failed=$((failed + 1))
    failures+=("$name")
    echo "== test.sh: $name FAILED ($((SECONDS - start)) s) =="
  fi
}

ctest_suite() {
  tools/install-deps.sh && tools/build.sh && (cd build && ctest --output-on-failure -j"$(nproc)")
}

step "ctest suite" ctest_suite
if [ "$quick" -eq 0 ]; then
  step "Slurm job array" tools/slurm/test-slurm.sh build/dopflow
  step "sanitizers (ASan + UBSan)" tools/sanitize.sh
  step "fuzzing" tools/fuzz.sh "${FUZZ_SECONDS:-60}"
  step "valgrind memcheck" tools/memcheck.sh
  step "install (prefix, .deb, C example, Python)" tools/test-install.sh
fi

echo
[ "$failed" -eq 0 ] || echo "test.sh: failed steps: ${failures[*]}"
echo "test.sh: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
