#!/usr/bin/env bash
# scripts/fuzz.sh [SECONDS] — run every native Go fuzz target of the module
# (func FuzzX(f *testing.F) in any package) for SECONDS each (default 10),
# one after the other, and print a table of the executions each made.
#
# Targets are found in the test files of every package (each line
# `func FuzzX(f *testing.F)`), so a new target is run without being listed
# here; nothing is compiled for a target FUZZ_RUN leaves out.
# A target that fails prints its output, including the failing input that
# `go test` wrote to the package's testdata/fuzz/FuzzX/ (commit it with the
# fix: `go test ./...` replays it from then on); the script then exits 1
# after running the rest.
#
# Environment:
#   FUZZ_PARALLEL       fuzzing workers per target (default: go test's, GOMAXPROCS)
#   FUZZ_MINIMIZE_TIME  time spent minimizing each new input (default 5s; go
#                       test's 60s would spend most of a short run minimizing)
#   FUZZ_RUN            only targets whose "package.FuzzX" matches this
#                       extended regular expression
#
# Executions depend on the machine and its load: scripts/fuzz.sh prints the
# load average before and after, to go with any figure quoted from it
# (BENCHMARKS.md).
set -uo pipefail
cd "$(dirname "$0")/.."

secs=${1:-10}
case $secs in '' | *[!0-9]*)
	echo "usage: scripts/fuzz.sh [SECONDS]" >&2
	exit 2
	;;
esac
minimize=${FUZZ_MINIMIZE_TIME:-5s}
filter=${FUZZ_RUN:-.}
parallel=()
[ -n "${FUZZ_PARALLEL:-}" ] && parallel=(-parallel "$FUZZ_PARALLEL")

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Packages whose test files define a fuzz target.
mapfile -t pkgs < <(grep -rl --include='*_test.go' '^func Fuzz[A-Za-z0-9_]*(f \*testing\.F)' . |
	xargs -r -n1 dirname | sort -u)

echo "fuzzing every target for ${secs}s (minimize ${minimize}); $(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-28s %-28s %12s %10s  %s\n' package target executions per-second result
failed=()
total=0
began=$(date +%s)
for dir in "${pkgs[@]}"; do
	rel=${dir#./}
	targets=$(cat "$dir"/*_test.go | sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(f \*testing\.F).*/\1/p')
	for target in $targets; do
		name=$rel.$target
		[[ $name =~ $filter ]] || continue
		log=$tmp/$target.log
		result=ok
		go test -run '^$' -fuzz "^${target}\$" -fuzztime "${secs}s" -fuzzminimizetime "$minimize" "${parallel[@]}" "$dir" >"$log" 2>&1 || result=FAIL
		execs=$(grep -oE 'execs: [0-9]+' "$log" | tail -1 | cut -d' ' -f2)
		execs=${execs:-0}
		total=$((total + execs))
		printf '%-28s %-28s %12s %10s  %s\n' "$rel" "$target" "$execs" "$((execs / (secs > 0 ? secs : 1)))" "$result"
		if [ "$result" != ok ]; then
			failed+=("$name")
			sed 's/^/    /' "$log"
		fi
	done
done
echo "total executions: $total in $(($(date +%s) - began))s; load average $(cut -d' ' -f1-3 /proc/loadavg)"
if [ "${#failed[@]}" -gt 0 ]; then
	printf 'FAILED: %s\n' "${failed[@]}"
	exit 1
fi
