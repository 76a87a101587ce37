#!/usr/bin/env bash
# Submit a dopflow study to Slurm as a job array of N shards plus a dependent merge job.
#
#   tools/slurm/submit.sh [--array LIST] MANIFEST OUTDIR N [study options...]
#
#   MANIFEST  the study manifest (CSV); OUTDIR the output folder: shard K is written to
#             OUTDIR/shard-K, the merged outputs to OUTDIR, job logs to OUTDIR/logs.
#             Both must be on a file system that every compute node sees.
#   N         number of array tasks (shards); each task is one process on one CPU.
#   study options  passed to every task (e.g. --epochs "pre:-10:0,t5:2.5:7.5"); --plots is
#             also passed to the merge. -o, --shard and --resume are set here; -j N makes the
#             tasks request N CPUs (rarely useful: prefer more shards).
#   --array LIST  submit only these array tasks (e.g. 3 or 3,7), to re-run failed tasks; they
#             run with --resume, so finished recordings are not analysed again. A new merge job
#             depends on them.
#
# Environment:
#   DOPFLOW          dopflow binary (default: build/dopflow of this tree if present, else
#                    `dopflow` on PATH); made absolute and passed to the jobs
#   SBATCH_OPTS      extra sbatch options for both jobs, e.g. "--partition=short --account=lab"
#   SBATCH_STUDY_OPTS / SBATCH_MERGE_OPTS  extra options for the array / the merge only,
#                    e.g. SBATCH_STUDY_OPTS="--time=04:00:00 --mem=200M"
#   SBATCH           the sbatch command (default sbatch)
#
# Prints the array job id, the merge job id and the commands to follow and re-run them.
# The last two lines of standard output are machine-readable:
#   array_job_id=ID
#   merge_job_id=ID
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
array_list=
case "${1:-}" in
    --array) array_list=${2:?--array needs a list}; shift 2 ;;
    --array=*) array_list=${1#--array=}; shift ;;
esac
if [ $# -lt 3 ]; then
    sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
    exit 2
fi
manifest=$1
outdir=$2
n=$3
shift 3
case "$n" in '' | *[!0-9]* | 0) echo "submit.sh: N must be a positive integer, not '$n'" >&2; exit 2 ;; esac
[ -f "$manifest" ] || { echo "submit.sh: no manifest $manifest" >&2; exit 3; }

abspath() { # absolute path without resolving symbolic links; the file need not exist
    case "$1" in /*) printf '%s\n' "$1" ;; *) printf '%s/%s\n' "$(pwd)" "$1" ;; esac
}
manifest=$(abspath "$manifest")
outdir=$(abspath "$outdir")

if [ -z "${DOPFLOW:-}" ]; then
    if [ -x "$here/../../build/dopflow" ]; then DOPFLOW=$(cd "$here/../../build" && pwd)/dopflow
    else DOPFLOW=$(command -v dopflow || true)
    fi
fi
[ -n "${DOPFLOW:-}" ] || { echo "submit.sh: no dopflow binary: set DOPFLOW or build with tools/build.sh" >&2; exit 3; }
case "$DOPFLOW" in */*) DOPFLOW=$(abspath "$DOPFLOW") ;; *) DOPFLOW=$(command -v "$DOPFLOW") ;; esac
[ -x "$DOPFLOW" ] || { echo "submit.sh: $DOPFLOW is not executable" >&2; exit 3; }
export DOPFLOW

# Options the tasks must not get twice, -j (CPUs per task) and --plots (also for the merge).
cpus=1
merge_opts=()
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
    a=${args[$i]}
    case "$a" in
        -o | --output | --output=* | -o?* | --shard | --shard=* | --resume)
            echo "submit.sh: do not pass $a: -o, --shard and --resume are set per task" >&2; exit 2 ;;
        -j | --jobs) cpus=${args[$((i + 1))]:-1} ;;
        --jobs=*) cpus=${a#--jobs=} ;;
        -j?*) cpus=${a#-j} ;;
        --plots) merge_opts+=(--plots) ;;
    esac
done
case "$cpus" in '' | *[!0-9]* | 0) echo "submit.sh: bad -j value '$cpus'" >&2; exit 2 ;; esac

mkdir -p "$outdir/logs"
sbatch=${SBATCH:-sbatch}
read -r -a common <<<"${SBATCH_OPTS:-}"
read -r -a study_extra <<<"${SBATCH_STUDY_OPTS:-}"
read -r -a merge_extra <<<"${SBATCH_MERGE_OPTS:-}"

array=${array_list:-1-$n}
study_cmd=("$sbatch" --parsable --array="$array" --cpus-per-task="$cpus"
           --output="$outdir/logs/study-%A_%a.out" ${common[@]+"${common[@]}"}
           ${study_extra[@]+"${study_extra[@]}"}
           "$here/dopflow-study.sbatch" "$n" "$manifest" "$outdir" ${args[@]+"${args[@]}"})
array_id=$("${study_cmd[@]}")
array_id=${array_id%%;*} # --parsable prints ID or ID;CLUSTER

merge_cmd=("$sbatch" --parsable --dependency="afterok:$array_id" --kill-on-invalid-dep=yes
           --output="$outdir/logs/merge-%j.out" ${common[@]+"${common[@]}"}
           ${merge_extra[@]+"${merge_extra[@]}"}
           "$here/dopflow-merge.sbatch" "$n" "$outdir" ${merge_opts[@]+"${merge_opts[@]}"})
merge_id=$("${merge_cmd[@]}")
merge_id=${merge_id%%;*}

q() { printf '%q ' "$@"; }
cat <<EOF
dopflow study: submitted array job $array_id (tasks $array of $n, $cpus CPU each) and merge job $merge_id (after the array succeeds).
  outputs: $outdir (shards in $outdir/shard-K, logs in $outdir/logs)
  follow:  squeue -j $array_id,$merge_id    (or: scontrol show job $merge_id)
  if task K fails, re-run it alone (it resumes) and merge again:
    DOPFLOW=$(printf '%q' "$DOPFLOW") $(q "$0" --array K "$manifest" "$outdir" "$n" ${args[@]+"${args[@]}"})
  or with sbatch directly:
    $(q env DOPFLOW="$DOPFLOW" sbatch --array=K --cpus-per-task="$cpus" --output="$outdir/logs/study-%A_%a.out" "$here/dopflow-study.sbatch" "$n" "$manifest" "$outdir" ${args[@]+"${args[@]}"})
    $(q env DOPFLOW="$DOPFLOW" sbatch --dependency=afterok:NEWID --output="$outdir/logs/merge-%j.out" "$here/dopflow-merge.sbatch" "$n" "$outdir" ${merge_opts[@]+"${merge_opts[@]}"})
array_job_id=$array_id
merge_job_id=$merge_id
EOF
