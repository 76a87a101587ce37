#!/usr/bin/env bash
# Compare a study's measured flow with the simulator's truth, per artery x
# condition x epoch: mean over recordings of the true and the measured flow
# (ml/min) and the analysis error in %. Both files are written by dopflow
# (no quoted fields), so awk reads them directly.
# Usage: tools/compare-truth.sh TRUTH.csv RECORDINGS.csv
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 TRUTH.csv RECORDINGS.csv" >&2; exit 2; }
awk -F, '
  FNR == 1 { for (i = 1; i <= NF; i++) col[FILENAME, $i] = i; next }
  FILENAME == ARGV[1] {
    key = $col[FILENAME, "file"] SUBSEP $col[FILENAME, "epoch"]
    truth[key] = $col[FILENAME, "flow_ml_min"]; next
  }
  {
    key = $col[FILENAME, "file"] SUBSEP $col[FILENAME, "epoch"]
    flow = $col[FILENAME, "flow_ml_min"]
    if (!(key in truth) || flow == "") next
    group = $col[FILENAME, "artery"] SUBSEP $col[FILENAME, "condition"] SUBSEP $col[FILENAME, "epoch"]
    if (!(group in n)) order[++groups] = group
    n[group]++; t[group] += truth[key]; m[group] += flow
  }
  END {
    print "| artery | condition | epoch | n | true flow ml/min | dopflow ml/min | error % |"
    print "|---|---|---|---:|---:|---:|---:|"
    for (i = 1; i <= groups; i++) {
      g = order[i]; split(g, p, SUBSEP)
      printf "| %s | %s | %s | %d | %.1f | %.1f | %+.1f |\n", p[1], p[2], p[3], n[g], t[g] / n[g], m[g] / n[g], 100 * (m[g] - t[g]) / t[g]
    }
  }' "$1" "$2"
