#!/bin/sh
# bench/scheduler.sh — scheduler-lite deploy benchmark, as processes:
# a testenv cluster (5 agents) and scheduler-lite deploying PODS pods of
# TASKS tasks each (parallel phase) to COMPLETE. Reports the wall time from
# scheduler start to deploy COMPLETE, offers.process p50/p95, and the
# scheduler's RSS once every task runs.
#
#   bench/scheduler.sh                 # 200 pods x 1 task
#   PODS=100 TASKS=10 bench/scheduler.sh   # 1,000 tasks
set -eu
PODS=${PODS:-200}
TASKS=${TASKS:-1}
AGENTS=${AGENTS:-5}
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'kill $SPID $TPID 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$tmp"' EXIT
cd "$root"
for b in testenv scheduler-lite bootstrap healthd tlsprov executor; do
  CGO_ENABLED=0 go build -trimpath -o "$tmp/$b" "./$b"
done
{
  echo "name: bench"
  echo "pods:"
  echo "  p:"
  echo "    count: $PODS"
  echo "    tasks:"
  i=0
  while [ $i -lt "$TASKS" ]; do
    echo "      t$i: {goal: RUNNING, cmd: 'exec sleep 600', cpus: 0.01, memory: 1}"
    i=$((i + 1))
  done
  echo "plans:"
  echo "  deploy:"
  echo "    phases:"
  echo "      p: {pod: p, strategy: parallel}"
} > "$tmp/svc.yml"
"$tmp/testenv" up --agents "$AGENTS" --cpus 64 --mem 131072 --listen 127.0.0.1:0 --agent-port 0 \
  --executor "$tmp/executor" --env-file "$tmp/testenv.env" > /dev/null 2> "$tmp/testenv.log" &
TPID=$!
while [ ! -s "$tmp/testenv.env" ]; do sleep 0.1; done
. "$tmp/testenv.env"
start=$(date +%s.%N)
"$tmp/scheduler-lite" --master "$MESOS_MASTER" --state "file:$tmp/state.db" --api-listen 127.0.0.1:18089 \
  --artifacts-dir "$tmp" "$tmp/svc.yml" > /dev/null 2> "$tmp/sched.log" &
SPID=$!
until [ "$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:18089/v1/plans/deploy)" = 200 ]; do sleep 0.05; done
end=$(date +%s.%N)
rss=$(awk '/VmRSS/ {print $2}' /proc/$SPID/status)
echo "pods=$PODS tasks_per_pod=$TASKS agents=$AGENTS"
echo "deploy_to_complete_s=$(echo "$end - $start" | bc)"
echo "scheduler_rss_mib=$(echo "scale=1; $rss / 1024" | bc)"
curl -s http://127.0.0.1:18089/v1/metrics | python3 -c '
import json,sys
m=json.load(sys.stdin); t=m["timers"]["offers.process"]; c=m["counters"]
print("offers_process_p50_ms=%.3f p95_ms=%.3f count=%d" % (t["p50_ms"], t["p95_ms"], t["count"]))
print("offers_received=%d declined=%d launch_groups=%d" % (c.get("offers.received",0), c.get("offers.declined",0), c.get("operations.launch_group",0)))'
