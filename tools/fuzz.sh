#!/bin/sh
# Build the libFuzzer harnesses (tests/fuzz/) with clang and
# -fsanitize=fuzzer,address,undefined in build-fuzz and run each for SECONDS
# (default 60), one after the other, from its seed corpus
# (tests/fuzz/corpus/<harness>/, copied: the seeds are not changed).
# Fails if any harness finds a crash, a leak, undefined behaviour, a
# timeout or an out-of-memory; the input is kept in build-fuzz/crashes/.
# A found crash becomes a regression test: add the input to the seed corpus
# (tests/fuzz/corpus/<harness>/) and fix the bug; every later run replays it.
#
#   tools/fuzz.sh            # 60 s per harness (7 harnesses: ~7 min)
#   tools/fuzz.sh 10         # 10 s per harness
#   HARNESSES="epochs manifest" tools/fuzz.sh 30
set -eu
cd "$(dirname "$0")/.."
SECONDS_EACH=${1:-60}
BUILD_DIR=${BUILD_DIR:-build-fuzz}
JOBS=${JOBS:-2}
HARNESSES=${HARNESSES:-"sidecar manifest epochs sim_spec reader analyze review"}

if ! command -v clang >/dev/null 2>&1 || ! ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1; then
  echo "fuzz.sh: installing clang and libclang-rt-dev (libFuzzer)"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq clang "libclang-rt-$(clang --version 2>/dev/null | sed -n 's/.*version \([0-9]*\).*/\1/p' | head -1)-dev" \
    || $SUDO apt-get install -y -qq clang libclang-rt-14-dev
fi
[ -x tools/install-deps.sh ] && tools/install-deps.sh >/dev/null

SAN="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
CC=clang cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDOPFLOW_FUZZ=ON -DBUILD_TESTING=OFF \
  -DCMAKE_C_FLAGS="$SAN" -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" >/dev/null
targets=""
for h in $HARNESSES; do targets="$targets fuzz_$h"; done
# shellcheck disable=SC2086
cmake --build "$BUILD_DIR" -j "$JOBS" --target $targets

export ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
mkdir -p "$BUILD_DIR/crashes"
failed=0
summary=""
for h in $HARNESSES; do
  work="$BUILD_DIR/corpus/$h"
  mkdir -p "$work"
  cp tests/fuzz/corpus/$h/* "$work/" 2>/dev/null || true
  case $h in
    analyze|reader) max_len=65536 ;;
    *) max_len=8192 ;;
  esac
  log="$BUILD_DIR/fuzz_$h.log"
  echo "fuzz.sh: $h for ${SECONDS_EACH}s (max_len $max_len)"
  if "$BUILD_DIR/tests/fuzz/fuzz_$h" "$work" tests/fuzz/corpus/$h -max_total_time="$SECONDS_EACH" -max_len=$max_len \
       -rss_limit_mb=2048 -malloc_limit_mb=1024 -timeout=10 -print_final_stats=1 \
       -artifact_prefix="$BUILD_DIR/crashes/$h-" >"$log" 2>&1; then
    status=ok
  else
    status=FAILED
    failed=1
    grep -E "ERROR|SUMMARY|Test unit written" "$log" | head -5
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
  line=$(printf '%-9s %-6s %10s runs %7s/s  %s' "$h" "$status" "${runs:-?}" "${speed:-?}" "$cov")
  echo "fuzz.sh: $line"
  summary="$summary$line
"
done
printf '\nfuzz.sh summary (%s s each):\n%s' "$SECONDS_EACH" "$summary"
exit $failed
