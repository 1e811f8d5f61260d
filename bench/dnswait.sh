#!/bin/sh
# DNS detection latency of internal/dnswait against an in-process DNS server:
# p50/p95 from a record appearing to Wait returning, and queries per second per
# name, for the default backoff, a backoff growing to 1 s, and a fixed 1 s
# poll (the SDK bootstrap's), all in the same run.
# Usage: bench/dnswait.sh [trials per case, default 40; 3 iterations each]
set -eu
cd "$(dirname "$0")/.."
trials=${1:-40}
exec go test -run '^$' -bench Detection -benchtime 3x ./internal/dnswait/ -args -dnswait.trials="$trials"
