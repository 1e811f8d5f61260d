#!/bin/sh
# bench/scheduler-restart.sh — scheduler-lite failover benchmark, as
# processes: deploy PODS x TASKS tasks (default 100 x 5 = 500) on a testenv
# cluster, kill -9 the scheduler, kill one pod's executor while it is down,
# restart it on the same state and measure from the restart:
#   reconciled_s   /v1/health leaves 318 (every stored task answered)
#   offers_s       the first offer evaluated (offers.processed >= 1)
#   recovered_s    /v1/health back to 200 (the pod whose executor was
#                  killed while the scheduler was down is running again)
# RUNS restarts are measured (default 3).
set -eu
PODS=${PODS:-100}
TASKS=${TASKS:-5}
AGENTS=${AGENTS:-5}
RUNS=${RUNS:-3}
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
SPID=; TPID=
trap 'kill -9 $SPID 2>/dev/null || true; kill $TPID 2>/dev/null || true; wait 2>/dev/null || true; [ -n "${KEEP:-}" ] && cp "$tmp/sched.log" "$KEEP"; rm -rf "$tmp"' EXIT
cd "$root"
. bench/lib.sh
private_runtime_dir "$tmp"
build "$tmp" testenv scheduler-lite executor
bench_svc restart "$PODS" "$TASKS" 3600 > "$tmp/svc.yml"
mkdir "$tmp/arts" && ln -s "$tmp/executor" "$tmp/arts/executor"   # tasks fetch nothing
"$tmp/testenv" up --agents "$AGENTS" --cpus 64 --mem 131072 --listen 127.0.0.1:0 --agent-port 0 --dns off \
  --executor "$tmp/executor" --env-file "$tmp/testenv.env" > /dev/null 2> "$tmp/testenv.log" &
TPID=$!
wait_env "$tmp/testenv.env" $TPID "$tmp/testenv.log"
. "$tmp/testenv.env"
port=$(free_port)
API=http://127.0.0.1:$port
sched() {
  "$tmp/scheduler-lite" --master "$MESOS_MASTER" --state "file:$tmp/state.db" --api-listen "127.0.0.1:$port" \
    --artifacts-dir "$tmp/arts" "$tmp/svc.yml" > /dev/null 2>> "$tmp/sched.log" &
  SPID=$!
}
code() { curl -s -o /dev/null -w '%{http_code}' "$API$1" || true; }
now() { date +%s.%N; }
sched
until [ "$(code /v1/plans/deploy)" = 200 ]; do sleep 0.1; done
echo "pods=$PODS tasks=$((PODS * TASKS)) agents=$AGENTS"
fid=$(curl -s $API/v1/state/frameworkId | python3 -c 'import json,sys; print(json.load(sys.stdin)[0])')
run=1
while [ $run -le "$RUNS" ]; do
  until [ "$(code /v1/health)" = 200 ]; do sleep 0.1; done
  exe=$(curl -s "$MESOS_MASTER/state" | python3 -c '
import json,sys
s=json.load(sys.stdin)
for f in s["frameworks"]:
    for t in f["tasks"]:
        if t["state"]=="TASK_RUNNING": print(t["executor_id"]); sys.exit(0)')
  kill -9 $SPID; wait $SPID 2>/dev/null || true
  curl -s -X POST "$MESOS_MASTER/testenv/frameworks/$fid/executors/$exe/kill" > /dev/null
  # wait until the master has recorded the executor's tasks as ended
  while curl -s "$MESOS_MASTER/state" | python3 -c '
import json,sys
s=json.load(sys.stdin)
sys.exit(0 if any(t["executor_id"]==sys.argv[1] and t["state"]=="TASK_RUNNING" for f in s["frameworks"] for t in f["tasks"]) else 1)' "$exe"; do sleep 0.05; done
  start=$(now)
  sched
  rec=; off=; ok=
  while [ -z "$ok" ]; do
    c=$(code /v1/health); [ -n "${TRACE:-}" ] && echo "  $(echo "$(now) - $start" | bc) health=$c" >&2
    t=$(now)
    if [ -z "$rec" ] && [ "$c" != 000 ] && [ "$c" != 318 ]; then rec=$(echo "$t - $start" | bc); fi
    if [ -z "$off" ] && [ "$c" != 000 ]; then
      n=$(curl -s $API/v1/metrics | python3 -c 'import json,sys; print(json.load(sys.stdin)["counters"].get("offers.processed",0))')
      if [ "$n" -ge 1 ]; then off=$(echo "$(now) - $start" | bc); fi
    fi
    if [ -n "$rec" ] && [ -n "$off" ] && [ "$c" = 200 ]; then ok=$(echo "$t - $start" | bc); fi
    sleep 0.02
  done
  echo "run=$run reconciled_s=$rec offers_s=$off recovered_s=$ok"
  run=$((run + 1))
done
