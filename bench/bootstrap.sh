#!/usr/bin/env bash
# Benchmarks for bootstrap, printed as Markdown for BENCHMARKS.md:
#  (a) wall time and peak RSS of a run rendering 10 templates with env print,
#      paired with the DC/OS SDK bootstrap in one interleaved run when
#      SDK_BOOTSTRAP names its binary (build it with bench/sdk-bootstrap.sh)
#  (c) CA install into a real JKS cacerts: bootstrap vs keytool -importcert
#  (d) stripped static binary size
# (b), DNS detection latency, is `go test -bench DetectionLatency ./internal/dnswait/`.
#
#   SDK_BOOTSTRAP=/tmp/sdk-bootstrap bench/bootstrap.sh [runs]   (default 30 runs per measurement)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-30}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

CGO_ENABLED=0 go build -tags urfave_cli_no_docs -trimpath -ldflags "-s -w" -o "$work/bootstrap" ./bootstrap
bin="$work/bootstrap"

# median of numbers on stdin
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
now_ns() { date +%s%N; }

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sm), $(go version | cut -d' ' -f3)"
echo "runs per measurement: $runs"
echo

# (a) 10 templates, env print on, no name resolution (the SDK's needs
# TASK_NAME and FRAMEWORK_HOST), run in the sandbox with conf/ made (the SDK
# writes relative to the working directory and creates no directory). Each
# run starts the two in alternating order, so drift on a shared machine hits
# both alike.
sb="$work/sandbox"; mkdir -p "$sb/tmpl"
envs=(MESOS_SANDBOX="$sb" MESOS_CONTAINER_IP=127.0.0.1 PATH="$PATH" DB_PASSWORD=s3cret PORT_HTTP=8080 TASK_NAME= )
for i in $(seq 1 10); do
	{
		echo "# template $i for {{TASK_NAME}}"
		for j in $(seq 1 50); do echo "key$j={{PORT_HTTP}} {{#TLS}}tls{{/TLS}} {{{DB_PASSWORD}}}"; done
	} > "$sb/tmpl/t$i.mustache"
	envs+=("CONFIG_TEMPLATE_T$i=tmpl/t$i.mustache,conf/t$i.conf")
done
sdk=${SDK_BOOTSTRAP:-}
[ -z "$sdk" ] || [ -x "$sdk" ] || { echo "SDK_BOOTSTRAP=$sdk is not executable" >&2; exit 1; }
# one NAME BINARY: run once from scratch, append wall µs and peak KiB to $work/NAME
one() {
	rm -rf "$sb/conf"; mkdir "$sb/conf"
	local t0 t1
	t0=$(now_ns)
	(cd "$sb" && /usr/bin/time -f "%M" -o "$work/rss" env -i "${envs[@]}" "$2" -resolve=false >/dev/null 2>&1) ||
		{ echo "$1 failed" >&2; exit 1; }
	t1=$(now_ns)
	[ "$(ls "$sb/conf" | wc -l)" = 10 ] || { echo "$1 did not render 10 files" >&2; exit 1; }
	echo "$(( (t1 - t0) / 1000 )) $(cat "$work/rss")" >> "$work/$1"
}
for r in $(seq 1 "$runs"); do
	if [ -n "$sdk" ] && [ $((r % 2)) = 0 ]; then one sdk "$sdk"; fi
	one taskkit "$bin"
	if [ -n "$sdk" ] && [ $((r % 2)) = 1 ]; then one sdk "$sdk"; fi
done
stats() { # FILE -> "wall median µs, RSS median KiB"
	echo "wall median $(cut -d' ' -f1 "$1" | median) µs, peak RSS median $(cut -d' ' -f2 "$1" | median) KiB"
}
echo "(a) 10 templates (50 lines each) + env print + diffs, $runs runs each, interleaved:"
echo "    taskkit bootstrap: $(stats "$work/taskkit")"
if [ -n "$sdk" ]; then
	echo "    SDK bootstrap:     $(stats "$work/sdk")"
	ours=$(cut -d' ' -f1 "$work/taskkit" | median); theirs=$(cut -d' ' -f1 "$work/sdk" | median)
	echo "    wall ratio taskkit/SDK: $(awk -v a="$ours" -v b="$theirs" 'BEGIN {printf "%.2f", a/b}') (goal <= 1.2)"
else
	echo "    (SDK bootstrap not paired: set SDK_BOOTSTRAP, see bench/sdk-bootstrap.sh)"
fi

# (c) CA install into a copy of a real cacerts.
cacerts=/etc/ssl/certs/java/cacerts
if [ -f "$cacerts" ] && command -v keytool >/dev/null && command -v openssl >/dev/null; then
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=bench CA" \
		-days 30 -keyout "$work/ca.key" -out "$work/ca.crt" 2>/dev/null
	bt=(); kt=()
	for r in $(seq 1 "$runs"); do
		cp "$cacerts" "$work/a"; cp "$cacerts" "$work/b"
		t0=$(now_ns)
		"$bin" -print-env=false -resolve=false -template=false -ca-file "$work/ca.crt" -truststore "$work/a" >/dev/null 2>&1
		t1=$(now_ns)
		keytool -importcert -noprompt -alias dcoscert -file "$work/ca.crt" -keystore "$work/b" -storepass changeit >/dev/null 2>&1
		t2=$(now_ns)
		bt+=($(( (t1 - t0) / 1000 ))); kt+=($(( (t2 - t1) / 1000 )))
	done
	keytool -list -keystore "$work/a" -storepass changeit -alias dcoscert >/dev/null
	b=$(printf '%s\n' "${bt[@]}" | median); k=$(printf '%s\n' "${kt[@]}" | median)
	echo "(c) CA install into $cacerts ($(keytool -list -keystore "$cacerts" -storepass changeit 2>/dev/null | grep -c trustedCertEntry) entries), same run:"
	echo "    bootstrap median $b µs, keytool -importcert median $k µs: $(awk -v b="$b" -v k="$k" 'BEGIN {printf "%.1f", k/b}')x faster"
else
	echo "(c) skipped: needs $cacerts, keytool and openssl (apt-get install default-jdk-headless openssl)"
fi

# (d) size.
echo "(d) stripped static linux/$(go env GOARCH) binary: $(stat -c %s "$bin") bytes ($(awk -v s="$(stat -c %s "$bin")" 'BEGIN {printf "%.2f", s/1048576}') MiB)"
