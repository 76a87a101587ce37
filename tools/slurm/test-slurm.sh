#!/usr/bin/env bash
# End-to-end test of tools/slurm on a real single-node Slurm started on this machine.
#
#   tools/slurm/test-slurm.sh [DOPFLOW_BINARY]      (as root; default build/dopflow)
#
# 1. installs what is missing of munge, slurmctld, slurmd, slurm-client, jq (apt-get; the
#    packages' own services are not used: if their postinst started any, it is stopped);
# 2. in a fresh temporary folder (mktemp -d): a munge key, munged on its own socket, a
#    slurm.conf for this host only (state, spool, pid and log files in the folder, free ports
#    on 127.0.0.1), slurmctld and slurmd in the foreground as background processes; waits
#    until sinfo shows the node idle;
# 3. simulates a small cohort (datasets/shoemaker1997 restricted to 3 subjects x 2 arteries x
#    2 conditions = 12 recordings of 40 s) plus one broken recording, submits the study with
#    tools/submit.sh as 4 array tasks and the merge, waits (bounded) for the merge;
# 4. runs the same study on one machine and checks that recordings.csv, conditions.csv,
#    anova.csv, report.md and failures.csv are byte-identical (cmp), and the exit codes;
# 5. prints the wall times (each array task, merge, single run) and stops every daemon it
#    started, by process id (trap on EXIT, also on failure).
# Exit 0 only if every check passed; the last line is "slurm test: 1 passed, 0 failed".
# KEEP=1 keeps the temporary folder (it is also kept, and named, when the test fails).
# For measurements: SUBJECTS (default 3), CONDITIONS (default "effleurage,exercise"; "all" for
# the cohort's four), SHARDS (default 4), TIMEOUT in s for the jobs (default 300).
set -uo pipefail

die() { echo "test-slurm: $*" >&2; exit 1; }
step() { printf '[%6.1f s] %s\n' "$(awk -v a="$T_START" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')" "$*"; }
T_START=$(date +%s.%N)
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

