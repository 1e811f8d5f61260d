#!/usr/bin/env bash
# Measures taskkit's executor:
#   1. stripped static binary size, built as scripts/dist.sh builds it
#   2. LAUNCH_GROUP of 5 tasks -> the 5th TASK_RUNNING at the scheduler,
#      p50/p95, with a new executor per group (cold) and a running one (warm)
#   3. executor RSS with 50 tasks, without and with checks
# (2 and 3 run the built executor under testenv, driven by a mesos-go
# scheduler: go test -bench in internal/executor.)
# Usage: bench/executor.sh [go test -benchtime, default 50x]
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
n=${1:-50x}

echo "== machine: $(nproc) cores, $(go version | awk '{print $3, $4}'), $(uname -r)"
echo "== 1. binary size: CGO_ENABLED=0 go build -tags urfave_cli_no_docs -trimpath -ldflags '-s -w' ./executor"
CGO_ENABLED=0 go build -tags urfave_cli_no_docs -trimpath -ldflags '-s -w' -o "$work/executor" ./executor
size=$(stat -c %s "$work/executor")
awk -v s="$size" 'BEGIN { printf "executor %d bytes = %.2f MiB\n", s, s/1048576 }'

echo "== 2. LAUNCH_GROUP of 5 -> all TASK_RUNNING (benchtime $n)"
go test -run XXX -bench 'LaunchGroup5' -benchtime "$n" -timeout 20m ./internal/executor | grep -E '^Benchmark|^ok|FAIL'
echo "== 3. executor RSS with 50 tasks"
go test -run XXX -bench 'ExecutorRSS50' -benchtime 3x -timeout 20m ./internal/executor | grep -E '^Benchmark|^ok|FAIL'
