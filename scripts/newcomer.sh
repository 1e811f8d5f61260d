#!/usr/bin/env bash
# The newcomer check: clone this repository into a temporary directory and
# run, as written and in order, every shell command block (```sh, ```bash,
# ```shell) of README.md and docs/*.md there; fail on the first that fails.
#
#   scripts/newcomer.sh            clone HEAD of this repository
#   scripts/newcomer.sh --list     only list the blocks and what is done with each
#
# Every such block must be preceded, on the line just before its fence, by a
# directive saying what the check does with it:
#
#   <!-- newcomer: run -->                   run it with bash -e in the clone's root
#   <!-- newcomer: run timeout=900 -->       ... give it 900 s (default 600)
#   <!-- newcomer: run exit=2 -->            ... and expect exit code 2
#   <!-- newcomer: run interrupt=20 -->      ... it runs until Ctrl-C: send SIGINT
#                                            after 20 s and expect it to exit 0
#   <!-- newcomer: skip REASON -->           not run here; REASON says why (a
#                                            real Mesos, a task's sandbox, ...)
#
# A block without a directive fails the check, so a new command in the docs
# cannot go unchecked. Blocks run in a fresh bash each (variables do not
# carry over; files do), with the clone's bin/ on PATH after `make build`
# and TMPDIR in the temporary directory (removed at the end, with what the
# blocks made with mktemp).
set -uo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
list_only=false
[ "${1:-}" = "--list" ] && list_only=true

# extract FILE: print "LINE<TAB>DIRECTIVE<TAB>BODY-FILE" for every shell block,
# writing each body to $blocks/N.sh.
blocks=$(mktemp -d)
trap 'rm -rf "$blocks"' EXIT
n=0
extract() {
	awk -v file="$1" -v dir="$blocks" -v start="$n" '
		BEGIN { n = start }
		/^```(sh|bash|shell)[ \t]*$/ && !inb {
			inb = 1; n++; body = dir "/" n ".sh"; printf "" > body
			d = prev; if (d !~ /^<!-- newcomer: .* -->$/) d = "MISSING"
			sub(/^<!-- newcomer: /, "", d); sub(/ -->$/, "", d)
			printf "%s:%d\t%s\t%s\n", file, NR, d, body
			next
		}
		/^```/ && inb { inb = 0; close(body); next }
		inb { print >> body; next }
		/^```/ { other = !other }
		{ prev = $0 }
	' "$1"
}
index=$blocks/index
for f in README.md docs/*.md; do
	extract "$f" >> "$index"
	n=$(wc -l < "$index")
done

missing=$(awk -F'\t' '$2 == "MISSING" { print $1 }' "$index")
if [ -n "$missing" ]; then
	echo "newcomer: shell blocks without a '<!-- newcomer: run|skip ... -->' line before them:" >&2
	echo "$missing" | sed 's/^/  /' >&2
	exit 1
fi
if $list_only; then
	awk -F'\t' '{ printf "%-32s %s\n", $1, $2 }' "$index"
	exit 0
fi

work=$(mktemp -d /tmp/taskkit-newcomer-XXXXXX)
trap 'rm -rf "$blocks" "$work"' EXIT
git clone -q "$repo" "$work/taskkit" || exit 1
cd "$work/taskkit" || exit 1
export PATH="$PWD/bin:$PATH"
# What blocks make with mktemp (the README's tlsprov CA, the stateful
# service's svc.yml) goes under the work directory, removed at the end,
# not into /tmp for good.
export TMPDIR="$work/tmp"
mkdir -p "$TMPDIR"
ran=0 skipped=0
while IFS=$'\t' read -r where directive body; do
	set -- $directive
	verb=$1
	shift
	if [ "$verb" = skip ]; then
		echo "-- $where: skipped: $*"
		skipped=$((skipped + 1))
		continue
	fi
	if [ "$verb" != run ]; then
		echo "newcomer: $where: unknown directive '$directive' (want run or skip)" >&2
		exit 1
	fi
	timeout=600 want=0 interrupt=
	for opt in "$@"; do
		case $opt in
		timeout=*) timeout=${opt#timeout=} ;;
		exit=*) want=${opt#exit=} ;;
		interrupt=*) interrupt=${opt#interrupt=} ;;
		*) echo "newcomer: $where: unknown option '$opt'" >&2; exit 1 ;;
		esac
	done
	echo "-- $where: run ($directive)"
	sed 's/^/   $ /' "$body"
	began=$(date +%s)
	if [ -n "$interrupt" ]; then
		# Runs until Ctrl-C: SIGINT to the block's process group after
		# $interrupt seconds, as a user would press it.
		setsid bash -e "$body" </dev/null > "$work/out" 2>&1 &
		pid=$!
		sleep "$interrupt"
		kill -INT -- "-$pid" 2>/dev/null
		for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
		kill -KILL -- "-$pid" 2>/dev/null
		wait "$pid"
		rc=$?
	else
		timeout --kill-after=10 "$timeout" bash -e "$body" </dev/null > "$work/out" 2>&1
		rc=$?
	fi
	sed 's/^/     /' "$work/out" | tail -n 40
	if [ "$rc" != "$want" ]; then
		echo "newcomer: FAILED: $where exited $rc (want $want) after $(($(date +%s) - began))s" >&2
		exit 1
	fi
	echo "   ok, exit $rc, $(($(date +%s) - began))s"
	ran=$((ran + 1))
done < "$index"
echo "newcomer: all $ran blocks ran as written ($skipped skipped, each with its reason)"
