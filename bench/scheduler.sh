#!/bin/sh
# bench/scheduler.sh — scheduler-lite deploy benchmark, as processes:
# a testenv cluster (5 agents) and scheduler-lite deploying PODS pods of
# TASKS tasks each (parallel phase) to COMPLETE. Reports the wall time from
# scheduler start to deploy COMPLETE, offers.process p50/p95, the
# scheduler's RSS once every task runs, and where the CPU time went:
# scheduler-lite, testenv (master + agents), and everything else on the
# machine (executors and tasks starting), plus the scheduler's time spent
# handling status updates (store write + acknowledgement). While the deploy
# runs, one curl (keep-alive) asks GET /v1/plans/deploy 50 times a second:
# the latency of the API while the event loop works (p50, p99, max); its
# first 200 (COMPLETE) ends the deploy's wall time. The scheduler's own
# api.requests timer gives the same requests' time inside the handler
# (api_requests_in_handler; waits for a CPU while it runs included).
#
#   bench/scheduler.sh                       # 200 pods x 1 task
#   PODS=100 TASKS=10 bench/scheduler.sh     # 1,000 tasks
#   PODS=50 TLS=1 bench/scheduler.sh         # 50 pods with transport-encryption
#   PODS=50 TLS=1 KEY_TYPE=rsa-2048 bench/scheduler.sh   # ... with the SDK's RSA keys
#   PODS=50 VOLUME=64 bench/scheduler.sh     # 50 pods with a 64 MB persistent volume each
#   ISOLATION=cgroups/cpu bench/scheduler.sh # containers in cpu cgroups, as a DC/OS agent runs them
#   OWN_NODE=1 bench/scheduler.sh            # the scheduler as if on a node of its own (below)
#
# With OWN_NODE=1 the scheduler and the probe each run in a session of
# their own (setsid), and the cluster (testenv, its executors and tasks)
# in a cpu cgroup of its own (root and the cgroup v1 cpu controller
# needed; without them the run stops saying so). Without it, on a kernel
# with autogroup scheduling (sched_autogroup_enabled=1), each of the
# cluster's 200+ container sessions weighs as much for the CPU as the
# bench's one session holding the scheduler, the probe and testenv, and
# the probe measures the host's run queue more than the scheduler.
#
# With ISOLATION, testenv runs with --isolation ISOLATION (docs/testenv.md):
# with cgroups/cpu every container gets cpu.shares by its cpus (the pods'
# executor and task: 0.11 cpus, 112 shares), as Mesos agents with the
# cgroups/cpu isolator (DC/OS's default) run them, while scheduler-lite,
# testenv and the probe stay outside, as a scheduler on its own node or in
# its own container would. It needs root and the cgroup v1 cpu controller.
#
# With VOLUME (MB), every pod reserves its resources and creates a ROOT
# persistent volume; after the deploy, RELAUNCHES (default 5) tasks are
# killed one after the other (SIGKILL of the task's process, its PID read
# from the volume) and the time until the pod runs again in place (its
# task RUNNING with a new task ID, on the same agent) is reported for each.
set -eu
PODS=${PODS:-200}
TASKS=${TASKS:-1}
AGENTS=${AGENTS:-5}
TLS=${TLS:-0}
VOLUME=${VOLUME:-0}
RELAUNCHES=${RELAUNCHES:-5}
KEY_TYPE=${KEY_TYPE:-ecdsa-p256}
ISOLATION=${ISOLATION:-posix/cpu,posix/mem}
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
SPID= TPID= PPID_= cg= own=
trap 'kill $SPID $TPID $PPID_ 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$tmp"; [ -z "$cg" ] || { sleep 1; rmdir "$cg" 2>/dev/null || true; }' EXIT
cd "$root"
. bench/lib.sh
private_runtime_dir "$tmp"
build "$tmp" testenv scheduler-lite bootstrap healthd tlsprov executor
bench_svc bench "$PODS" "$TASKS" 600 "$TLS" "$VOLUME" > "$tmp/svc.yml"
if [ -n "${OWN_NODE:-}" ]; then
  own=setsid
  [ -w /sys/fs/cgroup/cpu/cgroup.procs ] || { echo "OWN_NODE needs root and the cgroup v1 cpu controller at /sys/fs/cgroup/cpu" >&2; exit 1; }
  cg=/sys/fs/cgroup/cpu/taskkit-bench-$$
  mkdir "$cg"
fi
${cg:+sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$cg"} "$tmp/testenv" up --agents "$AGENTS" --cpus 64 --mem 131072 --listen 127.0.0.1:0 --agent-port 0 \
  --executor "$tmp/executor" --isolation "$ISOLATION" --env-file "$tmp/testenv.env" > /dev/null 2> "$tmp/testenv.log" &
TPID=$!
wait_env "$tmp/testenv.env" $TPID "$tmp/testenv.log"
. "$tmp/testenv.env"
tck=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }          # utime+stime, ticks
busy() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8}' /proc/stat; }  # user+nice+system+irq+softirq, ticks
t0=$(cpu $TPID); b0=$(busy)
port=$(free_port)
api=http://127.0.0.1:$port
# (curl applies -o to one URL only: each URL gets its own output.)
printf 'url = "%s"\noutput = "/dev/null"\n' "$api/v1/plans/deploy" > "$tmp/url"
yes "$(cat "$tmp/url")" | head -n 60000 > "$tmp/urls"
: > "$tmp/latency"  # before tail -f opens it
start=$(date +%s.%N)
$own "$tmp/scheduler-lite" --master "$MESOS_MASTER" --state "file:$tmp/state.db" --api-listen "127.0.0.1:$port" \
  --artifacts-dir "$tmp" --tls-key-type "$KEY_TYPE" "$tmp/svc.yml" > /dev/null 2> "$tmp/sched.log" &
