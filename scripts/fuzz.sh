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
# after running the rest. A run that failed only on Go's own race at the
# end of -fuzztime ("context deadline exceeded", no failing input written;
# golang/go#75804) is run again once, and said so.
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
# fuzz TARGET DIR LOG runs one target for the set time, its output in LOG.
fuzz() {
	go test -run '^$' -fuzz "^${1}\$" -fuzztime "${secs}s" -fuzzminimizetime "$minimize" "${parallel[@]}" "$2" >"$3" 2>&1
}

# deadline_race LOG: the failed run in LOG failed only on its fuzztime's
# deadline: "context deadline exceeded", and no failing input written, no
# panic, no test failure of the target's own.
deadline_race() {
	grep -q 'context deadline exceeded' "$1" &&
		! grep -qE 'Failing input written to|panic:|_test\.go:[0-9]+:' "$1"
}

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
		fuzz "$target" "$dir" "$log" || result=FAIL
		if [ "$result" = FAIL ] && deadline_race "$log"; then
			# Go's fuzzing coordinator can fail a run whose -fuzztime ends
			# while a worker is mid-call ("context deadline exceeded",
			# golang/go#75804, #51484): no input failed and none was
			# written. Such a run is run again, once; a second failure of
			# any kind fails.
			mv "$log" "$log.first"
			if fuzz "$target" "$dir" "$log"; then
				result="ok (run again: the first ended in Go's fuzztime race, no failing input)"
			else
				cat "$log.first" "$log" >"$log.both" && mv "$log.both" "$log"
			fi
		fi
		execs=$(grep -oE 'execs: [0-9]+' "$log" | tail -1 | cut -d' ' -f2)
		execs=${execs:-0}
		total=$((total + execs))
		printf '%-28s %-28s %12s %10s  %s\n' "$rel" "$target" "$execs" "$((execs / (secs > 0 ? secs : 1)))" "$result"
		if [ "${result%% *}" != ok ]; then
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
