#!/usr/bin/env bash
# Runs every field case (a directory with run.sh and a README.md, made from a
# public bug report against a tool users would otherwise pick) against freshly
# built binaries. Each run.sh BIN_DIR exits 0 when the fault is absent, 1 when
# it is present, and 2 when it cannot run here (a missing tool): a 2 is
# reported and skipped, any other non-zero exit fails this script.
#
#   scripts/field-cases.sh [CASES_DIR]     default: ../shared/field-cases
#
# CI runs it; so can anyone, after `make build` or not (it builds first).
set -uo pipefail
cd "$(dirname "$0")/.."
cases=${1:-../shared/field-cases}
[ -d "$cases" ] || { echo "field-cases: no directory $cases" >&2; exit 2; }
cases=$(cd "$cases" && pwd)

scripts/dist.sh --local >/dev/null || { echo "field-cases: build failed" >&2; exit 1; }
bin=$PWD/bin

passed=0 failed=0 skipped=0 failures=()
for dir in "$cases"/*/; do
	[ -f "$dir/run.sh" ] || continue
	name=$(basename "$dir")
	echo "== $name"
	start=$(date +%s)
	bash "$dir/run.sh" "$bin" 2>&1 | sed 's/^/   /'
	rc=${PIPESTATUS[0]}
	took=$(( $(date +%s) - start ))
	case $rc in
	0) echo "   -> pass (${took}s)"; passed=$((passed + 1)) ;;
	2) echo "   -> cannot run here (${took}s)"; skipped=$((skipped + 1)) ;;
	*) echo "   -> FAIL, exit $rc (${took}s)"; failed=$((failed + 1)); failures+=("$name") ;;
	esac
done
echo "field-cases: $passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ] || { echo "failing: ${failures[*]}" >&2; exit 1; }
