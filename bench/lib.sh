# Shared by the scheduler benchmark scripts; source it, do not run it.

# build DIR BINARY... builds the taskkit binaries into DIR (static,
# trimmed) with one go build, which builds them in parallel.
build() {
  dir=$1; shift
  pkgs=""
  for b in "$@"; do pkgs="$pkgs ./$b"; done
  # shellcheck disable=SC2086 # one argument per package
  CGO_ENABLED=0 go build -trimpath -o "$dir/" $pkgs
}

# bench_svc NAME PODS TASKS SLEEP [TLS] prints a svc.yml: one pod type p of
# PODS instances, each with TASKS tiny tasks running "sleep SLEEP", all in
# one parallel deploy phase. With TLS=1 every task asks for a TLS
# certificate (transport-encryption), which it materializes with tlsprov.
bench_svc() {
  printf 'name: %s\npods:\n  p:\n    count: %s\n    tasks:\n' "$1" "$2"
  te=""
  if [ "${5:-0}" = 1 ]; then te=", transport-encryption: [{name: t, type: TLS}]"; fi
  i=0
  while [ $i -lt "$3" ]; do
    echo "      t$i: {goal: RUNNING, cmd: 'exec sleep $4', cpus: 0.01, memory: 1$te}"
    i=$((i + 1))
  done
  printf 'plans:\n  deploy:\n    phases:\n      p: {pod: p, strategy: parallel}\n'
}
