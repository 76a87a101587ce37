#!/usr/bin/env bash
# dopflow's main job on the embedded default dataset, from a fresh machine:
# install what is missing, build, generate the simulated Shoemaker 1997
# cohort (datasets/shoemaker1997), reanalyse it with `dopflow study`, and
# print the comparison table the paper reports, and both simulator models'
# cohorts against their truth. Also analyses one example
# recording and one pulsed-wave IQ file with aliasing, and prints their
# summaries.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
tools/build.sh

out=build/demo
mkdir -p "$out"
# The same cohort from the physical scatterer model (section 5) takes a few
# minutes to simulate: started now, alongside sections 1-4.
rm -rf "$out/shoemaker1997-scatterers"
build/dopflow simulate datasets/shoemaker1997/cohort_scatterers.json -o "$out/shoemaker1997-scatterers" --quiet \
  > "$out/shoemaker1997-scatterers.log" 2>&1 &
scatterers_pid=$!
echo
echo "== 1. One recording: datasets/examples/brachial_rest.json =="
build/dopflow simulate datasets/examples/brachial_rest.json -o "$out/brachial_rest.wav"
build/dopflow analyze "$out/brachial_rest.wav" --summary - --frames "$out/brachial_rest.frames.csv" \
  --beats "$out/brachial_rest.beats.csv" --h5 "$out/brachial_rest.h5" --plots
echo "(truth: $out/brachial_rest.truth.json)"

echo
echo "== 2. The Shoemaker 1997 cohort: 10 subjects x 2 arteries x 4 conditions =="
build/dopflow simulate datasets/shoemaker1997/cohort.json -o "$out/shoemaker1997"
build/dopflow study "$out/shoemaker1997/manifest.csv" -o "$out/shoemaker1997-results" -j "$(nproc)" \
  --epochs "pre:-10:0,t5:2.5:7.5,t10:7.5:12.5,t20:17.5:22.5" --reference-epoch pre --plots
echo
cat "$out/shoemaker1997-results/report.md"
echo
echo "== 3. The same flows against the simulator's truth (there is no true massage effect) =="
tools/compare-truth.sh "$out/shoemaker1997/truth.csv" "$out/shoemaker1997-results/recordings.csv" \
  "$out/shoemaker1997-results/conditions.csv"

echo
echo "== 4. Pulsed-wave IQ with aliasing: datasets/examples/pulsed_wave_aliasing.json =="
echo "(PRF 4 kHz, 4 gates: the systolic peaks exceed the Nyquist velocity and are unwrapped)"
build/dopflow simulate datasets/examples/pulsed_wave_aliasing.json -o "$out/pulsed_wave.h5"
build/dopflow analyze "$out/pulsed_wave.h5" --summary - --beats "$out/pulsed_wave.beats.csv"
echo "(truth: $out/pulsed_wave.truth.json; beats with PSV: $out/pulsed_wave.beats.csv)"

echo
echo "== 5. The same cohort from the physical scatterer model, against its truth =="
echo "(point scatterers in a Womersley flow through a Gaussian sample volume: datasets/shoemaker1997/cohort_scatterers.json)"
wait "$scatterers_pid" || { cat "$out/shoemaker1997-scatterers.log" >&2; exit 1; }
build/dopflow study "$out/shoemaker1997-scatterers/manifest.csv" -o "$out/shoemaker1997-scatterers-results" \
  -j "$(nproc)" --epochs "pre:-10:0,t5:2.5:7.5,t10:7.5:12.5,t20:17.5:22.5" --reference-epoch pre
tools/compare-truth.sh "$out/shoemaker1997-scatterers/truth.csv" \
  "$out/shoemaker1997-scatterers-results/recordings.csv" "$out/shoemaker1997-scatterers-results/conditions.csv"

# The README shows these figures: refresh them from this run.
mkdir -p docs/figures
cp "$out/brachial_rest.sonogram.png" "$out/brachial_rest.flow.png" docs/figures/
cp "$out/shoemaker1997-results/study.png" docs/figures/shoemaker1997_study.png
echo
echo "Outputs: $out/shoemaker1997-results/ (recordings.csv, conditions.csv, anova.csv, report.md, study.png)"
echo "Figures: $out/brachial_rest.sonogram.png, $out/brachial_rest.flow.png (copied to docs/figures/)"
