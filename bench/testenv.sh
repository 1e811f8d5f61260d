#!/bin/sh
# bench/testenv.sh — testenv's figures for BENCHMARKS.md:
#   ACCEPT → TASK_RUNNING of a command task (p50/p95), DECLINE → next offer
#   (p50/p95), and the scale test (10 agents, 500 sleep tasks: time to all
#   RUNNING, RSS of the process holding master, agents and test scheduler).
# Usage: bench/testenv.sh [iterations]   (default 500)
set -eu
cd "$(dirname "$0")/.."
n="${1:-500}"
go test ./internal/testenv -run '^$' -bench 'AcceptToRunning|OfferCycle' -benchtime="${n}x" -count=1
go test ./internal/testenv -run '^TestScale$' -count=1 -v | grep -E 'RUNNING on|^(ok|FAIL|---)'
