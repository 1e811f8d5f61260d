#!/usr/bin/env bash
# Measures healthd against its goals and against the init tools users would
# otherwise pick (tini, dumb-init; skipped when not installed):
#   1. stripped static binary size            (limit 10 MiB, built as scripts/dist.sh does)
#   2. idle RSS of `healthd -- sleep 1000`    (goal <= 10 MiB), and with checks
#   3. cost of one command check over a bare fork/exec of the same command
#   4. delay from the threshold being reached to SIGTERM   (goal <= 50 ms)
# Usage: bench/healthd.sh            (from anywhere; builds into a temp dir)
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT

echo "== machine: $(nproc) cores, $(go version | awk '{print $3, $4}'), $(uname -r)"

echo "== 1. binary size: CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -tags urfave_cli_no_docs ./healthd"
CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -tags urfave_cli_no_docs -o "$work/healthd" ./healthd
size=$(stat -c %s "$work/healthd")
awk -v s="$size" 'BEGIN { printf "healthd  %d bytes = %.2f MiB (limit 10 MiB)\n", s, s/1048576 }'
for t in tini dumb-init; do
	if p=$(command -v $t); then printf '%-8s %d bytes (Debian package, dynamically linked: %s)\n' $t "$(stat -c %s "$p")" "$(file -b "$p" | grep -o 'dynamically linked' || echo static)"; fi
done

rss() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
measure() { # name, command...
	local name=$1; shift
	"$@" >/dev/null 2>&1 &
	local pid=$!
	pids+=("$pid")
	sleep 3
	printf '%-52s VmRSS %6d KiB\n' "$name" "$(rss $pid)"
	kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
}
echo "== 2. idle RSS after 3 s (the supervisor process only, not sleep)"
measure "healthd -- sleep 1000" "$work/healthd" -- sleep 1000
measure "healthd --cmd true --interval 1 --delay 0 --listen :0 -- sleep" \
	"$work/healthd" --cmd true --interval 1 --delay 0 --listen 127.0.0.1:0 --status-file "$work/status.json" -- sleep 1000
command -v tini >/dev/null && measure "tini -s -- sleep 1000" tini -s -- sleep 1000
command -v dumb-init >/dev/null && measure "dumb-init sleep 1000" dumb-init sleep 1000

echo "== 3. one command check vs bare fork/exec of /bin/sh -c true (5 runs each): go test -bench . -count 5 ./internal/probe"
go test -run '^$' -bench 'CommandProbe|BareForkExec|HTTPProbe|TCPProbe' -benchtime 2s -count 5 ./internal/probe | grep '^Benchmark'

echo "== 4. threshold reached -> SIGTERM delivered: go test -bench ThresholdToSIGTERM -benchtime 300x -count 3 ./healthd"
go test -run '^$' -bench ThresholdToSIGTERM -benchtime 300x -count 3 ./healthd | grep '^Benchmark'