result=fail
tmp=
pids=()       # daemons we started, in start order
our_stepds() { # slurmstepd processes of this test's cluster: SLURM_CONF (inherited from our
    local d f  # slurmd) in their environment, or a file open under $tmp
    [ -n "$tmp" ] || return 0
    for d in /proc/[0-9]*; do
        [ "$(cat "$d/comm" 2>/dev/null)" = slurmstepd ] || continue
        if { tr '\0' '\n' <"$d/environ"; } 2>/dev/null | grep -qxF "SLURM_CONF=$tmp/slurm.conf"; then
            echo "${d#/proc/}"; continue
        fi
        for f in "$d"/fd/*; do
            case "$(readlink "$f" 2>/dev/null)" in "$tmp"/*) echo "${d#/proc/}"; break ;; esac
        done
    done
}
final() {
    local rc=$?
    trap - EXIT INT TERM
    if [ ${#pids[@]} -gt 0 ]; then
        # Jobs first (their slurmstepd outlive slurmd), then the daemons, newest first.
        if [ -n "${SLURM_CONF:-}" ] && command -v scancel >/dev/null; then
            scancel --quiet --user=root >/dev/null 2>&1 || true
            for _ in $(seq 1 20); do
                [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break
                sleep 0.5
            done
        fi
        # slurmstepd of finished jobs linger for a moment: wait for ours (files open in $tmp)
        for _ in $(seq 1 50); do [ -z "$(our_stepds)" ] && break; sleep 0.2; done
        local i p
        for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
            p=${pids[$i]}
            kill -TERM "$p" 2>/dev/null || continue
            for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
            if kill -0 "$p" 2>/dev/null; then kill -KILL "$p" 2>/dev/null; fi
            wait "$p" 2>/dev/null
        done
        for _ in $(seq 1 50); do [ -z "$(our_stepds)" ] && break; sleep 0.2; done
        for p in $(our_stepds); do kill -TERM "$p" 2>/dev/null && echo "stopped slurmstepd $p"; done
        echo "stopped daemons (pids ${pids[*]})"
    fi
    if [ "$result" != pass ] && [ -n "$tmp" ] && [ -d "$tmp" ]; then
        for f in "$tmp"/log/*.log "$tmp"/run/out/logs/*.out; do
            [ -f "$f" ] || continue
            echo "---- $f (last 15 lines)"; tail -n 15 "$f"
        done
        echo "temporary folder kept: $tmp"
    elif [ "${KEEP:-0}" = 1 ]; then echo "temporary folder kept: $tmp"
    elif [ -n "$tmp" ]; then rm -rf "$tmp"
    fi
    if [ "$result" = pass ]; then echo "slurm test: 1 passed, 0 failed"; exit 0; fi
    echo "slurm test: 0 passed, 1 failed"
    [ "$rc" -ne 0 ] && exit "$rc"
    exit 1
}
trap final EXIT
trap 'exit 130' INT TERM

[ "$(id -u)" -eq 0 ] || die "run as root (it installs packages and runs slurmd)"

# ---- dopflow binary
dopflow=${1:-$root/build/dopflow}
if [ ! -x "$dopflow" ]; then
    [ $# -ge 1 ] && die "$dopflow is not an executable"
    step "no $dopflow: building with tools/build.sh"
    "$root/tools/build.sh" >/dev/null || die "build failed"
fi
case "$dopflow" in /*) ;; *) dopflow=$(pwd)/$dopflow ;; esac
export DOPFLOW=$dopflow

# ---- packages (only the missing ones)
daemons_running() { # pids of munged/slurmctld/slurmd processes (by executable name)
    local d c
    for d in /proc/[0-9]*; do
        c=$(cat "$d/comm" 2>/dev/null) || continue
        case "$c" in munged | slurmctld | slurmd) echo "${d#/proc/}" ;; esac
    done
}
need=()
for p in munge slurmctld slurmd slurm-client jq; do
    dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
    step "installing ${need[*]}"
    before=" $(daemons_running | tr '\n' ' ') "
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}" >"${TMPDIR:-/tmp}/test-slurm-apt.$$.log" 2>&1 ||
        { tail -n 20 "${TMPDIR:-/tmp}/test-slurm-apt.$$.log"; die "apt-get install failed"; }
    rm -f "${TMPDIR:-/tmp}/test-slurm-apt.$$.log"
    # A postinst may have started the packaged services (no policy-rc.d, sysvinit): stop them,
    # they would hold the default munge socket and read /etc/slurm. Only those that were not
    # running before the installation (started by it, hence by us).
    for p in $(daemons_running); do
        case "$before" in *" $p "*) continue ;; esac
        echo "stopping $(cat "/proc/$p/comm" 2>/dev/null) (pid $p) started by the package installation"
        kill -TERM "$p" 2>/dev/null || true
    done
else
    step "packages already installed (munge, slurmctld, slurmd, slurm-client, jq)"
fi
for c in munged munge unmunge slurmctld slurmd sbatch sinfo scontrol squeue scancel jq; do
    command -v "$c" >/dev/null || die "$c not found after installation"
done

# ---- temporary folder, munge
tmp=$(mktemp -d "${TMPDIR:-/tmp}/dopflow-slurm-test.XXXXXX") || die "mktemp failed"
chmod 755 "$tmp"
mkdir -p "$tmp/munge" "$tmp/state" "$tmp/spool" "$tmp/log" "$tmp/pid" "$tmp/run"
chmod 700 "$tmp/munge"
dd if=/dev/urandom of="$tmp/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$tmp/munge/munge.key"
sock=$tmp/munge/munge.socket
step "starting munged (socket $sock)"
munged --foreground --force --socket="$sock" --key-file="$tmp/munge/munge.key" \
    --pid-file="$tmp/pid/munged.pid" --log-file="$tmp/log/munged.log" --seed-file="$tmp/munge/munged.seed" \
    >>"$tmp/log/munged.log" 2>&1 &
pids+=($!)
ok=0
for _ in $(seq 1 100); do
    if munge -n -S "$sock" 2>/dev/null | unmunge -S "$sock" >/dev/null 2>&1; then ok=1; break; fi
    kill -0 "${pids[0]}" 2>/dev/null || break
    sleep 0.1
done
[ "$ok" = 1 ] || die "munged did not start (see $tmp/log/munged.log)"

# ---- slurm.conf
node=$(hostname -s)
cpus=$(nproc)
avail_mb=$(awk '/^MemAvailable:/ { print int($2 / 1024) }' /proc/meminfo)
mem_mb=$((avail_mb * 9 / 10))
[ "$mem_mb" -ge 512 ] || die "only $avail_mb MB of memory available"
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pick_port() { # a free TCP port on 127.0.0.1 from 20000-29999, different from $1
    local p
    for _ in $(seq 1 200); do
        p=$((20000 + RANDOM % 10000))
        [ "$p" != "${1:-}" ] && port_free "$p" && { echo "$p"; return 0; }
    done
    return 1
}
ctld_port=$(pick_port) || die "no free port"
slurmd_port=$(pick_port "$ctld_port") || die "no free port"
export SLURM_CONF=$tmp/slurm.conf
cat >"$SLURM_CONF" <<EOF
# single-node test cluster of tools/slurm/test-slurm.sh; everything under $tmp
ClusterName=dopflowtest
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$sock
StateSaveLocation=$tmp/state
SlurmdSpoolDir=$tmp/spool
SlurmctldPidFile=$tmp/pid/slurmctld.pid
SlurmdPidFile=$tmp/pid/slurmd.pid
SlurmctldLogFile=$tmp/log/slurmctld.log
SlurmdLogFile=$tmp/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
ReturnToService=2
MailProg=/bin/true
PlugStackConfig=$tmp/plugstack.conf
SchedulerParameters=sched_interval=2
MinJobAge=600
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=test Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
: >"$tmp/plugstack.conf"

step "starting slurmctld (port $ctld_port) and slurmd (port $slurmd_port) for node $node: $cpus CPUs, $mem_mb MB"
slurmctld -D -i -f "$SLURM_CONF" >>"$tmp/log/slurmctld.stderr.log" 2>&1 &
pids+=($!)
slurmd -D -f "$SLURM_CONF" -N "$node" >>"$tmp/log/slurmd.stderr.log" 2>&1 &
pids+=($!)
state=
for _ in $(seq 1 120); do
    state=$(sinfo -h -N -n "$node" -o %t 2>/dev/null | head -n 1)
    [ "$state" = idle ] && break
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null || die "a daemon (pid $p) exited"; done
    sleep 0.5
done
[ "$state" = idle ] || die "node $node not idle after 60 s (state '${state:-none}')"
step "node $node idle"

# ---- dataset: 12 recordings of 40 s + one broken file
data=$tmp/run/data
subjects=${SUBJECTS:-3}
conditions=${CONDITIONS:-effleurage,exercise}
[ "$conditions" = all ] && conditions=effleurage,petrissage,tapotement,exercise
jq --argjson n "$subjects" --arg c "$conditions" \
    '.subjects = $n | .conditions as $all | .conditions = ([$c | split(",")[] | {(.): $all[.]}] | add)' \
    "$root/datasets/shoemaker1997/cohort.json" >"$tmp/run/cohort.json" || die "jq failed"
"$dopflow" simulate "$tmp/run/cohort.json" -o "$data" --quiet || die "dopflow simulate failed"
head -c 3000 /dev/urandom >"$data/broken.wav"
manifest=$data/manifest.csv
hdr=$(head -n 1 "$manifest")
[ "$hdr" = "subject,condition,artery,file,onset_s" ] || die "unexpected manifest header: $hdr"
echo "S99,effleurage,brachial,broken.wav,15" >>"$manifest"
rows=$(($(wc -l <"$manifest") - 1))
epochs=$(cat "$data/epochs.txt")
step "dataset: $rows manifest rows ($((rows - 1)) recordings of 40 s + 1 broken), epochs $epochs"

# ---- submit: SHARDS (4) array tasks + merge
shards=${SHARDS:-4}
[ "$shards" -ge 3 ] 2>/dev/null || die "SHARDS must be at least 3 (the recovery check fails task 3)"
out=$tmp/run/out
t_submit=$(date +%s.%N)
submit_out=$("$here/submit.sh" "$manifest" "$out" "$shards" --epochs "$epochs") || die "submit.sh failed: $submit_out"
echo "$submit_out" | sed 's/^/  | /'
array_id=$(echo "$submit_out" | sed -n 's/^array_job_id=//p')
merge_id=$(echo "$submit_out" | sed -n 's/^merge_job_id=//p')
[ -n "$array_id" ] && [ -n "$merge_id" ] || die "no job ids from submit.sh"

job_state() { scontrol show job "$1" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p' | head -n 1; }
wait_job() { # wait_job ID: until it ends (bounded by TIMEOUT); sets $jstate
    local deadline=$(($(date +%s) + timeout))
    while :; do
        jstate=$(job_state "$1")
        case "$jstate" in COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY | BOOT_FAIL | DEADLINE) return 0 ;; esac
        [ "$(date +%s)" -lt "$deadline" ] || die "job $1 not finished after $timeout s (state '$jstate')"
        sleep 0.5
    done
}
timeout=${TIMEOUT:-300}
wait_job "$merge_id"
mstate=$jstate
t_done=$(date +%s.%N)
step "merge job $merge_id finished: $mstate"
merge_exit=$(scontrol show job "$merge_id" | sed -n 's/.* ExitCode=\([0-9]*\):.*/\1/p' | head -n 1)
scontrol show job "$array_id" | grep -E 'JobId=|JobState=' | sed 's/^ */  | /' | paste - - | sed 's/\t/ /'

# ---- recovery: task 3 fails (after analysing), the merge is cancelled (--kill-on-invalid-dep),
# the task alone is re-run with the command submit.sh prints (it resumes), a new merge runs
out2=$tmp/run/out-rerun
cat >"$tmp/run/dopflow-fails-shard-3" <<EOF
#!/bin/sh
# test wrapper: analyse, then fail like a crashed node when given --shard 3/N
"$dopflow" "\$@"; rc=\$?
case " \$* " in *" --shard 3/"*) echo "simulated failure of task 3" >&2; exit 7 ;; esac
exit \$rc
EOF
chmod +x "$tmp/run/dopflow-fails-shard-3"
sub2=$(DOPFLOW=$tmp/run/dopflow-fails-shard-3 "$here/submit.sh" "$manifest" "$out2" "$shards" --epochs "$epochs") ||
    die "submit.sh failed: $sub2"
