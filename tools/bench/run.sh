#!/usr/bin/env bash
# The benchmark of BENCHMARKS.md: install what is missing (the project's
# packages, and NumPy/SciPy for the reference program), build, run.
# Options go to dopflow_bench (see build/dopflow_bench --help), e.g.
#   tools/bench/run.sh --repeats 3 --hours 1
# Needs about 2 minutes on 2 cores and 200 MB in /tmp (the main recording,
# 40 short ones and the outputs; removed at the end). The 10-hour run reads
# from a pipe: no 10-hour file is written.
set -euo pipefail
cd "$(dirname "$0")/../.."
tools/install-deps.sh
# Debian's NumPy and SciPy, for tools/bench/reference.py only.
missing=()
for p in python3-numpy python3-scipy; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
tools/build.sh
exec build/dopflow_bench --python /usr/bin/python3 "$@"
