#!/bin/sh
# bench/compare-trees.sh — the same benchmark of two checkouts of taskkit,
# interleaved: for each of N pairs, 20 s of rest, then each tree's own
# bench script, the order swapped every pair (so that neither tree always
# runs after the other's leftovers). Prints one line per run with the
# 1-minute load average before it and the script's summary lines.
#
#   bench/compare-trees.sh OLD_TREE NEW_TREE [N [SCRIPT]]    # N=3, SCRIPT=bench/scheduler.sh
#   PODS=50 TLS=1 bench/compare-trees.sh ../old .            # the environment reaches both runs
#
# The trees are directories holding a checkout (git worktree add --detach
# ../old <commit>). Exits 2 on bad arguments; a run that fails prints its
# last lines and the comparison goes on.
set -eu
usage() { echo "usage: bench/compare-trees.sh OLD_TREE NEW_TREE [N [SCRIPT]]" >&2; exit 2; }
[ $# -ge 2 ] && [ $# -le 4 ] || usage
a=$1 b=$2 n=${3:-3} script=${4:-bench/scheduler.sh}
case $n in ''|*[!0-9]*) echo "compare-trees: N: want a whole number, got '$n'" >&2; exit 2 ;; esac
for t in "$a" "$b"; do
	[ -f "$t/$script" ] || { echo "compare-trees: $t/$script: no such file" >&2; exit 2; }
done
i=1
while [ "$i" -le "$n" ]; do
	if [ $((i % 2)) -eq 1 ]; then order="$a $b"; else order="$b $a"; fi
	for t in $order; do
		sleep 20
		load=$(cut -d' ' -f1 /proc/loadavg)
		if out=$(cd "$t" && sh "$script" 2>&1); then
			sum=$(printf '%s\n' "$out" | grep -E 'deploy_to|cpu_s|offers_process|get_plans|api_requests' | tr '\n' ' ')
			echo "pair $i [$t] load=$load $sum"
		else
			echo "pair $i [$t] load=$load FAILED: $(printf '%s\n' "$out" | tail -3 | tr '\n' ' ')"
		fi
	done
	i=$((i + 1))
done