array2=$(echo "$sub2" | sed -n 's/^array_job_id=//p')
merge2=$(echo "$sub2" | sed -n 's/^merge_job_id=//p')
wait_job "$merge2"
merge2_state=$jstate
task3_state=$(scontrol show job "${array2}_3" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p' | head -n 1)
step "recovery test: task 3 $task3_state, merge job $merge2 $merge2_state; re-running task 3 alone"
sub3=$("$here/submit.sh" --array 3 "$manifest" "$out2" "$shards" --epochs "$epochs") || die "submit.sh --array 3 failed: $sub3"
echo "$sub3" | sed -n '1p' | sed 's/^/  | /'
array3=$(echo "$sub3" | sed -n 's/^array_job_id=//p')
merge3=$(echo "$sub3" | sed -n 's/^merge_job_id=//p')
wait_job "$merge3"
merge3_state=$jstate
merge3_exit=$(scontrol show job "$merge3" | sed -n 's/.* ExitCode=\([0-9]*\):.*/\1/p' | head -n 1)
step "recovery test: re-run task ${array3}_3 and merge job $merge3 finished: $merge3_state"

# ---- single run on the same manifest and options
single=$tmp/run/single
t0=$(date +%s.%N)
"$dopflow" study "$manifest" -o "$single" --epochs "$epochs" 2>"$tmp/run/single.stderr"
single_exit=$?
t1=$(date +%s.%N)
single_wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')

# ---- checks
fails=0
check() { # check DESCRIPTION COMMAND...
    local d=$1; shift
    if "$@"; then echo "  ok    $d"; else echo "  FAIL  $d"; fails=$((fails + 1)); fi
}
echo "checks:"
check "single run exits 1 (the broken recording) [got $single_exit]" [ "$single_exit" = 1 ]
check "merge job exit code = single run's [$merge_exit]" [ "$merge_exit" = "$single_exit" ]
for k in $(seq 1 "$shards"); do
    log=$out/logs/study-${array_id}_$k.out
    check "array task $k ran and its shard is complete" grep -q "^dopflow-slurm: task $k/$shards exit [01] " "$log"
done
for f in recordings.csv conditions.csv anova.csv report.md failures.csv; do
    check "$f byte-identical (cmp)" cmp "$single/$f" "$out/$f"
done
check "recovery: failed task 3 -> merge cancelled [$task3_state, $merge2_state]" \
    [ "$task3_state/$merge2_state" = FAILED/CANCELLED ]
check "recovery: re-run task 3 completed [log]" grep -q "^dopflow-slurm: task 3/$shards exit [01] " "$out2/logs/study-${array3}_3.out"
check "recovery: new merge exit code = single run's [$merge3_exit]" [ "$merge3_exit" = "$single_exit" ]
for f in recordings.csv conditions.csv anova.csv report.md failures.csv; do
    check "recovery: $f byte-identical (cmp)" cmp "$single/$f" "$out2/$f"
done
check "failures.csv lists broken.wav" grep -q broken.wav "$out/failures.csv"
nrec=$(($(wc -l <"$out/recordings.csv") - 1))
check "recordings.csv has $((rows - 1)) recordings x 4 epochs [$nrec rows]" [ "$nrec" = $(((rows - 1) * 4)) ]

# ---- timings
echo "wall times (s):"
for k in $(seq 1 "$shards"); do
    log=$out/logs/study-${array_id}_$k.out
    printf '  array task %d/%d: %s (%s)\n' "$k" "$shards" \
        "$(sed -n 's/^dopflow-slurm: task .* wall \([0-9.]*\) s$/\1/p' "$log" 2>/dev/null)" \
        "$(grep -c '^' "$out/shard-$k/recordings.csv" 2>/dev/null | awk '{ print ($1 - 1) / 4 " recordings" }')"
done
awk '/^dopflow-slurm: task .* wall / { w = $(NF - 1); s += w; if (w > m) m = w; n++ }
     END { if (n) printf "  array tasks:      sum %.3f, longest %.3f (%d tasks)\n", s, m, n }' "$out"/logs/study-"${array_id}"_*.out
printf '  merge:            %s\n' "$(sed -n 's/^dopflow-slurm: merge exit .* wall \([0-9.]*\) s$/\1/p' "$out"/logs/merge-"$merge_id".out)"
printf '  submit -> merged: %s (includes Slurm scheduling; at most %d tasks at a time)\n' \
    "$(awk -v a="$t_submit" -v b="$t_done" 'BEGIN { printf "%.3f", b - a }')" "$cpus"
printf '  single run:       %s (%d recordings, 1 process)\n' "$single_wall" "$((rows - 1))"

[ "$fails" -eq 0 ] || die "$fails check(s) failed"
result=pass
step "done"
