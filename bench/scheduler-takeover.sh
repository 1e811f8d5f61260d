#!/bin/sh
# bench/scheduler-takeover.sh — leader takeover on ZooKeeper, as processes:
# a ZooKeeper server (Debian's zookeeperd jar), testenv, and two
# scheduler-lite instances sharing --state zk://.../ (one leads, one waits).
# Each run kills the leader with SIGKILL and measures, from the kill:
#   leads_s        the standby won the election (it prints SCHEDULER_API)
#   reconciled_s   its /v1/health left 318 (tasks reconciled, offers used)
# then starts a new standby. ZK_SESSION (default 5s, the flag's default)
# bounds leads_s: the dead leader's ephemeral node lives until its session
# expires. RUNS (default 3), PODS (default 20 single-task pods).
set -eu
RUNS=${RUNS:-3}
PODS=${PODS:-20}
ZK_SESSION=${ZK_SESSION:-5s}
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
PIDS=
trap 'for p in $PIDS; do kill -9 $p 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$tmp"' EXIT
cd "$root"
. bench/lib.sh
private_runtime_dir "$tmp"
build "$tmp" testenv scheduler-lite executor
jar=/usr/share/java/zookeeper.jar
[ -f "$jar" ] || { echo "ZooKeeper not installed (apt-get install zookeeperd)"; exit 1; }
zkport=$(free_port)
printf 'tickTime=250\ndataDir=%s/zk\nclientPort=%s\nclientPortAddress=127.0.0.1\nminSessionTimeout=500\nadmin.enableServer=false\n4lw.commands.whitelist=ruok\n' "$tmp" "$zkport" > "$tmp/zoo.cfg"
java -Xmx128m -cp "/etc/zookeeper/conf:$jar" org.apache.zookeeper.server.ZooKeeperServerMain "$tmp/zoo.cfg" > "$tmp/zk.log" 2>&1 &
PIDS="$PIDS $!"
until python3 -c "
import socket,sys
s=socket.create_connection(('127.0.0.1',$zkport),1); s.sendall(b'ruok'); sys.exit(0 if s.recv(4)==b'imok' else 1)" 2>/dev/null; do sleep 0.1; done
bench_svc takeover "$PODS" 1 3600 > "$tmp/svc.yml"
mkdir "$tmp/arts" && ln -s "$tmp/executor" "$tmp/arts/executor"
"$tmp/testenv" up --agents 3 --listen 127.0.0.1:0 --agent-port 0 --dns off \
  --executor "$tmp/executor" --env-file "$tmp/testenv.env" > /dev/null 2> "$tmp/testenv.log" &
TPID=$!
PIDS="$PIDS $TPID"
wait_env "$tmp/testenv.env" "$TPID" "$tmp/testenv.log"
. "$tmp/testenv.env"
n=0
start_instance() { # $1: port; writes its stdout to $tmp/out-$1
  "$tmp/scheduler-lite" --master "$MESOS_MASTER" --state "zk://127.0.0.1:$zkport" --zk-session-timeout "$ZK_SESSION" \
    --api-listen "127.0.0.1:$1" --artifacts-dir "$tmp/arts" "$tmp/svc.yml" > "$tmp/out-$1" 2>> "$tmp/sched-$1.log" &
  echo $!
}
now() { date +%s.%N; }
pa=$(free_port); pb=$(free_port)
until [ "$pb" != "$pa" ]; do pb=$(free_port); done
A=$(start_instance $pa); PIDS="$PIDS $A"
until grep -q SCHEDULER_API "$tmp/out-$pa" 2>/dev/null; do sleep 0.05; done
until [ "$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$pa/v1/plans/deploy)" = 200 ]; do sleep 0.1; done
B=$(start_instance $pb); PIDS="$PIDS $B"
sleep 1
echo "pods=$PODS zk_session_timeout=$ZK_SESSION"
run=1
while [ $run -le "$RUNS" ]; do
  if grep -q SCHEDULER_API "$tmp/out-$pb"; then echo "both instances lead"; exit 1; fi
  kill -9 $A; wait $A 2>/dev/null || true
  t0=$(now)
  until grep -q SCHEDULER_API "$tmp/out-$pb" 2>/dev/null; do sleep 0.01; done
  t1=$(now)
  until c=$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$pb/v1/health) && [ "$c" != 318 ] && [ "$c" != 000 ]; do sleep 0.01; done
  t2=$(now)
  echo "run=$run leads_s=$(echo "$t1 - $t0" | bc) reconciled_s=$(echo "$t2 - $t0" | bc) health=$c"
  # the killed instance comes back as the new standby
  : > "$tmp/out-$pa"
  A=$B; B=$(start_instance $pa); PIDS="$PIDS $B"
  t=$pa; pa=$pb; pb=$t
  sleep 1
  run=$((run + 1))
done
