#!/usr/bin/env bash
# Error budget of the analysis on the scatterer model: simulate the example
# specs with "model": "scatterers" (and the spectral model for comparison)
# under several profiles and sample volumes, analyse each with defaults and
# print flow and TAMAX errors per epoch against OUT.truth.json as a markdown
# table. The estimator is not touched; the figures are single recordings.
# Usage: tools/scatterer-budget.sh [BUILD_DIR] [WORK_DIR]   (needs jq)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
dop=${1:-$here/build}/dopflow
work=${2:-$(mktemp -d)}
mkdir -p "$work"
ex=$here/datasets/examples

# case NAME SPEC JQ-FILTER
run_case() {
    local name=$1 spec=$2 filter=$3
    jq "$filter" "$ex/$spec" > "$work/$name.spec.json"
    local t0 t1
    t0=$(date +%s.%N)
    "$dop" simulate "$work/$name.spec.json" -o "$work/$name.wav" --quiet
    t1=$(date +%s.%N)
    local epochs
    epochs=$(jq -r '[.epochs[] | "\(.label):\(.start_s):\(.end_s)"] | join(",")' "$work/$name.spec.json")
    "$dop" analyze "$work/$name.wav" --epochs "$epochs" --summary "$work/$name.summary.csv" 2>/dev/null
    jq -r '.epochs[] | [.label, .flow_ml_min, .tamax_cm_s] | @csv' "$work/$name.truth.json" | tr -d '"' |
        awk -F, -v name="$name" -v secs="$(echo "$t1 - $t0" | bc)" -v sum="$work/$name.summary.csv" '
            BEGIN {
                while ((getline line < sum) > 0) {
                    n = split(line, f, ",")
                    if (f[1] == "epoch") { for (i = 1; i <= n; i++) col[f[i]] = i; continue }
                    q[f[1]] = f[col["flow_ml_min"]]; m[f[1]] = f[col["tamax_cm_s"]]
                }
            }
            { printf "| %s | %s | %.1f | %.1f | %+.1f | %.2f | %.2f | %+.1f | %.1f |\n", name, $1, $2, q[$1],
                     100 * (q[$1] - $2) / $2, $3, m[$1], 100 * (m[$1] - $3) / $3, secs }'
}

scat() { # volume profile [n]
    local n=${3:-}
    echo ". + {model: \"scatterers\", scatterers: {sample_volume: \"$1\"}}
          | .vessel = {diameter_mm: .vessel.diameter_mm, profile: \"$2\"} ${n:+| .vessel.profile_n = $n}"
}

echo "| case | epoch | true flow ml/min | dopflow | error % | true TAMAX cm/s | dopflow | error % | simulate s |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|"
for base in brachial_rest femoral_exercise; do
    run_case "${base}_spectral" "$base.json" '.'
    run_case "${base}_womersley" "$base.json" "$(scat vessel womersley)"
    run_case "${base}_parabolic" "$base.json" "$(scat vessel parabolic)"
    run_case "${base}_blunt_n4" "$base.json" "$(scat vessel power_law 4)"
    run_case "${base}_centre" "$base.json" "$(scat centre womersley)"
    run_case "${base}_offcentre" "$base.json" "$(scat off_centre womersley)"
done