SPID=$!
# The API's latency during the deploy: 50 GETs a second on one connection
# (000 until the API listens), one line each as it completes. The same
# probe sees the deploy end (the first 200): no polling process competes
# with the deploy for the CPU. (curl's and tail's outputs are line-buffered
# by stdbuf, or grep would see the 200 only once 4 KiB of lines came.)
$own stdbuf -oL curl -s -K "$tmp/urls" --rate 50/s -w '%{http_code} %{time_total}\n' > "$tmp/latency" &
PPID_=$!
timeout 600 stdbuf -oL tail -n +1 -f "$tmp/latency" | grep -q -m 1 '^200 ' || { echo "the deploy was not COMPLETE within 600 s" >&2; exit 1; }
end=$(date +%s.%N)
kill $PPID_ 2>/dev/null || true
s1=$(cpu $SPID); t1=$(cpu $TPID); b1=$(busy)
rss=$(awk '/VmRSS/ {print $2}' /proc/$SPID/status)
echo "pods=$PODS tasks_per_pod=$TASKS agents=$AGENTS tls=$TLS key_type=$KEY_TYPE volume_mb=$VOLUME isolation=$ISOLATION own_node=${OWN_NODE:-0}"
echo "deploy_to_complete_s=$(echo "$end - $start" | bc)"
echo "scheduler_rss_mib=$(echo "scale=1; $rss / 1024" | bc)"
echo "cpu_s scheduler=$(echo "scale=2; $s1 / $tck" | bc) testenv=$(echo "scale=2; ($t1 - $t0) / $tck" | bc) rest_of_machine=$(echo "scale=2; ($b1 - $b0 - $s1 - $t1 + $t0) / $tck" | bc)"
curl -s "$api/v1/metrics" | python3 -c '
import json,sys
m=json.load(sys.stdin); t=m["timers"]["offers.process"]; c=m["counters"]; u=m["timers"].get("status.process",{"count":0,"mean_ms":0,"p95_ms":0})
print("offers_process_p50_ms=%.3f p95_ms=%.3f p99_ms=%.3f max_ms=%.3f count=%d total_ms=%.0f" % (t["p50_ms"], t["p95_ms"], t["p99_ms"], t["max_ms"], t["count"], t["mean_ms"]*t["count"]))
print("status_process_count=%d mean_ms=%.3f p95_ms=%.3f total_ms=%.0f" % (u["count"], u["mean_ms"], u["p95_ms"], u["mean_ms"]*u["count"]))
for k in ("status.store", "status.ack"):
    x=m["timers"].get(k)
    if x: print("%s mean_ms=%.3f p95_ms=%.3f max_ms=%.1f total_ms=%.0f" % (k.replace(".","_"), x["mean_ms"], x["p95_ms"], x["max_ms"], x["mean_ms"]*x["count"]))
print("offers_received=%d declined=%d launch_groups=%d" % (c.get("offers.received",0), c.get("offers.declined",0), c.get("operations.launch_group",0)))
a=m["timers"].get("api.requests")
if a: print("api_requests_in_handler count=%d p50_ms=%.2f p99_ms=%.2f max_ms=%.2f" % (a["count"], a["p50_ms"], a["p99_ms"], a["max_ms"]))'
# GET /v1/plans/deploy during the deploy (answers 202 until COMPLETE).
python3 - "$tmp/latency" <<'PY'
import math, sys
rows = [l.split() for l in open(sys.argv[1])]
xs = sorted(float(r[1]) * 1000 for r in rows if len(r) == 2 and r[0] in ("200", "202"))
q = lambda p: xs[max(0, math.ceil(p * len(xs)) - 1)] if xs else 0
print("get_plans_deploy_during_deploy count=%d p50_ms=%.2f p99_ms=%.2f max_ms=%.2f" % (len(xs), q(0.5), q(0.99), xs[-1] if xs else 0))
PY
[ "$VOLUME" -gt 0 ] || exit 0
# Transient relaunch in place: kill a task (its PID is the last line its
# pod wrote to data/pids in its volume), time until the pod's task is
# RUNNING again with a new ID on the same agent, 20 ms polls.
task() { curl -s "$api/v1/pod/p-$1/status" | python3 -c 'import json,sys; t=json.load(sys.stdin)["tasks"][0]; print(t["id"], t["status"])'; }
agent() { curl -s "$MESOS_MASTER/state" | python3 -c 'import json,sys; print(next(t["slave_id"] for f in json.load(sys.stdin)["frameworks"] for t in f["tasks"] if t["id"] == sys.argv[1]))' "$1"; }
n=0
for pids in $(find "$TESTENV_SANDBOX_ROOT" -path '*/volumes/*' -name pids | head -n "$RELAUNCHES"); do
  set -- $(tail -n 1 "$pids")
  idx=$1 pid=$2
  set -- $(task "$idx")
  old=$1 where=$(agent "$1")
  t0=$(date +%s.%N)
  kill -9 "$pid"
  while :; do
    set -- $(task "$idx")
    [ "$1" != "$old" ] && [ "$2" = RUNNING ] && break
    sleep 0.02
  done
  t1=$(date +%s.%N)
  [ "$(agent "$1")" = "$where" ] || { echo "p-$idx relaunched on another agent" >&2; exit 1; }
  [ "$(wc -l < "$pids")" -eq 2 ] || { echo "p-$idx: $pids does not hold both runs" >&2; exit 1; }
  echo "relaunch_in_place p-$idx killed_to_running_s=$(echo "$t1 - $t0" | bc)"
  n=$((n + 1))
done
[ "$n" -gt 0 ] || { echo "no volume with a pids file under $TESTENV_SANDBOX_ROOT" >&2; exit 1; }
