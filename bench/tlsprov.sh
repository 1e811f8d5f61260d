#!/usr/bin/env bash
# Compares `tlsprov materialize` (PEM + JKS) with the pipeline tasks use
# otherwise — openssl pkcs12 -export, keytool -importkeystore, keytool
# -importcert — on the same inputs in the same run, and times `tlsprov issue`
# against openssl issuing the same certificate. Prints a markdown table of
# medians (wall time, user+sys CPU) and the largest peak RSS of any one process.
#
#   bench/tlsprov.sh [RUNS]        RUNS per measurement, default 20
#
# Needs: go, openssl, keytool (default-jdk-headless), GNU time (apt-get install time).
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${1:-20}
for t in go openssl keytool /usr/bin/time; do
	command -v "$t" >/dev/null || { echo "tlsprov.sh: $t is not installed (apt-get install -y openssl default-jdk-headless time)" >&2; exit 1; }
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bin=$work/tlsprov
CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o "$bin" ./tlsprov

# measure NAME CMD...: runs CMD RUNS times (after one warm-up run) and appends
# "NAME|median wall ms|median cpu ms|max peak RSS MiB" to $work/results.
measure() {
	local name=$1
	shift
	"$@" >/dev/null 2>&1
	: >"$work/samples"
	for _ in $(seq "$RUNS"); do
		local t0 t1
		t0=$(date +%s%N)
		/usr/bin/time -f '%U %S %M' -o "$work/rusage" "$@" >/dev/null 2>&1
		t1=$(date +%s%N)
		read -r user sys rss <"$work/rusage"
		echo "$(((t1 - t0) / 1000)) $user $sys $rss" >>"$work/samples"
	done
	awk -v name="$name" '
		{ wall[NR] = $1 / 1000; cpu[NR] = ($2 + $3) * 1000; if ($4 > rss) rss = $4 }
		function median(a, n,   i, j, t) {
			for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] > a[j]; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
			return n % 2 ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2
		}
		END {
			c = median(cpu, NR)
			printf "%s|%.1f|%s|%.1f\n", name, median(wall, NR), c < 10 ? "<10" : sprintf("%.0f", c), rss / 1024
		}
	' "$work/samples" >>"$work/results"
}

# The openssl + keytool pipeline: the same artifact set as tlsprov materialize.
pipeline() {
	local in=$1 out=$2
	rm -rf "$out" && mkdir -p "$out"
	cp "$in/leaf.key" "$out/bench.key" && cp "$in/leaf.crt" "$out/bench.crt" && cp "$in/leaf.ca" "$out/bench.ca"
	openssl pkcs12 -export -in "$in/leaf.crt" -inkey "$in/leaf.key" -certfile "$in/leaf.ca" -name default \
		-passout pass:notsecure -out "$out/bench.p12"
	keytool -importkeystore -noprompt -srckeystore "$out/bench.p12" -srcstoretype PKCS12 -srcstorepass notsecure \
		-destkeystore "$out/bench.keystore" -deststoretype JKS -deststorepass notsecure -destkeypass notsecure
	keytool -importcert -noprompt -alias dcos-root -file "$in/leaf.ca" -keystore "$out/bench.truststore" \
		-storetype JKS -storepass notsecure
	chmod 600 "$out/bench.key" "$out/bench.keystore"
	rm -f "$out/bench.p12"
}
export -f pipeline

openssl_issue() {
	local ca=$1 kt=$2 out=$3
	rm -rf "$out" && mkdir -p "$out"
	case $kt in
	ecdsa-p256) openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$out/leaf.key" ;;
	rsa-2048) openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$out/leaf.key" ;;
	esac
	openssl req -new -key "$out/leaf.key" -subj /CN=bench -out "$out/leaf.csr"
	openssl x509 -req -in "$out/leaf.csr" -CA "$ca/ca.crt" -CAkey "$ca/ca.key" -CAcreateserial -days 365 \
		-extfile <(printf 'keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=DNS:bench.test\n') \
		-out "$out/leaf.crt"
}
export -f openssl_issue

: >"$work/results"
"$bin" ca --dir "$work/ca" --cn "Bench CA" --key-type ecdsa-p256 2>/dev/null
for kt in ecdsa-p256 rsa-2048; do
	in=$work/in-$kt
	"$bin" issue --ca-dir "$work/ca" --name leaf --cn bench --san dns:bench.test --key-type "$kt" --formats pem --dir "$in" 2>/dev/null
	export TLS_BENCH_KEY TLS_BENCH_CERT TLS_BENCH_CA
	TLS_BENCH_KEY=$(cat "$in/leaf.key") TLS_BENCH_CERT=$(cat "$in/leaf.crt") TLS_BENCH_CA=$(cat "$in/leaf.ca")
	measure "materialize PEM+JKS, $kt leaf: tlsprov" "$bin" materialize --name bench --dir "$work/out-tlsprov"
	measure "materialize PEM+JKS, $kt leaf: openssl + 2×keytool" bash -c "pipeline $in $work/out-pipeline"
	measure "issue $kt leaf (+PEM files): tlsprov issue" "$bin" issue --ca-dir "$work/ca" --name leaf --cn bench \
		--san dns:bench.test --key-type "$kt" --formats pem --dir "$work/out-issue"
	measure "issue $kt leaf: openssl genpkey + req + x509" bash -c "openssl_issue $work/ca $kt $work/out-openssl"
done

mib() { awk -v s="$1" 'BEGIN { printf "%.2f", s / 1048576 }'; }
size=$(stat -c %s "$bin")
CGO_ENABLED=0 go build -tags urfave_cli_no_docs -trimpath -ldflags '-s -w' -o "$work/tlsprov-nodocs" ./tlsprov
nodocs=$(stat -c %s "$work/tlsprov-nodocs")
echo "tlsprov binary, CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' ($(go env GOVERSION) $(go env GOOS)/$(go env GOARCH)):"
echo "  $size bytes ($(mib "$size") MiB); with -tags urfave_cli_no_docs: $nodocs bytes ($(mib "$nodocs") MiB)"
echo "runs per row: $RUNS (medians; peak RSS is the largest of any one process over all runs)"
echo
echo "| what | wall ms | CPU ms (user+sys) | peak RSS MiB |"
echo "|---|---:|---:|---:|"
awk -F'|' '{ printf "| %s | %s | %s | %s |\n", $1, $2, $3, $4 }' "$work/results"
echo
awk -F'|' '
	$1 ~ /^materialize.*tlsprov$/ { k = $1 ~ /rsa/ ? "rsa-2048" : "ecdsa-p256"; t[k] = $2; tr[k] = $4 }
	$1 ~ /^materialize.*keytool$/ { k = $1 ~ /rsa/ ? "rsa-2048" : "ecdsa-p256"; p[k] = $2; pr[k] = $4 }
	END { for (k in t) printf "materialize, %s leaf: tlsprov is %.0f× faster (wall) and peaks at %.0f× less memory\n", k, p[k] / t[k], pr[k] / tr[k] }
' "$work/results"
