#!/usr/bin/env bash
# Every output of a dopflow binary, for byte-for-byte comparison of two versions
# (tools/outputs-compare.sh): tools/outputs-record.sh DOPFLOW_BINARY SOURCE_TREE OUTDIR
# Simulates and analyses the four example specs and the pulsed-wave IQ example
# (every output incl. --h5 and figures), runs info, and the Shoemaker demo
# study with its figure, and the colour-flow example (the Clarius frame of
# ../shared/data/real, or DOPFLOW_REAL_DATA, when present). Every path given to dopflow is relative to OUTDIR
# (the source tree through the symlink OUTDIR/src), so runs in different
# folders and trees compare byte for byte.
set -euo pipefail
dop=$(realpath "$1"); src=$(realpath "$2"); out=$3
rm -rf "$out"; mkdir -p "$out"
cd "$out"
ln -s "$src" src
for s in brachial_rest brachial_rest_scatterers femoral_exercise tapotement; do
  "$dop" simulate src/datasets/examples/$s.json -o $s.wav > $s.sim.stdout 2> $s.sim.stderr
  "$dop" analyze $s.wav --summary $s.summary.csv --frames $s.frames.csv \
    --beats $s.beats.csv --h5 $s.h5 > $s.an.stdout 2> $s.an.stderr
  "$dop" info $s.wav > $s.info 2>&1 || true
  "$dop" plot sonogram $s.h5 -o $s.sonogram.svg
  "$dop" plot flow $s.h5 -o $s.flow.svg
done
for fmt in h5 uff mat; do
  "$dop" simulate src/datasets/examples/pulsed_wave_aliasing.json -o pw.$fmt > /dev/null 2>&1
  "$dop" analyze pw.$fmt --summary pw.$fmt.summary.csv --frames pw.$fmt.frames.csv \
    --beats pw.$fmt.beats.csv --h5 pw.$fmt.result.h5 > pw.$fmt.an.stdout 2> pw.$fmt.an.stderr
done
"$dop" simulate src/datasets/shoemaker1997/cohort.json -o shoemaker1997 > /dev/null 2>&1
"$dop" study shoemaker1997/manifest.csv -o study -j 1 \
  --epochs "pre:-10:0,t5:2.5:7.5,t10:7.5:12.5,t20:17.5:22.5" --reference-epoch pre > study.stdout 2> study.stderr
"$dop" plot study study -o study.svg
cf=$(realpath -m "${DOPFLOW_REAL_DATA:-$src/../shared/data/real}/clarius_carotid_color/carotid_iq.raw")
if [ -f "$cf" ]; then
  "$dop" analyze "$cf" --format clarius --prf 5000 --f0 5e6 --color-csv color.csv > color.stdout 2> color.stderr
  "$dop" plot color color.csv -o color.png
fi
rm src
