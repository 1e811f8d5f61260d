#!/usr/bin/env bash
# Benchmarks for bootstrap, printed as Markdown for BENCHMARKS.md:
#  (a) wall time and peak RSS of a run rendering 10 templates with env print
#  (c) CA install into a real JKS cacerts: bootstrap vs keytool -importcert
#  (d) stripped static binary size
# (b), DNS detection latency, is `go test -bench DetectionLatency ./internal/dnswait/`.
#
#   bench/bootstrap.sh [runs]      (default 30 runs per measurement)
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

# (a) 10 templates, env print on.
sb="$work/sandbox"; mkdir -p "$sb/tmpl"
envs=(MESOS_SANDBOX="$sb" MESOS_CONTAINER_IP=127.0.0.1 PATH="$PATH" DB_PASSWORD=s3cret PORT_HTTP=8080 TASK_NAME= )
for i in $(seq 1 10); do
	{
		echo "# template $i for {{TASK_NAME}}"
		for j in $(seq 1 50); do echo "key$j={{PORT_HTTP}} {{#TLS}}tls{{/TLS}} {{{DB_PASSWORD}}}"; done
	} > "$sb/tmpl/t$i.mustache"
	envs+=("CONFIG_TEMPLATE_T$i=tmpl/t$i.mustache,conf/t$i.conf")
done
times=(); rss=()
for r in $(seq 1 "$runs"); do
	rm -rf "$sb/conf"
	t0=$(now_ns)
	/usr/bin/time -f "%M" -o "$work/rss" env -i "${envs[@]}" "$bin" >/dev/null 2>&1
	t1=$(now_ns)
	times+=($(( (t1 - t0) / 1000 )))
	rss+=($(cat "$work/rss"))
done
[ "$(ls "$sb/conf" | wc -l)" = 10 ] || { echo "bootstrap did not render 10 files" >&2; exit 1; }
echo "(a) bootstrap, 10 templates (50 lines each) + env print + diffs:"
echo "    wall median $(printf '%s\n' "${times[@]}" | median) µs, peak RSS median $(printf '%s\n' "${rss[@]}" | median) KiB, max $(printf '%s\n' "${rss[@]}" | sort -n | tail -1) KiB"

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
