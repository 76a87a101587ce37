#!/usr/bin/env bash
# Compare a study's measured flow with the simulator's truth, per artery x
# condition x epoch: mean over recordings of the true and the measured flow
# (ml/min) and the analysis error in %; then one line of totals: how many of
# these means are within 3 % and 6 % of the truth, the exercise rise (last
# epoch over the first), and, given the study's conditions.csv, the massage
# epochs it marks significantly different from the reference epoch (the
# simulator has no massage effect on flow: every one of them is an artifact
# of the analysis). Both files are written by dopflow (no quoted fields), so
# awk reads them directly.
# Usage: tools/compare-truth.sh TRUTH.csv RECORDINGS.csv [CONDITIONS.csv]
set -euo pipefail
[ $# -eq 2 ] || [ $# -eq 3 ] || { echo "usage: $0 TRUTH.csv RECORDINGS.csv [CONDITIONS.csv]" >&2; exit 2; }
awk -F, '
  FNR == 1 { for (i = 1; i <= NF; i++) col[FILENAME, $i] = i; next }
  FILENAME == ARGV[1] {
    key = $col[FILENAME, "file"] SUBSEP $col[FILENAME, "epoch"]
    truth[key] = $col[FILENAME, "flow_ml_min"]; next
  }
  FILENAME == ARGV[3] {
    padj = $col[FILENAME, "p_adjusted"]
    if ($col[FILENAME, "condition"] != "exercise" && padj != "" && padj + 0 < 0.05) {
      marked++
      list = list sprintf("%s %s %s %s (%+.1f %%)", (marked > 1 ? ";" : ""), $col[FILENAME, "artery"], $col[FILENAME, "condition"],
                          $col[FILENAME, "epoch"], $col[FILENAME, "flow_change_pct"])
    }
    next
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
      err = 100 * (m[g] - t[g]) / t[g]
      printf "| %s | %s | %s | %d | %.1f | %.1f | %+.1f |\n", p[1], p[2], p[3], n[g], t[g] / n[g], m[g] / n[g], err
      within3 += (err <= 3 && err >= -3); within6 += (err <= 6 && err >= -6)
      if (p[2] == "exercise") { if (!(p[1] in first)) first[p[1]] = m[g] / n[g]; last[p[1]] = m[g] / n[g] }
    }
    printf "\nwithin 3 %% of the truth: %d of %d means; within 6 %%: %d of %d.", within3, groups, within6, groups
    for (a in first) printf " Exercise, %s: last epoch %.1fx the first.", a, last[a] / first[a]
    if (ARGC > 3) printf " Massage epochs marked significant (p < 0.05 vs the reference; the truth has none): %d%s", marked, (marked ? ":" list : ".")
    printf "\n"
  }' "$@"
