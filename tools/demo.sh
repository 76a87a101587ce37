#!/usr/bin/env bash
# The demo of an installed dopflow, from any folder (installed as
# share/dopflow/demo.sh; tools/quickstart.sh is the same from a source tree):
#   /usr/share/dopflow/demo.sh [OUTDIR] [--quick]
# simulates one resting brachial recording and analyses it; without --quick,
# also simulates the Shoemaker 1997 cohort (80 recordings, ~15 s) and prints
# the study report. The specs (datasets/...) are found by dopflow in its
# installed data folder. Writes only into OUTDIR (default ./dopflow-demo).
set -euo pipefail
dopflow=${DOPFLOW:-dopflow}
out=dopflow-demo
quick=0
for arg in "$@"; do
  case $arg in
    --quick) quick=1 ;;
    *) out=$arg ;;
  esac
done
mkdir -p "$out"
echo "== 1. One recording: datasets/examples/brachial_rest.json =="
"$dopflow" simulate datasets/examples/brachial_rest.json -o "$out/brachial_rest.wav"
"$dopflow" analyze "$out/brachial_rest.wav" --summary - --frames "$out/brachial_rest.frames.csv" \
  --beats "$out/brachial_rest.beats.csv" --h5 "$out/brachial_rest.h5"
[ "$quick" -eq 1 ] && exit 0
echo
echo "== 2. The Shoemaker 1997 cohort: 10 subjects x 2 arteries x 4 conditions =="
"$dopflow" simulate datasets/shoemaker1997/cohort.json -o "$out/shoemaker1997"
"$dopflow" study "$out/shoemaker1997/manifest.csv" -o "$out/shoemaker1997-results" -j "$(nproc)" \
  --epochs "pre:-10:0,t5:2.5:7.5,t10:7.5:12.5,t20:17.5:22.5" --reference-epoch pre
echo
cat "$out/shoemaker1997-results/report.md"
