# Shared by the scheduler benchmark scripts; source it, do not run it.

# build DIR BINARY... builds the taskkit binaries into DIR (static,
# trimmed, without urfave/cli's man-page generator, as scripts/dist.sh and
# the demo build them) with one go build, which builds them in parallel.
build() {
  dir=$1; shift
  pkgs=""
  for b in "$@"; do pkgs="$pkgs ./$b"; done
  # shellcheck disable=SC2086 # one argument per package
  CGO_ENABLED=0 go build -tags urfave_cli_no_docs -trimpath -o "$dir/" $pkgs
}

# bench_svc NAME PODS TASKS SLEEP [TLS] [VOLUME] prints a svc.yml: one pod
# type p of PODS instances, each with TASKS tiny tasks running "sleep SLEEP",
# all in one parallel deploy phase. With TLS=1 every task asks for a TLS
# certificate (transport-encryption), which it materializes with tlsprov.
# With VOLUME (MB) > 0 each pod has a ROOT persistent volume "data" of that
# size (so every resource is reserved), and each task appends its instance
# index and PID to data/pids before it sleeps.
bench_svc() {
  printf 'name: %s\npods:\n  p:\n    count: %s\n' "$1" "$2"
  te=""
  if [ "${5:-0}" = 1 ]; then te=", transport-encryption: [{name: t, type: TLS}]"; fi
  cmd="exec sleep $4"
  if [ "${6:-0}" -gt 0 ]; then
    echo "    volume: {path: data, type: ROOT, size: $6}"
    cmd="echo \$POD_INSTANCE_INDEX \$\$ >> data/pids && $cmd"
  fi
  echo "    tasks:"
  i=0
  while [ $i -lt "$3" ]; do
    echo "      t$i: {goal: RUNNING, cmd: '$cmd', cpus: 0.01, memory: 1$te}"
    i=$((i + 1))
  done
  printf 'plans:\n  deploy:\n    phases:\n      p: {pod: p, strategy: parallel}\n'
}

# wait_env FILE PID LOG waits (at most 60 s) for testenv (PID) to write its
# env file FILE, and fails with its log LOG if it exits or is too slow.
wait_env() {
  n=0
  while [ ! -s "$1" ]; do
    if ! kill -0 "$2" 2>/dev/null || [ $n -ge 600 ]; then
      echo "testenv did not start (its log, $3, follows)" >&2
      cat "$3" >&2
      return 1
    fi
    sleep 0.1
    n=$((n + 1))
  done
}

# free_port prints a TCP port free on 127.0.0.1 now, for a server the
# benchmark starts (so two benchmarks, or a demo, can run at once).
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# private_runtime_dir DIR points XDG_RUNTIME_DIR at DIR/run, so that the
# schedulers a benchmark starts register there, not beside the user's own
# (scheduler-lite's registry: docs/scheduler-lite.md).
private_runtime_dir() {
  mkdir -m 700 "$1/run"
  XDG_RUNTIME_DIR=$1/run
  export XDG_RUNTIME_DIR
}
